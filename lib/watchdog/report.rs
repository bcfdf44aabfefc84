//! What a pass found, as JSON (`--json`) and as text for people and the incident mail.

use std::fmt::Write;
use std::path::PathBuf;

use serde::Serialize;

use super::tail::Problem;

/// One problem as reported: the scanner's finding and its line number.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    /// 1-based line number in the file.
    pub line: u64,
    /// The problem.
    #[serde(flatten)]
    pub problem: Problem,
}

/// The verdict on one session file.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// Nothing wrong.
    Healthy,
    /// Something wrong.
    Corrupt {
        /// What, in file order.
        problems: Vec<Found>,
        /// Offset of the last valid boundary: every byte before it is kept.
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

/// A per-agent SQLite store (newer OpenClaw), checked read-only.
#[derive(Debug, Clone, Serialize)]
pub struct DatabaseReport {
    /// The database file.
    pub path: PathBuf,
    /// Whether `PRAGMA quick_check` said ok.
    pub ok: bool,
    /// What it said.
    pub detail: String,
}

/// The gateway restart after repairs.
#[derive(Debug, Clone, Serialize)]
pub struct RestartReport {
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
    /// The restart, if one was due.
    pub restart: Option<RestartReport>,
    /// Old backups removed.
    pub backups_removed: usize,
}

impl PassReport {
    /// Whether the pass left something to retry (exit 75): an error or a failed restart.
    pub fn incomplete(&self) -> bool {
        !self.errors.is_empty() || self.restart.as_ref().is_some_and(|r| !r.ok)
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

fn problems_text(text: &mut String, problems: &[Found]) {
    for f in problems {
        let _ = writeln!(
            text,
            "  line {}: {} ({}, {} bytes): {}",
            f.line,
            f.problem.kind.as_str(),
            action(f),
            f.problem.bytes,
            f.problem.detail
        );
    }
}

fn action(found: &Found) -> &'static str {
    use super::tail::Action;
    match found.problem.action {
        Action::Removed => "removed",
        Action::Stripped => "NULs stripped",
        Action::NewlineAdded => "newline added",
        Action::Reported => "reported only",
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
    for d in &report.databases {
        let _ = writeln!(text, "{}: quick_check {}", d.path.display(), d.detail);
    }
    if let Some(r) = &report.restart {
        let state = if r.ok { "done" } else { "failed" };
        let _ = writeln!(
            text,
            "gateway restart ({}): {state}: {}",
            r.command.join(" "),
            r.detail
        );
    }
    text
}

pub(super) fn incident_subject(report: &PassReport) -> String {
    match (report.repaired, &report.restart) {
        (0, _) => "session files need a look".into(),
        (n, Some(r)) if !r.ok => {
            format!("repaired {n} session file(s); the gateway restart failed")
        }
        (n, _) => format!("repaired {n} session file(s)"),
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
    for d in report.databases.iter().filter(|d| !d.ok) {
        let _ = writeln!(text, "{}: quick_check: {}", d.path.display(), d.detail);
    }
    for (path, error) in &report.errors {
        let _ = writeln!(text, "{}: {error}", path.display());
    }
    if let Some(r) = &report.restart {
        let state = if r.ok {
            "done"
        } else {
            "FAILED, retried every pass"
        };
        let _ = writeln!(
            text,
            "\nGateway restart ({}): {state}: {}",
            r.command.join(" "),
            r.detail
        );
    }
    text.push_str(
        "\nYou get one mail per incident; `journalctl -u clawdbot-watchdog` has every pass.",
    );
    text
}
