//! Applying an operator's decision to a request, whether it came by mail or from the shell:
//! the same transitions, the same exactly-once rules, and every effect (mails, messages to the
//! agent) recorded in the same transaction as the state change it reports ([`outbox`]).

use crate::core::message::{self, Outcome};
use crate::core::outbox;
use crate::core::state::State;
use crate::core::store::{RequestRow, StoreError, Tx};
use crate::platform::config::Config;
use crate::platform::time;
use crate::platform::time::UnixTime;

/// What the operator decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Carry it out, exactly as mailed (bound to the hash).
    Approve,
    /// Do not.
    Deny,
    /// They asked something: answer, the request stays open.
    Question,
    /// They asked for a change or were unclear: ask again for APPROVE or DENY.
    Clarify,
}

/// Who decided and how to answer them.
#[derive(Debug, Clone, Copy)]
pub struct Decider<'a> {
    /// The operator address or `unix:USER`.
    pub actor: &'a str,
    /// Their words (the trimmed reply, or `--note`).
    pub words: &'a str,
    /// The Message-ID of their mail, to keep the thread.
    pub message_id: Option<&'a str>,
    /// The admin agent's answer to their question, if one was asked.
    pub answer: Option<&'a str>,
}

/// What became of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// It was taken.
    Decided,
    /// It came at or after the deadline: refused, and the request expired instead.
    Late,
}

/// Apply a decision to a request waiting for one (`PendingReply`, or `EmailSent` while a
/// follow-up is still in the outbox). The deadline is checked here, in the transaction that
/// would record the decision, whichever channel it came from: a decision at or after the
/// deadline is refused and the request expires (see [`late`]).
pub fn apply(
    tx: &mut Tx<'_>,
    config: &Config,
    row: &RequestRow,
    decision: Decision,
    by: &Decider<'_>,
    now: UnixTime,
) -> Result<Applied, StoreError> {
    if now >= row.deadline_at {
        late(tx, config, row, by, now)?;
        return Ok(Applied::Late);
    }
    decided(tx, config, row, decision, by, now)?;
    Ok(Applied::Decided)
}

/// A decision that came at or after the deadline: recorded with its reason, never taken. The
/// request expires now, the agent is told, and the operator's mail thread says why.
pub fn late(
    tx: &mut Tx<'_>,
    config: &Config,
    row: &RequestRow,
    by: &Decider<'_>,
    now: UnixTime,
) -> Result<(), StoreError> {
    let deadline = time::rfc3339(row.deadline_at);
    tx.note(
        &row.id,
        crate::core::journal::Kind::ReplyRefused,
        by.actor,
        &format!(
            "a decision from {} came after the deadline {deadline} and was refused: {}",
            by.actor,
            crate::core::request::excerpt(by.words)
        ),
        now,
    )?;
    let after = if row.filed_by.is_some() {
        "Send the command again if you still want it."
    } else {
        "The agent is told; it can file the request again."
    };
    let said = format!(
        "Too late: your answer came after the deadline {}. Nothing was run; the request \
         expired. {after}",
        time::local(row.deadline_at, &config.operator.timezone.tz)
    );
    expire(tx, config, row, Some((by, &said)), now)
}

/// Expire a request still waiting for a decision: `Expired`, the agent told, the operator
/// mailed (with `late`, the decision that came too late and what to tell its author).
pub fn expire(
    tx: &mut Tx<'_>,
    config: &Config,
    row: &RequestRow,
    late: Option<(&Decider<'_>, &str)>,
    now: UnixTime,
) -> Result<(), StoreError> {
    let deadline = time::rfc3339(row.deadline_at);
    let actor = late.map_or("broker", |(by, _)| by.actor);
    tx.transition(
        &row.id,
        row.state,
        State::Expired,
        actor,
        &format!("no decision before the deadline {deadline}"),
        now,
    )?;
    let text = format!("no decision before the deadline {deadline}; nothing was run");
    notify_agent(tx, config, row, State::Expired, &text, None, None, now)?;
    match late {
        Some((by, said)) => {
            outbox::mail_thread(tx, row, "Too late", said, by.message_id, false, now)
        }
        None => outbox::mail_thread(
            tx,
            row,
            "Expired",
            &format!("Expired: {text}{}.", told(row, "; the agent is told")),
            None,
            false,
            now,
        ),
    }
}

/// Take a decision made in time.
fn decided(
    tx: &mut Tx<'_>,
    config: &Config,
    row: &RequestRow,
    decision: Decision,
    by: &Decider<'_>,
    now: UnixTime,
) -> Result<(), StoreError> {
    let id = &row.id;
    tx.transition(
        id,
        row.state,
        State::ReplyDetected,
        by.actor,
        "a reply arrived",
        now,
    )?;
    tx.transition(
        id,
        State::ReplyDetected,
        State::Interpreting,
        by.actor,
        &format!("reply: {}", crate::core::request::excerpt(by.words)),
        now,
    )?;
    match decision {
        Decision::Approve => {
            tx.set_decision(id, by.actor, by.words, Some(&row.hash))?;
            tx.transition(
                id,
                State::Interpreting,
                State::Approved,
                by.actor,
                &format!("approved for hash {}", row.hash),
                now,
            )
        }
        Decision::Deny => {
            tx.set_decision(id, by.actor, by.words, None)?;
            tx.transition(
                id,
                State::Interpreting,
                State::Denied,
                by.actor,
                "denied",
                now,
            )?;
            let text = format!("denied by {}", by.actor);
            notify_agent(tx, config, row, State::Denied, &text, Some(by), None, now)?;
            tx.transition(
                id,
                State::Denied,
                State::AgentNotified,
                "broker",
                if row.filed_by.is_some() {
                    "recorded: the operator's own command, no agent to tell"
                } else {
                    "the agent is told"
                },
                now,
            )?;
            let confirm = format!(
                "Denied. Nothing will run{}:\n\n{}",
                told(row, ", and the agent is told, with your words"),
                indent(by.words)
            );
            outbox::mail_thread(tx, row, "Denied", &confirm, by.message_id, false, now)?;
            tx.transition(id, State::AgentNotified, State::Done, "broker", "", now)
        }
        Decision::Question => {
            let answer = match by.answer {
                Some(answer) => format!(
                    "The admin agent answers your question:\n\n{}\nNothing has run; reply APPROVE or DENY when you have decided.",
                    indent(answer)
                ),
                None => "You asked about this request. Here it is in full, with the reasons for its risk. \
                         Nothing has run; reply APPROVE or DENY when you have decided."
                    .to_string(),
            };
            follow_up(tx, row, by, ("a question", "Your question"), &answer, now)
        }
        Decision::Clarify => {
            let ask = "I could not take your reply as a clear decision, so nothing has run. \
                       Changes to a request cannot be approved by mail: deny it and let the agent file a new one. \
                       Please reply with APPROVE or DENY alone.";
            follow_up(
                tx,
                row,
                by,
                ("neither approved nor denied", "APPROVE or DENY?"),
                ask,
                now,
            )
        }
    }
}

/// The request stays open: `FollowUp`, a mail in the thread, `EmailSent` until it goes out.
/// `what` is (the audit detail, the mail's subject).
fn follow_up(
    tx: &mut Tx<'_>,
    row: &RequestRow,
    by: &Decider<'_>,
    what: (&str, &str),
    text: &str,
    now: UnixTime,
) -> Result<(), StoreError> {
    let (detail, subject) = what;
    tx.transition(
        &row.id,
        State::Interpreting,
        State::FollowUp,
        by.actor,
        detail,
        now,
    )?;
    outbox::mail_thread(tx, row, subject, text, by.message_id, true, now)?;
    tx.transition(
        &row.id,
        State::FollowUp,
        State::EmailSent,
        "broker",
        "follow-up queued",
        now,
    )
}

/// Queue the bridge message telling the agent what became of its request; nothing for an
/// operator's own command, which the agent neither filed nor is told of.
#[allow(clippy::too_many_arguments)]
pub fn notify_agent(
    tx: &Tx<'_>,
    config: &Config,
    row: &RequestRow,
    state: State,
    text: &str,
    by: Option<&Decider<'_>>,
    run: Option<(i64, &str)>,
    now: UnixTime,
) -> Result<(), StoreError> {
    if row.filed_by.is_some() {
        return Ok(());
    }
    let outcome = Outcome {
        request: row.id.as_str(),
        state: state.as_str(),
        text,
        summary: &row.summary,
        client_ref: row.client_ref.as_deref(),
        reply_session: row.reply_session.as_deref(),
        decided_by: by.map(|b| b.actor).or(row.decided_by.as_deref()),
        words: by.map(|b| b.words).or(row.decision_note.as_deref()),
        exit: run.map(|(exit, _)| exit),
        output: run.map(|(_, output)| output),
    };
    outbox::tell_agent(
        tx,
        config,
        &message::outcome_body(&outcome, now),
        Some(row.id.as_str()),
        now,
    )?;
    Ok(())
}

/// Finish a request whose action has run: tell the agent and the operator, and end it in
/// `Done` (exit status 0) or `Failed`.
pub fn finish_run(
    tx: &mut Tx<'_>,
    config: &Config,
    row: &RequestRow,
    exit: i64,
    output: &str,
    now: UnixTime,
) -> Result<(), StoreError> {
    let argv = row.runs();
    let head: String = output.lines().take(20).collect::<Vec<_>>().join("\n");
    let (state, text, said) = if exit == 0 {
        (
            State::Done,
            format!("done: {argv} exited 0"),
            format!("Done: {argv} ran and exited 0."),
        )
    } else {
        let text = format!("failed: {argv} exited with status {exit}");
        (
            State::Failed,
            text,
            format!("Failed: {argv} exited with status {exit}."),
        )
    };
    notify_agent(
        tx,
        config,
        row,
        state,
        &text,
        None,
        Some((exit, output)),
        now,
    )?;
    let output = format!("Output (first lines):\n{}", indent(&head));
    // An operator's own command: the result goes back where it was asked, with its output.
    let chat = match row.filed_by {
        Some(_) => format!("{said}\n\n{output}"),
        None => said.clone(),
    };
    let confirm = format!("{said}{}\n\n{output}", told(row, " The agent is told."));
    outbox::mail_thread(tx, row, state.as_str(), &confirm, None, false, now)?;
    outbox::telegram_confirm(tx, row, &chat, now)?;
    if state == State::Done {
        tx.transition(
            &row.id,
            State::Executing,
            State::AgentNotified,
            "broker",
            &text,
            now,
        )?;
        tx.transition(
            &row.id,
            State::AgentNotified,
            State::Done,
            "broker",
            "",
            now,
        )
    } else {
        tx.transition(
            &row.id,
            State::Executing,
            State::Failed,
            "broker",
            &text,
            now,
        )
    }
}

/// A request found `Executing` with no result and no `clawdbot-exec` running: its run was
/// interrupted. It is never run again; it fails, and both sides are told.
pub fn outcome_unknown(
    tx: &mut Tx<'_>,
    config: &Config,
    row: &RequestRow,
    now: UnixTime,
) -> Result<(), StoreError> {
    let text = "outcome unknown: the run was interrupted (crash or reboot); it is not run again, check by hand";
    notify_agent(tx, config, row, State::Failed, text, None, None, now)?;
    outbox::telegram_confirm(tx, row, text, now)?;
    outbox::mail_thread(
        tx,
        row,
        "Outcome unknown",
        &format!(
            "{text}.\nStarted at or after {}.",
            time::rfc3339(row.updated_at)
        ),
        None,
        false,
        now,
    )?;
    tx.transition(
        &row.id,
        State::Executing,
        State::Failed,
        "broker",
        text,
        now,
    )
}

/// `text` where the agent is told of the request; nothing for an operator's own command.
fn told<'a>(row: &RequestRow, text: &'a str) -> &'a str {
    if row.filed_by.is_some() { "" } else { text }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

/// Why a decision from the shell was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    /// The id is malformed.
    #[error("{0:?} is not a request id (they look like R-20261126-7Q2M)")]
    BadId(String),
    /// No such request.
    #[error("no request {0}")]
    NotFound(String),
    /// The request is not waiting for a decision.
    #[error(
        "request {id} is {state}: only a request waiting for a reply (PendingReply) can be decided"
    )]
    NotOpen {
        /// The request.
        id: String,
        /// Its state.
        state: State,
    },
    /// The deadline had passed: the decision was refused and the request expired.
    #[error(
        "request {id}: the deadline {deadline} has passed; the decision was refused, nothing ran, and the request expired"
    )]
    Late {
        /// The request.
        id: String,
        /// Its deadline, RFC 3339.
        deadline: String,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl crate::platform::exit::ExitStatus for ShellError {
    fn exit(&self) -> crate::platform::exit::Exit {
        use crate::platform::exit::Exit;
        match self {
            ShellError::BadId(_) => Exit::Usage,
            ShellError::NotFound(_) | ShellError::NotOpen { .. } | ShellError::Late { .. } => {
                Exit::DataErr
            }
            ShellError::Store(e) => e.exit(),
        }
    }
}

/// `clawdbot approve|deny ID`: decide from a shell on the host, recorded as `unix:USER`.
pub fn from_shell(
    config: &Config,
    id: &str,
    decision: Decision,
    note: Option<&str>,
) -> Result<crate::platform::ids::RequestId, ShellError> {
    let parsed = crate::platform::ids::RequestId::parse(id)
        .ok_or_else(|| ShellError::BadId(id.to_string()))?;
    let mut store = crate::core::store::Store::open(&config.paths.database())?;
    let actor = unix_actor();
    let words = note.unwrap_or(match decision {
        Decision::Approve => "approved from the shell",
        _ => "denied from the shell",
    });
    let by = Decider {
        actor: &actor,
        words,
        message_id: None,
        answer: None,
    };
    // The state and the deadline are checked in the transaction that records the decision.
    let refused = store.write(|tx| {
        let Some(row) = tx.request(&parsed)? else {
            return Ok(Some(ShellError::NotFound(parsed.to_string())));
        };
        if row.state != State::PendingReply {
            return Ok(Some(ShellError::NotOpen {
                id: parsed.to_string(),
                state: row.state,
            }));
        }
        Ok(match apply(tx, config, &row, decision, &by, time::now())? {
            Applied::Decided => None,
            Applied::Late => Some(ShellError::Late {
                id: parsed.to_string(),
                deadline: time::rfc3339(row.deadline_at),
            }),
        })
    })?;
    match refused {
        Some(error) => Err(error),
        None => Ok(parsed),
    }
}

/// `unix:NAME (uid N)`: the name from the environment, the uid from the kernel.
fn unix_actor() -> String {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self")
        .map(|m| m.uid().to_string())
        .unwrap_or_else(|_| "?".into());
    let name = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("unix:{name} (uid {uid})")
}
