//! What the channels must send, recorded in the transaction of the change it reports (the
//! outbox pattern: a message is exactly as durable as that change, and is sent after it
//! commits). The core writes here and never calls a channel; each channel reads its own rows:
//! the bridge its messages, mail and Telegram their drafts, which they compose before sending.

use crate::core::store::{Channel, Draft, RequestRow, StoreError, Tx};
use crate::platform::config::{Config, NO_OPERATOR};
use crate::platform::ids;
use crate::platform::time::UnixTime;

/// Record a message for the agent (its body from [`crate::core::message`]); the bridge signs
/// and delivers it. Returns its id.
pub fn tell_agent(
    tx: &Tx<'_>,
    config: &Config,
    body: &[u8],
    request: Option<&str>,
    now: UnixTime,
) -> Result<String, StoreError> {
    let id = ids::bridge_message_id()?;
    tx.insert_bridge_message(&id, request, &config.bridge.mode.to_string(), body, now)?;
    Ok(id)
}

/// A mail in a request's thread (an answer, a follow-up, a confirmation): numbered now, so
/// that its Message-ID is fixed, and composed by the mail channel before it is sent.
/// `in_reply_to` is the operator's mail being answered; `with_request` repeats the request
/// and how to answer, for mails that still ask for a decision.
pub fn mail_thread(
    tx: &Tx<'_>,
    row: &RequestRow,
    subject: &str,
    text: &str,
    in_reply_to: Option<&str>,
    with_request: bool,
    now: UnixTime,
) -> Result<(), StoreError> {
    let number = tx.next_mail_number(&row.id)?;
    tx.insert_draft(
        Channel::Mail,
        &Draft {
            kind: "notice".into(),
            request: Some(row.id.clone()),
            number: Some(number),
            subject: subject.into(),
            text: text.into(),
            in_reply_to: in_reply_to.map(Into::into),
            with_request,
            created_at: now,
            ..Draft::default()
        },
    )
}

/// A mail to the operators about no request (a watchdog incident, a job's report); `tag`
/// names the job in the subject, e.g. `watchdog` or `maint daily`. Returns whether it was
/// recorded: with no operator address there is no one to mail, which is logged and is not an
/// error, since the job's own work stands.
pub fn mail_notice(
    tx: &Tx<'_>,
    config: &Config,
    tag: &str,
    subject: &str,
    text: &str,
    now: UnixTime,
) -> Result<bool, StoreError> {
    if config.operator.emails.is_empty() {
        log::warn!("cannot mail the operator ({tag}): {NO_OPERATOR}");
        return Ok(false);
    }
    tx.insert_draft(
        Channel::Mail,
        &Draft {
            kind: tag.into(),
            subject: subject.into(),
            text: text.into(),
            created_at: now,
            ..Draft::default()
        },
    )?;
    Ok(true)
}

/// Confirm in the operator's Telegram chat what became of a request decided there; a request
/// decided elsewhere gets nothing.
pub fn telegram_confirm(
    tx: &Tx<'_>,
    row: &RequestRow,
    said: &str,
    now: UnixTime,
) -> Result<(), StoreError> {
    let chat = row
        .decided_by
        .as_deref()
        .and_then(|by| by.strip_prefix("telegram:"))
        .map(|who| who.rsplit_once(" in chat ").map_or(who, |(_, chat)| chat))
        .and_then(|id| id.parse::<i64>().ok());
    let Some(chat) = chat else { return Ok(()) };
    tx.insert_draft(
        Channel::Telegram,
        &Draft {
            kind: "confirm".into(),
            chat: Some(chat),
            text: format!("{}: {said}", row.id),
            created_at: now,
            ..Draft::default()
        },
    )
}
