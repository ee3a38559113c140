//! The CLI's ear for the library's progress events ([`crate::progress`]):
//! notes as lines on stderr; the solver's log unless `--quiet`; slow steps as
//! a line that redraws itself when stderr is a terminal, or, when it is
//! not, a line every few seconds once a step has run for a while; with
//! `--progress json`, every event as one JSON object a line, for programs
//! (the Python API); the CLI's own stderr lines and its final error go the
//! same way ([`line`], [`error`]). A stderr that cannot be written drops the
//! event.

use crate::progress::{Event, Progress, Step};
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The sink [`install`] made, for the CLI's own lines ([`line`], [`error`]).
static SINK: OnceLock<Arc<Stderr>> = OnceLock::new();

/// Makes a [`Stderr`] sink the library's and the CLI's (once a process).
pub fn install(mode: Mode, quiet: bool) {
    let sink = SINK.get_or_init(|| Arc::new(Stderr::new(mode, quiet)));
    crate::progress::install(sink.clone());
}

/// One of the CLI's own lines on stderr (a summary line, a note): as the
/// library's notes are, so a redrawn step line is cleared first and, with
/// `--progress json`, it is a `note` event too.
pub fn line(text: std::fmt::Arguments<'_>) {
    match SINK.get() {
        Some(sink) => sink.event(&Event::Note(&text.to_string())),
        None => {
            let _ = writeln!(std::io::stderr().lock(), "{text}");
        }
    }
}

/// The command's failure, the last thing it says: `gdmilp: MESSAGE`, or
/// with `--progress json` the event {"event": "error", "code": …, "text": …}.
pub fn error(e: &crate::Error) {
    match SINK.get() {
        Some(sink) if sink.mode == Mode::Json => {
            let value =
                serde_json::json!({"event": "error", "code": e.exit_code(), "text": e.to_string()});
            sink.write(&format!("{value}\n"));
        }
        Some(sink) => sink.event(&Event::Note(&format!("gdmilp: {e}"))),
        None => {
            let _ = writeln!(std::io::stderr().lock(), "gdmilp: {e}");
        }
    }
}

/// How progress is shown (`--progress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Mode {
    /// A redrawn line on a terminal, a line every few seconds otherwise.
    #[default]
    Auto,
    /// One JSON object a line on stderr: {"event": "note"|"begin"|"step"|"solver", …}.
    Json,
}

/// Prints events on stderr.
pub struct Stderr {
    mode: Mode,
    /// `--quiet`: no solver log, no steps or step starts (notes stay: what
    /// was decided and each sweep's result).
    quiet: bool,
    terminal: bool,
    /// When the last step line was printed, and whether a redrawn line is
    /// on screen (so the next note starts on a fresh line).
    state: Mutex<(Option<Instant>, bool)>,
}

/// Steps shorter than this print nothing when stderr is not a terminal.
const QUIET_START: Duration = Duration::from_secs(3);
/// Between two step lines when stderr is not a terminal.
const LINE_EVERY: Duration = Duration::from_secs(5);

impl Stderr {
    /// A sink for `mode`; `quiet` silences the solver's log and the steps.
    pub fn new(mode: Mode, quiet: bool) -> Stderr {
        Stderr {
            mode,
            quiet,
            terminal: std::io::stderr().is_terminal(),
            state: Mutex::new((None, false)),
        }
    }

    fn write(&self, text: &str) {
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }

    fn json(&self, event: &Event<'_>) {
        let value = match event {
            Event::Note(t) => serde_json::json!({"event": "note", "text": t}),
            Event::Begin(t) => serde_json::json!({"event": "begin", "text": t}),
            Event::Solver(t) => serde_json::json!({"event": "solver", "text": t.trim_end()}),
            Event::Step(s) => serde_json::json!({
                "event": "step", "stage": s.stage, "done": s.done, "total": s.total,
                "elapsed": s.elapsed, "detail": s.detail,
            }),
        };
        self.write(&format!("{value}\n"));
    }

    fn step_text(s: &Step<'_>) -> String {
        let of = s.total.map(|t| format!("/{t}")).unwrap_or_default();
        let detail = if s.detail.is_empty() {
            String::new()
        } else {
            format!(", {}", s.detail)
        };
        format!("{} {}{of}{detail} ({:.0} s)", s.stage, s.done, s.elapsed)
    }
}

impl Progress for Stderr {
    fn event(&self, event: &Event<'_>) {
        if self.mode == Mode::Json {
            if !(self.quiet && matches!(event, Event::Solver(_) | Event::Step(_) | Event::Begin(_)))
            {
                self.json(event);
            }
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let clear = if std::mem::take(&mut state.1) {
            "\r\x1b[2K"
        } else {
            ""
        };
        match event {
            Event::Note(t) => self.write(&format!("{clear}{t}\n")),
            Event::Begin(t) if self.terminal && !self.quiet => self.write(&format!("{clear}{t}\n")),
            Event::Begin(_) => {}
            Event::Solver(t) if !self.quiet => self.write(&format!("{clear}{t}")),
            Event::Solver(_) => {}
            Event::Step(_) if self.quiet => {}
            // A finished step leaves no line behind: what follows (the
            // command's output on the same terminal) starts clean.
            Event::Step(s) if self.terminal && s.total == Some(s.done) => self.write(clear),
            Event::Step(s) if self.terminal => {
                self.write(&format!("{clear}{}", Self::step_text(s)));
                state.1 = true;
            }
            Event::Step(s) => {
                let now = Instant::now();
                let due = state.0.is_none_or(|l| now - l >= LINE_EVERY);
                if s.elapsed >= QUIET_START.as_secs_f64() && due {
                    self.write(&format!("{}\n", Self::step_text(s)));
                    state.0 = Some(now);
                }
            }
        }
    }
}
