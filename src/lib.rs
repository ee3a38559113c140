//! gdmilp: compile the final layer of a trained network (ONNX) into a MILP
//! that any solver can run, and put the solver's answer back into the
//! network.
//!
//! The data flows one way: model + data → [`features`] → [`formulation`] →
//! [`formats`] (MPS/LP); solution ([`formats::solution`]) → weights →
//! [`onnx::edit::patch`] → verification. Every failure is an
//! [`error::Error`] naming the file and the problem.

#![warn(missing_docs)]

/// `eprintln!` for messages to people: a stderr that cannot be written
/// (`2>/dev/full`, a closed pipe) drops the message instead of panicking.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

pub mod apply;
pub mod atomic;
pub mod cli;
pub mod data;
pub mod error;
pub mod export;
pub mod features;
pub mod formats;
pub mod formulation;
pub mod hinge;
pub mod lsq;
pub mod manifest;
pub mod metrics;
pub mod num;
pub mod onnx;
pub mod pipeline;
pub mod protect;
pub mod runtime;
#[cfg(feature = "highs")]
pub mod solve;
#[cfg(feature = "highs")]
pub mod strategy;
#[cfg(feature = "highs")]
pub mod tune;
#[cfg(feature = "highs")]
pub mod warm;

pub use error::{Error, Result};
