//! One run of the bot: send what is queued, long-poll for updates, answer operators, store
//! the offset. Each update is handled in one transaction with its record in
//! `telegram_updates` and the new offset, so an update delivered again (the offset was not
//! stored when a run was killed) is never acted on twice.

use serde::Serialize;
use serde_json::{Value, json};

use super::api::{ApiError, Bot, Update};
use super::speaker::{self, Verdict};
use super::{TelegramError, format};
use crate::config::Config;
use crate::decide::{self, Decider, Decision};
use crate::ids::RequestId;
use crate::journal::Kind;
use crate::state::State;
use crate::store::{RequestRow, Store, StoreError, Tx};
use crate::time::{self, UnixTime};
use crate::{agent, broker, credentials, inspect};

const OFFSET: &str = "telegram.offset";
/// A stranger is logged at most once in this many seconds.
const REFUSAL_QUIET: i64 = 600;

/// What a run did.
#[derive(Debug, Default, Serialize)]
pub struct RunReport {
    /// Messages sent.
    pub sent: usize,
    /// Updates received.
    pub updates: usize,
    /// Operator commands and buttons carried out.
    pub obeyed: usize,
    /// Updates refused (not an operator, forwarded…).
    pub refused: usize,
    /// Requests decided, after which a broker pass ran.
    pub decided: usize,
}

/// One run: flush, poll once, handle, flush again.
pub fn run(config: &Config) -> Result<RunReport, TelegramError> {
    if config.telegram.operators.is_empty() {
        return Err(TelegramError::NoOperator);
    }
    let name = &config.telegram.token_credential;
    let token = if name.starts_with('/') {
        credentials::read_private(std::path::Path::new(name))?
    } else {
        credentials::read(name)?
    };
    if !super::api::valid_token(token.expose().trim()) {
        return Err(TelegramError::BadToken(name.clone()));
    }
    let bot = Bot::new(config, token.expose().trim());
    let mut store = Store::open(&config.paths.database())?;
    let mut report = RunReport::default();
    report.sent += flush(&bot, &mut store)?;
    let offset = store
        .read(|tx| tx.setting(OFFSET))?
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0);
    let updates = bot.get_updates(offset, config.telegram.poll_timeout.get())?;
    report.updates = updates.len();
    for update in &updates {
        handle(config, &bot, &mut store, update, &mut report)?;
    }
    if report.decided > 0 {
        // Carry the decision out now, as `clawdbot approve` does, rather than at the sweep.
        if let Err(e) = broker::run(config) {
            log::warn!("the broker pass after a Telegram decision failed: {e}");
        }
    }
    report.sent += flush(&bot, &mut store)?;
    Ok(report)
}

/// Send every due message; a 429 or 5xx waits (`retry_after`), a refusal fails it for good.
fn flush(bot: &Bot, store: &mut Store) -> Result<usize, TelegramError> {
    let mut sent = 0;
    for message in store.read(|tx| tx.due_telegram(time::now()))? {
        let markup: Option<Value> = message
            .markup
            .as_deref()
            .and_then(|m| serde_json::from_str(m).ok());
        let result = bot.send_message(message.chat_id, &message.text, markup.as_ref());
        let now = time::now();
        let outcome = match &result {
            Ok(_) => Ok(()),
            Err(ApiError::Busy { retry_after, .. }) => {
                Err(Some(now + (*retry_after).max(1) as i64))
            }
            Err(ApiError::Network { .. }) => Err(Some(now + backoff(message.attempts))),
            Err(_) => Err(None),
        };
        let error = result.as_ref().err().map(ToString::to_string);
        store.write(|tx| {
            tx.telegram_attempt(
                message.id,
                outcome.map_err(|at| (error.as_deref().unwrap_or(""), at)),
                now,
            )
        })?;
        match result {
            Ok(_) => sent += 1,
            // Nothing else will get through either: stop, and let the next run try.
            Err(
                e @ (ApiError::Unauthorized | ApiError::Busy { .. } | ApiError::Network { .. }),
            ) => {
                log::warn!("Telegram message {} not sent yet: {e}", message.id);
                break;
            }
            Err(e) => log::warn!(
                "Telegram message {} to {} failed: {e}",
                message.id,
                message.chat_id
            ),
        }
    }
    Ok(sent)
}

fn backoff(attempts: i64) -> i64 {
    10 * 2_i64.pow(attempts.clamp(0, 8) as u32)
}

fn handle(
    config: &Config,
    bot: &Bot,
    store: &mut Store,
    update: &Update,
    report: &mut RunReport,
) -> Result<(), TelegramError> {
    let now = time::now();
    let next = (update.update_id + 1).to_string();
    match speaker::judge(&config.telegram, update) {
        Verdict::Refused { sender, why } => {
            report.refused += 1;
            let log = store.write(|tx| {
                tx.set_setting(OFFSET, Some(&next))?;
                tx.telegram_refusal(sender.unwrap_or(0), REFUSAL_QUIET, now)
            })?;
            if log {
                log::warn!(
                    message_id = Kind::TelegramRefused.message_id(),
                    clawdbot_event = Kind::TelegramRefused.name(),
                    clawdbot_sender = sender.unwrap_or(0);
                    "Telegram update {} from {} ignored: {why}",
                    update.update_id,
                    sender.map_or_else(|| "no sender".to_string(), |s| format!("user {s}"))
                );
            }
        }
        Verdict::Nothing => store.write(|tx| tx.set_setting(OFFSET, Some(&next)))?,
        Verdict::Said { user, chat, text } => {
            // Delivered again: nothing to do but move past it (and never ask the agent twice).
            if store.read(|tx| tx.telegram_update_handled(update.update_id))? {
                store.write(|tx| tx.set_setting(OFFSET, Some(&next)))?;
                return Ok(());
            }
            let shown = read_only(config, store, text);
            let decided = store.write(|tx| {
                tx.set_setting(OFFSET, Some(&next))?;
                if !tx.telegram_update_new(update.update_id, now)? {
                    return Ok(false);
                }
                let (answer, decided) = match shown {
                    Some(text) => (text, false),
                    None => command(tx, config, user, text, now)?,
                };
                queue(tx, chat, &answer, now)?;
                Ok(decided)
            })?;
            report.obeyed += 1;
            report.decided += usize::from(decided);
        }
        Verdict::Pressed {
            user,
            chat,
            query,
            data,
        } => {
            let outcome = store.write(|tx| {
                tx.set_setting(OFFSET, Some(&next))?;
                if !tx.telegram_update_new(update.update_id, now)? {
                    return Ok(None);
                }
                let (answer, decided) = button(tx, config, user, data, now)?;
                queue(tx, chat, &answer, now)?;
                Ok(Some((answer, decided)))
            })?;
            if let Some((answer, decided)) = outcome {
                report.obeyed += 1;
                report.decided += usize::from(decided);
                let short: String = answer.chars().take(190).collect();
                if let Err(e) = bot.answer_callback(query, &short) {
                    log::warn!("cannot answer a button press: {e}");
                }
            }
        }
    }
    Ok(())
}

/// The answer to a command that changes nothing (`/help`, `/status`, `/show ID`); None for
/// the others.
fn read_only(config: &Config, store: &Store, text: &str) -> Option<String> {
    let (name, args) = parse(text);
    Some(match name {
        "/start" | "/help" => HELP.to_string(),
        "/status" => match inspect::status(store) {
            Ok(rows) => format::escape(&inspect::status_table(&rows, time::now())),
            Err(e) => format::escape(&e.to_string()),
        },
        _ if !name.starts_with('/') => free_text(config, text),
        "/show" => match inspect::show(store, args.trim()) {
            Ok(shown) => format!(
                "<pre>{}</pre>",
                format::escape(&clip(&inspect::show_text(&shown, config)))
            ),
            Err(e) => format::escape(&e.to_string()),
        },
        _ => return None,
    })
}

/// Free text goes to the admin agent (`[agent]` with `answer` in its uses).
fn free_text(config: &Config, text: &str) -> String {
    if !agent::enabled(config, agent::Use::Answer) {
        return format!("No admin agent is configured to answer questions.\n\n{HELP}");
    }
    match agent::answer_operator(config, text) {
        Ok(answer) => format::escape(&clip(&answer)),
        Err(e) => {
            log::warn!("the admin agent did not answer a Telegram question: {e}");
            format::escape(&format!("The admin agent did not answer: {e}"))
        }
    }
}

const HELP: &str = "clawdbot\n/status: open requests\n/show ID: one request, its exact action and hash\n/approve ID: carry it out, exactly as shown\n/deny ID [why]: refuse it; the agent is told why\n/help: this";

/// Split `/cmd@botname args` into the command and the rest.
fn parse(text: &str) -> (&str, &str) {
    let text = text.trim();
    let (head, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let name = head.split_once('@').map_or(head, |(n, _)| n);
    (name, rest)
}

/// The commands that decide; returns the answer and whether a request was decided.
fn command(
    tx: &mut Tx<'_>,
    config: &Config,
    user: i64,
    text: &str,
    now: UnixTime,
) -> Result<(String, bool), StoreError> {
    let (name, args) = parse(text);
    let (id, why) = args
        .trim()
        .split_once(char::is_whitespace)
        .unwrap_or((args.trim(), ""));
    match name {
        "/approve" => decide(
            tx,
            config,
            user,
            id,
            Decision::Approve,
            "approved from Telegram",
            now,
        ),
        "/deny" => {
            let words = if why.trim().is_empty() {
                "denied from Telegram"
            } else {
                why.trim()
            };
            decide(tx, config, user, id, Decision::Deny, words, now)
        }
        _ => Ok((
            format!("Unknown command {}.\n\n{HELP}", format::escape(name)),
            false,
        )),
    }
}

/// A button: `approve:ID:KEY` or `deny:ID:KEY`, KEY binding it to the request's alert.
fn button(
    tx: &mut Tx<'_>,
    config: &Config,
    user: i64,
    data: &str,
    now: UnixTime,
) -> Result<(String, bool), StoreError> {
    let mut parts = data.splitn(3, ':');
    let (Some(verb), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(("That button is not one of mine.".into(), false));
    };
    let decision = match verb {
        "approve" => Decision::Approve,
        "deny" => Decision::Deny,
        _ => return Ok(("That button is not one of mine.".into(), false)),
    };
    let known = RequestId::parse(id)
        .map(|id| tx.request(&id))
        .transpose()?
        .flatten();
    match known {
        Some(row) if !key.is_empty() && row.reply_key.starts_with(key) => {
            let words = match decision {
                Decision::Approve => "approved from Telegram",
                _ => "denied from Telegram",
            };
            decide(tx, config, user, id, decision, words, now)
        }
        _ => Ok(("That button does not match any request.".into(), false)),
    }
}

fn decide(
    tx: &mut Tx<'_>,
    config: &Config,
    user: i64,
    id: &str,
    decision: Decision,
    words: &str,
    now: UnixTime,
) -> Result<(String, bool), StoreError> {
    let Some(parsed) = RequestId::parse(id) else {
        return Ok((
            format!(
                "{} is not a request id (R-YYYYMMDD-XXXX).",
                format::escape(id)
            ),
            false,
        ));
    };
    let Some(row) = tx.request(&parsed)? else {
        return Ok((format!("No request {parsed}."), false));
    };
    if !matches!(row.state, State::PendingReply | State::EmailSent) {
        return Ok((
            format!("{parsed} is {}, not waiting for a decision.", row.state),
            false,
        ));
    }
    let actor = format!("telegram:{user}");
    let by = Decider {
        actor: &actor,
        words,
        message_id: None,
        answer: None,
    };
    decide::apply(tx, config, &row, decision, &by, now)?;
    let answer = match decision {
        Decision::Approve => format!(
            "Approved {parsed} (hash {}): it runs now, and the outcome follows by mail.",
            short_hash(&row.hash)
        ),
        _ => format!("Denied {parsed}. Nothing runs; the agent is told."),
    };
    Ok((answer, true))
}

/// Queue an answer, split within Telegram's limit.
fn queue(tx: &Tx<'_>, chat: i64, text: &str, now: UnixTime) -> Result<(), StoreError> {
    for piece in format::split(text, format::LIMIT) {
        tx.enqueue_telegram(chat, piece, None, now)?;
    }
    Ok(())
}

/// The alert for a request now waiting for a decision, with Approve / Deny buttons, to every
/// operator's private chat and every allowed group (`[telegram] alerts`).
pub fn queue_alert(
    tx: &Tx<'_>,
    config: &Config,
    id: &RequestId,
    now: UnixTime,
) -> Result<(), StoreError> {
    let telegram = &config.telegram;
    if !telegram.alerts || telegram.operators.is_empty() {
        return Ok(());
    }
    // Once per request: a follow-up mail (after an unclear reply) is not alerted again.
    let Some(row) = tx.request(id)?.filter(|row| row.mails <= 1) else {
        return Ok(());
    };
    let action = match &row.argv {
        Some(argv) => serde_json::to_string(argv).unwrap_or_default(),
        None => row.details.clone().unwrap_or_default(),
    };
    let text = clip(&format!(
        "Request {} ({} risk)\n{}\n\nRuns: {}\nWhy: {}\nHash: {}",
        row.id,
        row.risk,
        row.summary,
        action,
        row.reason,
        short_hash(&row.hash)
    ));
    let key: String = row.reply_key.chars().take(20).collect();
    let markup = json!({"inline_keyboard": [[
        {"text": "Approve", "callback_data": format!("approve:{}:{key}", row.id)},
        {"text": "Deny", "callback_data": format!("deny:{}:{key}", row.id)},
    ]]})
    .to_string();
    let groups = telegram.chats.iter().filter(|_| telegram.allow_groups);
    for chat in telegram.operators.iter().chain(groups) {
        tx.enqueue_telegram(*chat, &format::escape(&text), Some(&markup), now)?;
    }
    Ok(())
}

/// Confirm an outcome in the private chat of the operator who decided from Telegram.
pub fn confirm(tx: &Tx<'_>, row: &RequestRow, said: &str, now: UnixTime) -> Result<(), StoreError> {
    let user = row
        .decided_by
        .as_deref()
        .and_then(|by| by.strip_prefix("telegram:"))
        .and_then(|id| id.parse::<i64>().ok());
    match user {
        Some(chat) => queue(
            tx,
            chat,
            &format::escape(&format!("{}: {said}", row.id)),
            now,
        ),
        None => Ok(()),
    }
}

fn short_hash(hash: &str) -> &str {
    hash.get(..16).unwrap_or(hash)
}

/// Keep a message within one Telegram message, marking the cut.
fn clip(text: &str) -> String {
    match format::split(text, format::LIMIT - 20).first() {
        Some(first) if first.len() < text.len() => format!("{first}\n… (cut)"),
        _ => text.to_string(),
    }
}
