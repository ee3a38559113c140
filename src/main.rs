//! The `gdmilp` binary: parse arguments, run one command, turn any error
//! into one line on stderr and the documented exit code
//! (0 ok, 1 result refused, 2 error, 3 written with a caveat). Output that
//! cannot be written is an error too (exit 2), except a closed pipe.

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Before any thread starts: SIGINT, SIGTERM and SIGHUP remove the
    // run's temporaries and lock files before the process ends.
    gdmilp::formats::atomic::remove_temporaries_on_signals();
    let cli = match gdmilp::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return arguments(e),
    };
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

/// One line on stderr (a JSON error event when the arguments asked for
/// `--progress json`, which clap could not parse them into). Not
/// eprintln!, which panics when stderr cannot be written.
fn fail(line: &str, code: u8) -> ExitCode {
    let text = if json_asked() {
        serde_json::json!({"event": "error", "code": code, "text": line}).to_string()
    } else {
        format!("gdmilp: {line}")
    };
    let _ = writeln!(std::io::stderr(), "{text}");
    ExitCode::from(code)
}

/// Whether the command line holds `--progress json` (or `=json`).
fn json_asked() -> bool {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    args.iter().enumerate().any(|(i, a)| {
        a == "--progress=json"
            || (a == "--progress" && args.get(i + 1).is_some_and(|v| v == "json"))
    })
}

/// `--help` and `--version` to stdout (exit 2 when it cannot be written,
/// as any command's output); an argument error as one line (exit 2).
fn arguments(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let mut out = std::io::stdout().lock();
        let written = write!(out, "{}", e.render()).and_then(|()| out.flush());
        return match written {
            Err(w) if w.kind() != std::io::ErrorKind::BrokenPipe => fail(
                &format!("stdout: cannot write the command's output: {w}"),
                2,
            ),
            _ => ExitCode::SUCCESS,
        };
    }
    fail(&one_line(&e.render().to_string()), 2)
}

/// clap's several lines ("error: …", details, a tip, the usage) as one:
/// the message and its details, then where to read more.
fn one_line(text: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for l in text.lines().map(str::trim) {
        if l.starts_with("Usage:") || l.starts_with("For more information") {
            break;
        }
        if !l.is_empty() {
            parts.push(l.strip_prefix("error: ").unwrap_or(l));
        }
    }
    format!("{} (see gdmilp --help)", parts.join(" "))
}
