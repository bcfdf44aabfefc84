//! Proposing OpenClaw's own cure for a session that cannot be replayed: `sessions.reset`,
//! filed as a request through the approval loop, so that a person decides. The watchdog never
//! runs it itself.
//!
//! The request names the action `[watchdog] reset_action` (an `[actions.NAME]` the operator
//! configures, typically `openclaw gateway call sessions.reset --json --params {params}` run
//! where the gateway is). The watchdog fills the parameters the action declares, from
//! `agent`, `key`, `session` and `params` (the JSON OpenClaw's `sessions.reset` reads, with
//! `expectedSessionId`, so that a session reset or replaced meanwhile is left alone). Each
//! finding is filed once: its `client_ref` is remembered.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::agentdb::Poisoned;
use crate::config::Config;
use crate::request;
use crate::store::{Store, StoreError};
use crate::submit::{self, Fields};

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

/// The command an operator can run by hand where the gateway runs, quoted for a POSIX shell
/// (a session key is the agent's to choose, and may hold a quote).
pub fn by_hand(agent: &str, found: &Poisoned) -> String {
    format!(
        "openclaw gateway call sessions.reset --json --params '{}'",
        reset_params(agent, found).replace('\'', "'\\''")
    )
}

/// File the reset request for one poisoned session (once), and say what became of it.
pub fn propose(
    config: &Config,
    store: &mut Store,
    agent: &str,
    found: &Poisoned,
) -> Result<String, StoreError> {
    let hand = by_hand(agent, found);
    let name = config.watchdog.reset_action.as_str();
    if name.is_empty() {
        return Ok(format!(
            "no reset_action is configured; to reset it, run: {hand}"
        ));
    }
    let Some(action) = config.actions.get(name) else {
        return Ok(format!(
            "[actions.{name}] is not configured, so no request was filed (see the README); to reset it, run: {hand}"
        ));
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
    if let Some(unknown) = action.params.keys().find(|p| !KNOWN.contains(&p.as_str())) {
        return Ok(format!(
            "[actions.{name}] has a parameter {unknown:?} the watchdog cannot fill (only {}); to reset it, run: {hand}",
            KNOWN.join(", ")
        ));
    }
    let client_ref = client_ref(agent, found);
    let remembered = format!("{FILED}{client_ref}");
    if let Some(at) = store.read(|tx| tx.setting(&remembered))? {
        return Ok(format!(
            "a reset was proposed at {at} (client_ref {client_ref}); see `clawdbot status`"
        ));
    }
    let argv = action.render(&values);
    let fields = Fields {
        kind: Some(name.to_string()),
        summary: Some(summary(agent, &found.key)),
        reason: Some(format!(
            "Message {} of {} in its context (event {}, entry {}) is {}. OpenClaw sends the whole context to the model on every turn, so every turn of this session fails.",
            found.position, found.messages, found.seq, found.entry, found.reason
        )),
        details: Some(format!(
            "A reset appends a reset mark: the model then starts this conversation afresh and no longer sees its {} earlier messages (they stay in OpenClaw's database). It runs: {}\nOpenClaw refuses the reset if the session is no longer {} (replaced meanwhile).",
            found.messages,
            argv.join(" "),
            found.session_id
        )),
        params: values.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        client_ref: Some(client_ref.clone()),
        reply_session: None,
    };
    let filed = submit::from_fields(&fields)
        .and_then(|raw| submit::submit(config, config.paths.spool.path(), &raw));
    match filed {
        Ok(path) => {
            let now = jiff::Timestamp::now()
                .strftime("%Y-%m-%d %H:%M UTC")
                .to_string();
            store.write(|tx| tx.set_setting(&remembered, Some(&now)))?;
            log::warn!(
                "session {} of agent {agent} cannot be sent to the model; a reset is proposed to the operator ({})",
                found.key,
                path.display()
            );
            Ok(format!(
                "a reset is proposed to the operator as a request (client_ref {client_ref})"
            ))
        }
        Err(e) => Ok(format!(
            "no request could be filed ({e}); to reset it, run: {hand}"
        )),
    }
}

fn summary(agent: &str, key: &str) -> String {
    let long =
        format!("Reset OpenClaw session {key}: its history can no longer be sent to the model");
    if long.chars().count() <= request::SUMMARY_MAX {
        long
    } else {
        format!("Reset a stuck OpenClaw session of agent {agent}")
    }
}

/// The same finding in the same session gives the same reference.
fn client_ref(agent: &str, found: &Poisoned) -> String {
    let mut h = Sha256::new();
    for part in [agent, &found.key, &found.session_id, &found.entry] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    format!("watchdog-{}", &request::hex(&h.finalize())[..24])
}
