//! `[watchdog]`: which sessions are watched and how the gateway is stopped and started.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::platform::duration::ConfigDuration;

use super::AbsPath;

/// `[watchdog]`: finding and repairing corrupted agent session files.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Watchdog {
    /// Absolute glob patterns of session files (`*` and `?` within one path component).
    pub sessions: Vec<String>,
    /// OpenClaw state directories (holding `agents/`) outside the usual homes.
    pub roots: Vec<AbsPath>,
    /// Absolute glob patterns of the newer per-agent SQLite stores, checked read-only.
    pub databases: Vec<String>,
    /// A file modified more recently than this is being written: left alone.
    pub settle: ConfigDuration,
    /// A gateway lock older than this whose process is gone is stale.
    pub lock_stale: ConfigDuration,
    /// How many days backups are kept.
    pub backup_days: u32,
    /// The command that stops the gateway before a repair (no shell); empty: repair beside a
    /// running gateway, only files no lock covers. `{gateway}` stands for the container of
    /// `gateway_service`.
    pub stop: Vec<String>,
    /// The command that starts the gateway again after a repair; empty: none.
    pub start: Vec<String>,
    /// The Compose service `{gateway}` finds the container of (by its labels).
    pub gateway_service: String,
    /// The Compose project it belongs to; empty: any, as long as only one has the service.
    pub gateway_project: String,
    /// How long stopping or starting the gateway may take.
    pub gateway_timeout: ConfigDuration,
    /// The action (`[actions.NAME]`) a request to reset a session that can no longer be
    /// sent to the model is filed for; empty: none is filed, the incident mail says what to run.
    pub reset_action: String,
    /// Keys of earlier releases, refused with a word on what replaced them.
    #[serde(flatten)]
    pub retired: BTreeMap<String, toml::Value>,
}

impl Default for Watchdog {
    fn default() -> Self {
        let homes = ["/home/*", "/root"];
        let layouts = [".openclaw", ".clawdbot"];
        let mut sessions = Vec::new();
        let mut databases = Vec::new();
        for home in homes {
            for layout in layouts {
                sessions.push(format!("{home}/{layout}/agents/*/sessions/*.jsonl"));
            }
            databases.push(format!(
                "{home}/.openclaw/agents/*/agent/openclaw-agent.sqlite"
            ));
        }
        Watchdog {
            sessions,
            roots: Vec::new(),
            databases,
            settle: ConfigDuration::from_secs(60),
            lock_stale: ConfigDuration::from_secs(30 * 60),
            backup_days: 30,
            stop: ["docker", "stop", "{gateway}"].map(String::from).to_vec(),
            start: ["docker", "start", "{gateway}"].map(String::from).to_vec(),
            gateway_service: "openclaw-gateway".into(),
            gateway_project: String::new(),
            gateway_timeout: ConfigDuration::from_secs(120),
            reset_action: "openclaw_session_reset".into(),
            retired: BTreeMap::new(),
        }
    }
}

impl Watchdog {
    /// Every session pattern: the configured ones and those of each root.
    pub fn session_patterns(&self) -> Vec<String> {
        let mut patterns = self.sessions.clone();
        for root in &self.roots {
            patterns.push(format!("{}/agents/*/sessions/*.jsonl", root.0.display()));
        }
        patterns
    }

    /// Every database pattern: the configured ones and those of each root.
    pub fn database_patterns(&self) -> Vec<String> {
        let mut patterns = self.databases.clone();
        for root in &self.roots {
            patterns.push(format!(
                "{}/agents/*/agent/openclaw-agent.sqlite",
                root.0.display()
            ));
        }
        patterns
    }
}

/// Whether `name` can be a Compose service or project name (letters, digits, `-`, `_`, `.`),
/// so that it cannot carry anything else into the query.
pub fn valid_compose_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}
