//! Bridge messages: those sent to the agent until delivered, and the ids a receiver has taken.

use rusqlite::{TransactionBehavior, params};
use serde::Serialize;

use crate::platform::time::UnixTime;

use super::{Store, StoreError, Tx};

/// A bridge message as recorded by the sender.
#[derive(Debug, Clone, Serialize)]
pub struct BridgeRecord {
    /// The message id (`msg_…`).
    pub id: String,
    /// The request it is about.
    pub request_id: Option<String>,
    /// The exact body.
    #[serde(skip)]
    pub body: Vec<u8>,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// The last failure.
    pub last_error: Option<String>,
}

fn bridge_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<BridgeRecord> {
    Ok(BridgeRecord {
        id: r.get(0)?,
        request_id: r.get(1)?,
        body: r.get(2)?,
        state: r.get(3)?,
        attempts: r.get(4)?,
        last_error: r.get(5)?,
    })
}

impl Store {
    /// Bridge messages not yet delivered: (id, request, body), oldest first.
    pub fn undelivered_bridge_messages(&self) -> Result<Vec<BridgeRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, request_id, body, state, attempts, last_error FROM bridge_messages WHERE state != 'delivered' ORDER BY created_at, id")
            .map_err(self.err("cannot read bridge messages"))?;
        let rows = stmt
            .query_map([], bridge_record)
            .map_err(self.err("cannot read bridge messages"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("cannot read bridge messages"))
    }

    /// Remember a verified bridge message id and hand its body over, in one write
    /// transaction: the id counts as seen only once `hand_over` succeeded, so a receiver that
    /// dies in between is given the message again (at least once), and two receivers of the
    /// same message cannot both take it. `None` when the id was seen before (a replay).
    pub fn take_message<T, E>(
        &mut self,
        id: &str,
        now: UnixTime,
        hand_over: impl FnOnce() -> Result<T, E>,
    ) -> Result<Option<Result<T, E>>, StoreError> {
        let begin = self.err("cannot begin transaction");
        let commit = self.err(format!("cannot commit message id {id}"));
        let tx = Tx {
            tx: self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(begin)?,
            path: self.path.clone(),
            events: Vec::new(),
        };
        if !tx.remember_message_id(id, now)? {
            return Ok(None);
        }
        crate::platform::failpoint::hit("bridge::before-hand-over");
        let handed = hand_over();
        // A failed hand-over drops the transaction, which rolls the id back.
        if handed.is_ok() {
            crate::platform::failpoint::hit("bridge::after-hand-over");
            tx.tx.commit().map_err(commit)?;
        }
        Ok(Some(handed))
    }
}

impl Tx<'_> {
    /// Record a bridge message before its first delivery attempt.
    pub fn insert_bridge_message(
        &self,
        id: &str,
        request: Option<&str>,
        mode: &str,
        body: &[u8],
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO bridge_messages (id, request_id, mode, body, created_at, state) VALUES (?1, ?2, ?3, ?4, ?5, 'pending')",
                params![id, request, mode, body, now],
            )
            .map_err(self.err(format!("cannot record bridge message {id}")))?;
        Ok(())
    }

    /// Record the outcome of one delivery attempt.
    pub fn bridge_attempt(
        &self,
        id: &str,
        outcome: Result<(), &str>,
        final_failure: bool,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let (state, error, delivered) = match outcome {
            Ok(()) => ("delivered", None, Some(now)),
            Err(e) if final_failure => ("failed", Some(e), None),
            Err(e) => ("pending", Some(e), None),
        };
        self.tx
            .execute(
                "UPDATE bridge_messages SET state = ?1, attempts = attempts + 1, last_error = ?2, delivered_at = ?3 WHERE id = ?4",
                params![state, error, delivered, id],
            )
            .map_err(self.err(format!("cannot record delivery of {id}")))?;
        Ok(())
    }

    /// Remember a verified message id; false when it was seen before (a replay). Ids are
    /// kept an hour, well over the 600 s the replay window needs.
    pub fn remember_message_id(&self, id: &str, now: UnixTime) -> Result<bool, StoreError> {
        self.tx
            .execute("DELETE FROM bridge_seen WHERE seen_at < ?1", [now - 3600])
            .map_err(self.err("cannot expire seen message ids"))?;
        let inserted = self
            .tx
            .execute(
                "INSERT OR IGNORE INTO bridge_seen (id, seen_at) VALUES (?1, ?2)",
                params![id, now],
            )
            .map_err(self.err(format!("cannot remember message id {id}")))?;
        Ok(inserted == 1)
    }
}
