//! Solvers: how a sweep's problem is solved in-process. The embedded HiGHS
//! ([`highs`], behind the `highs` feature), and the specialised methods that
//! reach the same optimum on the shapes where a general solver is slow: box
//! least squares for mse ([`lsq`]) and restarted PDHG for the hinge LP
//! ([`hinge`]). [`strategy`] picks one for a problem and names it.
//!
//! Numbers in, weights and bounds out: this stage knows the formulation's
//! [`crate::formulation::Problem`], never files, ONNX or the workflow.

#[cfg(feature = "highs")]
pub mod highs;
pub mod hinge;
pub mod lsq;
#[cfg(feature = "highs")]
pub mod strategy;
