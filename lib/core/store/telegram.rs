//! Telegram: the outbox of messages to the operators, the updates handled, and mail notifications.

use rusqlite::{OptionalExtension, params};

use crate::platform::time::UnixTime;

use super::{StoreError, Tx};

/// A queued Telegram message.
#[derive(Debug, Clone)]
pub struct TelegramOut {
    /// Its row.
    pub id: i64,
    /// The chat it goes to.
    pub chat_id: i64,
    /// The text (HTML parse mode).
    pub text: String,
    /// `reply_markup` JSON, if any.
    pub markup: Option<String>,
    /// Attempts so far.
    pub attempts: i64,
}

/// A mail the operator is told of on Telegram.
#[derive(Debug, Clone, Default)]
pub struct Notification {
    /// Its row (0 before it is recorded).
    pub id: i64,
    /// The Gmail message id (each is notified once).
    pub gmail_id: String,
    /// The sender's address.
    pub sender: String,
    /// The subject.
    pub subject: String,
    /// The first lines of the trimmed text.
    pub excerpt: String,
    /// When it was recorded.
    pub created_at: UnixTime,
    /// Whether quiet hours held it.
    pub held: bool,
}

impl Tx<'_> {
    /// Queue a Telegram message; `markup` is the `reply_markup` JSON (inline buttons).
    pub fn enqueue_telegram(
        &self,
        chat_id: i64,
        text: &str,
        markup: Option<&str>,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.enqueue_telegram_kind("bot", chat_id, text, markup, now)
    }

    /// Queue a Telegram message of a kind (`bot`, `notify`), counted by [`Tx::telegram_queued_since`].
    pub fn enqueue_telegram_kind(
        &self,
        kind: &str,
        chat_id: i64,
        text: &str,
        markup: Option<&str>,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO telegram_outbox (kind, chat_id, text, markup, next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![kind, chat_id, text, markup, now],
            )
            .map(drop)
            .map_err(self.err(format!("cannot queue a Telegram message to {chat_id}")))
    }

    /// Telegram messages due to be sent, oldest first.
    pub fn due_telegram(&self, now: UnixTime) -> Result<Vec<TelegramOut>, StoreError> {
        let mut stmt = self
            .tx
            .prepare("SELECT id, chat_id, text, markup, attempts FROM telegram_outbox WHERE state = 'pending' AND next_attempt_at <= ?1 ORDER BY id LIMIT 100")
            .map_err(self.err("cannot read the Telegram outbox"))?;
        let rows = stmt
            .query_map([now], |r| {
                Ok(TelegramOut {
                    id: r.get(0)?,
                    chat_id: r.get(1)?,
                    text: r.get(2)?,
                    markup: r.get(3)?,
                    attempts: r.get(4)?,
                })
            })
            .and_then(Iterator::collect)
            .map_err(self.err("cannot read the Telegram outbox"))?;
        Ok(rows)
    }

    /// Record an attempt at sending a Telegram message: sent, to be retried at `retry_at`, or
    /// failed for good (`retry_at` None).
    pub fn telegram_attempt(
        &self,
        id: i64,
        outcome: Result<(), (&str, Option<UnixTime>)>,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let result = match outcome {
            Ok(()) => self.tx.execute(
                "UPDATE telegram_outbox SET state = 'sent', attempts = attempts + 1, sent_at = ?2, last_error = NULL WHERE id = ?1",
                params![id, now],
            ),
            Err((error, Some(at))) => self.tx.execute(
                "UPDATE telegram_outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3 WHERE id = ?1",
                params![id, error, at],
            ),
            Err((error, None)) => self.tx.execute(
                "UPDATE telegram_outbox SET state = 'failed', attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
                params![id, error],
            ),
        };
        result
            .map(drop)
            .map_err(self.err(format!("cannot record Telegram message {id}")))
    }

    /// Remember a handled update; false when it was handled before (delivered again because
    /// the offset was not stored).
    pub fn telegram_update_new(&self, update_id: i64, now: UnixTime) -> Result<bool, StoreError> {
        // Telegram keeps an update for 24 hours at most: older ids cannot come again.
        self.tx
            .execute(
                "DELETE FROM telegram_updates WHERE handled_at < ?1",
                [now.saturating_sub(2 * 86_400)],
            )
            .map_err(self.err("cannot prune Telegram updates"))?;
        self.tx
            .execute(
                "INSERT OR IGNORE INTO telegram_updates (update_id, handled_at) VALUES (?1, ?2)",
                params![update_id, now],
            )
            .map(|n| n == 1)
            .map_err(self.err(format!("cannot record Telegram update {update_id}")))
    }

    /// Telegram messages of `kind` queued since `since` (to one chat: each counts once).
    pub fn telegram_queued_since(
        &self,
        kind: &str,
        chat_id: i64,
        since: UnixTime,
    ) -> Result<i64, StoreError> {
        self.tx
            .query_row(
                "SELECT COUNT(*) FROM telegram_outbox WHERE kind = ?1 AND chat_id = ?2 AND created_at >= ?3",
                params![kind, chat_id, since],
                |r| r.get(0),
            )
            .map_err(self.err("cannot count Telegram messages"))
    }

    /// Record a mail to notify the operator of; false when it was recorded before.
    pub fn add_notification(&self, n: &Notification, now: UnixTime) -> Result<bool, StoreError> {
        self.tx
            .execute(
                "INSERT OR IGNORE INTO notifications (gmail_id, sender, subject, excerpt, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![n.gmail_id, n.sender, n.subject, n.excerpt, now],
            )
            .map(|n| n == 1)
            .map_err(self.err(format!("cannot record notification of {}", n.gmail_id)))
    }

    /// Notifications not yet queued for Telegram, oldest first.
    pub fn pending_notifications(&self) -> Result<Vec<Notification>, StoreError> {
        let mut stmt = self
            .tx
            .prepare("SELECT id, gmail_id, sender, subject, excerpt, created_at, held FROM notifications WHERE queued_at IS NULL ORDER BY id")
            .map_err(self.err("cannot read notifications"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Notification {
                    id: r.get(0)?,
                    gmail_id: r.get(1)?,
                    sender: r.get(2)?,
                    subject: r.get(3)?,
                    excerpt: r.get(4)?,
                    created_at: r.get(5)?,
                    held: r.get(6)?,
                })
            })
            .and_then(Iterator::collect)
            .map_err(self.err("cannot read notifications"))?;
        Ok(rows)
    }

    /// Hold every pending notification (quiet hours): they go out as one summary after.
    pub fn hold_notifications(&self) -> Result<(), StoreError> {
        self.tx
            .execute(
                "UPDATE notifications SET held = 1 WHERE queued_at IS NULL AND held = 0",
                [],
            )
            .map(drop)
            .map_err(self.err("cannot hold notifications"))
    }

    /// Mark notifications queued for Telegram.
    pub fn notifications_queued(&self, ids: &[i64], now: UnixTime) -> Result<(), StoreError> {
        for id in ids {
            self.tx
                .execute(
                    "UPDATE notifications SET queued_at = ?2 WHERE id = ?1",
                    params![id, now],
                )
                .map_err(self.err(format!("cannot mark notification {id}")))?;
        }
        Ok(())
    }

    /// Whether an update was handled before.
    pub fn telegram_update_handled(&self, update_id: i64) -> Result<bool, StoreError> {
        self.tx
            .query_row(
                "SELECT 1 FROM telegram_updates WHERE update_id = ?1",
                [update_id],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(self.err(format!("cannot read Telegram update {update_id}")))
    }

    /// Count a message from someone who is not an operator; true when it should be logged
    /// (the first from this sender in `quiet` seconds).
    pub fn telegram_refusal(
        &self,
        sender: i64,
        quiet: i64,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        // Anyone can write to the bot: a sender quiet for longer than `quiet` is forgotten
        // (it would be logged again either way), so strangers do not grow the table.
        self.tx
            .execute(
                "DELETE FROM telegram_refusals WHERE last_logged_at < ?1",
                [now.saturating_sub(quiet)],
            )
            .map_err(self.err("cannot prune Telegram refusals"))?;
        let last: Option<i64> = self
            .tx
            .query_row(
                "SELECT last_logged_at FROM telegram_refusals WHERE sender = ?1",
                [sender],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("cannot read Telegram refusals"))?;
        let log = last.is_none_or(|at| now - at >= quiet);
        self.tx
            .execute(
                "INSERT INTO telegram_refusals (sender, count, last_logged_at) VALUES (?1, 1, ?2) ON CONFLICT(sender) DO UPDATE SET count = count + 1, last_logged_at = CASE WHEN ?3 THEN ?2 ELSE last_logged_at END",
                params![sender, now, log],
            )
            .map_err(self.err("cannot record a Telegram refusal"))?;
        Ok(log)
    }
}
