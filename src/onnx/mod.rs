//! ONNX at the edge: the protobuf is mapped once here ([`model`]), the
//! final dense layer located ([`layer`]), and models edited for feature
//! extraction and patching ([`edit`]). Nothing here knows about solvers,
//! formulations or file formats of MILPs.

pub mod dtype;
pub mod edit;
pub mod float;
pub mod layer;
pub mod model;
#[cfg(test)]
pub(crate) mod testgraph;
pub mod wire;

pub use layer::{locate, Activation, BiasKind, FinalLayer};
pub use model::Model;
