//! Proposing OpenClaw's own cure for a session that cannot be replayed: `sessions.reset`,
//! filed as a request through the approval loop, so that a person decides. The watchdog never
//! runs it itself.
//!
//! The request names the action `[watchdog] reset_action` (an `[actions.NAME]` the operator
//! configures, typically `openclaw gateway call sessions.reset --json --params {params}` run
//! where the gateway is). The watchdog fills the parameters the action declares, from
//! `agent`, `key`, `session` and `params` (the JSON OpenClaw's `sessions.reset` reads, with
//! `expectedSessionId`: OpenClaw refuses the reset if the session was replaced meanwhile, but
//! not if it was reset meanwhile, which keeps its id). Each finding is filed once, under a
//! random `client_ref` the agent cannot guess and so cannot file first.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::agentdb::Poisoned;
use crate::core::request;
use crate::core::store::{Store, StoreError};
use crate::intake::submit::{self, Fields};
use crate::platform::config::{Action, Config};

/// The parameters the watchdog can fill.
const KNOWN: [&str; 4] = ["agent", "key", "session", "params"];
/// The settings prefix under which filed requests are remembered.
const FILED: &str = "watchdog.reset_filed.";

/// The JSON `sessions.reset` reads for this session.
pub fn reset_params(agent: &str, found: &Poisoned) -> String {
    serde_json::json!({
        "key": found.key,
        "agentId": agent,
        "expectedSessionId": found.session_id,
    })
    .to_string()
}

/// The command an operator can run by hand where the gateway runs (in its container, say),
/// quoted for a POSIX shell (a session key is the agent's to choose, and may hold a quote).
pub fn by_hand(agent: &str, found: &Poisoned) -> String {
    format!(
        "openclaw gateway call sessions.reset --json --params '{}'",
        reset_params(agent, found).replace('\'', "'\\''")
    )
}

/// The action reset requests are filed under: `Ok(None)` when `[watchdog] reset_action` is
/// off, `Err` saying why it cannot be used.
pub fn action(config: &Config) -> Result<Option<(&str, &Action)>, String> {
    let name = config.watchdog.reset_action.as_str();
    if name.is_empty() {
        return Ok(None);
    }
    let Some(action) = config.actions.get(name) else {
        return Err(format!("[actions.{name}] is not configured"));
    };
    match action.params.keys().find(|p| !KNOWN.contains(&p.as_str())) {
        Some(unknown) => Err(format!(
            "[actions.{name}] has a parameter {unknown:?} the watchdog cannot fill (only {})",
            KNOWN.join(", ")
        )),
        None => Ok(Some((name, action))),
    }
}

/// File the reset request for one poisoned session (once), and say what became of it, and
/// whether it was proposed in an earlier pass.
pub fn propose(
    config: &Config,
    store: &mut Store,
    agent: &str,
    found: &Poisoned,
) -> Result<(String, bool), StoreError> {
    let said = |text: String| Ok((text, false));
    let hand = by_hand(agent, found);
    let named = match action(config) {
        Ok(None) => {
            return said(format!(
                "no reset_action is configured; to reset it, run: {hand}"
            ));
        }
        Ok(Some(named)) => Ok(named),
        Err(problem) => Err(problem),
    };
    // A store holds its own agent's sessions: a key naming another agent is not proposed.
    if !found.key.starts_with(&format!("agent:{agent}:")) {
        return said(format!(
            "its key does not belong to agent {agent:?}, so no reset is proposed; look at it by hand"
        ));
    }
    let (name, action) = match named {
        Ok(named) => named,
        Err(problem) => {
            return said(format!(
                "{problem}, so no request was filed (see /usr/share/doc/clawdbot/docs/agent.md); to reset it, run: {hand}"
            ));
        }
    };
    let mut values = BTreeMap::new();
    for (param, value) in KNOWN.iter().zip([
        agent.to_string(),
        found.key.clone(),
        found.session_id.clone(),
        reset_params(agent, found),
    ]) {
        if action.params.contains_key(*param) {
            values.insert(param.to_string(), value);
        }
    }
    let remembered = format!("{FILED}{}", finding(agent, found));
    if let Some(filed) = store.read(|tx| tx.setting(&remembered))? {
        return Ok((
            format!("a reset was proposed {filed}; see `clawdbot status`"),
            true,
        ));
    }
    let client_ref = match crate::platform::ids::random_base32(16) {
        Ok(random) => format!("watchdog-{}", random.to_ascii_lowercase()),
        Err(e) => {
            return said(format!(
                "no request could be filed ({e}); to reset it, run: {hand}"
            ));
        }
    };
    let argv = action.render(&values);
    let fields = Fields {
        kind: Some(name.to_string()),
        summary: Some(summary(agent, &found.key)),
        reason: Some(format!(
            "Message {} of {} in its context (event {}, entry {}) is {}. OpenClaw sends the whole context to the model on every turn, so every turn of this session fails where this is refused.",
            found.position,
            found.messages,
            found.seq,
            super::agentdb::shown(&found.entry),
            found.reason
        )),
        details: Some(format!(
            "A reset appends a reset mark: the model then starts this conversation afresh and no longer sees its {} earlier messages (they stay in OpenClaw's database). It runs: {}\nOpenClaw refuses the reset if the session is no longer {} (replaced meanwhile); a session reset meanwhile is reset again.",
            found.messages,
            argv.join(" "),
            super::agentdb::shown(&found.session_id)
        )),
        params: values.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        client_ref: Some(client_ref.clone()),
        reply_session: None,
    };
    let filed = submit::from_fields(&fields)
        .and_then(|raw| submit::submit(config.rules(), config.paths.spool.path(), &raw));
    match filed {
        Ok(path) => {
            let now = jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M UTC");
            let filed = format!("at {now} (client_ref {client_ref})");
            store.write(|tx| tx.set_setting(&remembered, Some(&filed)))?;
            log::warn!(
                "session {} of agent {agent} cannot be sent to the model; a reset is proposed to the operator ({})",
                super::agentdb::shown(&found.key),
                path.display()
            );
            said(format!(
                "a reset is proposed to the operator as a request (client_ref {client_ref})"
            ))
        }
        Err(e) => said(format!(
            "no request could be filed ({e}); to reset it, run: {hand}"
        )),
    }
}

fn summary(agent: &str, key: &str) -> String {
    let key = super::agentdb::shown(key);
    let long =
        format!("Reset OpenClaw session {key}: its history can no longer be sent to the model");
    if long.chars().count() <= request::SUMMARY_MAX {
        long
    } else {
        format!("Reset a stuck OpenClaw session of agent {agent}")
    }
}

/// The same finding in the same session gives the same key (under which the filing is
/// remembered).
fn finding(agent: &str, found: &Poisoned) -> String {
    let mut h = Sha256::new();
    for part in [agent, &found.key, &found.session_id, &found.entry] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    request::hex(&h.finalize())[..32].to_string()
}
