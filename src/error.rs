//! The one error type of gdmilp.
//!
//! Every failure a user can see is one line that names the file (or the
//! option) and what is wrong with it. Variants carry the path; parse errors
//! also carry the line number and the text of the line. The CLI maps
//! [`Error::exit_code`] to the process exit status documented in the README (and docs/errors.md).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Result with gdmilp's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, with enough context to act on it.
#[derive(Debug)]
pub enum Error {
    /// A file could not be opened, read, written or renamed.
    Io {
        /// The file.
        path: PathBuf,
        /// What we were doing ("read", "create", ...).
        action: &'static str,
        /// The operating system's reason.
        source: io::Error,
    },
    /// A file was read but its content is not what gdmilp needs.
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, as a sentence fragment.
        msg: String,
    },
    /// A text file has a line gdmilp cannot parse.
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The offending line (shortened).
        text: String,
        /// What was expected.
        msg: String,
    },
    /// A command-line value that cannot be used.
    Usage(String),
    /// ONNX Runtime could not be found, loaded or run.
    Runtime(String),
    /// The work was done but its result is refused: a solution worse than
    /// the incumbent, a failed verification, a solver status without a
    /// solution. Exit code 1, not 2.
    Rejected(String),
}

impl Error {
    /// An `Invalid` error for `path`.
    pub fn invalid(path: impl AsRef<Path>, msg: impl Into<String>) -> Error {
        Error::Invalid {
            path: path.as_ref().to_path_buf(),
            msg: msg.into(),
        }
    }

    /// An `Io` error for `path`.
    pub fn io(path: impl AsRef<Path>, action: &'static str, source: io::Error) -> Error {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            action,
            source,
        }
    }

    /// A `Parse` error at 1-based `line` of `path`.
    pub fn parse(path: impl AsRef<Path>, line: usize, text: &str, msg: impl Into<String>) -> Error {
        let full = text.trim_end();
        let mut text: String = full.chars().take(80).collect();
        if full.chars().count() > 80 {
            text.push('…');
        }
        Error::Parse {
            path: path.as_ref().to_path_buf(),
            line,
            text,
            msg: msg.into(),
        }
    }

    /// A `Usage` error.
    pub fn usage(msg: impl Into<String>) -> Error {
        Error::Usage(msg.into())
    }

    /// The process exit code for this error: 1 for a refused result, 2 for
    /// everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Rejected(_) => 1,
            _ => 2,
        }
    }

    /// True when the error is a closed pipe on output (not worth reporting).
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io {
                path,
                action,
                source,
            } => write!(f, "{}: cannot {action}: {source}", path.display()),
            Error::Invalid { path, msg } => write!(f, "{}: {msg}", path.display()),
            Error::Parse {
                path,
                line,
                text,
                msg,
            } => write!(f, "{}:{line}: {msg} (line: `{text}`)", path.display()),
            Error::Usage(msg) | Error::Runtime(msg) | Error::Rejected(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Attach a path to an `io::Result`.
pub trait IoContext<T> {
    /// Wrap the error as [`Error::Io`] for `path`, doing `action`.
    fn at(self, path: impl AsRef<Path>, action: &'static str) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, path: impl AsRef<Path>, action: &'static str) -> Result<T> {
        self.map_err(|e| Error::io(path, action, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line_and_name_the_file() {
        let e = Error::parse("sol.txt", 3, "w_0_0 abc\n", "expected a number");
        let s = e.to_string();
        assert_eq!(s, "sol.txt:3: expected a number (line: `w_0_0 abc`)");
        assert!(!s.contains('\n'));
        let e = Error::io(
            "x/y.mps",
            "create",
            io::Error::from(io::ErrorKind::NotFound),
        );
        assert!(e.to_string().starts_with("x/y.mps: cannot create: "));
        assert_eq!(e.exit_code(), 2);
        assert_eq!(Error::Rejected("worse".into()).exit_code(), 1);
    }
}
