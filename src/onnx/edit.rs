//! Edits to a model's bytes, each one field-precise: everything not edited
//! is copied verbatim.
//!
//! - [`with_f64_outputs`]: the model plus extra graph outputs (the
//!   penultimate features, the layer's output, the scores), each cast to
//!   float64 (and transposed where asked), with external data inlined so
//!   that ONNX Runtime can load it from memory.
//! - [`patch`]: the model with new final-layer weights written back where
//!   they are stored (an initializer or a Constant node's `value`, inline or
//!   in an external data file), in their own dtype, shape and storage.
//! - [`write`]: a patched model and copies of its external data files,
//!   named so that no output is a file the input model reads.

use super::dtype;
use super::float;
use super::layer::{FinalLayer, Param, Source};
use super::model::{field, graph_bytes, parse_tensor, Model, Storage, Tensor};
use super::wire::{self, Edit};
use crate::error::{Error, Result};
use ndarray::{Array1, Array2};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A ValueInfoProto: a tensor `name` of `elem_type`, shape not declared.
pub(crate) fn value_info_proto(name: &str, elem_type: i32) -> Vec<u8> {
    let mut tensor_type = Vec::new();
    wire::put_int(&mut tensor_type, 1, elem_type as i64);
    let mut type_proto = Vec::new();
    wire::put_bytes(&mut type_proto, 1, &tensor_type);
    let mut vi = Vec::new();
    wire::put_bytes(&mut vi, 1, name.as_bytes());
    wire::put_bytes(&mut vi, 2, &type_proto);
    vi
}

/// A graph `output` field declaring `name` of `elem_type`.
fn value_info(name: &str, elem_type: i32) -> Vec<u8> {
    let mut out = Vec::new();
    wire::put_bytes(
        &mut out,
        field::GRAPH_OUTPUT,
        &value_info_proto(name, elem_type),
    );
    out
}

/// A graph `node` field: `op` from `input` to `output` with integer
/// attributes (`ints` when more than one value).
fn node(op: &str, input: &str, output: &str, attrs: &[(&str, &[i64])]) -> Vec<u8> {
    let mut n = Vec::new();
    wire::put_bytes(&mut n, 1, input.as_bytes());
    wire::put_bytes(&mut n, 2, output.as_bytes());
    wire::put_bytes(&mut n, 3, format!("gdmilp_{output}").as_bytes());
    wire::put_bytes(&mut n, 4, op.as_bytes());
    for (name, values) in attrs {
        let mut a = Vec::new();
        wire::put_bytes(&mut a, 1, name.as_bytes());
        match values {
            [one] => {
                wire::put_int(&mut a, 3, *one);
                wire::put_int(&mut a, 20, 2); // AttributeType INT
            }
            many => {
                for v in *many {
                    wire::put_int(&mut a, 8, *v);
                }
                wire::put_int(&mut a, 20, 7); // AttributeType INTS
            }
        }
        wire::put_bytes(&mut n, 5, &a);
    }
    let mut out = Vec::new();
    wire::put_bytes(&mut out, field::GRAPH_NODE, &n);
    out
}

/// Rewrites the graph of `model` with `edit` per graph field and `append`.
fn rewrite_graph(
    model: &Model,
    edit: impl FnMut(&wire::Field<'_>) -> Result<Edit, String>,
    append: &[u8],
) -> Result<Vec<u8>> {
    let bad = |m: String| Error::invalid(&model.path, format!("cannot edit the model: {m}"));
    let graph = graph_bytes(&model.bytes).map_err(bad)?;
    let new_graph = wire::rewrite(graph, edit, append).map_err(bad)?;
    wire::rewrite(
        &model.bytes,
        |f| {
            Ok(if f.number == field::MODEL_GRAPH {
                let mut b = Vec::with_capacity(new_graph.len() + 8);
                wire::put_bytes(&mut b, field::MODEL_GRAPH, &new_graph);
                Edit::Replace(b)
            } else {
                Edit::Keep
            })
        },
        &[],
    )
    .map_err(bad)
}

/// Where a stored tensor sits in the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Site {
    /// The graph's initializer at this index.
    Initializer(usize),
    /// The `value` of the Constant node at this index.
    Constant(usize),
}

/// What [`rewrite_tensors`] asks of each stored tensor: new TensorProto
/// bytes, or `None` to keep it.
type Visit<'a> = dyn FnMut(Site, &Tensor, &[u8]) -> Result<Option<Vec<u8>>> + 'a;

/// New bytes for a TensorProto, or `None` to keep it (wire-level errors).
type TensorEdit<'a> = dyn FnMut(&[u8]) -> Result<Option<Vec<u8>>, String> + 'a;

/// A Constant node's bytes with its `value` tensor rewritten by `f`.
fn constant_node(bytes: &[u8], f: &mut TensorEdit<'_>) -> Result<Option<Vec<u8>>, String> {
    let mut changed = false;
    let out = wire::rewrite(
        bytes,
        |nf| {
            if nf.number != 5 {
                return Ok(Edit::Keep);
            }
            let attr = nf.bytes()?;
            let is_value = wire::fields(attr)
                .filter_map(|a| a.ok())
                .any(|a| a.number == 1 && a.bytes() == Ok(b"value".as_slice()));
            if !is_value {
                return Ok(Edit::Keep);
            }
            let new_attr = wire::rewrite(
                attr,
                |af| {
                    if af.number != 5 {
                        return Ok(Edit::Keep);
                    }
                    Ok(match f(af.bytes()?)? {
                        Some(t) => {
                            changed = true;
                            let mut b = Vec::with_capacity(t.len() + 8);
                            wire::put_bytes(&mut b, 5, &t);
                            Edit::Replace(b)
                        }
                        None => Edit::Keep,
                    })
                },
                &[],
            )?;
            let mut b = Vec::with_capacity(new_attr.len() + 8);
            wire::put_bytes(&mut b, 5, &new_attr);
            Ok(Edit::Replace(b))
        },
        &[],
    )?;
    Ok(changed.then_some(out))
}

/// Rewrites the graph, offering every stored tensor (initializers and
/// Constant values) to `visit`; `append` goes at the end of the graph.
fn rewrite_tensors(model: &Model, visit: &mut Visit<'_>, append: &[u8]) -> Result<Vec<u8>> {
    let (mut init, mut node_index) = (0usize, 0usize);
    let mut failure: Option<Error> = None;
    let mut call = |site: Site, t: &Tensor, bytes: &[u8]| -> Result<Option<Vec<u8>>, String> {
        visit(site, t, bytes).map_err(|e| {
            failure = Some(e);
            String::new()
        })
    };
    let out = rewrite_graph(
        model,
        |f| {
            let (number, new) = match f.number {
                field::GRAPH_INITIALIZER => {
                    let i = init;
                    init += 1;
                    let t = &model.graph.initializers[i];
                    (f.number, call(Site::Initializer(i), t, f.bytes()?)?)
                }
                field::GRAPH_NODE => {
                    let k = node_index;
                    node_index += 1;
                    let n = &model.graph.nodes[k];
                    let Some(t) = n.attr("value").and_then(|a| a.t.as_ref()) else {
                        return Ok(Edit::Keep);
                    };
                    if n.op_type != "Constant" {
                        return Ok(Edit::Keep);
                    }
                    let mut f2 = |b: &[u8]| call(Site::Constant(k), t, b);
                    (f.number, constant_node(f.bytes()?, &mut f2)?)
                }
                _ => return Ok(Edit::Keep),
            };
            Ok(match new {
                Some(bytes) => {
                    let mut b = Vec::with_capacity(bytes.len() + 8);
                    wire::put_bytes(&mut b, number, &bytes);
                    Edit::Replace(b)
                }
                None => Edit::Keep,
            })
        },
        append,
    );
    match failure {
        Some(e) => Err(e),
        None => out,
    }
}

/// An external tensor's bytes with its data moved into `raw_data`.
fn inlined(model: &Model, t: &Tensor, bytes: &[u8]) -> Result<Option<Vec<u8>>> {
    if !matches!(t.storage, Storage::External { .. }) {
        return Ok(None);
    }
    let size = dtype::size(t.data_type).ok_or_else(|| {
        Error::invalid(
            &model.path,
            format!(
                "external tensor '{}' has data type {}, which gdmilp cannot inline",
                t.name, t.data_type
            ),
        )
    })?;
    let raw = model.external_bytes(t, size)?;
    let mut r = Vec::with_capacity(raw.len() + 8);
    wire::put_bytes(&mut r, field::TENSOR_RAW_DATA, &raw);
    let drop_external = |tf: &wire::Field<'_>| {
        Ok(match tf.number {
            field::TENSOR_EXTERNAL_DATA | field::TENSOR_DATA_LOCATION => Edit::Drop,
            _ => Edit::Keep,
        })
    };
    wire::rewrite(bytes, drop_external, &r)
        .map(Some)
        .map_err(|m| Error::invalid(&model.path, format!("cannot edit the model: {m}")))
}

/// The model with `outputs` (name, ONNX elem type) added as graph outputs
/// (those already outputs are left alone) and every external tensor
/// inlined as `raw_data`.
pub fn with_outputs(model: &Model, outputs: &[(&str, i32)]) -> Result<Vec<u8>> {
    let mut append = Vec::new();
    for (name, t) in outputs {
        if !model.graph.outputs.iter().any(|o| o.name == *name) {
            append.extend(value_info(name, *t));
        }
    }
    rewrite_tensors(model, &mut |_, t, b| inlined(model, t, b), &append)
}

/// A tensor to read out of a run: its name, and whether its points run
/// along its second axis (a Gemm with transA=1 reads its input that way).
#[derive(Debug, Clone)]
pub struct Fetch {
    /// Tensor name.
    pub tensor: String,
    /// Transpose the (2-D) tensor so that points run along the first axis.
    pub transpose: bool,
}

/// The model with each fetched tensor added as a float64 graph output
/// (through a Cast, and a Transpose where asked), external data inlined.
/// Returns the bytes and the new outputs' names, in `fetches` order.
pub fn with_f64_outputs(model: &Model, fetches: &[Fetch]) -> Result<(Vec<u8>, Vec<String>)> {
    let mut append = Vec::new();
    let mut names = Vec::new();
    for (k, f) in fetches.iter().enumerate() {
        let mut from = f.tensor.clone();
        if f.transpose {
            let t = format!("gdmilp_fetch_{k}_t");
            append.extend(node("Transpose", &from, &t, &[("perm", &[1, 0])]));
            from = t;
        }
        let out = format!("gdmilp_fetch_{k}_f64");
        append.extend(node(
            "Cast",
            &from,
            &out,
            &[("to", &[dtype::DOUBLE as i64])],
        ));
        append.extend(value_info(&out, dtype::DOUBLE));
        names.push(out);
    }
    let bytes = rewrite_tensors(model, &mut |_, t, b| inlined(model, t, b), &append)?;
    Ok((bytes, names))
}

/// The model fed through a new float64 input: the graph input `input`
/// (float16 or bfloat16, as `model.half()` exports write it) is renamed
/// and declared float64, and a Cast to its own type, first among the
/// nodes, gives the graph back the tensor it reads. Returns the bytes and
/// the new input's name.
pub fn with_f64_input(model: &Model, input: &str, elem_type: i32) -> Result<(Vec<u8>, String)> {
    let name = "gdmilp_input_f64".to_string();
    let cast = node("Cast", &name, input, &[("to", &[elem_type as i64])]);
    let mut first_node = true;
    let names_input = |vi: &[u8]| {
        wire::fields(vi)
            .filter_map(|x| x.ok())
            .any(|x| x.number == 1 && x.bytes() == Ok(input.as_bytes()))
    };
    let mut new_input = Vec::new();
    wire::put_bytes(
        &mut new_input,
        field::GRAPH_INPUT,
        &value_info_proto(&name, dtype::DOUBLE),
    );
    // In memory only: the first node is re-encoded, not copied, and the
    // old input declaration is dropped for one without a shape.
    let bytes = rewrite_graph(
        model,
        |f| {
            Ok(match f.number {
                field::GRAPH_NODE if first_node => {
                    first_node = false;
                    let mut b = cast.clone();
                    wire::put_bytes(&mut b, field::GRAPH_NODE, f.bytes()?);
                    Edit::Replace(b)
                }
                field::GRAPH_INPUT if names_input(f.bytes()?) => Edit::Drop,
                _ => Edit::Keep,
            })
        },
        &new_input,
    )?;
    Ok((bytes, name))
}

/// A patched model, ready to be written.
#[derive(Debug)]
pub struct Patched {
    /// The new model file's bytes.
    pub model: Vec<u8>,
    /// One per external data file of the input: its copy, with the new
    /// weights written into it.
    pub data: Vec<DataPatch>,
}

/// A copy of one of the input's external data files with some ranges
/// rewritten.
#[derive(Debug)]
pub struct DataPatch {
    /// The input's data file (read only).
    pub source: PathBuf,
    /// The file name the patched model refers to (beside the output).
    pub name: String,
    /// Why the name is not the usual one, when it is not.
    pub note: Option<String>,
    /// (offset, bytes) to write into the copy.
    pub writes: Vec<(u64, Vec<u8>)>,
}

/// Rewrites one tensor's inline data field in place (same field, same
/// storage, its own type).
fn tensor_with_values(bytes: &[u8], t: &Tensor, values: &[f64]) -> Result<Vec<u8>, String> {
    let (number, payload) = match &t.storage {
        Storage::Raw(_) => (field::TENSOR_RAW_DATA, float::to_le(values, t.data_type)),
        Storage::Floats(_) => (field::TENSOR_FLOAT_DATA, float::to_le(values, dtype::FLOAT)),
        Storage::Doubles(_) => (
            field::TENSOR_DOUBLE_DATA,
            float::to_le(values, dtype::DOUBLE),
        ),
        // float16 / bfloat16 bit patterns, one varint each.
        Storage::Int32s(_) => {
            let mut p = Vec::new();
            for &v in values {
                wire::put_varint(&mut p, u64::from(float::to_bits16(v, t.data_type)));
            }
            (field::TENSOR_INT32_DATA, p)
        }
        _ => {
            return Err("internal: tensor_with_values on a tensor without inline float data".into())
        }
    };
    let mut done = false;
    wire::rewrite(
        bytes,
        |f| {
            if f.number != number {
                return Ok(Edit::Keep);
            }
            if done {
                return Ok(Edit::Drop);
            }
            done = true;
            let mut b = Vec::with_capacity(payload.len() + 8);
            wire::put_bytes(&mut b, number, &payload);
            Ok(Edit::Replace(b))
        },
        &[],
    )
}

/// Replaces the `location` of an external tensor.
fn relocate(bytes: &[u8], new_location: &str) -> Result<Vec<u8>, String> {
    wire::rewrite(
        bytes,
        |f| {
            if f.number != field::TENSOR_EXTERNAL_DATA {
                return Ok(Edit::Keep);
            }
            let is_location = wire::fields(f.bytes()?)
                .filter_map(|e| e.ok())
                .any(|e| e.number == 1 && e.bytes() == Ok(b"location".as_slice()));
            if !is_location {
                return Ok(Edit::Keep);
            }
            let mut entry = Vec::new();
            wire::put_bytes(&mut entry, 1, b"location");
            wire::put_bytes(&mut entry, 2, new_location.as_bytes());
            let mut b = Vec::new();
            wire::put_bytes(&mut b, field::TENSOR_EXTERNAL_DATA, &entry);
            Ok(Edit::Replace(b))
        },
        &[],
    )
}

/// Where a layer parameter is stored.
fn site_of(model: &Model, p: &Param) -> Result<Site> {
    match &p.source {
        Source::Initializer { index, .. } => Ok(Site::Initializer(*index)),
        Source::Constant { .. } => model
            .graph
            .nodes
            .iter()
            .position(|n| n.op_type == "Constant" && n.outputs.contains(&p.name))
            .map(Site::Constant)
            .ok_or_else(|| {
                Error::invalid(
                    &model.path,
                    format!("internal: no Constant node produces '{}'", p.name),
                )
            }),
    }
}

/// True when `a` and `b` are one file (both exist and share an inode, or
/// resolve to one path).
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// The patched model's name for each of the input's external data files
/// (keyed by location): `OUT.data` for one file, `OUT.<location>` for
/// several; a name that is a file the input reads (or the output itself)
/// gets a number instead, with a note saying so.
fn data_names(model: &Model, out: &Path) -> Result<HashMap<String, (String, Option<String>)>> {
    let locations = model.external_locations();
    let out_name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let read = model.files_read()?;
    let mut taken: Vec<String> = Vec::new();
    let mut names = HashMap::new();
    for loc in &locations {
        let stem = if locations.len() == 1 {
            "data".to_string()
        } else {
            loc.replace(['/', '\\'], "_")
        };
        let usable = |name: &str, taken: &[String]| {
            let p = out.with_file_name(name);
            name != out_name
                && !taken.iter().any(|t| t == name)
                && !read.iter().any(|r| same_file(r, &p))
        };
        let first = format!("{out_name}.{stem}");
        let (name, note) = if usable(&first, &taken) {
            (first, None)
        } else {
            let name = (1..)
                .map(|k| format!("{out_name}.{k}.{stem}"))
                .find(|n| usable(n, &taken))
                .expect("some numbered name is free");
            let note = format!(
                "{} is a file the input model reads, so the patched weights go to {name} instead",
                out.with_file_name(&first).display()
            );
            (name, Some(note))
        };
        taken.push(name.clone());
        names.insert(loc.clone(), (name, note));
    }
    Ok(names)
}

/// Writes `w` (M×N) and `b` (M) where the layer's parameters are stored.
/// `out` is the path the patched model will have: external data files get
/// names beside it (see [`write`]).
pub fn patch(
    model: &Model,
    layer: &FinalLayer,
    w: &Array2<f64>,
    b: &Array1<f64>,
    out: impl AsRef<Path>,
) -> Result<Patched> {
    let mut new_values: HashMap<Site, Vec<f64>> = HashMap::new();
    new_values.insert(site_of(model, &layer.weight)?, layer.stored_weight(w));
    if layer.has_bias_vars() {
        let p = layer.bias.as_ref().expect("PerOutput bias has a Param");
        new_values.insert(site_of(model, p)?, layer.stored_bias(b));
    }
    let names = data_names(model, out.as_ref())?;
    let mut data: Vec<DataPatch> = Vec::new();
    for loc in model.external_locations() {
        let (name, note) = names[&loc].clone();
        data.push(DataPatch {
            source: model.external_path(&loc)?,
            name,
            note,
            writes: Vec::new(),
        });
    }
    let bad = |m: String| Error::invalid(&model.path, format!("cannot edit the model: {m}"));
    let bytes = rewrite_tensors(
        model,
        &mut |site, t, bytes| {
            let values = new_values.get(&site);
            let new = match &t.storage {
                Storage::External {
                    offset, location, ..
                } => {
                    let d = data
                        .iter_mut()
                        .find(|d| names[location].0 == d.name)
                        .expect("every location has a data file");
                    if let Some(v) = values {
                        d.writes.push((*offset, float::to_le(v, t.data_type)));
                    }
                    relocate(bytes, &d.name).map_err(bad)?
                }
                _ => match values {
                    Some(v) => tensor_with_values(bytes, t, v).map_err(bad)?,
                    None => return Ok(None),
                },
            };
            debug_assert!(parse_tensor(&new).is_ok());
            Ok(Some(new))
        },
        &[],
    )?;
    Ok(Patched { model: bytes, data })
}

/// Writes the patched model to `out` and each data file beside it as
/// finished temporaries that the caller renames into place together
/// ([`crate::formats::atomic::commit_all`], with any other output of the same
/// command); dropped, they leave nothing. Refuses (before writing
/// anything) to write a file the input reads.
pub fn write(
    model: &Model,
    patched: &Patched,
    out: &Path,
) -> Result<(Vec<PathBuf>, Vec<crate::formats::atomic::Finished>)> {
    let read = model.files_read()?;
    // The model file may be replaced (`-o` naming the input does that);
    // its data files never.
    if let Some(r) = read[1..].iter().find(|r| same_file(r, out)) {
        return Err(Error::invalid(
            out,
            format!(
                "is the external data file {} of the input model; refusing to overwrite it",
                r.display()
            ),
        ));
    }
    let targets: Vec<PathBuf> = patched
        .data
        .iter()
        .map(|d| out.with_file_name(&d.name))
        .collect();
    for t in &targets {
        if let Some(r) = read.iter().find(|r| same_file(r, t)) {
            return Err(Error::invalid(
                t,
                format!(
                    "is a file model {} reads; refusing to overwrite it with the patched weights",
                    r.display()
                ),
            ));
        }
    }
    let mut files = Vec::with_capacity(targets.len() + 1);
    for (d, target) in patched.data.iter().zip(&targets) {
        let mut bytes = std::fs::read(&d.source)
            .map_err(|e| Error::io(&d.source, "read the external data", e))?;
        for (offset, chunk) in &d.writes {
            let o = *offset as usize;
            bytes[o..o + chunk.len()].copy_from_slice(chunk);
        }
        files.push(crate::formats::atomic::finished(target, &bytes)?);
    }
    // The model first: a group's journal is named after its first file.
    files.insert(0, crate::formats::atomic::finished(out, &patched.model)?);
    Ok((targets, files))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::layer::locate;
    use crate::onnx::testgraph::{tensor, Attr, Graph};

    fn constant_model(t: i32) -> Model {
        let w = tensor("Wv", &[2, 3], t, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let b = tensor("Bv", &[2], t, &[0.5, -0.5]);
        Graph::default()
            .input("x")
            .node("Constant", &[], &["W"], &[Attr::Tensor("value", w)])
            .node("Constant", &[], &["B"], &[Attr::Tensor("value", b)])
            .node("Gemm", &["x", "W", "B"], &["y"], &[Attr::Int("transB", 1)])
            .output("y", t)
            .model()
    }

    #[test]
    fn constant_weights_patch_in_place_and_their_own_values_give_back_the_bytes() {
        for t in [dtype::FLOAT, dtype::DOUBLE, dtype::FLOAT16, dtype::BFLOAT16] {
            let m = constant_model(t);
            let l = locate(&m, None).unwrap();
            let same = patch(&m, &l, &l.w, &l.b, "out.onnx").unwrap();
            assert_eq!(same.model, m.bytes, "{}", dtype::name(t));
            assert!(same.data.is_empty());
            let w2 = l.w.mapv(|v| v * 2.0);
            let b2 = l.b.mapv(|v| v + 1.0);
            let new = patch(&m, &l, &w2, &b2, "out.onnx").unwrap();
            let back = Model::from_bytes(Path::new("out.onnx"), new.model).unwrap();
            let l2 = locate(&back, None).unwrap();
            assert_eq!((l2.w.clone(), l2.b.clone()), (w2, b2), "{}", dtype::name(t));
            assert_eq!(back.graph.nodes.len(), 3);
        }
    }

    #[test]
    fn float64_outputs_are_added_through_cast_and_transpose_nodes() {
        let m = constant_model(dtype::FLOAT);
        let fetches = [
            Fetch {
                tensor: "x".into(),
                transpose: true,
            },
            Fetch {
                tensor: "y".into(),
                transpose: false,
            },
        ];
        let (bytes, names) = with_f64_outputs(&m, &fetches).unwrap();
        let e = Model::from_bytes(Path::new("e.onnx"), bytes).unwrap();
        let ops: Vec<&str> = e.graph.nodes.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(
            ops,
            ["Constant", "Constant", "Gemm", "Transpose", "Cast", "Cast"]
        );
        assert_eq!(e.producer(&names[0]).unwrap().inputs, ["gdmilp_fetch_0_t"]);
        assert_eq!(e.producer(&names[1]).unwrap().attr_i("to", 0), 11);
        let outs: Vec<&str> = e.graph.outputs.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(outs, ["y", names[0].as_str(), names[1].as_str()]);
    }

    #[test]
    fn a_float16_input_is_fed_through_a_cast_from_float64() {
        let m = constant_model(dtype::FLOAT16);
        let (bytes, name) = with_f64_input(&m, "x", dtype::FLOAT16).unwrap();
        let e = Model::from_bytes(Path::new("e.onnx"), bytes).unwrap();
        let first = &e.graph.nodes[0];
        assert_eq!(
            (first.op_type.as_str(), first.inputs[0].as_str()),
            ("Cast", name.as_str())
        );
        assert_eq!(
            (first.outputs[0].as_str(), first.attr_i("to", 0)),
            ("x", 10)
        );
        let inputs: Vec<_> = e
            .graph
            .inputs
            .iter()
            .map(|i| (i.name.as_str(), i.elem_type))
            .collect();
        assert_eq!(inputs, [(name.as_str(), Some(dtype::DOUBLE))]);
        assert_eq!(e.graph.nodes.len(), m.graph.nodes.len() + 1);
    }
}
