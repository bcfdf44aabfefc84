//! Logging: to journald with structured fields when stderr is the journal, else plain stderr.
//! Every state change is one record carrying `CLAWDBOT_EVENT`, `CLAWDBOT_REQUEST` and
//! `CLAWDBOT_STATE`, so `journalctl CLAWDBOT_REQUEST=R-…` shows a request's whole life.

use std::io::Write;

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::state::State;

/// Start logging. `verbose` adds debug messages; `quiet` keeps only warnings and errors.
pub fn init(verbose: bool, quiet: bool) {
    let level = match (verbose, quiet) {
        (true, _) => LevelFilter::Debug,
        (false, true) => LevelFilter::Warn,
        (false, false) => LevelFilter::Info,
    };
    if systemd_journal_logger::connected_to_journal()
        && let Ok(journal) = systemd_journal_logger::JournalLog::new()
        && journal.install().is_ok()
    {
        log::set_max_level(level);
        return;
    }
    if log::set_boxed_logger(Box::new(Stderr)).is_ok() {
        log::set_max_level(level);
    }
}

/// Plain stderr: one line per message, no timestamp (journald or the terminal adds its own).
struct Stderr;

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let prefix = match record.level() {
            Level::Error => "error: ",
            Level::Warn => "warning: ",
            _ => "",
        };
        let _ = writeln!(std::io::stderr().lock(), "{prefix}{}", record.args());
    }

    fn flush(&self) {}
}

/// One structured event about a request.
#[derive(Debug, Clone)]
pub struct Event {
    /// `CLAWDBOT_EVENT`: what happened, e.g. `transition`, `rejected`, `mail-sent`.
    pub event: &'static str,
    /// `CLAWDBOT_REQUEST`: the request id.
    pub request: String,
    /// `CLAWDBOT_STATE`: the state after the event.
    pub state: Option<State>,
    /// A short sentence for people.
    pub message: String,
    /// Whether it calls for attention.
    pub warning: bool,
}

/// Log an event with its journald fields.
pub fn emit(e: &Event) {
    let level = if e.warning { Level::Warn } else { Level::Info };
    let state = e.state.map(State::as_str).unwrap_or("");
    log::log!(
        level,
        clawdbot_event = e.event,
        clawdbot_request = e.request.as_str(),
        clawdbot_state = state;
        "{}",
        e.message
    );
}

/// Tell systemd what a long pass is doing (`STATUS=`); a no-op outside a unit.
pub fn status(text: &str) {
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Status(text)]);
}
