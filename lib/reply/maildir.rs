//! The reply Maildir (docs/wire-formats.md): every message in `new/` is read once, recorded once
//! (Message-ID and content hash are unique in the database), judged, and moved to `cur/` only
//! after its record commits. Nothing is deleted; an unreadable mail is recorded and kept.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::core::alerts::{self, Alert};
use crate::core::decide::{self, Decider, Decision};
use crate::core::journal::Kind;
use crate::core::request::hex;
use crate::core::state::State;
use crate::core::store::{ReplyRecord, RequestRow, Store, StoreError, TaskOrigin, Tx};
use crate::core::{agent, command, outbox, request, task};
use crate::platform::atomic::{self, FileError, Untrusted};
use crate::platform::config::Config;
use crate::platform::ids::RequestId;
use crate::platform::time;
use crate::reply::intent::{self, Intent, Verdict};
use crate::reply::trim;
use crate::reply::{self, Reply};

/// What one intake did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Counts {
    /// Replies that decided or asked something.
    pub accepted: usize,
    /// Replies that did not count, each recorded with its reason.
    pub refused: usize,
    /// Mails that could not be parsed (kept).
    pub unreadable: usize,
    /// Mails seen before.
    pub duplicates: usize,
}

/// A reply judged against the state.
#[derive(Debug)]
pub enum Judgement {
    /// It counts: this request, this verdict on this trimmed text.
    Accepted {
        /// The request answered.
        row: Box<RequestRow>,
        /// What the operator meant.
        verdict: Verdict,
        /// The reply's own words.
        text: String,
    },
    /// It came from the operator for a request waiting for a decision, but at or after the
    /// deadline: it does not count, and the request expires.
    Late {
        /// The request answered.
        row: Box<RequestRow>,
        /// The reply's own words.
        text: String,
    },
    /// A new mail (no reply) from an operator, passing every check a reply must, whose
    /// subject or first line is `run ACTION name=value …`: the operator's own command.
    Command {
        /// The words after `run`.
        args: String,
    },
    /// A new mail (no reply, no `run` command) from an operator, passing every check a
    /// command must, with tasks on: a task for the admin agent.
    Task {
        /// The subject and the trimmed text.
        words: String,
    },
    /// It does not count, and why.
    Refused {
        /// The request it seemed to answer, if any.
        request: Option<RequestId>,
        /// Why it does not count.
        reason: String,
    },
}

/// Read every new reply. A mail that cannot be moved to `cur/` under its own name (too long
/// for the flags, say) is moved under a short one; one that cannot be moved at all is logged
/// and left, and the pass goes on: the next pass knows it by its content and does not count it
/// again.
pub fn intake(config: &Config, store: &mut Store) -> Result<Counts, FileError> {
    let maildir = config.paths.maildir();
    let new = maildir.join("new");
    let mut names: Vec<OsString> = match std::fs::read_dir(&new) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| !n.as_bytes().starts_with(b"."))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Counts::default()),
        Err(e) => return Err(FileError::new("cannot list reply Maildir", &new, e)),
    };
    names.sort();
    let mut counts = Counts::default();
    for name in names {
        let path = new.join(&name);
        let shown = name.to_string_lossy();
        match one(config, store, &path, &shown, &mut counts) {
            Ok(()) => {
                if let Err(e) = to_cur(&maildir, &path, &name) {
                    log::error!("{e}; the mail stays in new/ and counts once");
                }
            }
            Err(e) => log::error!(
                "reply {}: {e}; it stays in new/ for the next pass",
                path.display()
            ),
        }
    }
    Ok(counts)
}

fn one(
    config: &Config,
    store: &mut Store,
    path: &Path,
    name: &str,
    counts: &mut Counts,
) -> Result<(), StoreError> {
    let limit = config.replies.max_bytes.get();
    let raw = match atomic::read_untrusted(path, limit) {
        Ok(Untrusted::File(raw)) => raw,
        Ok(Untrusted::TooLarge(size)) => format!("too large: {size} bytes").into_bytes(),
        Ok(Untrusted::NotRegular(what)) => format!("not a regular file: {what}").into_bytes(),
        Err(e) => format!("unreadable: {e}").into_bytes(),
    };
    let hash = hex(&Sha256::digest(&raw));
    let parsed = reply::parse(&raw);
    let help = match &parsed {
        Some(reply) => agent_help(config, store, reply)?,
        None => AgentHelp::default(),
    };
    let now = time::now();
    // A command is checked and simulated before the transaction (a simulation may take
    // seconds), and only for a mail that passes every check a reply must: a stranger's mail
    // never costs one.
    let prepared = parsed
        .as_ref()
        .filter(|reply| {
            who_may_speak(config, reply).is_ok() && command_checks(config, reply, now).is_ok()
        })
        .and_then(|reply| Some((command_words(reply)?, reply.from.clone()?)))
        .map(|(args, from)| command::prepare(config, &from, &args));
    store.write(|tx| {
        let message_id = parsed.as_ref().and_then(|r| r.message_id.clone());
        // Claimed ids are those of replies that counted: a refused mail never takes one.
        if tx.reply_seen(message_id.as_deref(), &hash)? {
            log::warn!("reply {name} was delivered before; it counts once");
            counts.duplicates += 1;
            return Ok(());
        }
        let mut record = ReplyRecord {
            message_id: None,
            mail_message_id: message_id.as_deref(),
            content_hash: &hash,
            file: name,
            sender: parsed.as_ref().and_then(|r| r.from.as_deref()),
            request_id: None,
            outcome: "unreadable",
            reason: "not a mail message",
            intent: None,
            text: None,
            now,
        };
        let Some(reply) = &parsed else {
            counts.unreadable += 1;
            log::warn!("reply {name} is not a readable mail; kept in cur/ and recorded");
            return tx.insert_reply(&record);
        };
        match judge(tx, config, reply)? {
            Judgement::Refused { request, reason } => {
                counts.refused += 1;
                let request_text = request.as_ref().map(ToString::to_string);
                record.request_id = request_text.as_deref();
                record.outcome = "refused";
                record.reason = &reason;
                tx.insert_reply(&record)?;
                if let Some(id) = &request {
                    tx.note(
                        id,
                        Kind::ReplyRefused,
                        "broker",
                        &format!(
                            "a reply from {} did not count: {reason}",
                            record.sender.unwrap_or("?")
                        ),
                        now,
                    )?;
                }
                // A mail that would start work (a command, or a task with tasks on).
                let command = reply.from_one_of(&operator_addresses(config))
                    && request.is_none()
                    && (command_words(reply).is_some()
                        || (task::enabled(config) && is_new_mail(reply)));
                if is_forged(&reason, request.is_some() || command) {
                    let what = if command { "command mail" } else { "reply" };
                    let about = request.as_ref().map_or(String::new(), |id| format!(" about {id}"));
                    let sender = record.sender.unwrap_or("(no sender)");
                    // Nothing ran, so it waits out quiet hours (below critical_level); one per
                    // window for all senders, since anyone can send them.
                    alerts::raise(
                        tx,
                        config,
                        &Alert::suite(
                            if command { "command-forged" } else { "reply-forged" },
                            10,
                            "the reply Maildir",
                            &format!("a forged {what}{about} from {sender}: {reason}"),
                            &format!("Mail {name} in the reply Maildir; it counted for nothing."),
                            now,
                        ),
                        now,
                    )?;
                }
                if command {
                    // A mail that would start work: its own event, answered to nobody.
                    let kind = Kind::CommandRefused;
                    log::warn!(
                        message_id = kind.message_id(),
                        clawdbot_event = kind.name();
                        "command mail {name} from {} refused: {reason}",
                        record.sender.unwrap_or("?")
                    );
                } else {
                    log::warn!(
                        "reply {name} from {} does not count: {reason}",
                        record.sender.unwrap_or("?")
                    );
                }
                Ok(())
            }
            Judgement::Command { args } => {
                let sender = record.sender.unwrap_or("?");
                let prepared = match &prepared {
                    Some(Ok(prepared)) => prepared,
                    Some(Err(why)) => {
                        counts.refused += 1;
                        record.outcome = "refused";
                        record.reason = why;
                        // It passed every check of a command: a copy of it counts for nothing.
                        record.message_id = record.mail_message_id;
                        tx.insert_reply(&record)?;
                        let kind = Kind::CommandRefused;
                        log::warn!(
                            message_id = kind.message_id(),
                            clawdbot_event = kind.name();
                            "command mail {name} from {sender} not run: {why}"
                        );
                        let shown: String = args.chars().take(60).collect();
                        let subject = format!("Not run: run {}", request::header_safe(&shown));
                        return outbox::mail_notice(tx, config, "command", &subject, why, now)
                            .map(drop);
                    }
                    // Judged as a command but not prepared as one: never run unchecked.
                    None => {
                        counts.refused += 1;
                        record.outcome = "refused";
                        record.reason = "the command was not checked";
                        return tx.insert_reply(&record);
                    }
                };
                counts.accepted += 1;
                let (row, subject, text, ask) =
                    match command::file(tx, config, sender, "mail", prepared, now)? {
                        command::Filed::Approved(row) => {
                            let text = format!(
                                "Running {} (hash {}), as you asked: {}\nThe outcome follows in this thread.",
                                row.id,
                                row.hash,
                                row.runs()
                            );
                            (row, "Running", text, false)
                        }
                        command::Filed::Confirm(row) => {
                            let text = format!(
                                "{} is {} risk, at or above [operator] confirm_from: nothing runs until you reply CONFIRM (or APPROVE) to this mail; DENY drops it.",
                                row.id, row.risk
                            );
                            (row, "Confirm to run", text, true)
                        }
                    };
                let request = row.id.to_string();
                record.request_id = Some(&request);
                record.outcome = "accepted";
                record.message_id = record.mail_message_id;
                record.reason = "the operator's command";
                record.intent = Some("command");
                record.text = Some(&args);
                tx.insert_reply(&record)?;
                outbox::mail_thread(tx, &row, subject, &text, record.message_id, ask, now)
            }
            Judgement::Task { words } => {
                let sender = record.sender.unwrap_or("?");
                // It passed every check of a command: a copy of it counts for nothing.
                record.message_id = record.mail_message_id;
                record.text = Some(&words);
                let Some(message_id) = record.mail_message_id else {
                    counts.refused += 1;
                    record.outcome = "refused";
                    record.reason = "it has no Message-ID";
                    return tx.insert_reply(&record);
                };
                let origin = TaskOrigin::Mail {
                    message_id: message_id.to_string(),
                    subject: parsed.as_ref().map(|r| r.subject.clone()).unwrap_or_default(),
                };
                if let Some(why) = task::problem(&words) {
                    counts.refused += 1;
                    record.outcome = "refused";
                    record.reason = &why;
                    tx.insert_reply(&record)?;
                    return task::tell(tx, ("Not queued", &origin), &why, now);
                }
                let (id, ahead) =
                    task::file(tx, &format!("mail:{sender}"), &origin, &words, now)?;
                counts.accepted += 1;
                record.outcome = "accepted";
                record.reason = "the operator's task";
                record.intent = Some("task");
                tx.insert_reply(&record)?;
                let queued = match ahead {
                    0 => "queued; it starts now. The answer follows in this thread.".to_string(),
                    n => format!("queued, after {n} other task(s); one runs at a time. The answer follows in this thread."),
                };
                task::tell(tx, (&id, &origin), &queued, now)
            }
            Judgement::Late { row, text } => {
                counts.refused += 1;
                let request = row.id.to_string();
                let reason = format!(
                    "too late: the deadline {} had passed",
                    time::rfc3339(row.deadline_at)
                );
                record.request_id = Some(&request);
                record.outcome = "refused";
                record.reason = &reason;
                tx.insert_reply(&record)?;
                log::warn!(
                    "reply {name} from {} for {request} does not count: {reason}; the request expires",
                    record.sender.unwrap_or("?")
                );
                let by = Decider {
                    actor: record.sender.unwrap_or("?"),
                    words: &text,
                    message_id: record.mail_message_id,
                    answer: None,
                };
                decide::late(tx, config, &row, &by, now)
            }
            Judgement::Accepted { row, verdict, text } => {
                counts.accepted += 1;
                let verdict = help.adjust(verdict);
                let reason = verdict.reasons.join("; ");
                let request = row.id.to_string();
                record.request_id = Some(&request);
                record.outcome = "accepted";
                record.message_id = record.mail_message_id;
                record.reason = &reason;
                record.intent = Some(verdict.intent.as_str());
                record.text = Some(&text);
                tx.insert_reply(&record)?;
                let by = Decider {
                    actor: record.sender.unwrap_or("?"),
                    words: &text,
                    message_id: record.message_id,
                    answer: help.answer.as_deref(),
                };
                decide::apply(tx, config, &row, decision(verdict.intent), &by, now).map(|_| ())
            }
        }
    })
}

/// What the admin agent added to a reply, asked before the transaction (it may take minutes).
#[derive(Debug, Default)]
struct AgentHelp {
    /// Its answer to the operator's question.
    answer: Option<String>,
    /// Its reading of a reply the rules found unclear, with its reason.
    reading: Option<(Intent, String)>,
}

impl AgentHelp {
    /// Only an unclear verdict is open to the agent's reading, and the agent never approves:
    /// its reading of an approval stays unclear and the operator is asked again, since only
    /// the operator's own unambiguous words approve (docs/state-machine.md).
    fn adjust(&self, mut verdict: Verdict) -> Verdict {
        let Some((intent, why)) = self
            .reading
            .clone()
            .filter(|_| verdict.intent == Intent::Unclear)
        else {
            return verdict;
        };
        if intent == Intent::Approve {
            verdict.reasons.push(format!("the admin agent read it as approval ({why}); only the operator's own clear APPROVE approves"));
            return verdict;
        }
        verdict.reasons.push(format!(
            "the admin agent read it as {} ({why})",
            intent.as_str()
        ));
        verdict.intent = intent;
        verdict.rule = format!("the admin agent's reading ({})", intent.as_str());
        verdict
    }
}

/// Ask the admin agent, where one is configured, to answer a question or read an unclear
/// reply. Any failure leaves the built-in rules alone.
fn agent_help(config: &Config, store: &mut Store, reply: &Reply) -> Result<AgentHelp, StoreError> {
    let answering = agent::enabled(config, agent::Use::Answer);
    let reading = agent::enabled(config, agent::Use::Interpret);
    if !answering && !reading {
        return Ok(AgentHelp::default());
    }
    let Judgement::Accepted { row, verdict, text } = store.read(|tx| judge(tx, config, reply))?
    else {
        return Ok(AgentHelp::default());
    };
    let mut help = AgentHelp::default();
    match verdict.intent {
        Intent::Question if answering => {
            let task = "The operator asked a question about this request. Answer it for them in plain words. Answer with JSON: {\"answer\": \"...\"}.";
            match agent::ask(config, agent::Use::Answer, task, &row, Some(&text)) {
                Ok(a) => {
                    help.answer = a["answer"]
                        .as_str()
                        .or(a["text"].as_str())
                        .map(str::to_string)
                }
                Err(e) => log::warn!(
                    "request {}: {e}; the operator gets the full request instead",
                    row.id
                ),
            }
        }
        Intent::Unclear if reading => {
            let task = "Read the operator's reply to this approval request. Answer with JSON: \
                        {\"intent\": \"approve|deny|question|modify|unclear\", \"reason\": \"...\"}. Say approve only if they clearly approve.";
            match agent::ask(config, agent::Use::Interpret, task, &row, Some(&text)) {
                Ok(a) => {
                    let intent = match a["intent"].as_str() {
                        Some("approve") => Some(Intent::Approve),
                        Some("deny") => Some(Intent::Deny),
                        Some("question") => Some(Intent::Question),
                        Some("modify") => Some(Intent::Modify),
                        _ => None,
                    };
                    let why = a["reason"].as_str().unwrap_or("no reason given");
                    help.reading = intent.map(|i| (i, crate::core::request::excerpt(why)));
                }
                Err(e) => log::warn!("request {}: {e}; the reply stays unclear", row.id),
            }
        }
        _ => {}
    }
    Ok(help)
}

/// What an intent leads to: only an approval approves; a change or an unclear answer is
/// asked again.
pub fn decision(intent: Intent) -> Decision {
    match intent {
        Intent::Approve => Decision::Approve,
        Intent::Deny => Decision::Deny,
        Intent::Question => Decision::Question,
        Intent::Modify | Intent::Unclear => Decision::Clarify,
    }
}

/// The checks of docs/wire-formats.md ("Replies"), in order; the first that fails is the reason.
pub fn judge(tx: &Tx<'_>, config: &Config, reply: &Reply) -> Result<Judgement, StoreError> {
    // The request first, so that every refusal lands on the request's audit trail too.
    let text = trim::trim_reply(&reply.text);
    let request = find_request(tx, config, reply, &text)?;
    let refuse = |reason: String| {
        Ok(Judgement::Refused {
            request: request.clone(),
            reason,
        })
    };
    if let Err(why) = who_may_speak(config, reply) {
        return refuse(why);
    }
    let Some(id) = request.clone() else {
        if let Some(args) = command_words(reply) {
            return match command_checks(config, reply, time::now()) {
                Ok(()) => Ok(Judgement::Command { args }),
                Err(why) => refuse(why),
            };
        }
        if task::enabled(config) && is_new_mail(reply) {
            return match command_checks(config, reply, time::now()) {
                Ok(()) => Ok(Judgement::Task {
                    words: task_words(reply, &text),
                }),
                Err(why) => refuse(why),
            };
        }
        return refuse("it answers no mail the broker sent and carries no request key".into());
    };
    let Some(row) = tx.request(&id)? else {
        return refuse("the request is gone".into());
    };
    if row.state != State::PendingReply {
        return refuse(format!(
            "request is {}, not waiting for a decision",
            row.state
        ));
    }
    if time::now() >= row.deadline_at {
        return Ok(Judgement::Late {
            row: Box::new(row),
            text,
        });
    }
    let verdict = intent::read(
        &reply.bodies,
        &reading_context(config, reply, &id, &row.kind),
    );
    Ok(Judgement::Accepted {
        row: Box::new(row),
        verdict,
        text,
    })
}

/// The checks every mail that decides or starts anything passes, in order (docs/wire-formats.md,
/// "Replies"); the first that fails is the reason: not the suite's own mail, from one operator
/// address alone, not an automatic reply, and, where required, the topmost
/// `Authentication-Results` of the trusted server passing DMARC.
fn who_may_speak(config: &Config, reply: &Reply) -> Result<(), String> {
    let ours = config.mail.from.email.to_string().to_lowercase();
    if reply.from.as_deref() == Some(ours.as_str())
        || reply
            .message_id
            .as_deref()
            .is_some_and(|m| is_our_message_id(m, config))
    {
        return Err("the broker's own mail".into());
    }
    if !reply.from_one_of(&operator_addresses(config)) {
        return Err(format!(
            "sender {}{NOT_OPERATOR}",
            reply.from.as_deref().unwrap_or("(none)")
        ));
    }
    if let Some(why) = reply.auto_reply() {
        return Err(format!("an automatic reply ({why})"));
    }
    if !reply.single_from {
        return Err(TWO_FROMS.into());
    }
    if config.replies.require_authentication_results
        && let Err(why) = reply::authenticate(reply, &config.replies.trusted_authserv_id)
    {
        return Err(format!("{NOT_AUTHENTICATED}{why}"));
    }
    Ok(())
}

/// Whether a refused mail looks forged, so that the operator is alerted: someone else wrote
/// as an operator (unauthenticated, or with a second From), or a stranger answered a request.
/// Automatic replies and the operator's own late or unclear answers are not forgeries.
fn is_forged(reason: &str, about_something: bool) -> bool {
    reason.starts_with(NOT_AUTHENTICATED)
        || reason.starts_with(TWO_FROMS)
        || (about_something && reason.starts_with("sender ") && reason.ends_with(NOT_OPERATOR))
}

const NOT_AUTHENTICATED: &str = "not authenticated: ";
const TWO_FROMS: &str = "it has more than one From header or address";
const NOT_OPERATOR: &str = " is not an operator";

/// How old a command mail may be: a command starts work, so a copy of an old one, or one
/// held up for hours, must not.
const COMMAND_MAX_AGE: i64 = 3600;

/// What a command mail needs beyond a reply's checks, since it starts work from nothing and a
/// copy of it must not: authentication required, a Message-ID (the replay key), the suite's
/// own address in `To` or `Cc` (a DKIM-signed command to someone else, redelivered, is not
/// one), and a `Date` within the last hour.
fn command_checks(config: &Config, reply: &Reply, now: i64) -> Result<(), String> {
    if !config.replies.require_authentication_results {
        return Err(
            "[replies] require_authentication_results is off, and a command needs it".into(),
        );
    }
    if reply.message_id.is_none() {
        return Err("it has no Message-ID".into());
    }
    if !reply.single_headers {
        return Err("it has more than one To, Cc, Date, Message-ID or Subject header".into());
    }
    let ours = config.mail.from.email.to_string().to_lowercase();
    if !reply.addressed_to.contains(&ours) {
        return Err(format!("it is not addressed to {ours} (To or Cc)"));
    }
    match reply.date {
        Some(date) if date > now.saturating_add(300) => Err("its Date is in the future".into()),
        Some(date) if date < now.saturating_sub(COMMAND_MAX_AGE) => {
            Err("its Date is more than an hour old: send the command again".into())
        }
        Some(_) => Ok(()),
        None => Err("it has no Date".into()),
    }
}

/// The operators' addresses, as a reply's From is compared with them.
fn operator_addresses(config: &Config) -> Vec<String> {
    config
        .operator
        .emails
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// Whether a mail is new: it refers to no other, and is no forward (what a forward carries is
/// someone else's).
fn is_new_mail(reply: &Reply) -> bool {
    let subject = reply.subject.trim_start().to_lowercase();
    let forwarded = [
        "fwd:", "fw:", "wg:", "tr:", "doorst:", "rv:", "vs:", "rif:", "enc:", "i:",
    ]
    .iter()
    .any(|p| subject.starts_with(p));
    reply.refers_to.is_empty() && !forwarded
}

/// A task mail's words: its subject, then its own text (quotes and signature trimmed).
fn task_words(reply: &Reply, text: &str) -> String {
    [reply.subject.trim(), text.trim()]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The words after `run` of a new mail ([`is_new_mail`]) whose subject, or else first line, is
/// `run ACTION name=value …`.
fn command_words(reply: &Reply) -> Option<String> {
    if !is_new_mail(reply) {
        return None;
    }
    let first = reply.text.lines().map(str::trim).find(|l| !l.is_empty());
    [Some(reply.subject.trim()), first]
        .into_iter()
        .flatten()
        .find_map(|line| {
            let (verb, rest) = line.split_once(char::is_whitespace)?;
            verb.eq_ignore_ascii_case("run")
                .then(|| rest.trim().to_string())
        })
}

/// What a reply to request `id` is read against: the request, the operator's names (the
/// configured ones and the From display name), the configured boilerplate.
fn reading_context(
    config: &Config,
    reply: &Reply,
    id: &RequestId,
    action: &str,
) -> intent::Context {
    let mut names = config.operator.names.clone();
    names.extend(reply.from_name.clone());
    intent::Context {
        request: Some(id.to_string()),
        names,
        boilerplate: config.operator.boilerplate.clone(),
        subject: reply.subject.clone(),
        action: action.to_string(),
    }
}

fn is_our_message_id(id: &str, config: &Config) -> bool {
    let domain = config.mail.from.email.domain();
    id.ends_with(&format!("@{domain}")) && (id.starts_with("R-") || id.starts_with("digest-"))
}

/// The request a reply answers: through a mail we sent that it refers to (for a digest, the
/// one request id its text names), else through a plus-address key.
fn find_request(
    tx: &Tx<'_>,
    config: &Config,
    reply: &Reply,
    text: &str,
) -> Result<Option<RequestId>, StoreError> {
    for referred in reply.refers_to.iter().rev() {
        let about = tx.request_of_mail(referred)?;
        match about.as_slice() {
            [one] => return Ok(Some(one.clone())),
            [] => {}
            many => {
                let named: Vec<&RequestId> = many
                    .iter()
                    .filter(|id| text.to_uppercase().contains(id.as_str()))
                    .collect();
                return Ok(match named.as_slice() {
                    [one] => Some((*one).clone()),
                    _ => None,
                });
            }
        }
    }
    let user = config.mail.from.email.user().to_lowercase();
    for address in &reply.recipients {
        let key = address
            .split_once('@')
            .and_then(|(local, _)| local.strip_prefix(&format!("{user}+")))
            .map(str::to_uppercase);
        if let Some(key) = key
            && let Some(id) = tx.request_of_key(&key)?
        {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

fn to_cur(maildir: &Path, path: &Path, name: &OsStr) -> Result<(), FileError> {
    let cur = maildir.join("cur");
    let mut flagged = name.to_os_string();
    if !name.as_bytes().windows(3).any(|w| w == b":2,") {
        flagged.push(":2,S");
    }
    let moved = atomic::rename_new(path, &cur.join(&flagged)).or_else(|e| {
        // A name too long for the flags (or otherwise refused) is given a short one, named
        // by its content; the record keeps the original name.
        let short = format!(
            "{}.renamed:2,S",
            &hex(&Sha256::digest(name.as_bytes()))[..32]
        );
        log::warn!(
            "reply {}: cannot move to cur/ as it is ({e}); moved as {short}",
            name.to_string_lossy()
        );
        atomic::rename_new(path, &cur.join(short))
    });
    moved.map_err(|e| FileError::new("cannot move reply to cur/", path, e))?;
    atomic::sync_dir(&cur)
}
