//! gdmilp: compile the final layer of a trained network (ONNX) into a MILP
//! that any solver can run, and put the solver's answer back into the
//! network.
//!
//! The data flows one way: model ([`onnx`]) + data ([`data`]) →
//! [`inference`] (penultimate features) → [`formulation`] → [`formats`]
//! (MPS/LP) or [`solvers`]; solution ([`formats::solution`]) → weights →
//! [`onnx::edit::patch`] → verification. [`workflow`] holds each command as
//! a plan the [`cli`] (or another front end) runs; the library reports
//! through [`progress`] and never prints. Every failure is an
//! [`error::Error`] naming the file and the problem.

#![warn(missing_docs)]

pub mod cli;
pub mod data;
pub mod digest;
pub mod error;
pub mod formats;
pub mod formulation;
pub mod inference;
pub mod num;
pub mod onnx;
pub mod progress;
pub mod solvers;
pub mod workflow;

pub use error::{Error, Result};
