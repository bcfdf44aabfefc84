//! One run of the bot: send what is queued, long-poll for updates, answer operators, store
//! the offset. Each update is handled in one transaction with its record in
//! `telegram_updates` and the new offset, so an update delivered again (the offset was not
//! stored when a run was killed) is never acted on twice.

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::api::{ApiError, Bot, Update};
use super::speaker::{self, Verdict};
use super::{TelegramError, format};
use crate::core::decide::{self, Decider, Decision};
use crate::core::journal::Kind;
use crate::core::state::State;
use crate::core::store::{Channel, TaskOrigin};
use crate::core::store::{RequestRow, Store, StoreError, Tx};
use crate::core::{agent, command, inspect, task};
use crate::platform::config::Config;
use crate::platform::credentials;
use crate::platform::ids::RequestId;
use crate::platform::time::{self, UnixTime};

const OFFSET: &str = "telegram.offset";
/// `BOT_ID:username`, from `getMe`.
const USERNAME: &str = "telegram.username";
/// No run before this time (after a failure), and the last wait, in seconds.
const BACKOFF_UNTIL: &str = "telegram.backoff_until";
const BACKOFF_SECS: &str = "telegram.backoff_secs";
/// The longest wait after failures, and after a configuration error.
const BACKOFF_MAX: i64 = 600;
/// How old a `/run` may be when the bot reads it, in seconds.
const RUN_MAX_AGE: i64 = 600;
/// A stranger is logged at most once in this many seconds.
const REFUSAL_QUIET: i64 = 600;

/// What starts the approved actions, given by the program (see [`run`]).
pub type CarryOut<'a> = &'a dyn Fn(&Config, &mut Store);

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
    /// Requests decided.
    pub decided: usize,
    /// Whether the run was skipped: it waits after a failure.
    pub skipped: bool,
}

/// One run: flush, poll once, handle, flush again. After a failure the following runs are
/// skipped for a growing while (5 s doubling to 10 min; Telegram's `retry_after`; 10 min after
/// a configuration error), so the 2-second timer never turns a lasting fault into a stream of
/// failures. `carry_out` starts what the operators approved in this run (the broker's
/// [`crate::broker::start_approved`]); a channel never calls the loop itself.
pub fn run(config: &Config, carry_out: CarryOut<'_>) -> Result<RunReport, TelegramError> {
    let mut store = Store::open(&config.paths.database())?;
    let now = time::now();
    let until = store.read(|tx| tx.setting(BACKOFF_UNTIL))?;
    let backing_off = until.is_some();
    if until
        .and_then(|u| u.parse::<i64>().ok())
        .is_some_and(|u| u > now)
    {
        return Ok(RunReport {
            skipped: true,
            ..RunReport::default()
        });
    }
    let result = serve(config, &mut store, carry_out);
    let wait = match &result {
        Ok(_) => None,
        Err(TelegramError::Api(ApiError::Busy { retry_after, .. })) => Some(
            i64::try_from(*retry_after)
                .unwrap_or(BACKOFF_MAX)
                .clamp(1, 3600),
        ),
        Err(TelegramError::Api(
            ApiError::Network { .. } | ApiError::Conflict { .. } | ApiError::Malformed { .. },
        )) => {
            let previous = store
                .read(|tx| tx.setting(BACKOFF_SECS))?
                .and_then(|s| s.parse::<i64>().ok())
                .unwrap_or(2);
            Some((previous * 2).clamp(5, BACKOFF_MAX))
        }
        Err(TelegramError::Store(_)) => None,
        Err(_) => Some(BACKOFF_MAX),
    };
    // Nothing to store after a good run without a backoff: the idle loop writes nothing.
    if wait.is_some() || backing_off {
        store.write(|tx| {
            let until = wait.map(|w| (now.saturating_add(w)).to_string());
            tx.set_setting(BACKOFF_UNTIL, until.as_deref())?;
            tx.set_setting(BACKOFF_SECS, wait.map(|w| w.to_string()).as_deref())
        })?;
    }
    result
}

fn serve(
    config: &Config,
    store: &mut Store,
    carry_out: CarryOut<'_>,
) -> Result<RunReport, TelegramError> {
    if config.telegram.operators.is_empty() {
        return Err(TelegramError::NoOperator);
    }
    let name = &config.telegram.token_credential;
    let token = credentials::read_configured(name)?;
    if !super::api::valid_token(token.expose().trim()) {
        return Err(TelegramError::BadToken(name.clone()));
    }
    let bot = Bot::new(config, token.expose().trim());
    let username = own_username(&bot, store, token.expose().trim())?;
    let mut report = RunReport::default();
    report.sent += flush(&bot, store)?;
    let offset = store
        .read(|tx| tx.setting(OFFSET))?
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0);
    let updates = bot.get_updates(offset, config.telegram.poll_timeout.get())?;
    report.updates = updates.len();
    for update in updates.iter().filter(|u| u.update_id >= offset) {
        handle(config, &bot, store, update, &username, &mut report)?;
    }
    if report.decided > 0 {
        carry_out(config, store);
    }
    task::kick(config, store);
    report.sent += flush(&bot, store)?;
    Ok(report)
}

/// Send every due message; a 429 or 5xx waits (`retry_after`), a refusal fails it for good.
fn flush(bot: &Bot, store: &mut Store) -> Result<usize, TelegramError> {
    compose_drafts(store)?;
    let mut sent = 0;
    for message in store.read(|tx| tx.due_telegram(time::now()))? {
        let markup: Option<Value> = message
            .markup
            .as_deref()
            .and_then(|m| serde_json::from_str(m).ok());
        let result = bot.send_message(message.chat_id, &message.text, markup.as_ref());
        let now = time::now();
        // Only Telegram's refusal of this message (a chat that does not exist, a bot the user
        // blocked) is final: anything else may pass later, and a queued alert must not be lost.
        let outcome = match &result {
            Ok(_) => Ok(()),
            Err(ApiError::Refused { .. }) => Err(None),
            Err(ApiError::Busy { retry_after, .. }) => Err(Some(
                now.saturating_add(i64::try_from(*retry_after).unwrap_or(3600).clamp(1, 3600)),
            )),
            Err(_) => Err(Some(now.saturating_add(backoff(message.attempts)))),
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
            Err(e @ ApiError::Refused { .. }) => log::warn!(
                "Telegram message {} to {} failed: {e}",
                message.id,
                message.chat_id
            ),
            // Nothing else will get through either: stop, and let a later run try.
            Err(e) => {
                log::warn!("Telegram message {} not sent yet: {e}", message.id);
                break;
            }
        }
    }
    Ok(sent)
}

fn backoff(attempts: i64) -> i64 {
    10 * 2_i64.pow(attempts.clamp(0, 8) as u32)
}

/// The bot's username, asked once per token (`getMe`) and kept: in a group, `/approve@Other`
/// is addressed to another bot and must not be obeyed by this one.
fn own_username(bot: &Bot, store: &mut Store, token: &str) -> Result<String, TelegramError> {
    let bot_id = token.split_once(':').map_or("", |(id, _)| id);
    let cached = store.read(|tx| tx.setting(USERNAME))?;
    if let Some(name) = cached
        .as_deref()
        .and_then(|c| c.split_once(':'))
        .filter(|(id, _)| *id == bot_id)
        .map(|(_, name)| name.to_string())
    {
        return Ok(name);
    }
    let name = bot.username()?;
    store.write(|tx| tx.set_setting(USERNAME, Some(&format!("{bot_id}:{name}"))))?;
    Ok(name)
}

/// Whether a command names a bot (`/cmd@name`) other than this one.
fn addressed_elsewhere(text: &str, username: &str) -> bool {
    let head = text.trim().split(char::is_whitespace).next().unwrap_or("");
    head.starts_with('/')
        && head
            .split_once('@')
            .is_some_and(|(_, to)| !to.eq_ignore_ascii_case(username))
}

fn handle(
    config: &Config,
    bot: &Bot,
    store: &mut Store,
    update: &Update,
    username: &str,
    report: &mut RunReport,
) -> Result<(), TelegramError> {
    let now = time::now();
    let next = update.update_id.saturating_add(1).to_string();
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
        Verdict::Said { text, .. } if addressed_elsewhere(text, username) => {
            log::info!(
                "Telegram update {}: a command for another bot; ignored",
                update.update_id
            );
            store.write(|tx| tx.set_setting(OFFSET, Some(&next)))?;
        }
        Verdict::Said { user, chat, text } => {
            // Delivered again: nothing to do but move past it (and never ask the agent twice).
            if store.read(|tx| tx.telegram_update_handled(update.update_id))? {
                store.write(|tx| tx.set_setting(OFFSET, Some(&next)))?;
                return Ok(());
            }
            let shown = read_only(config, store, text);
            let who = actor(user, chat);
            // Checked and simulated before the transaction: a simulation may take seconds.
            // A command held up (the bot stopped for hours) starts nothing when it comes back.
            let sent = update.message.as_ref().map_or(0, |m| m.date);
            let prepared = match parse(text) {
                ("/run", _) if sent < now.saturating_sub(RUN_MAX_AGE) => Some(Err(format!(
                    "Not run: this /run was sent at {}, more than {} minutes ago. Send it again if you still want it.",
                    time::rfc3339(sent),
                    RUN_MAX_AGE / 60
                ))),
                ("/run", args) => Some(command::prepare(config, &who, args)),
                _ => None,
            };
            let decided = store.write(|tx| {
                tx.set_setting(OFFSET, Some(&next))?;
                if !tx.telegram_update_new(update.update_id, now)? {
                    return Ok(false);
                }
                let (answer, decided) = match (shown, &prepared) {
                    (Some(text), _) => (text, false),
                    (None, Some(prepared)) => run_command(tx, config, &who, chat, prepared, now)?,
                    (None, None) if parse(text).0 == "/task" => (
                        task_command(tx, config, (user, chat), parse(text).1, sent, now)?,
                        false,
                    ),
                    (None, None) => command(tx, config, &who, text, now)?,
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
                let (answer, decided) = button(tx, config, &actor(user, chat), data, now)?;
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
            Ok(rows) => inspect::status_table(&rows, time::now()),
            Err(e) => e.to_string(),
        },
        _ if !name.starts_with('/') => free_text(config, text),
        // Whole, in as many messages as it takes: what is approved must be seen entire.
        "/show" => match inspect::show(store, args.trim()) {
            Ok(shown) => inspect::show_text(&shown, config),
            Err(e) => e.to_string(),
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
        Ok(answer) => clip(&answer),
        Err(e) => {
            log::warn!("the admin agent did not answer a Telegram question: {e}");
            format!("The admin agent did not answer: {e}")
        }
    }
}

const HELP: &str = "clawdbot\n/status: open requests\n/show ID: one request, its exact action and hash\n/approve ID: carry it out, exactly as shown\n/deny ID [why]: refuse it; the agent is told why\n/run ACTION name=value …: run a configured action yourself (from [operator] confirm_from up, after you approve it)\n/task WORDS: ask the admin agent to do something on the server (one task at a time; the answer comes back here)\n/help: this";

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
    actor: &str,
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
            actor,
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
            decide(tx, config, actor, id, Decision::Deny, words, now)
        }
        _ => Ok((format!("Unknown command {name}.\n\n{HELP}"), false)),
    }
}

/// `/task WORDS`: a task for the admin agent, from an operator's private chat only, queued
/// for `clawdbot-task` ([`task::file`]); its answer comes back to this chat.
fn task_command(
    tx: &mut Tx<'_>,
    config: &Config,
    (user, chat): (i64, i64),
    words: &str,
    sent: UnixTime,
    now: UnixTime,
) -> Result<String, StoreError> {
    if !task::enabled(config) {
        return Ok("Tasks are off: [agent] needs a command, and \"task\" among its uses.".into());
    }
    if user != chat {
        return Ok("A task is asked for in a private chat with the bot, not in a group.".into());
    }
    if sent < now.saturating_sub(RUN_MAX_AGE) {
        return Ok(format!(
            "Not queued: this /task was sent at {}, more than {} minutes ago. Send it again if you still want it.",
            time::rfc3339(sent),
            RUN_MAX_AGE / 60
        ));
    }
    if let Some(why) = task::problem(words) {
        return Ok(format!("Not queued: {why}."));
    }
    let origin = TaskOrigin::Telegram { chat };
    match task::file(tx, &format!("telegram:{user}"), &origin, words.trim(), now) {
        Ok((id, 0)) => Ok(format!(
            "Task {id} queued; it starts now. The answer follows here."
        )),
        Ok((id, ahead)) => Ok(format!(
            "Task {id} queued, after {ahead} other{}; one runs at a time. The answer follows here.",
            if ahead == 1 { "" } else { "s" }
        )),
        Err(e) => Err(e),
    }
}

/// `/run ACTION name=value …`: the operator's own command, recorded as a request they filed
/// ([`command::file`]). Below `[operator] confirm_from` it is approved by the command itself
/// and runs now; from it up, the request is shown here with its hash and buttons, and runs
/// once an operator approves it. Returns the answer and whether a request was approved.
fn run_command(
    tx: &mut Tx<'_>,
    config: &Config,
    who: &str,
    chat: i64,
    prepared: &Result<command::Prepared, String>,
    now: UnixTime,
) -> Result<(String, bool), StoreError> {
    let prepared = match prepared {
        Ok(prepared) => prepared,
        Err(why) => return Ok((why.clone(), false)),
    };
    Ok(
        match command::file(tx, config, who, "Telegram", prepared, now)? {
            command::Filed::Approved(row) => (
                format!(
                    "Running {} (hash {}): {}\nThe outcome follows here.",
                    row.id,
                    short_hash(&row.hash),
                    row.runs()
                ),
                true,
            ),
            command::Filed::Confirm(row) => {
                let (text, markup) = alert(&row);
                tx.enqueue_telegram(chat, &format::escape(&text), markup.as_deref(), now)?;
                (
                    format!(
                        "{} is {} risk, at or above [operator] confirm_from: nothing runs until you approve it (the button above, or /approve {}).",
                        row.id, row.risk, row.id
                    ),
                    false,
                )
            }
        },
    )
}

/// A button: `approve:ID:KEY` or `deny:ID:KEY`, KEY binding it to the request's alert.
fn button(
    tx: &mut Tx<'_>,
    config: &Config,
    actor: &str,
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
        Some(row) if key == button_key(&row) => {
            let words = match decision {
                Decision::Approve => "approved from Telegram",
                _ => "denied from Telegram",
            };
            decide(tx, config, actor, id, decision, words, now)
        }
        _ => Ok(("That button does not match any request.".into(), false)),
    }
}

fn decide(
    tx: &mut Tx<'_>,
    config: &Config,
    actor: &str,
    id: &str,
    decision: Decision,
    words: &str,
    now: UnixTime,
) -> Result<(String, bool), StoreError> {
    let Some(parsed) = RequestId::parse(id) else {
        return Ok((
            format!("{id} is not a request id (R-YYYYMMDD-XXXX)."),
            false,
        ));
    };
    let Some(row) = tx.request(&parsed)? else {
        return Ok((format!("No request {parsed}."), false));
    };
    // As by mail and from the shell: only a request whose approval mail went out.
    if row.state != State::PendingReply {
        return Ok((
            format!("{parsed} is {}, not waiting for a decision.", row.state),
            false,
        ));
    }
    let by = Decider {
        actor,
        words,
        message_id: None,
        answer: None,
    };
    if decide::apply(tx, config, &row, decision, &by, now)? == decide::Applied::Late {
        return Ok((
            format!(
                "Too late: the deadline of {parsed} passed at {}. Nothing ran; the request expired and the agent is told.",
                crate::platform::time::rfc3339(row.deadline_at)
            ),
            true,
        ));
    }
    let answer = match decision {
        Decision::Approve => format!(
            "Approved {parsed} (hash {}): it runs now; the outcome follows here and by mail.",
            short_hash(&row.hash)
        ),
        _ if row.filed_by.is_some() => format!("Denied {parsed}. Nothing runs."),
        _ => format!("Denied {parsed}. Nothing runs; the agent is told."),
    };
    Ok((answer, true))
}

/// Queue plain text: split within Telegram's limit first, then each piece escaped (an entity
/// is never cut, and `&lt;` counts as one character to Telegram).
fn queue(tx: &Tx<'_>, chat: i64, text: &str, now: UnixTime) -> Result<(), StoreError> {
    for piece in format::split(text, format::LIMIT) {
        tx.enqueue_telegram(chat, &format::escape(piece), None, now)?;
    }
    Ok(())
}

/// The key a button carries: derived from the request's secret reply key, so that the mail
/// reply key itself is never shown in a chat.
fn button_key(row: &RequestRow) -> String {
    let digest = Sha256::digest(format!("telegram-button:{}", row.reply_key));
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
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
    let (text, markup) = alert(&row);
    let groups = telegram.chats.iter().filter(|_| telegram.allow_groups);
    for chat in telegram.operators.iter().chain(groups) {
        tx.enqueue_telegram(*chat, &format::escape(&text), markup.as_deref(), now)?;
    }
    Ok(())
}

/// A request waiting for a decision as Telegram shows it: what runs, its hash, a simulation
/// and the reasons for its risk (all the mail shows), with Approve / Deny buttons bound to it
/// when the whole of it fits in one message.
fn alert(row: &RequestRow) -> (String, Option<String>) {
    let action = match &row.argv {
        Some(argv) => serde_json::to_string(argv).unwrap_or_default(),
        None => row.details.clone().unwrap_or_default(),
    };
    // What the operator approves must be seen here as in the mail: a simulation (apt) and
    // the reasons for the risk too.
    let simulated = row
        .preview
        .as_deref()
        .map(|p| {
            format!(
                "\nSimulated: {}",
                crate::platform::apt::Stored::describe_json(p)
            )
        })
        .unwrap_or_default();
    let text = format!(
        "Request {} ({} risk)\nHash: {}\n{}\n\nRuns: {}{simulated}\nWhy: {}\nRisk: {}",
        row.id,
        row.risk,
        short_hash(&row.hash),
        row.summary,
        action,
        row.reason,
        row.risk_reasons.join("; "),
    );
    // Buttons only under the whole request: nothing may hide beyond a cut.
    if text.encode_utf16().count() > format::LIMIT {
        let cut = format!(
            "{}\n\nToo long for one message: /show {} shows it whole.",
            clip(&text),
            row.id
        );
        return (cut, None);
    }
    let key = button_key(row);
    let markup = json!({"inline_keyboard": [[
        {"text": "Approve", "callback_data": format!("approve:{}:{key}", row.id)},
        {"text": "Deny", "callback_data": format!("deny:{}:{key}", row.id)},
    ]]});
    (text, Some(markup.to_string()))
}

/// Who decided, as the audit names them: `telegram:USER`, or `telegram:USER in chat CHAT`
/// when it was in a group.
fn actor(user: i64, chat: i64) -> String {
    if user == chat {
        format!("telegram:{user}")
    } else {
        format!("telegram:{user} in chat {chat}")
    }
}

/// The confirmations the core left as drafts ([`crate::core::outbox::telegram_confirm`]), as
/// messages in the outbox, each in one transaction with the draft's removal.
fn compose_drafts(store: &mut Store) -> Result<(), StoreError> {
    for draft in store.read(|tx| tx.drafts(Channel::Telegram))? {
        store.write(|tx| {
            if !tx.take_draft(draft.id)? {
                return Ok(());
            }
            match draft.chat {
                Some(chat) => queue(tx, chat, &draft.text, draft.created_at),
                None => {
                    log::error!("Telegram draft {} names no chat; dropped", draft.id);
                    Ok(())
                }
            }
        })?;
    }
    Ok(())
}

fn short_hash(hash: &str) -> &str {
    hash.get(..16).unwrap_or(hash)
}

/// Keep a message within one Telegram message, marking the cut.
fn clip(text: &str) -> String {
    match format::split(text, format::LIMIT - 200).first() {
        Some(first) if first.len() < text.len() => format!("{first}\n… (cut)"),
        _ => text.to_string(),
    }
}
