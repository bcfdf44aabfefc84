//! `[paths]`: where the suite keeps its files.

use std::path::PathBuf;

use serde::Deserialize;

use super::AbsPath;

/// Where the request spool is unless `[paths] spool` says.
pub const DEFAULT_SPOOL: &str = "/srv/clawdbot/requests";

/// `[paths]`: every directory the suite uses. Paths are absolute.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Paths {
    /// The state directory: database, quarantine, outbox, reply Maildir.
    pub state_dir: AbsPath,
    /// The request spool shared with the agent.
    pub spool: AbsPath,
    /// The agent's inbox for bridge messages.
    pub inbox: AbsPath,
    /// Rejected requests; default `STATE_DIR/quarantine`.
    pub quarantine: Option<AbsPath>,
    /// `.eml` files of the `file` transport; default `STATE_DIR/outbox`.
    pub outbox: Option<AbsPath>,
    /// The reply Maildir; default `STATE_DIR/mail`.
    pub maildir: Option<AbsPath>,
    /// Trigger files for `clawdbot-exec`; default `STATE_DIR/approved`.
    pub approved: Option<AbsPath>,
    /// Copies of session files taken before a repair; default `STATE_DIR/backups`.
    pub backups: Option<AbsPath>,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            state_dir: AbsPath::from_static("/var/lib/clawdbot"),
            spool: AbsPath::from_static(DEFAULT_SPOOL),
            inbox: AbsPath::from_static("/srv/clawdbot/inbox"),
            quarantine: None,
            outbox: None,
            maildir: None,
            approved: None,
            backups: None,
        }
    }
}

impl Paths {
    fn under_state(&self, set: &Option<AbsPath>, name: &str) -> PathBuf {
        set.as_ref()
            .map(|p| p.0.clone())
            .unwrap_or_else(|| self.state_dir.0.join(name))
    }

    /// The SQLite database.
    pub fn database(&self) -> PathBuf {
        self.state_dir.0.join("state.db")
    }

    /// The lock file that keeps two broker passes apart.
    pub fn broker_lock(&self) -> PathBuf {
        self.state_dir.0.join("broker.lock")
    }

    /// The quarantine directory.
    pub fn quarantine(&self) -> PathBuf {
        self.under_state(&self.quarantine, "quarantine")
    }

    /// The outbox directory of the `file` transport.
    pub fn outbox(&self) -> PathBuf {
        self.under_state(&self.outbox, "outbox")
    }

    /// The reply Maildir.
    pub fn maildir(&self) -> PathBuf {
        self.under_state(&self.maildir, "mail")
    }

    /// The trigger directory of `clawdbot-exec`.
    pub fn approved(&self) -> PathBuf {
        self.under_state(&self.approved, "approved")
    }

    /// Where `clawdbot-exec` leaves a mark for each finished run, so that `clawdbot-broker.path`
    /// starts the pass that records it.
    pub fn executed(&self) -> PathBuf {
        self.state_dir.0.join("executed")
    }

    /// Trigger files for `clawdbot-task.path` (the queue is in the database).
    pub fn tasks(&self) -> PathBuf {
        self.state_dir.0.join("tasks")
    }

    /// The lock that keeps two task runners apart.
    pub fn task_lock(&self) -> PathBuf {
        self.state_dir.0.join("task.lock")
    }

    /// The watchdog's backups of session files.
    pub fn backups(&self) -> PathBuf {
        self.under_state(&self.backups, "backups")
    }

    /// The lock file that keeps two watchdog passes apart.
    pub fn watchdog_lock(&self) -> PathBuf {
        self.state_dir.0.join("watchdog.lock")
    }
}

/// `[paths]` as the request writer reads it: the spool alone, other keys left to the programs
/// that use them.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SpoolPath {
    /// The request spool shared with the agent.
    pub spool: AbsPath,
}

impl Default for SpoolPath {
    fn default() -> Self {
        SpoolPath {
            spool: AbsPath::from_static(DEFAULT_SPOOL),
        }
    }
}
