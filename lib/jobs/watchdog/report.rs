//! What a pass found, as JSON (`--json`) and as text for people and the incident mail.

use std::fmt::Write;
use std::path::PathBuf;

use serde::Serialize;

use super::agentdb::{self, Poisoned, Unread};
use super::transcript::{self, Problem};

/// The verdict on one session file.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// Nothing wrong.
    Healthy,
    /// Something wrong.
    Corrupt {
        /// What, in file order.
        problems: Vec<Problem>,
        /// Every byte before this offset is kept as it is.
        boundary: u64,
        /// Bytes a repair removes.
        removed_bytes: u64,
        /// Whether this pass repaired it.
        repaired: bool,
        /// The backup taken before the repair.
        #[serde(skip_serializing_if = "Option::is_none")]
        backup: Option<PathBuf>,
        /// Why it was not repaired.
        #[serde(skip_serializing_if = "Option::is_none")]
        left: Option<String>,
    },
    /// A writer holds its lock.
    Locked {
        /// Whose lock.
        reason: String,
    },
    /// Not looked at now.
    Skipped {
        /// Why.
        reason: String,
    },
}

/// One session file's result.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// What was found.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// A per-agent SQLite store (OpenClaw 2026.8.1 on), read without being changed.
#[derive(Debug, Clone, Serialize)]
pub struct DatabaseReport {
    /// The database file.
    pub path: PathBuf,
    /// The agent whose store it is (its directory's name).
    pub agent: String,
    /// Whether it was read and `PRAGMA quick_check` found it sound.
    pub ok: bool,
    /// What `quick_check` said, or why the store was not read.
    pub detail: String,
    /// Not read for a passing reason (a write under way): no incident, read next pass.
    pub busy: bool,
    /// Sessions read.
    pub sessions: usize,
    /// Sessions whose context cannot be sent to the model.
    pub poisoned: Vec<Poisoned>,
    /// Sessions that could not be read.
    pub unread: Vec<Unread>,
    /// The same problems as at the last pass: told already, no new incident.
    pub repeated: bool,
}

impl DatabaseReport {
    /// Whether a person should look: damage, a stuck session not proposed for a reset before,
    /// or a session not readable, unless the last pass found the very same.
    pub fn needs_person(&self) -> bool {
        !self.repeated && self.has_problems()
    }

    /// Whether anything in it is for a person.
    pub fn has_problems(&self) -> bool {
        (!self.ok && !self.busy)
            || self.poisoned.iter().any(|p| !p.known)
            || !self.unread.is_empty()
    }

    /// The problems, as text that is the same when they are.
    pub fn problems_key(&self) -> String {
        let mut key = format!("{}\n", if self.ok { "ok" } else { &self.detail });
        for p in self.poisoned.iter().filter(|p| !p.known) {
            key.push_str(&format!(
                "{}\0{}\0{}\n",
                p.key,
                p.entry,
                p.request.as_deref().unwrap_or("")
            ));
        }
        for u in &self.unread {
            key.push_str(&format!("{}\0{}\n", u.key, u.reason));
        }
        key
    }
}

/// Stopping or starting the gateway around repairs.
#[derive(Debug, Clone, Serialize)]
pub struct GatewayReport {
    /// The command.
    pub command: Vec<String>,
    /// Whether it succeeded.
    pub ok: bool,
    /// What it said.
    pub detail: String,
}

/// What one pass did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PassReport {
    /// Nothing was changed.
    pub dry_run: bool,
    /// Session files found.
    pub files: usize,
    /// Files not read: unchanged since they were last checked.
    pub unchanged: usize,
    /// Files not read: their agent keeps its sessions in SQLite now, and OpenClaw no longer
    /// reads them.
    pub legacy: usize,
    /// Files read.
    pub read: usize,
    /// Bytes read from them.
    pub bytes_read: u64,
    /// Files found healthy.
    pub healthy: usize,
    /// Files repaired.
    pub repaired: usize,
    /// Every file that is neither unchanged nor healthy.
    pub sessions: Vec<FileReport>,
    /// Files that could not be examined, with the error.
    pub errors: Vec<(PathBuf, String)>,
    /// Per-agent databases.
    pub databases: Vec<DatabaseReport>,
    /// The gateway stopped before repairs, if any were due.
    pub stop: Option<GatewayReport>,
    /// The gateway started after repairs (or after a start that failed before).
    pub start: Option<GatewayReport>,
    /// Old backups removed.
    pub backups_removed: usize,
}

impl PassReport {
    /// Whether the pass left something to retry (exit 75): an error, or the gateway not
    /// stopped or not started.
    pub fn incomplete(&self) -> bool {
        !self.errors.is_empty()
            || [&self.stop, &self.start]
                .iter()
                .any(|g| g.as_ref().is_some_and(|g| !g.ok))
    }
}

/// One file's verdict as text (`clawdbot-watchdog scan`).
pub fn describe(report: &FileReport) -> String {
    let mut text = String::new();
    let path = report.path.display();
    match &report.verdict {
        Verdict::Healthy => {
            let _ = writeln!(text, "{path}: healthy");
        }
        Verdict::Locked { reason } => {
            let _ = writeln!(text, "{path}: locked ({reason})");
        }
        Verdict::Skipped { reason } => {
            let _ = writeln!(text, "{path}: skipped ({reason})");
        }
        Verdict::Corrupt {
            problems,
            boundary,
            removed_bytes,
            ..
        } => {
            let _ = writeln!(
                text,
                "{path}: corrupt; a repair keeps bytes 0..{boundary} as they are and removes {removed_bytes} bytes"
            );
            problems_text(&mut text, problems);
        }
    }
    text
}

fn problems_text(text: &mut String, problems: &[Problem]) {
    for p in problems {
        let _ = writeln!(
            text,
            "  line {}: {}: {}: {}",
            p.line,
            p.kind.as_str(),
            transcript::describe(p),
            p.detail
        );
    }
}

/// A store's result as text.
fn database_text(text: &mut String, d: &DatabaseReport) {
    let path = d.path.display();
    if d.ok {
        let _ = writeln!(text, "{path}: {} sessions read; store sound", d.sessions);
    } else if d.busy {
        let _ = writeln!(text, "{path}: not read now: {}", d.detail);
    } else {
        let _ = writeln!(text, "{path}: {}", d.detail);
    }
    for p in &d.poisoned {
        let _ = writeln!(text, "  {}", agentdb::poisoned_line(p));
        if let Some(request) = &p.request {
            let _ = writeln!(text, "    {request}");
        }
    }
    for u in &d.unread {
        let _ = writeln!(
            text,
            "  session {} not read: {}",
            agentdb::shown(&u.key),
            u.reason
        );
    }
}

/// What became of a corrupt file, as a line (empty for other verdicts).
fn outcome(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Corrupt {
            repaired: true,
            backup: Some(b),
            ..
        } => format!("  repaired; the original is kept in {}\n", b.display()),
        Verdict::Corrupt {
            left: Some(why), ..
        } => format!("  not repaired: {why}\n"),
        _ => String::new(),
    }
}

/// A pass as text.
pub fn summary(report: &PassReport) -> String {
    let mut text = format!(
        "{} session files: {} unchanged, {} read ({} bytes), {} healthy, {} repaired{}\n",
        report.files,
        report.unchanged,
        report.read,
        report.bytes_read,
        report.healthy,
        report.repaired,
        if report.dry_run {
            " (dry run: nothing changed)"
        } else {
            ""
        }
    );
    for file in &report.sessions {
        text.push_str(&describe(file));
        text.push_str(&outcome(&file.verdict));
    }
    for (path, error) in &report.errors {
        let _ = writeln!(text, "{}: error: {error}", path.display());
    }
    if report.legacy > 0 {
        let _ = writeln!(
            text,
            "{} session files not read: their agents keep sessions in SQLite now",
            report.legacy
        );
    }
    for d in &report.databases {
        database_text(&mut text, d);
    }
    for (what, g) in [("stop", &report.stop), ("start", &report.start)] {
        if let Some(g) = g {
            let state = if g.ok { "done" } else { "failed" };
            let _ = writeln!(
                text,
                "gateway {what} ({}): {state}: {}",
                g.command.join(" "),
                g.detail
            );
        }
    }
    text
}

pub(super) fn incident_subject(report: &PassReport) -> String {
    let failed = |g: &Option<GatewayReport>| g.as_ref().is_some_and(|g| !g.ok);
    match report.repaired {
        _ if failed(&report.stop) => {
            "the gateway could not be stopped to repair session files".into()
        }
        0 if report.databases.iter().any(|d| !d.poisoned.is_empty()) => {
            "an agent session cannot be sent to the model".into()
        }
        0 => "session files need a look".into(),
        n if failed(&report.start) => {
            format!("repaired {n} session file(s); the gateway did not start")
        }
        n => format!("repaired {n} session file(s)"),
    }
}

pub(super) fn incident_text(report: &PassReport) -> String {
    let mut text = String::new();
    for file in &report.sessions {
        if matches!(file.verdict, Verdict::Corrupt { .. }) {
            text.push_str(&describe(file));
            text.push_str(&outcome(&file.verdict));
        }
    }
    for d in report.databases.iter().filter(|d| d.needs_person()) {
        database_text(&mut text, d);
    }
    for (path, error) in &report.errors {
        let _ = writeln!(text, "{}: {error}", path.display());
    }
    for (what, g) in [("stop", &report.stop), ("start", &report.start)] {
        if let Some(g) = g {
            let state = if g.ok {
                "done"
            } else {
                "FAILED, tried again every pass"
            };
            let _ = writeln!(
                text,
                "\nGateway {what} ({}): {state}: {}",
                g.command.join(" "),
                g.detail
            );
        }
    }
    text.push_str(
        "\nYou get one mail per incident; `journalctl -u clawdbot-watchdog` has every pass.",
    );
    text
}
