//! `[alerts]`: security alerts to the operator, Wazuh's (handed over by `custom-clawdbot`) and
//! the suite's own grave events (docs/alerts.md).

use serde::Deserialize;

use crate::platform::duration::ConfigDuration;

use super::AbsPath;

/// `[alerts]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Alerts {
    /// Where `clawdbot-alert` drops each alert for the broker: a directory the broker's user
    /// owns and Wazuh's group may write (mode 2770).
    pub spool: AbsPath,
    /// Wazuh alerts below this level are dropped (the suite's own events always count).
    pub min_level: u8,
    /// Alerts of this level or more are never held by quiet hours.
    pub critical_level: u8,
    /// The same rule about the same agent again within this window is counted, not sent.
    pub dedup_window: ConfigDuration,
    /// Alerts sent one by one in an hour before the rest go out as one digest.
    pub max_per_hour: u32,
    /// `HH:MM-HH:MM` in the operator's time zone: alerts below `critical_level` are held, and
    /// summarised in one message after. Empty: none.
    pub quiet_hours: String,
    /// The largest alert file read; a larger one is reported as unreadable.
    pub max_bytes: u64,
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts {
            spool: AbsPath::from_static("/srv/clawdbot/alerts"),
            min_level: 10,
            critical_level: 12,
            dedup_window: ConfigDuration::from_secs(600),
            max_per_hour: 10,
            quiet_hours: String::new(),
            max_bytes: 1 << 20,
        }
    }
}
