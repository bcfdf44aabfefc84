//! Alerts to the operator (`crate::core::alerts` decides what becomes of them).

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::platform::time::UnixTime;

use super::{StoreError, Tx};

/// One alert as the suite keeps it: the alert spool's file format (docs/wire-formats.md), and
/// what the operator is told. Checked by `Alert::problem` in `crate::core::alerts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alert {
    /// `wazuh`, or `clawdbot` for the suite's own events.
    pub source: String,
    /// Wazuh's level, 0 to 16 (the suite's events use the levels of its Wazuh rules).
    pub level: u8,
    /// The rule: Wazuh's rule id, or the suite's event name.
    pub rule: String,
    /// What it is about: Wazuh's agent (`001 web-01`), or the request, file or sender.
    pub agent: String,
    /// One line for people.
    pub title: String,
    /// When it happened.
    pub at: UnixTime,
    /// A few lines of detail (no control characters but line breaks).
    pub detail: String,
}

/// An alert not sent yet.
#[derive(Debug, Clone)]
pub struct PendingAlert {
    /// Its row.
    pub id: i64,
    /// The alert.
    pub alert: Alert,
    /// How many times it came again within the window.
    pub repeats: i64,
    /// Whether quiet hours held it.
    pub held: bool,
}

impl Tx<'_> {
    /// If the same rule about the same agent was recorded since `since`, count this one on it
    /// and return true.
    pub fn count_alert_repeat(&self, a: &Alert, since: UnixTime) -> Result<bool, StoreError> {
        let first: Option<i64> = self
            .tx
            .query_row(
                "SELECT id FROM alerts WHERE source = ?1 AND rule = ?2 AND agent = ?3 AND created_at >= ?4 ORDER BY id DESC LIMIT 1",
                params![a.source, a.rule, a.agent, since],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err(format!("cannot read alerts of rule {}", a.rule)))?;
        let Some(first) = first else { return Ok(false) };
        self.tx
            .execute(
                "UPDATE alerts SET repeats = repeats + 1 WHERE id = ?1",
                [first],
            )
            .map_err(self.err(format!("cannot count alert {first}")))?;
        Ok(true)
    }

    /// Record a new alert.
    pub fn insert_alert(&self, a: &Alert, now: UnixTime) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO alerts (source, level, rule, agent, title, happened_at, detail, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![a.source, a.level, a.rule, a.agent, a.title, a.at, a.detail, now],
            )
            .map(drop)
            .map_err(self.err(format!("cannot record alert of rule {}", a.rule)))
    }

    /// Alerts not sent yet, oldest first.
    pub fn pending_alerts(&self) -> Result<Vec<PendingAlert>, StoreError> {
        let mut stmt = self
            .tx
            .prepare("SELECT id, source, level, rule, agent, title, happened_at, detail, repeats, held FROM alerts WHERE sent_at IS NULL ORDER BY id")
            .map_err(self.err("cannot read alerts"))?;
        stmt.query_map([], |r| {
            Ok(PendingAlert {
                id: r.get(0)?,
                alert: Alert {
                    source: r.get(1)?,
                    level: r.get(2)?,
                    rule: r.get(3)?,
                    agent: r.get(4)?,
                    title: r.get(5)?,
                    at: r.get(6)?,
                    detail: r.get(7)?,
                },
                repeats: r.get(8)?,
                held: r.get(9)?,
            })
        })
        .and_then(Iterator::collect)
        .map_err(self.err("cannot read alerts"))
    }

    /// Mark alerts held by quiet hours.
    pub fn hold_alerts(&self, ids: &[i64]) -> Result<(), StoreError> {
        for id in ids {
            self.tx
                .execute("UPDATE alerts SET held = 1 WHERE id = ?1", [id])
                .map_err(self.err(format!("cannot hold alert {id}")))?;
        }
        Ok(())
    }

    /// Alerts sent since `since`: (sent one by one, digests, when the last digest went).
    pub fn alerts_sent_since(
        &self,
        since: UnixTime,
    ) -> Result<(i64, i64, Option<UnixTime>), StoreError> {
        self.tx
            .query_row(
                "SELECT (SELECT COUNT(*) FROM alerts WHERE sent_at >= ?1 AND digest = 0), (SELECT COUNT(DISTINCT sent_at) FROM alerts WHERE sent_at >= ?1 AND digest = 1), (SELECT MAX(sent_at) FROM alerts WHERE digest = 1)",
                [since],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(self.err("cannot count alerts sent"))
    }

    /// Mark alerts sent, one by one or together in one digest.
    pub fn alerts_sent(&self, ids: &[i64], digest: bool, now: UnixTime) -> Result<(), StoreError> {
        for id in ids {
            self.tx
                .execute(
                    "UPDATE alerts SET sent_at = ?2, digest = ?3 WHERE id = ?1",
                    params![id, now, digest],
                )
                .map_err(self.err(format!("cannot mark alert {id} sent")))?;
        }
        Ok(())
    }

    /// Forget alerts sent before `before`.
    pub fn forget_alerts(&self, before: UnixTime) -> Result<(), StoreError> {
        self.tx
            .execute("DELETE FROM alerts WHERE sent_at < ?1", [before])
            .map(drop)
            .map_err(self.err("cannot forget old alerts"))
    }
}
