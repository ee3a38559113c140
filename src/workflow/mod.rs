//! The commands as library calls: each builds a plan from a request (every
//! input checked before slow work), runs it through the stages (data →
//! inference → formulation → formats / solvers → patching) and returns what
//! happened. Policy lives here; parsing flags and printing live in
//! [`crate::cli`].
//!
//! - [`pipeline`]: model + data → features → point selection → problem → files,
//!   shared by export and tune;
//! - [`export`], [`apply`], [`tune`]: the commands;
//! - [`protect`]: `--protect`'s rows, row generation and the point-by-point check;
//! - [`warm`]: the hinge LP's weights as a zero-one MIP start;
//! - [`solve`]: `solve`, and the one rule for a time limit `solve` and `tune` share.

pub mod apply;
pub mod export;
pub mod patched;
pub mod pipeline;
pub mod protect;
#[cfg(feature = "highs")]
pub mod solve;
#[cfg(feature = "highs")]
pub mod tune;
#[cfg(feature = "highs")]
pub mod warm;
