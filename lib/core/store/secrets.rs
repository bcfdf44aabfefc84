//! Secret rotation: when each secret was rotated, and the reminders sent.

use rusqlite::{OptionalExtension, params};

use crate::platform::time::UnixTime;

use super::{StoreError, Tx};

impl Tx<'_> {
    /// The last recorded rotation of a secret (`YYYY-MM-DD`).
    pub fn last_rotation(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.tx
            .query_row(
                "SELECT max(rotated_on) FROM secret_rotations WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .map_err(self.err(format!("cannot read rotations of {name}")))
    }

    /// Record a rotation.
    pub fn record_rotation(
        &self,
        name: &str,
        on: &str,
        actor: &str,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO secret_rotations (name, rotated_on, recorded_at, actor) VALUES (?1, ?2, ?3, ?4)",
                params![name, on, now, actor],
            )
            .map(drop)
            .map_err(self.err(format!("cannot record a rotation of {name}")))
    }

    /// The day the suite started tracking a secret, set to `today` the first time.
    pub fn tracked_since(&self, name: &str, today: &str) -> Result<String, StoreError> {
        self.tx
            .execute(
                "INSERT INTO secret_tracking (name, since) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
                params![name, today],
            )
            .map_err(self.err(format!("cannot track {name}")))?;
        self.tx
            .query_row(
                "SELECT since FROM secret_tracking WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .map_err(self.err(format!("cannot track {name}")))
    }

    /// The most urgent reminder already sent for a secret's due date.
    pub fn reminder_rank(&self, name: &str, due: &str) -> Result<Option<i64>, StoreError> {
        self.tx
            .query_row(
                "SELECT rank FROM secret_reminders WHERE name = ?1 AND due = ?2",
                [name, due],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err(format!("cannot read reminders of {name}")))
    }

    /// Record that a reminder of this urgency was sent.
    pub fn set_reminder_rank(
        &self,
        name: &str,
        due: &str,
        rank: i64,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO secret_reminders (name, due, rank, sent_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT(name, due) DO UPDATE SET rank = ?3, sent_at = ?4",
                params![name, due, rank, now],
            )
            .map(drop)
            .map_err(self.err(format!("cannot record a reminder of {name}")))
    }
}
