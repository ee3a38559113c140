//! Bad input of every kind, one table: each case must fail with one line
//! on stderr naming the file and the problem, the documented exit code, no
//! file left behind, and its inputs unchanged. A new case is one new row.

use crate::apply::solution_from_start;
use crate::util::*;
use ndarray::{Array1, Array2, ArrayD};
use ndarray_npy::NpzWriter;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

fn npz(dir: &Dir, name: &str, arrays: Vec<(&str, Arr)>) -> String {
    let path = dir.path.join(name);
    let mut w = NpzWriter::new(std::fs::File::create(&path).unwrap());
    for (k, a) in arrays {
        match a {
            Arr::F32(a) => w.add_array(k, &a).unwrap(),
            Arr::I64(a) => w.add_array(k, &a).unwrap(),
        }
    }
    w.finish().unwrap();
    path.to_string_lossy().into_owned()
}

enum Arr {
    F32(ArrayD<f32>),
    I64(ArrayD<i64>),
}

fn f32s(rows: usize, cols: usize, v: f32) -> Arr {
    Arr::F32(Array2::from_elem((rows, cols), v).into_dyn())
}

fn ints(v: Vec<i64>) -> Arr {
    Arr::I64(Array1::from(v).into_dyn())
}

fn digits_x(rows: usize) -> Arr {
    f32s(rows, 64, 0.5)
}

/// The regression export (layer.mps, layer.mps.mst, layer.mps.cbc.mst,
/// layer.mps.gdmilp.json), made once and copied into `dir`: most solve and
/// apply cases start from it.
fn exported(dir: &Dir) {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    let template = TEMPLATE.get_or_init(|| {
        let t = Dir::new("bad-export-template");
        t.run(&[
            "export",
            &model("regression"),
            &data("regression"),
            "-o",
            &t.p("layer.mps"),
        ])
        .ok();
        t.path.clone()
    });
    for e in std::fs::read_dir(template).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path.join(e.file_name())).unwrap();
    }
}

/// After the export: `solution` written as `name` in `dir`, and apply's
/// arguments for it and the regression model.
fn apply_after_export(dir: &Dir, name: &str, solution: &str) -> Vec<String> {
    exported(dir);
    apply_args(dir, &write(dir, name, solution))
}

/// After the export: its MIP start as a solution, each `name value` passed
/// through `edit` (None drops the line), and apply's arguments for it.
fn apply_edited(dir: &Dir, edit: impl Fn(&str, f64) -> Option<(String, f64)>) -> Vec<String> {
    exported(dir);
    let sol = solution_from_start(dir, edit);
    apply_args(dir, &write(dir, "s.sol", &sol))
}

fn apply_args(dir: &Dir, solution: &str) -> Vec<String> {
    s(&[
        "apply",
        solution,
        &model("regression"),
        "-o",
        &dir.p("p.onnx"),
    ])
}

fn write(dir: &Dir, name: &str, text: &str) -> String {
    std::fs::write(dir.path.join(name), text).unwrap();
    dir.p(name)
}

struct Case {
    name: &'static str,
    /// Builds the inputs in the directory; returns the arguments.
    setup: fn(&Dir) -> Vec<String>,
    code: i32,
    /// Every one of these must appear in the error line.
    needles: &'static [&'static str],
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "truncated_onnx",
            code: 2,
            needles: &["bad.onnx", "not a valid ONNX model"],
            setup: |d| {
                let b = std::fs::read(root().join(model("digits"))).unwrap();
                std::fs::write(d.path.join("bad.onnx"), &b[..b.len() / 2]).unwrap();
                s(&["inspect", &d.p("bad.onnx")])
            },
        },
        Case {
            name: "empty_onnx",
            code: 2,
            needles: &["bad.onnx", "empty"],
            setup: |d| {
                write(d, "bad.onnx", "");
                s(&["inspect", &d.p("bad.onnx")])
            },
        },
        Case {
            name: "text_as_onnx",
            code: 2,
            needles: &["bad.onnx", "not a valid ONNX model"],
            setup: |d| {
                write(d, "bad.onnx", "this is not a model\n");
                s(&["inspect", &d.p("bad.onnx")])
            },
        },
        Case {
            name: "missing_model",
            code: 2,
            needles: &["nope.onnx", "cannot read the model"],
            setup: |d| s(&["inspect", &d.p("nope.onnx")]),
        },
        Case {
            name: "last_layer_not_dense",
            code: 2,
            needles: &["no_dense.onnx", "Mul node", "after the last dense layer"],
            setup: |_| s(&["inspect", "fixtures/bad/no_dense.onnx"]),
        },
        Case {
            name: "final_weight_shared",
            code: 2,
            needles: &["shared_weight.onnx", "also read by"],
            setup: |_| s(&["inspect", "fixtures/bad/shared_weight.onnx"]),
        },
        Case {
            name: "sigmoid_regression",
            code: 2,
            needles: &["sigmoid_head.onnx", "Sigmoid", "cannot model"],
            setup: |d| {
                let y = f32s(5, 4, 0.1);
                s(&[
                    "export",
                    "fixtures/bad/sigmoid_head.onnx",
                    &npz(d, "d.npz", vec![("x", f32s(5, 3, 1.0)), ("y", y)]),
                    "-o",
                    &d.p("o.mps"),
                ])
            },
        },
        Case {
            name: "external_data_missing",
            code: 2,
            needles: &["model.onnx", "model.onnx.data", "cannot be read"],
            setup: |d| {
                std::fs::copy(
                    root().join(model("torch_export")),
                    d.path.join("model.onnx"),
                )
                .unwrap();
                s(&["inspect", &d.p("model.onnx")])
            },
        },
        Case {
            name: "external_data_truncated",
            code: 2,
            needles: &["model.onnx.data", "does not fit"],
            setup: |d| {
                std::fs::copy(
                    root().join(model("torch_export")),
                    d.path.join("model.onnx"),
                )
                .unwrap();
                write(d, "model.onnx.data", "short");
                s(&["inspect", &d.p("model.onnx")])
            },
        },
        Case {
            name: "npz_key_missing",
            code: 2,
            needles: &["d.npz", "no array 'nope'", "it holds: x, y"],
            setup: |d| {
                let p = npz(
                    d,
                    "d.npz",
                    vec![("x", digits_x(3)), ("y", ints(vec![0, 1, 2]))],
                );
                s(&["eval", &model("digits"), &p, "--x-key", "nope"])
            },
        },
        Case {
            name: "npz_no_usual_keys",
            code: 2,
            needles: &["d.npz", "--x-key", "it holds: a, b"],
            setup: |d| {
                let p = npz(
                    d,
                    "d.npz",
                    vec![("a", digits_x(3)), ("b", ints(vec![0, 1, 2]))],
                );
                s(&["eval", &model("digits"), &p])
            },
        },
        Case {
            name: "integer_inputs",
            code: 2,
            needles: &["d.npz", "integers"],
            setup: |d| {
                let p = npz(
                    d,
                    "d.npz",
                    vec![
                        ("x", Arr::I64(Array2::<i64>::zeros((3, 64)).into_dyn())),
                        ("y", ints(vec![0, 1, 2])),
                    ],
                );
                s(&["eval", &model("digits"), &p])
            },
        },
        Case {
            name: "wrong_input_shape",
            code: 2,
            needles: &["d.npz", "[3, 5]", "expects input 'x'"],
            setup: |d| {
                let p = npz(
                    d,
                    "d.npz",
                    vec![("x", f32s(3, 5, 0.0)), ("y", f32s(3, 2, 0.0))],
                );
                s(&["eval", &model("regression"), &p])
            },
        },
        Case {
            name: "nan_inputs",
            code: 2,
            needles: &["d.npz", "NaN or infinity", "point 1"],
            setup: |d| {
                let mut x = Array2::<f32>::zeros((3, 3));
                x[[1, 2]] = f32::NAN;
                let p = npz(
                    d,
                    "d.npz",
                    vec![("x", Arr::F32(x.into_dyn())), ("y", f32s(3, 2, 0.0))],
                );
                s(&["export", &model("regression"), &p, "-o", &d.p("o.mps")])
            },
        },
        Case {
            name: "infinite_targets",
            code: 2,
            needles: &["d.npz", "labels 'y'", "NaN or infinity"],
            setup: |d| {
                let mut y = Array2::<f32>::zeros((3, 2));
                y[[2, 0]] = f32::INFINITY;
                let p = npz(
                    d,
                    "d.npz",
                    vec![("x", f32s(3, 3, 0.0)), ("y", Arr::F32(y.into_dyn()))],
                );
                s(&["export", &model("regression"), &p, "-o", &d.p("o.mps")])
            },
        },
        Case {
            name: "zero_points",
            code: 2,
            needles: &["d.npz", "no points"],
            setup: |d| {
                let p = npz(
                    d,
                    "d.npz",
                    vec![("x", f32s(0, 3, 0.0)), ("y", f32s(0, 2, 0.0))],
                );
                s(&["export", &model("regression"), &p, "-o", &d.p("o.mps")])
            },
        },
        Case {
            name: "label_out_of_range",
            code: 2,
            needles: &["d.npz", "label 12", "out of range"],
            setup: |d| {
                let p = npz(
                    d,
                    "d.npz",
                    vec![("x", digits_x(3)), ("y", ints(vec![0, 12, 2]))],
                );
                s(&["export", &model("digits"), &p, "-o", &d.p("o.mps")])
            },
        },
        Case {
            name: "negative_label",
            code: 2,
            needles: &["d.npz", "whole numbers"],
            setup: |d| {
                let p = npz(
                    d,
                    "d.npz",
                    vec![("x", digits_x(3)), ("y", ints(vec![0, -1, 2]))],
                );
                s(&["export", &model("digits"), &p, "-o", &d.p("o.mps")])
            },
        },
        Case {
            name: "length_mismatch",
            code: 2,
            needles: &["d.npz", "3 points", "4"],
            setup: |d| {
                let p = npz(
                    d,
                    "d.npz",
                    vec![("x", digits_x(3)), ("y", ints(vec![0, 1, 2, 3]))],
                );
                s(&["eval", &model("digits"), &p])
            },
        },
        Case {
            name: "text_as_npz",
            code: 2,
            needles: &["d.npz", "not a readable .npz"],
            setup: |d| s(&["eval", &model("digits"), &write(d, "d.npz", "hello")]),
        },
        Case {
            name: "malformed_npy_header",
            code: 2,
            needles: &["d.npz", "array 'x'", "syntax error at 1:"],
            setup: |d| {
                let p = npz(
                    d,
                    "d.npz",
                    vec![("x", digits_x(3)), ("y", ints(vec![0, 1, 2]))],
                );
                let b = std::fs::read(&p).unwrap();
                let text = String::from_utf8_lossy(&b).replacen("'descr':", "'descr'=", 1);
                let at = text.find("'descr'=").unwrap();
                let mut b = b;
                b[at + 7] = b'=';
                std::fs::write(&p, b).unwrap();
                s(&["eval", &model("digits"), &p])
            },
        },
        Case {
            name: "float_class_labels",
            code: 2,
            // The hint is about the data: it names the data file only.
            needles: &[
                "d.npz",
                "whole numbers",
                "the model ends in",
                "--task classification",
            ],
            setup: |d| {
                let y = Arr::F32(Array1::from(vec![0.0f32, 9.0, 2.0]).into_dyn());
                let p = npz(d, "d.npz", vec![("x", digits_x(3)), ("y", y)]);
                s(&["eval", &model("digits"), &p])
            },
        },
        Case {
            name: "radius_beyond_what_solvers_compute",
            code: 2,
            needles: &["radius 1e30", "below 1e12"],
            setup: |d| {
                s(&[
                    "export",
                    &model("digits"),
                    &data("digits"),
                    "-o",
                    &d.p("o.mps"),
                    "--radius",
                    "1e30",
                ])
            },
        },
        Case {
            name: "threads_without_bound",
            code: 2,
            needles: &["--threads", "1024", "100000"],
            setup: |d| {
                exported(d);
                s(&[
                    "solve",
                    &d.p("layer.mps"),
                    "-o",
                    &d.p("s.sol"),
                    "--threads",
                    "100000",
                ])
            },
        },
        Case {
            // Regression: a negative limit panicked converting it to a
            // Duration (tune's deadline) before HiGHS checked it.
            name: "negative_time_limit_for_tune",
            code: 2,
            needles: &["--time-limit", "-1"],
            setup: |d| {
                s(&[
                    "tune",
                    &model("tiny_regression"),
                    &data("tiny_regression"),
                    "-o",
                    &d.p("t.onnx"),
                    "--time-limit=-1",
                ])
            },
        },
        Case {
            name: "nan_time_limit_for_solve",
            code: 2,
            needles: &["--time-limit", "NaN"],
            setup: |d| {
                exported(d);
                s(&[
                    "solve",
                    &d.p("layer.mps"),
                    "-o",
                    &d.p("s.sol"),
                    "--time-limit",
                    "NaN",
                ])
            },
        },
        Case {
            name: "negative_radius",
            code: 2,
            needles: &["--radius", "-0.1"],
            setup: |d| {
                s(&[
                    "export",
                    &model("regression"),
                    &data("regression"),
                    "-o",
                    &d.p("o.mps"),
                    "--radius=-0.1",
                ])
            },
        },
        Case {
            name: "nan_radius",
            code: 2,
            needles: &["--radius", "NaN"],
            setup: |d| {
                s(&[
                    "export",
                    &model("regression"),
                    &data("regression"),
                    "-o",
                    &d.p("o.mps"),
                    "--radius",
                    "NaN",
                ])
            },
        },
        Case {
            name: "zero_points_option",
            code: 2,
            needles: &["--points"],
            setup: |d| {
                s(&[
                    "export",
                    &model("regression"),
                    &data("regression"),
                    "-o",
                    &d.p("o.mps"),
                    "--points",
                    "0",
                ])
            },
        },
        Case {
            name: "loss_of_the_other_task",
            code: 2,
            needles: &["data.npz", "--loss hinge is for classification"],
            setup: |d| {
                s(&[
                    "export",
                    &model("regression"),
                    &data("regression"),
                    "-o",
                    &d.p("o.mps"),
                    "--loss",
                    "hinge",
                ])
            },
        },
        Case {
            name: "flag_that_does_not_fit_the_loss",
            code: 2,
            needles: &["--keep-accuracy", "zero-one"],
            setup: |d| {
                s(&[
                    "export",
                    &model("digits"),
                    &data("digits"),
                    "-o",
                    &d.p("o.mps"),
                    "--loss",
                    "hinge",
                    "--keep-accuracy",
                ])
            },
        },
        Case {
            name: "misclassified_for_regression",
            code: 2,
            needles: &["misclassified", "classification"],
            setup: |d| {
                s(&[
                    "export",
                    &model("regression"),
                    &data("regression"),
                    "-o",
                    &d.p("o.mps"),
                    "--select",
                    "misclassified",
                ])
            },
        },
        Case {
            name: "output_dir_missing",
            code: 2,
            needles: &["nope/o.mps", "cannot create"],
            setup: |d| {
                s(&[
                    "export",
                    &model("regression"),
                    &data("regression"),
                    "-o",
                    &d.p("nope/o.mps"),
                ])
            },
        },
        Case {
            name: "output_is_a_directory",
            code: 2,
            needles: &["sub.mps", "is a directory"],
            setup: |d| {
                std::fs::create_dir(d.path.join("sub.mps")).unwrap();
                s(&[
                    "export",
                    &model("regression"),
                    &data("regression"),
                    "-o",
                    &d.p("sub.mps"),
                ])
            },
        },
        Case {
            name: "unknown_extension",
            code: 2,
            needles: &["o.txt", "cannot tell the format"],
            setup: |d| {
                s(&[
                    "export",
                    &model("regression"),
                    &data("regression"),
                    "-o",
                    &d.p("o.txt"),
                ])
            },
        },
        Case {
            name: "empty_solution",
            code: 2,
            needles: &["s.sol", "empty"],
            setup: |d| apply_after_export(d, "s.sol", ""),
        },
        Case {
            name: "truncated_highs_solution",
            code: 2,
            needles: &["s.sol", "truncated"],
            setup: |d| {
                apply_after_export(d, "s.sol", "Model status\nOptimal\n\n# Primal solution values\nFeasible\nObjective 1\n# Columns 300\nw_0_0 0.1\n")
            },
        },
        Case {
            name: "infeasible_status",
            code: 1,
            needles: &["s.sol", "Infeasible", "no usable solution"],
            setup: |d| {
                apply_after_export(
                    d,
                    "s.sol",
                    "Model status\nInfeasible\n\n# Primal solution values\nNone\n",
                )
            },
        },
        Case {
            name: "cbc_no_solution",
            code: 1,
            needles: &["s.sol", "no usable solution"],
            setup: |d| apply_after_export(d, "s.sol", "Infeasible - objective value 0.00000000\n"),
        },
        Case {
            name: "gurobi_json_not_json",
            code: 2,
            needles: &["s.json:2:", "not valid JSON"],
            setup: |d| {
                apply_after_export(d, "s.json", "{ \"SolutionInfo\": { \"Status\": 2, \"ObjVal\": 1},\n \"Vars\": [ { \"VarName\": \"w_0_0\", \"X\": 0.1, } ]}")
            },
        },
        Case {
            name: "gurobi_json_no_solution",
            code: 1,
            needles: &["s.json", "TIME_LIMIT", "no usable solution"],
            setup: |d| {
                apply_after_export(
                    d,
                    "s.json",
                    "{ \"SolutionInfo\": { \"Status\": 9, \"ObjVal\": 1e+100, \"SolCount\": 0}}",
                )
            },
        },
        Case {
            name: "glpk_report_truncated",
            code: 2,
            needles: &["s.txt", "truncated"],
            setup: |d| {
                apply_after_export(d, "s.txt", "Problem:    gdmilp\nRows:       1\nColumns:    1\nNon-zeros:  1\nStatus:     OPTIMAL\nObjective:  obj = 1 (MINimum)\n\n   No. Column name  St   Activity     Lower bound   Upper bound    Marginal\n------ ------------ -- ------------- ------------- ------------- -------------\n     1 w_0_0        B            0.1\n")
            },
        },
        Case {
            name: "glpk_report_bad_value",
            code: 2,
            needles: &["s.txt:10:", "'0.1x' is not a number"],
            setup: |d| {
                apply_after_export(d, "s.txt", "Problem:    gdmilp\nRows:       1\nColumns:    1\nNon-zeros:  1\nStatus:     OPTIMAL\nObjective:  obj = 1 (MINimum)\n\n   No. Column name  St   Activity     Lower bound   Upper bound    Marginal\n------ ------------ -- ------------- ------------- ------------- -------------\n     1 w_0_0        B           0.1x\n\nEnd of output\n")
            },
        },
        Case {
            name: "glpk_report_no_integer_solution",
            code: 1,
            needles: &["layer.txt", "INTEGER UNDEFINED", "no usable solution"],
            setup: |d| {
                // glpsol stopped by --tmlim 0 before any integer solution.
                let sample = root().join("fixtures/solutions/glpk-report/time_limit.txt");
                std::fs::copy(sample, d.path.join("layer.txt")).unwrap();
                s(&[
                    "apply",
                    &d.p("layer.txt"),
                    &model("digits"),
                    "-o",
                    &d.p("p.onnx"),
                ])
            },
        },
        Case {
            name: "nan_value",
            code: 2,
            needles: &["s.sol", "w_0_1", "NaN"],
            setup: |d| {
                apply_edited(d, |n, v| {
                    Some((n.into(), if n == "w_0_1" { f64::NAN } else { v }))
                })
            },
        },
        Case {
            name: "foreign_name",
            code: 2,
            needles: &["s.sol", "'x17'", "not written by this export"],
            setup: |d| {
                apply_edited(d, |n, v| {
                    Some((if n == "w_0_1" { "x17".into() } else { n.into() }, v))
                })
            },
        },
        Case {
            name: "other_layer_shape",
            code: 2,
            needles: &["s.sol", "w_5_0", "another layer shape"],
            setup: |d| {
                let sol = "# Solution for model x\n# Objective value = 1\nw_0_0 0.1\nw_5_0 0.2\n";
                s(&[
                    "apply",
                    &write(d, "s.sol", sol),
                    &model("regression"),
                    "-o",
                    &d.p("p.onnx"),
                ])
            },
        },
        Case {
            name: "duplicate_name",
            code: 2,
            needles: &["s.sol", "appears twice"],
            setup: |d| {
                exported(d);
                let mut sol = solution_from_start(d, |n, v| Some((n.into(), v)));
                sol.push_str("w_0_0 0.1\n");
                apply_args(d, &write(d, "s.sol", &sol))
            },
        },
        Case {
            name: "outside_the_box",
            code: 2,
            needles: &["s.sol", "w_1_3", "outside the box"],
            setup: |d| {
                apply_edited(d, |n, v| {
                    Some((n.into(), if n == "w_1_3" { v + 1.0 } else { v }))
                })
            },
        },
        Case {
            name: "missing_column",
            code: 2,
            needles: &["s.sol", "'b_1' is missing"],
            setup: |d| apply_edited(d, |n, v| (n != "b_1").then(|| (n.to_string(), v))),
        },
        Case {
            name: "unrecognised_solution",
            code: 2,
            needles: &["s.sol", "not a solution file"],
            setup: |d| {
                s(&[
                    "apply",
                    &write(d, "s.sol", "hello world\n"),
                    &model("regression"),
                    "-o",
                    &d.p("p.onnx"),
                ])
            },
        },
        Case {
            name: "manifest_of_another_model",
            code: 2,
            needles: &["layer.mps.gdmilp.json", "different model"],
            setup: |d| {
                exported(d);
                let sol = solution_from_start(d, |n, v| Some((n.into(), v)));
                s(&[
                    "apply",
                    &write(d, "s.sol", &sol),
                    &model("no_bias"),
                    "--manifest",
                    &d.p("layer.mps.gdmilp.json"),
                    "-o",
                    &d.p("p.onnx"),
                ])
            },
        },
        Case {
            // Issue #23, case 2: apply read the MILP file for its token,
            // then wrote the patched model over it.
            name: "apply_output_is_the_export_milp",
            code: 2,
            needles: &["layer.mps", "is also an input"],
            setup: |d| {
                let mut args = apply_edited(d, |n, v| Some((n.into(), v)));
                *args.last_mut().unwrap() = d.p("layer.mps");
                args
            },
        },
        Case {
            name: "apply_output_is_the_export_start",
            code: 2,
            needles: &["layer.mps.mst", "is also an input"],
            setup: |d| {
                let mut args = apply_edited(d, |n, v| Some((n.into(), v)));
                *args.last_mut().unwrap() = d.p("layer.mps.mst");
                args
            },
        },
        Case {
            // Issue #23, case 3: the report and a kept sweep file were one.
            name: "tune_report_is_a_kept_file",
            code: 2,
            needles: &["kd/sweep1.sol", "--keep", "one file"],
            setup: |d| {
                std::fs::create_dir(d.path.join("kd")).unwrap();
                s(&[
                    "tune",
                    &model("tiny_regression"),
                    &data("tiny_regression"),
                    "-o",
                    &d.p("t.onnx"),
                    "--radius",
                    "0.1",
                    "--keep",
                    &d.p("kd"),
                    "--report",
                    &d.p("kd/sweep1.sol"),
                ])
            },
        },
        Case {
            name: "keep_is_a_file",
            code: 2,
            needles: &["f.txt", "is not a directory"],
            setup: |d| {
                write(d, "f.txt", "x");
                s(&[
                    "tune",
                    &model("tiny_regression"),
                    &data("tiny_regression"),
                    "-o",
                    &d.p("t.onnx"),
                    "--radius",
                    "0.1",
                    "--keep",
                    &d.p("f.txt"),
                ])
            },
        },
        Case {
            // Issue #23, case 5: a NaN start "solved" to 2.7e308.
            name: "nan_in_a_mip_start",
            code: 2,
            needles: &["s.mst:3", "NaN or infinite"],
            setup: |d| {
                exported(d);
                let start = std::fs::read_to_string(d.path.join("layer.mps.mst")).unwrap();
                let mut lines: Vec<String> = start.lines().map(String::from).collect();
                let k = lines.iter().position(|l| !l.starts_with('#')).unwrap();
                let name = lines[k].split(' ').next().unwrap().to_string();
                lines[k] = format!("{name} nan");
                let bad = lines.join("\n") + "\n";
                assert_eq!(k + 1, 3, "the first value is on line 3:\n{bad}");
                s(&[
                    "solve",
                    &d.p("layer.mps"),
                    "-o",
                    &d.p("s.sol"),
                    "--start",
                    &write(d, "s.mst", &bad),
                    "--time-limit",
                    "0.001",
                ])
            },
        },
        Case {
            // Issue #23, case 7: ties counted as correct.
            name: "zero_margin_for_zero_one",
            code: 2,
            needles: &["--margin", "above 0", "zero-one"],
            setup: |d| {
                s(&[
                    "export",
                    &model("digits"),
                    &data("digits"),
                    "-o",
                    &d.p("o.mps"),
                    "--margin",
                    "0",
                ])
            },
        },
        Case {
            // Issue #23, case 8: clap's errors are one line too.
            name: "negative_points_from_clap",
            code: 2,
            needles: &["--points", "-1"],
            setup: |d| {
                s(&[
                    "export",
                    &model("regression"),
                    &data("regression"),
                    "-o",
                    &d.p("o.mps"),
                    "--points=-1",
                ])
            },
        },
        Case {
            name: "seed_overflow_from_clap",
            code: 2,
            needles: &["--seed", "99999999999999999999999"],
            setup: |d| {
                s(&[
                    "export",
                    &model("regression"),
                    &data("regression"),
                    "-o",
                    &d.p("o.mps"),
                    "--seed",
                    "99999999999999999999999",
                ])
            },
        },
        Case {
            name: "negative_val_split_from_clap",
            code: 2,
            needles: &["--val-split", "-0.1"],
            setup: |d| {
                s(&[
                    "tune",
                    &model("regression"),
                    &data("regression"),
                    "-o",
                    &d.p("t.onnx"),
                    "--val-split",
                    "-0.1",
                ])
            },
        },
        Case {
            name: "missing_argument_from_clap",
            code: 2,
            needles: &["required", "--output"],
            setup: |_| s(&["export", &model("regression"), &data("regression")]),
        },
        Case {
            // 1e308 was printed as a 309-digit integer.
            name: "huge_time_limit_shown_short",
            code: 2,
            needles: &["--time-limit", "not 1e308"],
            setup: |d| {
                exported(d);
                s(&[
                    "solve",
                    &d.p("layer.mps"),
                    "-o",
                    &d.p("s.sol"),
                    "--time-limit",
                    "1e308",
                ])
            },
        },
        Case {
            name: "zero_batch_size",
            code: 2,
            needles: &["--batch-size", "0"],
            setup: |_| {
                s(&[
                    "eval",
                    &model("regression"),
                    &data("regression"),
                    "--batch-size",
                    "0",
                ])
            },
        },
        Case {
            name: "folds_of_one_point",
            code: 2,
            needles: &["d.npz", "at least 2 points", "has 1"],
            setup: |d| {
                let p = npz(
                    d,
                    "d.npz",
                    vec![("x", f32s(1, 3, 0.5)), ("y", f32s(1, 2, 0.1))],
                );
                s(&["tune", &model("regression"), &p, "-o", &d.p("t.onnx")])
            },
        },
        Case {
            name: "protect_file_replaced_by_garbage",
            code: 2,
            needles: &["p.npz", "changed since the export"],
            setup: |d| {
                std::fs::copy(root().join(data("regression")), d.path.join("p.npz")).unwrap();
                d.run(&[
                    "export",
                    &model("regression"),
                    &data("regression"),
                    "-o",
                    &d.p("layer.mps"),
                    "--protect",
                    &d.p("p.npz"),
                ])
                .ok();
                let sol = solution_from_start(d, |n, v| Some((n.into(), v)));
                write(d, "p.npz", "garbage");
                apply_args(d, &write(d, "s.sol", &sol))
            },
        },
        Case {
            name: "corrupt_gzip",
            code: 2,
            needles: &["l.mps.gz", "gzip"],
            setup: |d| {
                s(&[
                    "solve",
                    &write(d, "l.mps.gz", "not gzip at all"),
                    "-o",
                    &d.p("s.sol"),
                ])
            },
        },
        Case {
            name: "solve_unreadable_model",
            code: 2,
            needles: &["l.mps", "cannot read"],
            setup: |d| {
                s(&[
                    "solve",
                    &write(d, "l.mps", "garbage\n"),
                    "-o",
                    &d.p("s.sol"),
                ])
            },
        },
    ]
}

fn snapshot(dir: &Dir) -> BTreeMap<String, Vec<u8>> {
    let mut m = BTreeMap::new();
    for n in dir.listing() {
        let p = dir.path.join(&n);
        if p.is_file() {
            m.insert(n, std::fs::read(p).unwrap());
        }
    }
    m
}

#[test]
fn every_bad_input_fails_cleanly() {
    let fixture_before = snapshot(&Dir {
        path: root().join("fixtures/regression"),
    });
    let table = cases();
    assert!(table.len() >= 30);
    let mut failures = Vec::new();
    for case in &table {
        let dir = Dir::new(&format!("bad-{}", case.name));
        let args = (case.setup)(&dir);
        let before = snapshot(&dir);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = dir.run(&argv);
        let err = r.stderr();
        let lines: Vec<&str> = err.lines().collect();
        let after = snapshot(&dir);
        let mut why = Vec::new();
        if r.code() != case.code {
            why.push(format!("exit {} (want {})", r.code(), case.code));
        }
        if lines.len() != 1 || !lines[0].starts_with("gdmilp: ") {
            why.push(format!("stderr is not one 'gdmilp: ' line: {err:?}"));
        }
        for n in case.needles {
            if !err.contains(n) {
                why.push(format!("stderr lacks {n:?}"));
            }
        }
        if before != after {
            why.push(format!(
                "files changed: {:?} → {:?}",
                before.keys().collect::<Vec<_>>(),
                after.keys().collect::<Vec<_>>()
            ));
        }
        if !why.is_empty() {
            failures.push(format!(
                "{}: {}\n    stderr: {}",
                case.name,
                why.join("; "),
                err.trim()
            ));
        }
    }
    assert_eq!(
        fixture_before,
        snapshot(&Dir {
            path: root().join("fixtures/regression")
        }),
        "a fixture was modified"
    );
    assert!(
        failures.is_empty(),
        "{} of {} bad inputs misbehaved:\n{}",
        failures.len(),
        table.len(),
        failures.join("\n")
    );
}
