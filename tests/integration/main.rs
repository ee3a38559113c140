//! Integration tests: the real binary on committed fixtures, checked by
//! real solvers (HiGHS via highspy and embedded, CBC, GLPK, SCIP).

mod util;

mod apply;
mod bad_inputs;
mod r#box;
mod export;
mod failures;
mod fuzz;
mod golden;
mod losses;
mod models;
mod protect;
mod protect_half;
mod refused_inputs;
mod sequence;
mod solve_tune;
mod strategy;
mod transactions;
