//! The `gdmilp` binary: parse arguments, run one command, turn any error
//! into one line on stderr and the documented exit code
//! (0 ok, 1 result refused, 2 error, 3 written with a caveat). Output that
//! cannot be written is an error too (exit 2), except a closed pipe.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = gdmilp::cli::Cli::parse();
    let result = gdmilp::cli::run(cli);
    let result = match (result, gdmilp::cli::stdout_error()) {
        (Ok(_), Some(e)) => Err(e),
        (r, _) => r,
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            gdmilp::cli::progress::error(&e);
            ExitCode::from(e.exit_code())
        }
    }
}
