//! `[maint]` and `[secrets.NAME]`: the maintenance tiers and the rotation inventory.

use std::fmt;

use serde::{Deserialize, Deserializer};

use crate::platform::duration::ConfigDuration;

use super::AbsPath;

/// `[maint]`: the maintenance tiers' thresholds, allow-lists and limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Maint {
    /// How long one check may take.
    pub check_timeout: ConfigDuration,
    /// Disk or inode use (percent) that warns.
    pub disk_warn: f64,
    /// Use (percent) that is critical, when also less than `disk_crit_free_gib` is free.
    pub disk_crit: f64,
    /// Free space (GiB) under which `disk_crit` applies.
    pub disk_crit_free_gib: f64,
    /// A warning clears only below this use (percent): no mail every day from a disk
    /// hovering at the threshold.
    pub disk_clear: f64,
    /// Mount points not checked (besides pseudo file systems, always skipped).
    pub disk_ignore: Vec<String>,
    /// Available memory (percent of total) under which it warns; half of it is critical.
    pub memory_warn: f64,
    /// Swap use (percent) that warns.
    pub swap_warn: f64,
    /// Load per core that warns; twice it is critical.
    pub load_warn: f64,
    /// Listening sockets that are expected: `PROTO:ADDRESS:PORT`, `*` for any address,
    /// e.g. `tcp:*:22`, `tcp:127.0.0.1:25`, `udp:*:68`.
    pub ports_allow: Vec<String>,
    /// The docker CLI.
    pub docker: String,
    /// The Wazuh agent's state file (checked only where it exists).
    pub wazuh_state: AbsPath,
    /// A Wazuh keepalive older than this warns.
    pub wazuh_keepalive: ConfigDuration,
    /// A request in one open state for longer than this is stuck.
    pub stuck_after: ConfigDuration,
    /// The last successful mail poll older than this warns (when Gmail is configured).
    pub mailpoll_stale: ConfigDuration,
    /// The last watchdog pass older than this warns (once it has run).
    pub watchdog_stale: ConfigDuration,
    /// A calendar whose last good fetch is older than this warns.
    pub calendar_stale: ConfigDuration,
    /// Images, volumes and containers with one of these labels are never cleaned up.
    pub keep_labels: Vec<String>,
    /// Nor those whose name matches one of these patterns (`*` and `?`).
    pub keep_names: Vec<String>,
    /// The name prefix of the agent's sandbox containers.
    pub sandbox_prefix: String,
    /// A sandbox container stopped for longer than this is an orphan, removed weekly.
    pub sandbox_age: ConfigDuration,
    /// Images older than this are listed weekly.
    pub image_max_age: ConfigDuration,
    /// Journal use (GiB) that warns.
    pub journal_max_gib: f64,
    /// Directories whose old files are listed weekly (and removed where `remove = true`).
    pub stale: Vec<StaleDir>,
    /// apt's package lists (read for pending updates; no network).
    pub apt_lists: AbsPath,
    /// dpkg's status file (installed packages).
    pub dpkg_status: AbsPath,
    /// Databases checked and compacted monthly besides the suite's own.
    pub databases: Vec<AbsPath>,
    /// Roots whose largest directories the monthly report lists.
    pub breakdown: Vec<AbsPath>,
    /// A container using more of its memory limit than this (percent) warns.
    pub container_memory_warn: f64,
}

/// `[[maint.stale]]`: a directory whose old files are reported, and removed if asked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaleDir {
    /// The directory.
    pub path: AbsPath,
    /// Files not modified for this long are stale.
    pub age: ConfigDuration,
    /// Remove them in the weekly run (default: only report).
    #[serde(default)]
    pub remove: bool,
}

impl Default for Maint {
    fn default() -> Self {
        Maint {
            check_timeout: ConfigDuration::from_secs(30),
            disk_warn: 90.0,
            disk_crit: 98.0,
            disk_crit_free_gib: 5.0,
            disk_clear: 80.0,
            disk_ignore: Vec::new(),
            memory_warn: 10.0,
            swap_warn: 50.0,
            load_warn: 2.0,
            ports_allow: [
                "tcp:*:22",
                "tcp:127.0.0.1:25",
                "tcp:[::1]:25",
                "udp:*:68",
                "udp:127.0.0.53:53",
                "tcp:127.0.0.53:53",
            ]
            .map(String::from)
            .to_vec(),
            docker: "docker".into(),
            wazuh_state: AbsPath::from_static("/var/ossec/var/run/wazuh-agentd.state"),
            wazuh_keepalive: ConfigDuration::from_secs(300),
            stuck_after: ConfigDuration::from_secs(6 * 3600),
            mailpoll_stale: ConfigDuration::from_secs(600),
            watchdog_stale: ConfigDuration::from_secs(1800),
            calendar_stale: ConfigDuration::from_secs(3600),
            keep_labels: vec!["clawdbot.keep".into()],
            keep_names: Vec::new(),
            sandbox_prefix: "openclaw-sbx-".into(),
            sandbox_age: ConfigDuration::from_secs(86_400),
            image_max_age: ConfigDuration::from_secs(180 * 86_400),
            journal_max_gib: 4.0,
            stale: Vec::new(),
            apt_lists: AbsPath::from_static("/var/lib/apt/lists"),
            dpkg_status: AbsPath::from_static("/var/lib/dpkg/status"),
            databases: Vec::new(),
            breakdown: ["/var", "/srv", "/home"].map(AbsPath::from_static).to_vec(),
            container_memory_warn: 90.0,
        }
    }
}

/// `[secrets.NAME]`: a secret to rotate on schedule (`clawdbot-secrets`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    /// How often it is rotated.
    pub cadence: Cadence,
    /// Where it lives (a file, a console), for the person who rotates it.
    #[serde(rename = "where")]
    pub location: String,
    /// Who rotates it.
    #[serde(default)]
    pub owner: Option<String>,
    /// When it was last rotated before the suite knew of it (`YYYY-MM-DD`).
    #[serde(default, deserialize_with = "date")]
    pub rotated: Option<jiff::civil::Date>,
}

fn date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<jiff::civil::Date>, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse().map(Some).map_err(|_| {
        serde::de::Error::custom(format!("{text:?} is not a date: write it as YYYY-MM-DD"))
    })
}

/// How often a secret is rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    /// Every so many calendar months (a day past the month's end is its last day).
    Months(i32),
    /// Every so many days.
    Days(i32),
}

impl fmt::Display for Cadence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cadence::Months(3) => f.write_str("quarterly"),
            Cadence::Months(6) => f.write_str("semiannual"),
            Cadence::Months(12) => f.write_str("annual"),
            Cadence::Months(n) => write!(f, "every {n} months"),
            Cadence::Days(n) => write!(f, "{n}d"),
        }
    }
}

impl<'de> Deserialize<'de> for Cadence {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let days = text
            .strip_suffix('d')
            .and_then(|n| n.parse::<i32>().ok())
            .filter(|n| (1..=3660).contains(n));
        match (text.as_str(), days) {
            ("monthly", _) => Ok(Cadence::Months(1)),
            ("quarterly", _) => Ok(Cadence::Months(3)),
            ("semiannual", _) => Ok(Cadence::Months(6)),
            ("annual", _) => Ok(Cadence::Months(12)),
            (_, Some(n)) => Ok(Cadence::Days(n)),
            _ => Err(serde::de::Error::custom(format!(
                "unknown cadence {text:?}: use monthly, quarterly, semiannual, annual or a number of days such as \"90d\""
            ))),
        }
    }
}
