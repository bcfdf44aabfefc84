//! Drafts: what the core asked a channel to send, before the channel composes it.

use rusqlite::params;

use crate::platform::ids::RequestId;
use crate::platform::time::UnixTime;

use super::{StoreError, Tx};

/// The channel a draft is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Mail to the operators.
    Mail,
    /// A Telegram message to one chat.
    Telegram,
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Channel::Mail => "mail",
            Channel::Telegram => "telegram",
        }
    }
}

/// A message waiting to be composed by its channel.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    /// Row id (ignored when recording).
    pub id: i64,
    /// `notice` for a mail in a request's thread; a job's tag (`watchdog`, `maint daily`) for
    /// a mail about no request; `confirm` for a Telegram confirmation.
    pub kind: String,
    /// The request a mail is about.
    pub request: Option<RequestId>,
    /// The mail's number in the request's thread (for its Message-ID).
    pub number: Option<i64>,
    /// The Telegram chat.
    pub chat: Option<i64>,
    /// The subject, without the channel's prefix.
    pub subject: String,
    /// The text, not yet escaped or formatted.
    pub text: String,
    /// The operator's Message-ID a mail answers.
    pub in_reply_to: Option<String>,
    /// Whether a thread mail repeats the request and how to answer.
    pub with_request: bool,
    /// When it was recorded.
    pub created_at: UnixTime,
}

impl Tx<'_> {
    /// Record a draft for `channel`.
    pub fn insert_draft(&self, channel: Channel, draft: &Draft) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO drafts (channel, kind, request_id, number, chat_id, subject, text, in_reply_to, with_request, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    channel.as_str(),
                    draft.kind,
                    draft.request.as_ref().map(RequestId::as_str),
                    draft.number,
                    draft.chat,
                    draft.subject,
                    draft.text,
                    draft.in_reply_to,
                    draft.with_request,
                    draft.created_at,
                ],
            )
            .map_err(self.err(format!("cannot record a {} draft ({})", channel.as_str(), draft.kind)))?;
        Ok(())
    }

    /// Every draft for `channel`, oldest first.
    pub fn drafts(&self, channel: Channel) -> Result<Vec<Draft>, StoreError> {
        let mut stmt = self
            .tx
            .prepare("SELECT id, kind, request_id, number, chat_id, subject, text, in_reply_to, with_request, created_at FROM drafts WHERE channel = ?1 ORDER BY id")
            .map_err(self.err("cannot read drafts"))?;
        let rows = stmt
            .query_map([channel.as_str()], |r| {
                let request: Option<String> = r.get(2)?;
                Ok(Draft {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    request: request.and_then(|r| RequestId::parse(&r)),
                    number: r.get(3)?,
                    chat: r.get(4)?,
                    subject: r.get(5)?,
                    text: r.get(6)?,
                    in_reply_to: r.get(7)?,
                    with_request: r.get(8)?,
                    created_at: r.get(9)?,
                })
            })
            .map_err(self.err("cannot read drafts"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("cannot read drafts"))
    }

    /// Take a draft for composing, in the transaction that records what it becomes; false if
    /// another run took it first.
    pub fn take_draft(&self, id: i64) -> Result<bool, StoreError> {
        let removed = self
            .tx
            .execute("DELETE FROM drafts WHERE id = ?1", [id])
            .map_err(self.err(format!("cannot remove draft {id}")))?;
        Ok(removed == 1)
    }
}
