//! The operator's own commands: `/run ACTION name=value …` from an authenticated operator
//! (the channel has checked who sent it). A command is checked exactly as an agent's request
//! (the action's parameter patterns, its risk rules, the simulation, the hash) and recorded as
//! a request the operator filed, with the same states and audit. Below `[operator]
//! confirm_from` the command is its own approval, bound to the hash; from it up, the request
//! waits for the operator to confirm it as any other (docs/state-machine.md).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::core::preview;
use crate::core::request::{self, Accepted, Origin};
use crate::core::risk::Risk;
use crate::core::state::State;
use crate::core::store::{RequestRow, StoreError, Tx};
use crate::platform::config::{Config, FREEFORM};
use crate::platform::ids;
use crate::platform::time::UnixTime;

/// A command checked and ready to record.
#[derive(Debug)]
pub struct Prepared {
    accepted: Accepted,
    raw: Vec<u8>,
    preview: Option<String>,
    words: String,
}

/// What became of a command once recorded.
#[derive(Debug)]
pub enum Filed {
    /// Approved by the command itself: `clawdbot-exec` may run it now.
    Approved(RequestRow),
    /// At or above `confirm_from`: it waits, shown with its hash, for a confirmation.
    Confirm(RequestRow),
}

/// Check `ACTION name=value …` (the words after `/run`) from the operator `by` as an agent's
/// request is checked, and simulate it; outside any transaction, since a simulation may take
/// seconds. The error is what to tell the operator: nothing is recorded.
pub fn prepare(config: &Config, by: &str, args: &str) -> Result<Prepared, String> {
    let mut words = args.split_whitespace();
    let usage = "Write it as /run ACTION name=value … (values without spaces)";
    let Some(kind) = words.next() else {
        return Err(format!("Which action? {usage}."));
    };
    if kind == FREEFORM || !config.actions.contains_key(kind) {
        let known: Vec<&str> = config.actions.keys().map(String::as_str).collect();
        return Err(format!(
            "No action {}. Configured: {}.",
            request::excerpt(kind),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ));
    }
    let mut params = BTreeMap::new();
    for word in words {
        let Some((name, value)) = word.split_once('=') else {
            return Err(format!(
                "{} is not name=value. {usage}.",
                request::excerpt(word)
            ));
        };
        if params.insert(name.to_string(), value.to_string()).is_some() {
            return Err(format!("{} is given twice.", request::excerpt(name)));
        }
    }
    let shown: Vec<String> = std::iter::once(kind.to_string())
        .chain(params.iter().map(|(k, v)| format!("{k}={v}")))
        .collect();
    let mut doc = Map::new();
    doc.insert("version".into(), Value::from(1));
    doc.insert("kind".into(), Value::String(kind.into()));
    doc.insert(
        "summary".into(),
        Value::String(format!("The operator's command: {}", shown.join(" "))),
    );
    doc.insert("reason".into(), Value::String(format!("asked by {by}")));
    if !params.is_empty() {
        let params = params.into_iter().map(|(k, v)| (k, Value::String(v)));
        doc.insert("params".into(), Value::Object(params.collect()));
    }
    let raw = Value::Object(doc).to_string().into_bytes();
    let mut accepted = request::validate(&raw, config.rules()).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(|p| format!("- {p}")).collect();
        format!("Not run:\n{}", lines.join("\n"))
    })?;
    let preview = preview::simulate(config, &mut accepted).map_err(|p| format!("Not run: {p}"))?;
    Ok(Prepared {
        accepted,
        raw,
        preview,
        words: format!("/run {}", shown.join(" ")),
    })
}

/// Record a prepared command filed by the operator `by` (from `source`, e.g. `telegram`):
/// `Detected → Evaluating`, then `Approved` by the command itself below `confirm_from`, or
/// `EmailSent → PendingReply` (the confirmation is asked where the command came from).
pub fn file(
    tx: &mut Tx<'_>,
    config: &Config,
    by: &str,
    source: &str,
    prepared: &Prepared,
    now: UnixTime,
) -> Result<Filed, StoreError> {
    let accepted = &prepared.accepted;
    let reply_key = ids::random_base32(12)?;
    let id = tx.insert_request(&accepted.to_record(Origin {
        raw: &prepared.raw,
        source,
        filed_by: Some(by),
        preview: prepared.preview.as_deref(),
        reply_key: &reply_key,
        now,
        deadline: now.saturating_add(config.requests.ttl.as_secs()),
    }))?;
    let risk = accepted.assessment.risk;
    tx.transition(
        &id,
        State::Detected,
        State::Evaluating,
        by,
        &format!("risk {}: {}", risk, accepted.assessment.reasons.join("; ")),
        now,
    )?;
    let confirm = risk >= config.operator.confirm_from;
    if confirm {
        tx.transition(
            &id,
            State::Evaluating,
            State::EmailSent,
            by,
            &format!(
                "risk {risk}, at or above [operator] confirm_from ({}): confirmation asked in {source}",
                Risk::as_str(config.operator.confirm_from)
            ),
            now,
        )?;
        tx.transition(
            &id,
            State::EmailSent,
            State::PendingReply,
            by,
            "waiting for the operator's confirmation",
            now,
        )?;
    } else {
        tx.set_decision(&id, by, &prepared.words, Some(&accepted.hash))?;
        tx.transition(
            &id,
            State::Evaluating,
            State::Approved,
            by,
            &format!("the operator's own command, for hash {}", accepted.hash),
            now,
        )?;
    }
    let expected = if confirm {
        State::PendingReply
    } else {
        State::Approved
    };
    let row = tx
        .request(&id)?
        .filter(|row| row.state == expected)
        .ok_or_else(|| StoreError::Conflict {
            id: id.to_string(),
            expected,
        })?;
    Ok(if confirm {
        Filed::Confirm(row)
    } else {
        Filed::Approved(row)
    })
}
