//! The mail outbox: mails queued with the change they report, sent and retried later.

use rusqlite::params;

use crate::platform::ids::RequestId;
use crate::platform::time::UnixTime;

use super::{Store, StoreError, Tx};

/// A mail waiting in the outbox.
#[derive(Debug, Clone)]
pub struct OutboxMail {
    /// Row id.
    pub id: i64,
    /// `approval` or `digest`.
    pub kind: String,
    /// The Message-ID.
    pub message_id: String,
    /// Envelope sender.
    pub sender: String,
    /// Envelope recipients.
    pub recipients: Vec<String>,
    /// The formatted message.
    pub message: Vec<u8>,
    /// Attempts so far.
    pub attempts: i64,
}

impl Store {
    /// Mails not yet sent whose next attempt is due.
    pub fn due_mails(&self, now: UnixTime) -> Result<Vec<OutboxMail>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, kind, message_id, sender, recipients, message, attempts FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= ?1 ORDER BY id")
            .map_err(self.err("cannot read outbox"))?;
        let rows = stmt
            .query_map([now], |r| {
                let recipients: String = r.get(4)?;
                Ok(OutboxMail {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    message_id: r.get(2)?,
                    sender: r.get(3)?,
                    recipients: serde_json::from_str(&recipients).unwrap_or_default(),
                    message: r.get(5)?,
                    attempts: r.get(6)?,
                })
            })
            .map_err(self.err("cannot read outbox"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("cannot read outbox"))
    }

    /// How many mails of `kind` were queued since `since`.
    pub fn mails_queued_since(&self, kind: &str, since: UnixTime) -> Result<i64, StoreError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM outbox WHERE kind = ?1 AND created_at >= ?2",
                params![kind, since],
                |r| r.get(0),
            )
            .map_err(self.err("cannot read outbox"))
    }
}

impl Tx<'_> {
    /// Count one more mail about a request and return its number (for the Message-ID).
    pub fn next_mail_number(&self, id: &RequestId) -> Result<i64, StoreError> {
        self.tx
            .query_row(
                "UPDATE requests SET mails = mails + 1 WHERE id = ?1 RETURNING mails",
                [id.as_str()],
                |r| r.get(0),
            )
            .map_err(self.err(format!("cannot count mails of {id}")))
    }

    /// Put a mail in the outbox, linked to the requests it is about.
    #[allow(clippy::too_many_arguments)]
    pub fn enqueue_mail(
        &self,
        kind: &str,
        message_id: &str,
        sender: &str,
        recipients: &[String],
        message: &[u8],
        about: &[RequestId],
        now: UnixTime,
    ) -> Result<i64, StoreError> {
        let recipients = serde_json::to_string(recipients).unwrap_or_else(|_| "[]".into());
        let outbox_id: i64 = self
            .tx
            .query_row(
                "INSERT INTO outbox (kind, message_id, sender, recipients, message, created_at, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) RETURNING id",
                params![kind, message_id, sender, recipients, message, now],
                |r| r.get(0),
            )
            .map_err(self.err(format!("cannot queue mail {message_id}")))?;
        for id in about {
            self.tx
                .execute(
                    "INSERT INTO outbox_requests (outbox_id, request_id) VALUES (?1, ?2)",
                    params![outbox_id, id.as_str()],
                )
                .map_err(self.err(format!("cannot link mail {message_id} to {id}")))?;
        }
        Ok(outbox_id)
    }

    /// Mark a mail sent; returns the requests it was about.
    pub fn mark_sent(&self, outbox_id: i64, now: UnixTime) -> Result<Vec<RequestId>, StoreError> {
        self.tx
            .execute("UPDATE outbox SET sent_at = ?1, attempts = attempts + 1, last_error = NULL WHERE id = ?2 AND sent_at IS NULL", params![now, outbox_id])
            .map_err(self.err("cannot mark mail sent"))?;
        let mut stmt = self
            .tx
            .prepare(
                "SELECT request_id FROM outbox_requests WHERE outbox_id = ?1 ORDER BY request_id",
            )
            .map_err(self.err("cannot read mail links"))?;
        let ids = stmt
            .query_map([outbox_id], |r| r.get::<_, String>(0))
            .map_err(self.err("cannot read mail links"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err("cannot read mail links"))?;
        Ok(ids.iter().filter_map(|id| RequestId::parse(id)).collect())
    }

    /// Mails still unsent after three attempts or more, and the last error among them.
    pub fn failing_mails(&self) -> Result<(i64, Option<String>), StoreError> {
        self.tx
            .query_row(
                "SELECT count(*), max(last_error) FROM outbox WHERE sent_at IS NULL AND attempts >= 3",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.err("cannot read the outbox"))
    }

    /// Record a failed attempt and when to try again.
    pub fn mark_failed(
        &self,
        outbox_id: i64,
        error: &str,
        retry_at: UnixTime,
    ) -> Result<(), StoreError> {
        self.tx
            .execute("UPDATE outbox SET attempts = attempts + 1, last_error = ?1, next_attempt_at = ?2 WHERE id = ?3", params![error, retry_at, outbox_id])
            .map_err(self.err("cannot record mail failure"))?;
        Ok(())
    }
}
