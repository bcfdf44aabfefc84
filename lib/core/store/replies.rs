//! Replies: every mail read once, by Message-ID and content hash, and the Gmail messages fetched.

use rusqlite::params;

use crate::platform::time::UnixTime;

use super::{StoreError, Tx};

/// One reply mail as recorded.
#[derive(Debug, Clone)]
pub struct ReplyRecord<'a> {
    /// The Message-ID it claims: only a reply that counted claims one.
    pub message_id: Option<&'a str>,
    /// The Message-ID the mail carried, whoever sent it.
    pub mail_message_id: Option<&'a str>,
    /// SHA-256 of its bytes.
    pub content_hash: &'a str,
    /// Its Maildir file name.
    pub file: &'a str,
    /// The sender address.
    pub sender: Option<&'a str>,
    /// The request it answers.
    pub request_id: Option<&'a str>,
    /// `unreadable`, `refused` or `accepted`.
    pub outcome: &'a str,
    /// Why.
    pub reason: &'a str,
    /// The interpreted intent.
    pub intent: Option<&'a str>,
    /// The trimmed text.
    pub text: Option<&'a str>,
    /// When.
    pub now: UnixTime,
}

impl Tx<'_> {
    /// Whether a reply with this Message-ID or content hash was recorded before.
    pub fn reply_seen(
        &self,
        message_id: Option<&str>,
        content_hash: &str,
    ) -> Result<bool, StoreError> {
        self.tx
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM replies WHERE content_hash = ?1 OR (?2 IS NOT NULL AND message_id = ?2))",
                params![content_hash, message_id],
                |r| r.get(0),
            )
            .map_err(self.err("cannot look up replies"))
    }

    /// Record one reply mail and what became of it.
    pub fn insert_reply(&self, r: &ReplyRecord<'_>) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO replies (message_id, content_hash, file, received_at, sender, request_id, outcome, reason, intent, text, mail_message_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![r.message_id, r.content_hash, r.file, r.now, r.sender, r.request_id, r.outcome, r.reason, r.intent, r.text, r.mail_message_id],
            )
            .map_err(self.err(format!("cannot record reply {}", r.file)))?;
        Ok(())
    }

    /// Whether a Gmail message was handled before.
    pub fn gmail_seen(&self, id: &str) -> Result<bool, StoreError> {
        self.tx
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM gmail_messages WHERE id = ?1)",
                [id],
                |r| r.get(0),
            )
            .map_err(self.err("cannot look up Gmail messages"))
    }

    /// Record a Gmail message as handled, once.
    pub fn gmail_record(
        &self,
        id: &str,
        fetched: bool,
        reason: &str,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.tx
            .execute("INSERT OR IGNORE INTO gmail_messages (id, seen_at, fetched, reason) VALUES (?1, ?2, ?3, ?4)", params![id, now, fetched, reason])
            .map_err(self.err(format!("cannot record Gmail message {id}")))?;
        Ok(())
    }
}
