//! One pass of the broker (docs/state-machine.md): take new requests from the spool,
//! record them, assess them, queue their approval mails, expire stale requests, and send what
//! the outbox holds. Each step commits before the next begins, so a pass killed anywhere is
//! finished by the next one.

use std::path::PathBuf;

use serde::Serialize;

use crate::channels::bridge::{self, BridgeError};
use crate::channels::mail::{self, MailError, Sender};
use crate::core::alerts as core_alerts;
use crate::core::journal;
use crate::core::journal::Kind;
use crate::core::request::{self, Accepted, Origin, Problem};
use crate::core::risk::Risk;
use crate::core::state::State;
use crate::core::store::RequestRow;
use crate::core::store::{Rejection, Store, StoreError, Tx};
use crate::core::{agent, decide, message, outbox, preview, task};
use crate::exec::{self, ExecError};
use crate::intake::alert;
use crate::intake::spool::{self, Entry};
use crate::platform::atomic::{self, FileError, Untrusted};
use crate::platform::config::Config;
use crate::platform::exit::{Exit, ExitStatus};
use crate::platform::failpoint;
use crate::platform::ids::{self, RandomError, RequestId};
use crate::platform::time::{self, UnixTime};
use crate::reply::maildir;
use serde_json::Value;

/// Requests recorded per transaction during intake.
const BATCH: usize = 500;
/// The most requests one digest mail lists.
const DIGEST_MAX: usize = 500;
/// The least time between two digests, so a steady trickle over the hourly limit does not
/// become one digest per pass.
const DIGEST_INTERVAL: i64 = 15 * 60;

/// When the agent was last told that its requests are rate limited.
const THROTTLE_NOTICE: &str = "broker.throttle_notice_at";
const ACTOR: &str = "broker";

/// Why a pass stopped.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The state database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file or directory could not be used.
    #[error(transparent)]
    File(#[from] FileError),
    /// The mail could not be built or the transport set up.
    #[error(transparent)]
    Mail(#[from] MailError),
    /// No random bytes.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The bridge failed.
    #[error(transparent)]
    Bridge(#[from] BridgeError),
    /// Running an approved action inline failed.
    #[error(transparent)]
    Exec(#[from] ExecError),
}

impl ExitStatus for BrokerError {
    fn exit(&self) -> Exit {
        match self {
            BrokerError::Store(e) => e.exit(),
            BrokerError::File(e) => e.exit_or(Exit::IoErr),
            BrokerError::Mail(e) => e.exit(),
            BrokerError::Random(_) => Exit::TempFail,
            BrokerError::Bridge(e) => e.exit(),
            BrokerError::Exec(e) => e.exit(),
        }
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct PassReport {
    /// New requests recorded.
    pub accepted: usize,
    /// Files that repeated a request already recorded.
    pub duplicates: usize,
    /// Files quarantined.
    pub rejected: usize,
    /// Approval mails queued.
    pub queued: usize,
    /// Digest mails queued.
    pub digests: usize,
    /// Mails handed to the transport.
    pub sent: usize,
    /// Mails that failed this time and wait for a retry.
    pub send_failures: usize,
    /// Requests that passed their deadline.
    pub expired: usize,
    /// Bridge messages delivered to the agent.
    pub notified: usize,
    /// Bridge messages that wait for a later pass.
    pub notify_failures: usize,
    /// Reply mails read.
    pub replies: maildir::Counts,
    /// Requests whose action ran and were finished.
    pub finished: usize,
    /// Alerts taken from the alert spool.
    pub alerts: alert::Taken,
    /// Alerts sent to the operators (one by one or in a digest).
    pub alerts_sent: usize,
}

/// Run one pass. Two passes never overlap: the second waits for the first's lock.
pub fn run(config: &Config) -> Result<PassReport, BrokerError> {
    let paths = &config.paths;
    for dir in [
        paths.state_dir.path().to_path_buf(),
        paths.quarantine(),
        paths.outbox(),
    ] {
        std::fs::create_dir_all(&dir)
            .map_err(|e| FileError::new("cannot create directory", &dir, e))?;
    }
    let lock_path = paths.broker_lock();
    let lock = atomic::open_lock(&lock_path)?;
    lock.lock()
        .map_err(|e| FileError::new("cannot lock", &lock_path, e))?;

    let mut store = Store::open(&paths.database())?;
    let mut report = PassReport::default();
    config.has_operator("requests are recorded and wait unmailed");
    intake(config, &mut store, &mut report)?;
    failpoint::hit("broker::after-intake");
    evaluate(config, &mut store, &mut report)?;
    failpoint::hit("broker::after-evaluate");
    digest(config, &mut store, &mut report)?;
    report.replies = maildir::intake(config, &mut store)?;
    failpoint::hit("broker::after-replies");
    carry_out(config, &mut store)?;
    failpoint::hit("broker::after-exec");
    finish_executions(config, &mut store, &mut report)?;
    remind(config, &mut store)?;
    expire(config, &mut store, &mut report)?;
    // Alerts never stop the approval loop: a spool the broker cannot read is logged.
    if let Err(e) = alerts(config, &mut store, &mut report) {
        log::error!("alerts: {e}");
    }
    flush_outbox(config, &mut store, &mut report)?;
    flush_bridge(config, &mut store, &mut report)?;
    // A task the replies queued starts now; one whose trigger was lost starts at a later pass.
    task::kick(config, &mut store);
    journal::status(&format!(
        "pass done: {} accepted, {} rejected, {} mails sent",
        report.accepted, report.rejected, report.sent
    ));
    Ok(report)
}

/// What to do with one spool entry once the transaction recording it has committed.
enum After {
    Remove(Entry),
    Quarantine {
        entry: Entry,
        name: String,
        content: Option<Vec<u8>>,
        reason: serde_json::Value,
    },
}

/// One spool entry, read and judged, not yet recorded.
enum Judged {
    Good {
        entry: Entry,
        raw: Vec<u8>,
        accepted: Box<Accepted>,
        preview: Option<String>,
    },
    Bad {
        entry: Entry,
        raw: Option<Vec<u8>>,
        problems: Vec<Problem>,
    },
}

fn intake(config: &Config, store: &mut Store, report: &mut PassReport) -> Result<(), BrokerError> {
    let entries = spool::list(config.paths.spool.path())?;
    let total = entries.len();
    for (n, chunk) in entries.chunks(BATCH).enumerate() {
        if total > BATCH {
            journal::status(&format!("intake: {} of {total} request files", n * BATCH));
        }
        let judged: Vec<Judged> = chunk
            .iter()
            .filter_map(|e| judge(config, store, e))
            .collect();
        let now = time::now();
        let after = store.write(|tx| {
            judged
                .into_iter()
                .map(|j| record(tx, config, j, now, report))
                .collect::<Result<Vec<_>, _>>()
        })?;
        failpoint::hit("broker::after-record");
        let mut touched_spool = false;
        for action in after {
            match action {
                After::Remove(entry) => {
                    // Recorded already: a file that cannot be removed now is a duplicate for
                    // the next pass, and must not stop this one.
                    match spool::remove(&entry) {
                        Ok(()) => touched_spool = true,
                        Err(e) => log::error!("{e}; the next pass knows it as a duplicate"),
                    }
                }
                After::Quarantine {
                    entry,
                    name,
                    content,
                    reason,
                } => {
                    if let Err(e) = spool::quarantine(
                        &entry,
                        &config.paths.quarantine(),
                        &name,
                        content.as_deref(),
                        &reason,
                    ) {
                        log::error!("{e}");
                    }
                }
            }
        }
        if touched_spool {
            atomic::sync_dir(config.paths.spool.path())?;
        }
    }
    Ok(())
}

/// Simulate the action before the transaction ([`preview::simulate`]), except for a request
/// filed again (same content, or a reused client_ref), which is never recorded anew: refiling
/// it must not cost a simulation each time.
fn preview(
    config: &Config,
    store: &mut Store,
    accepted: &mut Accepted,
) -> Result<Option<String>, Problem> {
    let (client_ref, hash) = (accepted.client_ref.as_deref(), accepted.hash.as_str());
    if let Ok(Some(_)) = store.read(|tx| tx.find_same(client_ref, hash)) {
        return Ok(None);
    }
    preview::simulate(config, accepted)
}

/// Read and validate one entry. `None` when it vanished (another reader took it).
fn judge(config: &Config, store: &mut Store, entry: &Entry) -> Option<Judged> {
    let limit = config.requests.max_bytes.get();
    let bad = |entry: &Entry, raw, field: &str, rule, message: String| Judged::Bad {
        entry: entry.clone(),
        raw,
        problems: vec![Problem {
            field: field.into(),
            rule,
            message,
        }],
    };
    let (found, read) = match atomic::read_identified(&entry.path, limit) {
        Ok(found) => found,
        Err(e) if e.source.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return Some(bad(entry, None, "(file)", "unreadable", e.to_string())),
    };
    let entry = &Entry {
        read,
        ..entry.clone()
    };
    match found {
        Untrusted::File(raw) => match request::validate(&raw, config.rules()) {
            Ok(mut accepted) => match preview(config, store, &mut accepted) {
                Ok(preview) => Some(Judged::Good {
                    entry: entry.clone(),
                    raw,
                    accepted: Box::new(accepted),
                    preview,
                }),
                Err(problem) => Some(Judged::Bad {
                    entry: entry.clone(),
                    raw: Some(raw),
                    problems: vec![problem],
                }),
            },
            Err(problems) => Some(Judged::Bad {
                entry: entry.clone(),
                raw: Some(raw),
                problems,
            }),
        },
        Untrusted::TooLarge(size) => Some(bad(
            entry,
            None,
            "(file)",
            "size",
            format!("{size} bytes, at most {limit}"),
        )),
        Untrusted::NotRegular(what) => Some(bad(
            entry,
            None,
            "(file)",
            "file-type",
            format!("is {what}, not a regular file"),
        )),
    }
}

fn record(
    tx: &mut Tx<'_>,
    config: &Config,
    judged: Judged,
    now: UnixTime,
    report: &mut PassReport,
) -> Result<After, StoreError> {
    let (entry, raw, accepted, preview) = match judged {
        Judged::Bad {
            entry,
            raw,
            problems,
        } => return reject(tx, config, entry, raw, problems, now, report),
        Judged::Good {
            entry,
            raw,
            accepted,
            preview,
        } => (entry, raw, accepted, preview),
    };
    let source = entry.display_name();
    if let Some((existing, hash)) = tx.find_same(accepted.client_ref.as_deref(), &accepted.hash)? {
        if hash != accepted.hash {
            let problems = vec![Problem {
                field: "client_ref".into(),
                rule: "client-ref-reused",
                message: format!(
                    "client_ref already names request {existing}, whose content differs; use a new client_ref"
                ),
            }];
            return reject(tx, config, entry, Some(raw), problems, now, report);
        }
        tx.note(
            &existing,
            Kind::Duplicate,
            "broker",
            &format!("the same request arrived again as {source}; no second mail"),
            now,
        )?;
        report.duplicates += 1;
        return Ok(After::Remove(entry));
    }
    let reply_key = ids::random_base32(12)?;
    tx.insert_request(&accepted.to_record(Origin {
        raw: &raw,
        source: &source,
        filed_by: None,
        preview: preview.as_deref(),
        reply_key: &reply_key,
        now,
        deadline: now.saturating_add(config.requests.ttl.as_secs()),
    }))?;
    report.accepted += 1;
    Ok(After::Remove(entry))
}

/// Record a rejection and tell the agent why, in one transaction; the file is quarantined
/// after it commits.
fn reject(
    tx: &mut Tx<'_>,
    config: &Config,
    entry: Entry,
    raw: Option<Vec<u8>>,
    problems: Vec<Problem>,
    now: UnixTime,
    report: &mut PassReport,
) -> Result<After, StoreError> {
    let id = tx.new_id(now)?;
    let source = entry.display_name();
    // Named by id alone: the original name (in the error file) may be long or strange.
    let name = format!("{id}.json");
    let excerpt = raw
        .as_deref()
        .map(|r| request::excerpt(&String::from_utf8_lossy(r)))
        .unwrap_or_default();
    let reason = serde_json::json!({
        "id": id,
        "file": source,
        "rejected_at": time::rfc3339(now),
        "problems": problems,
        "excerpt": excerpt,
    });
    let problems_json = serde_json::to_string(&problems).unwrap_or_default();
    tx.insert_rejection(&Rejection {
        id: &id,
        source: &source,
        quarantined: &name,
        problems: &problems_json,
        excerpt: &excerpt,
        now,
    })?;
    let body = message::rejected_body(id.as_str(), &source, &problems, now);
    outbox::tell_agent(tx, config, &body, Some(id.as_str()), now)?;
    report.rejected += 1;
    Ok(After::Quarantine {
        entry,
        name,
        content: raw,
        reason,
    })
}

/// Detected → Evaluating, then → EmailSent with the approval mail queued, unless the hourly
/// limit is reached: then the request waits in Evaluating for the next digest.
fn evaluate(
    config: &Config,
    store: &mut Store,
    report: &mut PassReport,
) -> Result<(), BrokerError> {
    let now = time::now();
    let detected = store.requests_in(&[State::Detected])?;
    let waiting = store.requests_in(&[State::Evaluating])?;
    // Without an operator (a fresh install) requests are recorded and wait, unmailed, until
    // one is configured or they expire; nothing fails and the spool is still emptied.
    let operator = !config.operator.emails.is_empty();
    let mut budget = if operator {
        budget(config, store, now)?
    } else {
        0
    };
    let why_held = if operator {
        "over the hourly mail limit: waits for the next digest"
    } else {
        "no operator is configured: waits until one is"
    };
    let mut held = 0;
    for detected_chunk in detected.chunks(BATCH) {
        // The admin agent is asked outside the transaction: it may take minutes.
        let chunk: Vec<RequestRow> = detected_chunk
            .iter()
            .map(|row| assess_with_agent(config, row))
            .collect();
        store.write(|tx| {
            for (row, before) in chunk.iter().zip(detected_chunk) {
                // Only the admin agent changes a risk here; unchanged rows need no write.
                if row.risk != before.risk {
                    tx.update_risk(&row.id, &row.risk, &row.risk_reasons)?;
                }
                let detail = format!("risk {}: {}", row.risk, row.risk_reasons.join("; "));
                tx.transition(
                    &row.id,
                    State::Detected,
                    State::Evaluating,
                    ACTOR,
                    &detail,
                    now,
                )?;
                if budget > 0 {
                    queue_approval(config, tx, row, now)?;
                    budget -= 1;
                    report.queued += 1;
                } else {
                    tx.note(&row.id, Kind::Held, "broker", why_held, now)?;
                    held += 1;
                }
            }
            Ok(())
        })?;
    }
    // Requests held in earlier passes get their own mail as soon as the limit allows.
    for row in waiting.iter().take(budget) {
        store.write(|tx| queue_approval(config, tx, row, now))?;
        report.queued += 1;
    }
    if held > 0 && operator {
        tell_throttled(
            config,
            store,
            held + waiting.len().saturating_sub(budget),
            now,
        )?;
    }
    Ok(())
}

/// Tell the agent, at most once an hour, that its requests are held back by the mail limit.
fn tell_throttled(
    config: &Config,
    store: &mut Store,
    held: usize,
    now: UnixTime,
) -> Result<(), BrokerError> {
    let told = store.write(|tx| {
        let last = tx
            .setting(THROTTLE_NOTICE)?
            .and_then(|v| v.parse::<i64>().ok());
        if last.is_some_and(|at| now - at < 3600) {
            return Ok(false);
        }
        let body = message::throttled_body(held, config.mail.max_per_hour, now);
        outbox::tell_agent(tx, config, &body, None, now)?;
        tx.set_setting(THROTTLE_NOTICE, Some(&now.to_string()))?;
        Ok(true)
    })?;
    if told {
        log::warn!("{held} requests held back by the hourly mail limit; the agent is told");
    }
    Ok(())
}

/// The request with the admin agent's risk assessment added, if one is configured; it can
/// raise the risk, never lower it. Without an answer the built-in assessment stands.
fn assess_with_agent(config: &Config, row: &RequestRow) -> RequestRow {
    let mut row = row.clone();
    if !agent::enabled(config, agent::Use::Assess) {
        return row;
    }
    let instructions = "Assess the risk of carrying out this request on the server. Answer with JSON: \
                        {\"risk\": \"low|medium|high|critical\", \"reasons\": [\"...\"]}.";
    match agent::ask(config, agent::Use::Assess, instructions, &row, None) {
        Ok(answer) => {
            let said = answer["risk"].as_str().and_then(Risk::parse);
            let current = Risk::parse(&row.risk).unwrap_or(Risk::Critical);
            if let Some(risk) = said.filter(|r| *r > current) {
                let why: Vec<&str> = answer["reasons"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                row.risk = risk.as_str().to_string();
                row.risk_reasons.push(format!(
                    "the admin agent raised it to {risk}: {}",
                    why.join("; ")
                ));
            }
        }
        Err(e) => log::warn!("request {}: {e}; the built-in assessment stands", row.id),
    }
    row
}

/// Approval mails still allowed in the current hour.
fn budget(config: &Config, store: &Store, now: UnixTime) -> Result<usize, StoreError> {
    let sent = store.mails_queued_since("approval", now - 3600)?;
    let max = i64::from(config.mail.max_per_hour);
    Ok(usize::try_from((max - sent).max(0)).unwrap_or(0))
}

fn queue_approval(
    config: &Config,
    tx: &mut Tx<'_>,
    row: &crate::core::store::RequestRow,
    now: UnixTime,
) -> Result<(), StoreError> {
    let n = tx.next_mail_number(&row.id)?;
    let composed = match mail::approval(config, row, n) {
        Ok(composed) => composed,
        Err(e) => {
            // A mail that cannot be built never will be: fail the request rather than loop.
            return tx.transition(
                &row.id,
                State::Evaluating,
                State::Failed,
                ACTOR,
                &format!("cannot build the approval mail: {e}"),
                now,
            );
        }
    };
    tx.enqueue_mail(
        "approval",
        &composed.message_id,
        &composed.sender,
        &composed.recipients,
        &composed.bytes,
        std::slice::from_ref(&row.id),
        now,
    )?;
    tx.transition(
        &row.id,
        State::Evaluating,
        State::EmailSent,
        ACTOR,
        &format!("approval mail <{}> queued", composed.message_id),
        now,
    )
}

/// Requests held in Evaluating go out together in one digest, at most every DIGEST_INTERVAL.
fn digest(config: &Config, store: &mut Store, report: &mut PassReport) -> Result<(), BrokerError> {
    let now = time::now();
    let held = store.requests_in(&[State::Evaluating])?;
    if held.is_empty()
        || config.operator.emails.is_empty()
        || store.mails_queued_since("digest", now - DIGEST_INTERVAL)? > 0
    {
        return Ok(());
    }
    let rows = &held[..held.len().min(DIGEST_MAX)];
    let digest_id = format!("{}-{}", time::utc_date(now), ids::random_base32(6)?);
    let composed = mail::digest(config, rows, &digest_id)?;
    let ids: Vec<RequestId> = rows.iter().map(|r| r.id.clone()).collect();
    store.write(|tx| {
        tx.enqueue_mail(
            "digest",
            &composed.message_id,
            &composed.sender,
            &composed.recipients,
            &composed.bytes,
            &ids,
            now,
        )?;
        for id in &ids {
            tx.transition(
                id,
                State::Evaluating,
                State::EmailSent,
                ACTOR,
                &format!("listed in digest mail <{}>", composed.message_id),
                now,
            )?;
        }
        Ok(())
    })?;
    report.digests += 1;
    Ok(())
}

/// Requests still waiting for a decision after their deadline become Expired, and the agent
/// is told in the same transaction.
fn expire(config: &Config, store: &mut Store, report: &mut PassReport) -> Result<(), BrokerError> {
    let now = time::now();
    let waiting: Vec<State> = State::ALL
        .into_iter()
        .filter(|s| s.awaits_decision())
        .collect();
    let stale: Vec<_> = store
        .requests_in(&waiting)?
        .into_iter()
        .filter(|r| r.deadline_at <= now)
        .collect();
    for chunk in stale.chunks(BATCH) {
        store.write(|tx| {
            for row in chunk {
                decide::expire(tx, config, row, None, now)?;
            }
            Ok(())
        })?;
        report.expired += chunk.len();
    }
    Ok(())
}

/// Send every due mail; each success is recorded at once, each failure waits for its backoff.
/// Take Wazuh's alerts out of their spool, then send what is pending (the suite's own events
/// were recorded where they happened).
fn alerts(
    config: &Config,
    store: &mut Store,
    report: &mut PassReport,
) -> Result<(), alert::AlertError> {
    let now = time::now();
    // What is already recorded is sent even when the spool cannot be read this time.
    let taken = alert::take(config, store, now);
    report.alerts_sent = store.write(|tx| core_alerts::route(tx, config, now))?;
    report.alerts = taken?;
    Ok(())
}

fn flush_outbox(
    config: &Config,
    store: &mut Store,
    report: &mut PassReport,
) -> Result<(), BrokerError> {
    mail::compose_drafts(config, store)?;
    let due = store.due_mails(time::now())?;
    if due.is_empty() {
        return Ok(());
    }
    let sender = Sender::new(config)?;
    for mail in &due {
        match sender.send(mail, store) {
            Ok(()) => {
                failpoint::hit("broker::after-send");
                let now = time::now();
                store.write(|tx| {
                    for id in tx.mark_sent(mail.id, now)? {
                        let detail = format!(
                            "mail <{}> accepted by the {} transport",
                            mail.message_id, config.mail.transport
                        );
                        match tx.transition(
                            &id,
                            State::EmailSent,
                            State::PendingReply,
                            ACTOR,
                            &detail,
                            now,
                        ) {
                            // The request moved on meanwhile (expired, say): the mail still went.
                            Err(StoreError::Conflict { .. }) => {}
                            Ok(()) => {
                                crate::channels::telegram::run::queue_alert(tx, config, &id, now)?
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    Ok(())
                })?;
                report.sent += 1;
            }
            Err(e) => {
                let retry_at = time::now() + mail::backoff(mail.attempts);
                log::warn!(
                    "mail <{}> ({}) not sent, retrying at {}: {e}",
                    mail.message_id,
                    mail.kind,
                    time::rfc3339(retry_at)
                );
                store.write(|tx| tx.mark_failed(mail.id, &e.to_string(), retry_at))?;
                report.send_failures += 1;
            }
        }
    }
    Ok(())
}

/// Start approved requests: `clawdbot-exec` inline on a self-contained instance, else a
/// trigger file for `clawdbot-exec.path` (it runs as root; the broker does not).
pub fn carry_out(config: &Config, store: &mut Store) -> Result<(), BrokerError> {
    let approved = store.requests_in(&[State::Approved])?;
    if approved.is_empty() {
        return Ok(());
    }
    if config.exec.inline {
        exec::run(config)?;
    } else {
        for row in &approved {
            exec::trigger(config, row.id.as_str())?;
        }
    }
    Ok(())
}

/// Start what an operator approved outside a pass (a Telegram button): a trigger for
/// `clawdbot-exec.path`, as a pass leaves one; on a self-contained instance (`[exec] inline`)
/// a whole pass. The rest (the agent told of a denial, the confirmation mail) goes with the
/// next pass. A failure is logged, not returned: the next pass starts it.
pub fn start_approved(config: &Config, store: &mut Store) {
    let result = if config.exec.inline {
        run(config).map(drop)
    } else {
        carry_out(config, store)
    };
    if let Err(e) = result {
        log::warn!("an approval from Telegram waits for the broker's next pass: {e}");
    }
}

/// Requests whose action has run are finished; one found `Executing` with no result while no
/// `clawdbot-exec` holds its lock was interrupted, and fails as "outcome unknown".
fn finish_executions(
    config: &Config,
    store: &mut Store,
    report: &mut PassReport,
) -> Result<(), BrokerError> {
    // The marks first, then the rows: a run that finishes after this leaves a new mark, which
    // starts another pass; every mark is taken, so none can start passes in a loop.
    exec::take_marks(config);
    // The lock first, then the rows: a run that records its result and exits in between
    // must not be taken for an interrupted one.
    let lock = atomic::open_lock(&exec::lock_path(config))?;
    let exec_idle = lock.try_lock().is_ok();
    let now = time::now();
    for id in store
        .requests_in(&[State::Executing])?
        .into_iter()
        .map(|r| r.id)
    {
        let finished = store.write(|tx| {
            let Some(row) = tx.request(&id)?.filter(|r| r.state == State::Executing) else {
                return Ok(false);
            };
            match (row.exec_exit, row.exec_finished_at) {
                (Some(exit), Some(_)) => {
                    decide::finish_run(
                        tx,
                        config,
                        &row,
                        exit,
                        row.exec_output.as_deref().unwrap_or(""),
                        now,
                    )?;
                    Ok(true)
                }
                _ if exec_idle => decide::outcome_unknown(tx, config, &row, now).map(|()| false),
                _ => Ok(false),
            }
        })?;
        report.finished += usize::from(finished);
    }
    Ok(())
}

/// One reminder to the operator at half of a request's time.
fn remind(config: &Config, store: &mut Store) -> Result<(), BrokerError> {
    let now = time::now();
    for row in store.requests_in(&[State::PendingReply])? {
        let half = row.created_at + (row.deadline_at - row.created_at) / 2;
        if row.reminded || now < half {
            continue;
        }
        store.write(|tx| {
            tx.set_reminded(&row.id)?;
            let text = format!(
                "Reminder: request {} still waits for your decision; it expires at {}.",
                row.id,
                time::local(row.deadline_at, &config.operator.timezone.tz)
            );
            outbox::mail_thread(tx, &row, "Reminder", &text, None, true, now)
        })?;
    }
    Ok(())
}

/// Deliver the bridge messages this and earlier passes queued. Without usable secrets they
/// wait (and the pass says why) rather than being dropped.
fn flush_bridge(
    config: &Config,
    store: &mut Store,
    report: &mut PassReport,
) -> Result<(), BrokerError> {
    if !store
        .undelivered_bridge_messages()?
        .iter()
        .any(|m| m.state == "pending")
    {
        return Ok(());
    }
    let keys = match bridge::keys(config) {
        Ok(keys) => keys,
        Err(e) => {
            log::warn!("messages to the agent wait in the database until the bridge works: {e}");
            report.notify_failures += 1;
            return Ok(());
        }
    };
    for result in bridge::resend(config, store, &keys)? {
        match result {
            Ok(_) => report.notified += 1,
            Err(e) => {
                log::warn!("message to the agent not delivered yet: {e}");
                report.notify_failures += 1;
            }
        }
    }
    Ok(())
}

/// The directories a pass writes, for `init` and `doctor`.
pub fn directories(config: &Config) -> Vec<(PathBuf, &'static str)> {
    let p = &config.paths;
    vec![
        (p.state_dir.path().to_path_buf(), "state directory"),
        (p.spool.path().to_path_buf(), "request spool"),
        (p.inbox.path().to_path_buf(), "agent inbox"),
        (p.quarantine(), "quarantine"),
        (p.outbox(), "mail outbox"),
        (p.maildir().join("new"), "reply Maildir"),
        (p.maildir().join("cur"), "reply Maildir"),
        (p.maildir().join("tmp"), "reply Maildir"),
        (p.approved(), "approved triggers"),
        (p.executed(), "finished-run marks"),
        (p.tasks(), "task triggers"),
    ]
}
