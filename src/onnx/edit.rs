//! Edits to a model's bytes, each one field-precise: everything not edited
//! is copied verbatim.
//!
//! - [`with_outputs`]: the model plus extra graph outputs (the penultimate
//!   features and the layer's output), with external data inlined so that
//!   ONNX Runtime can load it from memory.
//! - [`patch`]: the model with new final-layer weights written back into
//!   their initializers, in their own dtype, shape and storage.

use super::layer::{FinalLayer, Param, Source};
use super::model::{dtype, field, graph_bytes, parse_tensor, Model, Storage};
use super::wire::{self, Edit};
use crate::error::{Error, Result};
use ndarray::{Array1, Array2};
use std::collections::HashMap;
use std::path::PathBuf;

fn value_info(name: &str, elem_type: i32) -> Vec<u8> {
    let mut tensor_type = Vec::new();
    wire::put_int(&mut tensor_type, 1, elem_type as i64);
    let mut type_proto = Vec::new();
    wire::put_bytes(&mut type_proto, 1, &tensor_type);
    let mut vi = Vec::new();
    wire::put_bytes(&mut vi, 1, name.as_bytes());
    wire::put_bytes(&mut vi, 2, &type_proto);
    let mut out = Vec::new();
    wire::put_bytes(&mut out, field::GRAPH_OUTPUT, &vi);
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

/// The model with `outputs` (name, ONNX elem type) added as graph outputs
/// (those already outputs are left alone) and every external initializer
/// inlined as `raw_data`.
pub fn with_outputs(model: &Model, outputs: &[(&str, i32)]) -> Result<Vec<u8>> {
    let mut append = Vec::new();
    for (name, t) in outputs {
        if !model.graph.outputs.iter().any(|o| o.name == *name) {
            append.extend(value_info(name, *t));
        }
    }
    let mut index = 0usize;
    let mut inline_err = None;
    let out = rewrite_graph(
        model,
        |f| {
            if f.number != field::GRAPH_INITIALIZER {
                return Ok(Edit::Keep);
            }
            let t = &model.graph.initializers[index];
            index += 1;
            if !matches!(t.storage, Storage::External { .. }) {
                return Ok(Edit::Keep);
            }
            let size = match t.data_type {
                dtype::DOUBLE | dtype::INT64 => 8,
                dtype::FLOAT | dtype::INT32 => 4,
                dtype::FLOAT16 => 2,
                2 | 3 | 9 => 1,
                other => {
                    return Err(format!(
                        "external tensor '{}' has data type {other}, which gdmilp cannot inline",
                        t.name
                    ))
                }
            };
            let raw = match model.external_bytes(t, size) {
                Ok(r) => r,
                Err(e) => {
                    inline_err = Some(e);
                    return Err(String::new());
                }
            };
            let tensor = wire::rewrite(
                f.bytes()?,
                |tf| {
                    Ok(match tf.number {
                        field::TENSOR_EXTERNAL_DATA | field::TENSOR_DATA_LOCATION => Edit::Drop,
                        _ => Edit::Keep,
                    })
                },
                &{
                    let mut r = Vec::with_capacity(raw.len() + 8);
                    wire::put_bytes(&mut r, field::TENSOR_RAW_DATA, &raw);
                    r
                },
            )?;
            let mut b = Vec::with_capacity(tensor.len() + 8);
            wire::put_bytes(&mut b, field::GRAPH_INITIALIZER, &tensor);
            Ok(Edit::Replace(b))
        },
        &append,
    );
    match (out, inline_err) {
        (_, Some(e)) => Err(e),
        (out, None) => out,
    }
}

/// A patched model, ready to be written.
#[derive(Debug)]
pub struct Patched {
    /// The new model file's bytes.
    pub model: Vec<u8>,
    /// When the weights live in an external data file: the input's data
    /// file, and the byte ranges to overwrite in a copy of it.
    pub data: Option<DataPatch>,
}

/// A copy of the input's external data file with some ranges rewritten.
#[derive(Debug)]
pub struct DataPatch {
    /// The input's data file (read only).
    pub source: PathBuf,
    /// The file name the patched model refers to (beside the output).
    pub name: String,
    /// (offset, bytes) to write into the copy.
    pub writes: Vec<(u64, Vec<u8>)>,
}

fn encode(values: &[f64], data_type: i32) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * 8);
    for &v in values {
        if data_type == dtype::DOUBLE {
            out.extend_from_slice(&v.to_le_bytes());
        } else {
            out.extend_from_slice(&(v as f32).to_le_bytes());
        }
    }
    out
}

/// Rewrites one tensor's data field in place (same field, same storage).
fn tensor_with_values(
    bytes: &[u8],
    storage: &Storage,
    data_type: i32,
    values: &[f64],
) -> Result<Vec<u8>, String> {
    let (number, payload) = match storage {
        Storage::Raw(_) => (field::TENSOR_RAW_DATA, encode(values, data_type)),
        Storage::Floats(_) => (field::TENSOR_FLOAT_DATA, encode(values, dtype::FLOAT)),
        Storage::Doubles(_) => (field::TENSOR_DOUBLE_DATA, encode(values, dtype::DOUBLE)),
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

fn check_patchable(model: &Model, p: &Param) -> Result<usize> {
    match &p.source {
        Source::Initializer { index, .. } => Ok(*index),
        Source::Constant { node } => Err(Error::invalid(
            &model.path,
            format!(
                "the {} '{}' is held by Constant node '{node}'; gdmilp reads such weights but patches initializers only (re-export the model with weights as initializers)",
                if p.dims.len() == 2 { "weight" } else { "bias" },
                p.name
            ),
        )),
    }
}

/// Writes `w` (M×N) and `b` (M) into the layer's initializers. `data_name`
/// is the file name the patched model's external data will have (used only
/// when the model keeps weights in an external file).
pub fn patch(
    model: &Model,
    layer: &FinalLayer,
    w: &Array2<f64>,
    b: &Array1<f64>,
    data_name: &str,
) -> Result<Patched> {
    let mut new_values: HashMap<usize, Vec<f64>> = HashMap::new();
    new_values.insert(
        check_patchable(model, &layer.weight)?,
        layer.stored_weight(w),
    );
    if layer.has_bias_vars() {
        let p = layer.bias.as_ref().expect("PerOutput bias has a Param");
        new_values.insert(check_patchable(model, p)?, layer.stored_bias(b));
    }
    let mut locations: Vec<&str> = model
        .graph
        .initializers
        .iter()
        .filter_map(|t| match &t.storage {
            Storage::External { location, .. } => Some(location.as_str()),
            _ => None,
        })
        .collect();
    locations.sort();
    locations.dedup();
    if locations.len() > 1 {
        return Err(Error::invalid(
            &model.path,
            format!(
                "the model keeps weights in {} external data files ({}); gdmilp can patch models with one",
                locations.len(),
                locations.join(", ")
            ),
        ));
    }
    let data = match locations.first() {
        Some(loc) => Some(DataPatch {
            source: model.external_path(loc)?,
            name: data_name.to_string(),
            writes: Vec::new(),
        }),
        None => None,
    };
    let mut data = data;
    let mut index = 0usize;
    let bytes = rewrite_graph(
        model,
        |f| {
            if f.number != field::GRAPH_INITIALIZER {
                return Ok(Edit::Keep);
            }
            let i = index;
            index += 1;
            let t = &model.graph.initializers[i];
            let tensor = f.bytes()?;
            let new = match (&t.storage, new_values.get(&i), data.as_mut()) {
                (Storage::External { offset, .. }, values, Some(d)) => {
                    if let Some(v) = values {
                        d.writes.push((*offset, encode(v, t.data_type)));
                    }
                    relocate(tensor, &d.name)?
                }
                (_, Some(v), _) => tensor_with_values(tensor, &t.storage, t.data_type, v)?,
                _ => return Ok(Edit::Keep),
            };
            debug_assert!(parse_tensor(&new).is_ok());
            let mut b = Vec::with_capacity(new.len() + 8);
            wire::put_bytes(&mut b, field::GRAPH_INITIALIZER, &new);
            Ok(Edit::Replace(b))
        },
        &[],
    )?;
    Ok(Patched { model: bytes, data })
}
