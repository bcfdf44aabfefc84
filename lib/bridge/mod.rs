//! The bridge (DESIGN.md section 8): one-way messages from the admin side to the agent, signed
//! in the Standard Webhooks format so that neither a prompt-injected agent, another local
//! process nor a replayed capture can forge or repeat one. Every message sent is recorded
//! first, so a failed delivery is retried under the same id, never minted twice.

pub mod deliver;
pub mod signature;

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;

use crate::atomic::FileError;
use crate::config::{BridgeMode, Config};
use crate::credentials::{self, CredentialError};
use crate::exit::{Exit, ExitStatus};
use crate::ids::RandomError;
use crate::store::{Store, StoreError, Tx};
use crate::time::{self, UnixTime};
use signature::{Key, Received, SecretError, VerifyError};

/// Why a message could not be signed, sent or verified.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The configuration did not load.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A secret is malformed.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// A secret or token could not be read.
    #[error(transparent)]
    Credential(#[from] CredentialError),
    /// The message failed verification.
    #[error("rejected: {0}")]
    Verify(#[from] VerifyError),
    /// The body is unusable.
    #[error("body refused: {0}")]
    Body(String),
    /// The envelope or a header line is malformed.
    #[error("envelope refused: {0}")]
    Envelope(String),
    /// The gateway refused the token.
    #[error(
        "{url} answered {status}: the gateway refused the bearer token from credential {credential:?}; check that it matches the gateway's hooks.token"
    )]
    Unauthorized {
        /// The hook URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The credential holding the token.
        credential: String,
    },
    /// The gateway refused the message for good.
    #[error("{url} answered {status}: {detail}")]
    Refused {
        /// The hook URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the response body.
        detail: String,
    },
    /// Delivery failed in a way that may pass later.
    #[error("{url}: {why} (message {id} kept; it is retried under the same id)")]
    Retry {
        /// The hook URL.
        url: String,
        /// The last failure.
        why: String,
        /// The message id.
        id: String,
    },
    /// The state database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The inbox could not be written.
    #[error(transparent)]
    File(#[from] FileError),
    /// No random bytes.
    #[error(transparent)]
    Random(#[from] RandomError),
}

impl ExitStatus for BridgeError {
    fn exit(&self) -> Exit {
        match self {
            BridgeError::Config(_)
            | BridgeError::Secret(_)
            | BridgeError::Credential(_)
            | BridgeError::Unauthorized { .. } => Exit::Config,
            BridgeError::Verify(_) | BridgeError::Body(_) | BridgeError::Envelope(_) => {
                Exit::DataErr
            }
            BridgeError::Refused { .. } => Exit::Unavailable,
            BridgeError::Retry { .. } | BridgeError::Random(_) => Exit::TempFail,
            BridgeError::Store(e) => e.exit(),
            BridgeError::File(e) => e.exit_or(Exit::CantCreat),
        }
    }
}

/// The configured signing keys, in order: every one signs, any one verifies.
pub fn keys(config: &Config) -> Result<Vec<Key>, BridgeError> {
    config
        .bridge
        .secrets
        .iter()
        .map(|name| {
            let secret = credentials::read_configured(name)?;
            Ok(Key::parse(name, secret.expose())?)
        })
        .collect()
}

/// Write a new secret to `path` with mode 0600, refusing to replace an existing file (a
/// secret in use must be rotated, not overwritten).
pub fn write_new_secret(path: &std::path::Path) -> Result<(), BridgeError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let secret = signature::keygen()?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| FileError::new("cannot create secret", path, e))?;
    file.write_all(format!("{secret}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| FileError::new("cannot write secret", path, e))?;
    Ok(())
}

/// The body of a plain message: `{"type":"message","text":…,"request":…,"sent_at":…}`, plus
/// `message`, `name` and `sessionKey`, the fields the OpenClaw gateway's `/hooks/agent` reads.
pub fn message_body(
    text: &str,
    request: Option<&str>,
    session: Option<&str>,
    now: UnixTime,
) -> Vec<u8> {
    let mut body = json!({
        "type": "message",
        "text": text,
        "message": text,
        "name": "clawdbot",
        "sent_at": time::rfc3339(now),
    });
    if let Some(request) = request {
        body["request"] = request.into();
    }
    if let Some(session) = session {
        body["sessionKey"] = session.into();
    }
    body.to_string().into_bytes()
}

/// What became of a request, for the agent.
#[derive(Debug, Clone, Default)]
pub struct Outcome<'a> {
    /// The request id.
    pub request: &'a str,
    /// Its final state (`Done`, `Denied`, `Failed`, `Expired`).
    pub state: &'a str,
    /// One sentence for the agent.
    pub text: &'a str,
    /// The agent session it should reach.
    pub reply_session: Option<&'a str>,
    /// Who decided.
    pub decided_by: Option<&'a str>,
    /// The operator's words.
    pub words: Option<&'a str>,
    /// The action's exit status.
    pub exit: Option<i64>,
    /// The start of the action's output.
    pub output: Option<&'a str>,
}

/// The body telling the agent what became of its request (used by the broker).
pub fn outcome_body(o: &Outcome<'_>, now: UnixTime) -> Vec<u8> {
    let mut body = json!({
        "type": "outcome",
        "request": o.request,
        "state": o.state,
        "text": o.text,
        "message": format!("clawdbot request {}: {}", o.request, o.text),
        "name": "clawdbot",
        "sent_at": time::rfc3339(now),
    });
    let optional = [
        ("reply_session", o.reply_session.map(Into::into)),
        ("sessionKey", o.reply_session.map(Into::into)),
        ("decided_by", o.decided_by.map(Into::into)),
        ("operator_words", o.words.map(Into::into)),
        ("exit_status", o.exit.map(Into::into)),
        ("output", o.output.map(Into::into)),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            body[key] = value;
        }
    }
    body.to_string().into_bytes()
}

/// The body telling the agent that a request file was refused and why.
pub fn rejected_body(
    id: &str,
    file: &str,
    problems: &[crate::request::Problem],
    now: UnixTime,
) -> Vec<u8> {
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    json!({
        "type": "rejected",
        "request": id,
        "file": file,
        "problems": problems,
        "text": format!("Your request file {file} was refused ({id}): {}", lines.join("; ")),
        "message": format!("clawdbot refused request file {file}: {}", lines.join("; ")),
        "name": "clawdbot",
        "sent_at": time::rfc3339(now),
    })
    .to_string()
    .into_bytes()
}

/// The body telling the agent that its requests are held back by the operator's mail limit.
pub fn throttled_body(held: usize, per_hour: u32, now: UnixTime) -> Vec<u8> {
    let text = format!(
        "{held} of your requests wait: the operator gets at most {per_hour} approval mails an \
         hour, and the rest together in a digest mail. File fewer requests; each is decided in \
         turn."
    );
    json!({
        "type": "throttled",
        "held": held,
        "limit_per_hour": per_hour,
        "text": text,
        "message": format!("clawdbot is rate limiting your requests: {text}"),
        "name": "clawdbot",
        "sent_at": time::rfc3339(now),
    })
    .to_string()
    .into_bytes()
}

/// Record a message for delivery within the caller's transaction (the outbox pattern: the
/// message is as durable as the state change it reports). Returns its id.
pub fn queue(
    tx: &Tx<'_>,
    config: &Config,
    body: &[u8],
    request: Option<&str>,
    now: UnixTime,
) -> Result<String, StoreError> {
    let id = signature::message_id()?;
    tx.insert_bridge_message(&id, request, &config.bridge.mode.to_string(), body, now)?;
    Ok(id)
}

/// A body must be non-empty JSON within the configured size.
pub fn check_body(body: &[u8], config: &Config) -> Result<(), BridgeError> {
    let limit = config.bridge.max_body_bytes.get();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(BridgeError::Body("it is empty".into()));
    }
    if body.len() as u64 > limit {
        return Err(BridgeError::Body(format!(
            "{} bytes, at most {limit} (bridge.max_body_bytes)",
            body.len()
        )));
    }
    serde_json::from_slice::<serde_json::Value>(body)
        .map_err(|e| BridgeError::Body(format!("not JSON: {e}")))?;
    Ok(())
}

/// Where a message went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sent {
    /// The message id.
    pub id: String,
    /// The envelope file or the URL.
    pub to: String,
}

/// Record and deliver one message.
pub fn send(
    config: &Config,
    store: &mut Store,
    keys: &[Key],
    body: &[u8],
    request: Option<&str>,
) -> Result<Sent, BridgeError> {
    check_body(body, config)?;
    let id = signature::message_id()?;
    let mode = config.bridge.mode.to_string();
    store.write(|tx| tx.insert_bridge_message(&id, request, &mode, body, time::now()))?;
    deliver_recorded(config, store, keys, &id, body)
}

/// Deliver every recorded message still pending, under its own id. One result per message.
pub fn resend(
    config: &Config,
    store: &mut Store,
    keys: &[Key],
) -> Result<Vec<Result<Sent, BridgeError>>, BridgeError> {
    let pending: Vec<_> = store
        .undelivered_bridge_messages()?
        .into_iter()
        .filter(|m| m.state == "pending")
        .collect();
    Ok(pending
        .iter()
        .map(|m| deliver_recorded(config, store, keys, &m.id, &m.body))
        .collect())
}

fn deliver_recorded(
    config: &Config,
    store: &mut Store,
    keys: &[Key],
    id: &str,
    body: &[u8],
) -> Result<Sent, BridgeError> {
    let result = match config.bridge.mode {
        BridgeMode::Drop => deliver::drop(config.paths.inbox.path(), keys, id, body, time::now())
            .map(|path| path.display().to_string()),
        BridgeMode::Http => deliver::http(config, keys, id, body),
    };
    crate::failpoint::hit("bridge::after-deliver");
    let error = result.as_ref().err().map(ToString::to_string);
    // Only a message the receiver refused for good is marked failed; anything a retry or a
    // configuration fix can mend (network, token, inbox) stays pending.
    let final_failure = matches!(
        &result,
        Err(BridgeError::Refused { .. } | BridgeError::Body(_))
    );
    store.write(|tx| {
        tx.bridge_attempt(
            id,
            error.as_deref().map_or(Ok(()), Err),
            final_failure,
            time::now(),
        )
    })?;
    result.map(|to| Sent {
        id: id.to_string(),
        to,
    })
}

/// A drop-mode envelope as written to the inbox.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    headers: BTreeMap<String, String>,
    body: String,
}

/// Verify a drop envelope and hand its body over once (see [`verify_message`]).
pub fn verify_envelope(
    keys: &[Key],
    store: &mut Store,
    envelope: &[u8],
    config: &Config,
    now: UnixTime,
    hand_over: impl FnOnce(&[u8]) -> Result<(), BridgeError>,
) -> Result<(), BridgeError> {
    let envelope: Envelope = serde_json::from_slice(envelope)
        .map_err(|e| BridgeError::Envelope(format!("not an envelope: {e}")))?;
    let headers: Vec<(String, String)> = envelope.headers.into_iter().collect();
    verify_message(
        keys,
        store,
        &headers,
        envelope.body.as_bytes(),
        config,
        now,
        hand_over,
    )
}

/// Parse `Name: value` header lines as given on the command line.
pub fn parse_header_lines(lines: &[String]) -> Result<Vec<(String, String)>, BridgeError> {
    lines
        .iter()
        .map(|line| {
            line.split_once(':')
                .map(|(n, v)| (n.trim().to_string(), v.trim_start().to_string()))
                .ok_or_else(|| {
                    BridgeError::Envelope(format!(
                        "header {:?} is not \"Name: value\"",
                        crate::request::excerpt(line)
                    ))
                })
        })
        .collect()
}

/// Verify a body with its headers (names case-insensitive), then hand it over with
/// `hand_over` and remember its id. The id is recorded in the same transaction, committed
/// only once the hand-over succeeded: a receiver killed in between gets the message again on
/// its retry instead of a "replay" refusal, and a message is never handed over twice.
pub fn verify_message(
    keys: &[Key],
    store: &mut Store,
    headers: &[(String, String)],
    body: &[u8],
    config: &Config,
    now: UnixTime,
    hand_over: impl FnOnce(&[u8]) -> Result<(), BridgeError>,
) -> Result<(), BridgeError> {
    let limit = config.bridge.max_body_bytes.get();
    if body.len() as u64 > limit {
        return Err(BridgeError::Body(format!(
            "{} bytes, at most {limit}",
            body.len()
        )));
    }
    let find = |name: &'static str| -> Result<Option<&str>, BridgeError> {
        let mut found = headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name));
        match (found.next(), found.next()) {
            (Some(_), Some(_)) => Err(VerifyError::BadHeader {
                name,
                why: "given more than once",
            }
            .into()),
            (first, _) => Ok(first.map(|(_, v)| v.as_str())),
        }
    };
    let received = Received {
        id: find(signature::HEADER_ID)?,
        timestamp: find(signature::HEADER_TIMESTAMP)?,
        signature: find(signature::HEADER_SIGNATURE)?,
    };
    let id = signature::verify(keys, &received, body, now)?;
    store
        .take_message(id, now, || hand_over(body))?
        .unwrap_or_else(|| Err(VerifyError::Replay(id.to_string()).into()))
}
