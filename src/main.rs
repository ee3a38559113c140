//! The `gdmilp` binary: parse arguments, run one command, turn any error
//! into one line on stderr and the documented exit code
//! (0 ok, 1 result refused, 2 error).

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = gdmilp::cli::Cli::parse();
    match gdmilp::cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gdmilp: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
