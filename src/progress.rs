//! What the library says while it works, and who hears it.
//!
//! The library never writes to a terminal: every line meant for a person
//! (a sweep's result, a note, a step that takes a while, the embedded
//! solver's log) is an [`Event`] handed to the [`Progress`] sink the front
//! end installed with [`install`]. The CLI's sink prints lines or a bar on
//! stderr (or JSON lines for the Python API); a test's sink collects them;
//! with none installed the library is silent.
//!
//! The sink is process-wide rather than a parameter because the events come
//! from deep inside the stages (ONNX Runtime batches, HiGHS's log callback,
//! the check's fold threads) and one process runs one command; a library
//! caller that runs two commands at once in one process hears both.
//!
//! ```
//! use gdmilp::progress::{self, Event, Progress};
//! use std::sync::{Arc, Mutex};
//!
//! #[derive(Default)]
//! struct Collect(Mutex<Vec<String>>);
//! impl Progress for Collect {
//!     fn event(&self, event: &Event<'_>) {
//!         if let Event::Note(text) = event {
//!             self.0.lock().unwrap().push(text.to_string());
//!         }
//!     }
//! }
//! let sink = Arc::new(Collect::default());
//! progress::install(sink.clone());
//! progress::note(format_args!("sweep {}: kept", 1));
//! assert_eq!(sink.0.lock().unwrap().as_slice(), ["sweep 1: kept"]);
//! progress::uninstall();
//! ```

use std::sync::{Arc, RwLock};

/// One thing the library has to say.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A line for the person running the command: a result on the way (a
    /// sweep, a radius, a check), or a note on a choice made for them.
    Note(&'a str),
    /// A slow step begins ("running model.onnx on 10,000 points…"): worth
    /// showing to someone watching, noise in a log.
    Begin(&'a str),
    /// How far a slow step has come.
    Step(Step<'a>),
    /// A piece of the embedded solver's own log (HiGHS) as it hands it
    /// over: one or more lines, newlines included.
    Solver(&'a str),
}

/// Progress of a slow step.
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    /// What is running: `features`, `check`, `radius`, `solve`, …
    pub stage: &'a str,
    /// Units done so far (batches, folds, radii, iterations).
    pub done: u64,
    /// Units in all, when known.
    pub total: Option<u64>,
    /// Seconds since the step began.
    pub elapsed: f64,
    /// A short state for people (`gap 3.1e-4`), possibly empty.
    pub detail: &'a str,
}

/// Who hears the library's events. Called from any thread the library
/// works on (the check's folds run side by side), so it must be `Sync`.
pub trait Progress: Send + Sync {
    /// One event; must not block for long, nor panic.
    fn event(&self, event: &Event<'_>);
}

static SINK: RwLock<Option<Arc<dyn Progress>>> = RwLock::new(None);

/// Makes `sink` hear every event from now on (replacing any other).
pub fn install(sink: Arc<dyn Progress>) {
    *SINK.write().unwrap_or_else(|e| e.into_inner()) = Some(sink);
}

/// Silences the library again.
pub fn uninstall() {
    *SINK.write().unwrap_or_else(|e| e.into_inner()) = None;
}

/// Hands `event` to the installed sink, if any.
pub fn emit(event: Event<'_>) {
    let sink = SINK.read().unwrap_or_else(|e| e.into_inner()).clone();
    if let Some(sink) = sink {
        // A sink that panics loses its event, not the run: events come from
        // inside HiGHS's C callback too, where unwinding would abort.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink.event(&event)));
    }
}

/// Whether anyone listens: lets the library skip formatting what no one
/// would read.
pub fn listening() -> bool {
    SINK.read().unwrap_or_else(|e| e.into_inner()).is_some()
}

/// [`Event::Note`] from format arguments.
pub fn note(text: std::fmt::Arguments<'_>) {
    if listening() {
        emit(Event::Note(&text.to_string()));
    }
}

/// [`Event::Begin`] from format arguments.
pub fn begin(text: std::fmt::Arguments<'_>) {
    if listening() {
        emit(Event::Begin(&text.to_string()));
    }
}

/// Reports [`Event::Step`]s of one slow step at most every `every` seconds
/// (and always its last), so a tight loop can call [`Ticker::tick`] freely.
#[derive(Debug)]
pub struct Ticker {
    stage: &'static str,
    total: Option<u64>,
    start: std::time::Instant,
    last: Option<std::time::Instant>,
    every: f64,
}

impl Ticker {
    /// A step named `stage` of `total` units, reported at most twice a
    /// second.
    pub fn new(stage: &'static str, total: Option<u64>) -> Ticker {
        Ticker {
            stage,
            total,
            start: std::time::Instant::now(),
            last: None,
            every: 0.5,
        }
    }

    /// `done` units are done; `detail` is formatted only when reported.
    pub fn tick(&mut self, done: u64, detail: impl FnOnce() -> String) {
        if !listening() {
            return;
        }
        let now = std::time::Instant::now();
        let finished = self.total == Some(done);
        let due = self
            .last
            .is_none_or(|l| now.duration_since(l).as_secs_f64() >= self.every);
        if !(due || finished) {
            return;
        }
        self.last = Some(now);
        let detail = detail();
        emit(Event::Step(Step {
            stage: self.stage,
            done,
            total: self.total,
            elapsed: now.duration_since(self.start).as_secs_f64(),
            detail: &detail,
        }));
    }

    /// The step is over after `done` units (of a total not known before):
    /// reported as done of done, which ends a redrawn line.
    pub fn finish(&mut self, done: u64) {
        if !listening() || self.last.is_none() {
            return;
        }
        self.total = Some(done);
        self.last = None;
        self.tick(done, String::new);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Collect(Mutex<Vec<String>>);

    impl Progress for Collect {
        fn event(&self, event: &Event<'_>) {
            // Other tests may report notes meanwhile: the sink is the process's.
            if let Event::Step(s) = event {
                let line = format!("{} {}/{:?} {}", s.stage, s.done, s.total, s.detail);
                self.0.lock().unwrap().push(line);
            }
        }
    }

    #[test]
    fn a_ticker_reports_its_first_and_last_step_and_throttles_between() {
        let sink = Arc::new(Collect::default());
        install(sink.clone());
        let mut t = Ticker::new("ticker-test", Some(1000));
        for done in 1..=1000 {
            t.tick(done, || format!("batch {done}"));
        }
        uninstall();
        let lines = sink.0.lock().unwrap();
        assert_eq!(lines.first().unwrap(), "ticker-test 1/Some(1000) batch 1");
        assert_eq!(
            lines.last().unwrap(),
            "ticker-test 1000/Some(1000) batch 1000"
        );
        assert!(lines.len() < 10, "{lines:?}");
    }
}
