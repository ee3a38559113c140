//! Inference: ONNX Runtime (the shared library, sessions, batched runs) and
//! the penultimate features the formulation is built from. Knows the model
//! (from [`crate::onnx`]) and the data's input arrays; knows nothing of
//! formulations, file formats or solvers.

pub mod features;
pub mod runtime;
