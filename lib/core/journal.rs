//! Logging: to journald with structured fields when stderr is the journal, else plain stderr.
//! Every state change is one record carrying `CLAWDBOT_EVENT`, `CLAWDBOT_REQUEST` and
//! `CLAWDBOT_STATE`, so `journalctl CLAWDBOT_REQUEST=R-…` shows a request's whole life.

use std::io::Write;

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::core::state::State;

/// Start logging as `program` (the journal's `SYSLOG_IDENTIFIER`). `verbose` adds debug
/// messages; `quiet` keeps only warnings and errors.
pub fn init(program: &str, verbose: bool, quiet: bool) {
    let level = match (verbose, quiet) {
        (true, _) => LevelFilter::Debug,
        (false, true) => LevelFilter::Warn,
        (false, false) => LevelFilter::Info,
    };
    if systemd_journal_logger::connected_to_journal()
        && let Ok(journal) = systemd_journal_logger::JournalLog::new()
        && journal
            .with_syslog_identifier(program.to_string())
            .install()
            .is_ok()
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

/// What an event is: its `CLAWDBOT_EVENT` name and its `MESSAGE_ID`, under which
/// `/usr/lib/systemd/catalog/clawdbot.catalog` explains it (`journalctl -x`) and Wazuh's rules
/// (`packaging/wazuh/`) match it. The ids never change once released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A request file was accepted and recorded.
    Received,
    /// A request file was refused and quarantined.
    Rejected,
    /// A request changed state.
    Transition,
    /// A request was filed again while the first is open.
    Duplicate,
    /// A request's mail waits for the hourly limit.
    Held,
    /// A reply did not count (not an operator, not authenticated, not waiting…).
    ReplyRefused,
    /// `clawdbot-exec` refused to run an approved request.
    ApprovalRefused,
    /// The watchdog found a session file it leaves for a person.
    SessionProblem,
    /// The watchdog repaired a session file.
    SessionRepair,
    /// The Telegram bot ignored a message: not an operator, forwarded, in another chat.
    TelegramRefused,
    /// A calendar could not be fetched; its last good events are kept, marked stale.
    CalendarFailed,
    /// A mail that would have been an operator's command did not count, or broke the
    /// action's rules; nothing ran.
    CommandRefused,
}

impl Kind {
    /// Every kind, for the catalog's test.
    pub const ALL: [Kind; 12] = [
        Kind::Received,
        Kind::Rejected,
        Kind::Transition,
        Kind::Duplicate,
        Kind::Held,
        Kind::ReplyRefused,
        Kind::ApprovalRefused,
        Kind::SessionProblem,
        Kind::SessionRepair,
        Kind::TelegramRefused,
        Kind::CalendarFailed,
        Kind::CommandRefused,
    ];

    /// `CLAWDBOT_EVENT`, also the audit log's event.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Received => "received",
            Kind::Rejected => "rejected",
            Kind::Transition => "transition",
            Kind::Duplicate => "duplicate",
            Kind::Held => "held",
            Kind::ReplyRefused => "reply-refused",
            Kind::ApprovalRefused => "approval-refused",
            Kind::SessionProblem => "session-problem",
            Kind::SessionRepair => "session-repair",
            Kind::TelegramRefused => "telegram-refused",
            Kind::CalendarFailed => "calendar-failed",
            Kind::CommandRefused => "command-refused",
        }
    }

    /// `MESSAGE_ID`: 128 random bits, fixed for ever.
    pub fn message_id(self) -> &'static str {
        match self {
            Kind::Received => "1706f8f342a042e89821979a13970165",
            Kind::Rejected => "16f6210e9d9f4754bb2e4263a62fe090",
            Kind::Transition => "f46b65c022624cffa113228db89d4f17",
            Kind::Duplicate => "26f92f3c156f4e31ac5b2d87e5ab9c5d",
            Kind::Held => "230283664f5e460081be6574312dabd5",
            Kind::ReplyRefused => "2595033f3a254f8384ea87918850f607",
            Kind::ApprovalRefused => "5334f3f0077545f78cf910d567f9f113",
            Kind::SessionProblem => "16c499f1fb9f4b3cba01bd33e3d2db70",
            Kind::SessionRepair => "6ee62d143db14f7b94bfb1c7d34be972",
            Kind::TelegramRefused => "31c88d6c3342471baf4d31f00af7e97d",
            Kind::CalendarFailed => "35d17697f63f4bf9b5a203b652d8e67d",
            Kind::CommandRefused => "bffe875b5809493bb20975f23296ce6c",
        }
    }
}

/// One structured event about a request.
#[derive(Debug, Clone)]
pub struct Event {
    /// What happened.
    pub kind: Kind,
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
        message_id = e.kind.message_id(),
        clawdbot_event = e.kind.name(),
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

#[cfg(test)]
mod tests {
    use super::Kind;

    const CATALOG: &str = include_str!("../../packaging/clawdbot.catalog");

    #[test]
    fn every_event_has_one_catalog_entry_and_ids_are_unique() {
        for kind in Kind::ALL {
            let id = kind.message_id();
            assert_eq!(id.len(), 32, "{id}");
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
            let header = format!("-- {id}\n");
            assert_eq!(CATALOG.matches(&header).count(), 1, "{}", kind.name());
            let entry = &CATALOG[CATALOG.find(&header).unwrap() + header.len()..];
            assert!(entry.starts_with("Subject: "), "{}", kind.name());
        }
        assert_eq!(CATALOG.matches("\n-- ").count(), Kind::ALL.len());
    }
}
