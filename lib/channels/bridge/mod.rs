//! The bridge (docs/wire-formats.md): one-way messages from the admin side to the agent, signed
//! in the Standard Webhooks format so that neither a prompt-injected agent, another local
//! process nor a replayed capture can forge or repeat one. Every message sent is recorded
//! first, so a failed delivery is retried under the same id, never minted twice.

pub mod deliver;
pub mod signature;

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::core::store::{Store, StoreError};
use crate::platform::atomic::FileError;
use crate::platform::config::{BridgeMode, Config};
use crate::platform::credentials::{self, CredentialError};
use crate::platform::exit::{Exit, ExitStatus};
use crate::platform::ids::{self, RandomError};
use crate::platform::time::{self, UnixTime};
use signature::{Key, Received, SecretError, VerifyError};

/// The words a [`BridgeError::Gateway`] message names the setting with; `clawdbot doctor`
/// finds the messages the gateway holds by them in the recorded last error.
pub const GATEWAY_HOLDS: &str = "change the gateway's";

/// Why a message could not be signed, sent or verified.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The configuration did not load.
    #[error(transparent)]
    Config(#[from] crate::platform::config::ConfigError),
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
    /// The gateway refused the message because of one of its own settings: a configuration
    /// error, so the message stays pending and is sent again once the setting is fixed.
    #[error(
        "{url} answered {status}: {detail}; {change} {setting} (the message is kept, and `clawdbot-bridge resend` sends it again)",
        change = GATEWAY_HOLDS
    )]
    Gateway {
        /// The hook URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the response body.
        detail: String,
        /// The OpenClaw setting to change, from [`gateway_setting`].
        setting: &'static str,
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
            | BridgeError::Unauthorized { .. }
            | BridgeError::Gateway { .. } => Exit::Config,
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

/// The OpenClaw setting a refusal names, if it is one a configuration change mends: what the
/// gateway answers when its hook policy or mapping does not let the message in.
pub fn gateway_setting(status: u16, detail: &str) -> Option<&'static str> {
    const PREFIXES: &str = "hooks.allowedSessionKeyPrefixes (list the reply session's prefix, such as \"agent:main:\")";
    const SETTINGS: [(&str, &str); 7] = [
        (
            "allowRequestSessionKey",
            "hooks.allowRequestSessionKey (true, or a hook mapping through clawdbot-verify.mjs, which sets the session itself)",
        ),
        ("allowedSessionKeyPrefixes", PREFIXES),
        ("sessionKey must start with", PREFIXES),
        (
            "allowedAgentIds",
            "hooks.allowedAgentIds (list the reply session's agent)",
        ),
        (
            "unknown agentId",
            "agents.list (the reply session names an agent the gateway does not have)",
        ),
        (
            "hook mapping failed",
            "hooks.mappings transform: it failed to load or threw; see the gateway's log (is standardwebhooks installed beside clawdbot-verify.mjs?)",
        ),
        (
            "hook mapping requires message",
            "hooks.mappings transform: clawdbot-verify.mjs refused the signature; check that its secret file holds one of [bridge] secrets and that both clocks are right",
        ),
    ];
    match status {
        404 => Some(
            "hooks.path or hooks.mappings ([bridge] url names a hook the gateway does not serve)",
        ),
        400 | 500 => SETTINGS
            .iter()
            .find(|(said, _)| detail.contains(said))
            .map(|(_, setting)| *setting),
        _ => None,
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

/// The largest integer JavaScript holds exactly (2^53 - 1).
const JS_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A body as it is signed and sent: a JSON object within the configured size, in canonical
/// form (compact, keys sorted, as serde_json writes it).
///
/// OpenClaw hands a hook's transform the parsed body, not its bytes, so the shipped verifier
/// (`clawdbot-verify.mjs`) checks the signature over `JSON.stringify` of it. That gives back
/// these bytes only when every number is an integer JavaScript holds exactly and no key is one
/// JavaScript moves to the front (an array index such as "7"); anything else is refused here,
/// before it is recorded, rather than refused at the gateway.
pub fn canonical_body(body: &[u8], config: &Config) -> Result<Vec<u8>, BridgeError> {
    let limit = config.bridge.max_body_bytes.get();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(BridgeError::Body("it is empty".into()));
    }
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| BridgeError::Body(format!("not JSON: {e}")))?;
    let canonical = value.to_string().into_bytes();
    if canonical.len() as u64 > limit {
        return Err(BridgeError::Body(format!(
            "{} bytes, at most {limit} (bridge.max_body_bytes)",
            canonical.len()
        )));
    }
    if !value.is_object() {
        return Err(BridgeError::Body(
            "not a JSON object (a hook reads the fields of one)".into(),
        ));
    }
    // JavaScript's trim also removes U+FEFF: a message of only that is empty to OpenClaw.
    let blank = |c: char| c.is_whitespace() || c == '\u{feff}';
    let message = value["message"]
        .as_str()
        .is_some_and(|m| !m.trim_matches(blank).is_empty());
    if config.bridge.mode == BridgeMode::Http && !message {
        return Err(BridgeError::Body(
            "it has no \"message\" text, the one field OpenClaw's hook shows the agent".into(),
        ));
    }
    same_in_javascript(&value).map_err(BridgeError::Body)?;
    Ok(canonical)
}

/// Whether `JSON.stringify(JSON.parse(x))` gives back `x` for this value's canonical form;
/// if not, the first reason.
fn same_in_javascript(value: &serde_json::Value) -> Result<(), String> {
    use serde_json::Value;
    match value {
        Value::Number(n) => {
            let exact = n.as_u64().or_else(|| n.as_i64().map(i64::unsigned_abs));
            match exact {
                Some(magnitude) if magnitude <= JS_SAFE_INTEGER => Ok(()),
                Some(_) => Err(format!(
                    "the number {n} is beyond 2^53 - 1, which JavaScript does not hold exactly; \
                     send it as a string"
                )),
                None => Err(format!(
                    "the number {n} is not an integer; JavaScript may write it differently, so \
                     the gateway could not check its signature; send it as a string"
                )),
            }
        }
        Value::Array(items) => items.iter().try_for_each(same_in_javascript),
        Value::Object(fields) => fields.iter().try_for_each(|(key, field)| {
            if is_array_index(key) {
                return Err(format!(
                    "the key {key:?} is an array index, which JavaScript moves to the front of \
                     an object; rename it"
                ));
            }
            same_in_javascript(field)
        }),
        Value::Null | Value::Bool(_) | Value::String(_) => Ok(()),
    }
}

/// An array index in JavaScript's sense: "0" or a decimal without a leading zero, below 2^32 - 1.
fn is_array_index(key: &str) -> bool {
    let digits = !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit());
    let canonical = key == "0" || !key.starts_with('0');
    digits && canonical && key.parse::<u64>().is_ok_and(|n| n < u64::from(u32::MAX))
}

/// Where a message went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sent {
    /// The message id.
    pub id: String,
    /// The envelope file or the URL.
    pub to: String,
}

/// Record and deliver one message, in canonical form ([`canonical_body`]).
pub fn send(
    config: &Config,
    store: &mut Store,
    keys: &[Key],
    body: &[u8],
    request: Option<&str>,
) -> Result<Sent, BridgeError> {
    let body = canonical_body(body, config)?;
    let id = ids::bridge_message_id()?;
    let mode = config.bridge.mode.to_string();
    store.write(|tx| tx.insert_bridge_message(&id, request, &mode, &body, time::now()))?;
    deliver_recorded(config, store, keys, &id, &body)
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
    crate::platform::failpoint::hit("bridge::after-deliver");
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
                        crate::core::request::excerpt(line)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_sent_in_canonical_form_or_refused_with_the_reason() {
        let mut config = Config::default();
        config.bridge.mode = BridgeMode::Http;
        let canonical = canonical_body(
            br#" { "z": [1, -9007199254740991, {"b": null, "a": "\u00e9\/"}], "message": "m" } "#,
            &config,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(canonical).unwrap(),
            r#"{"message":"m","z":[1,-9007199254740991,{"a":"é/","b":null}]}"#
        );
        let refused = [
            (&br#"{"message":"m","n":1.5}"#[..], "not an integer"),
            (br#"{"message":"m","n":1e3}"#, "not an integer"),
            (br#"{"message":"m","n":9007199254740992}"#, "beyond 2^53"),
            (br#"{"message":"m","n":{"7":1}}"#, "array index"),
            (br#"{"text":"no message"}"#, "no \"message\""),
            (br#"{"message":"  "}"#, "no \"message\""),
            ("{\"message\":\" \u{feff}\"}".as_bytes(), "no \"message\""),
            (br#"["message"]"#, "not a JSON object"),
            (b" \n", "empty"),
            (br#"{"message":"m""#, "not JSON"),
        ];
        for (body, why) in refused {
            let e = canonical_body(body, &config).unwrap_err().to_string();
            assert!(e.contains(why), "{}: {e}", String::from_utf8_lossy(body));
        }
        // Keys JavaScript keeps in place pass; drop mode needs no message field.
        config.bridge.mode = BridgeMode::Drop;
        for body in [
            &br#"{"07":1,"-1":2,"4294967295":3}"#[..],
            br#"{"text":"t"}"#,
        ] {
            canonical_body(body, &config).unwrap();
        }
    }

    #[test]
    fn refusals_naming_a_gateway_setting_are_configuration_errors() {
        let said = [
            (
                400,
                "sessionKey is disabled for externally supplied hook payload values; set hooks.allowRequestSessionKey=true to enable",
                "hooks.allowRequestSessionKey",
            ),
            (
                400,
                "sessionKey must start with one of: hook:",
                "hooks.allowedSessionKeyPrefixes",
            ),
            (
                400,
                "hooks.allowedSessionKeyPrefixes is required when direct hook sessionMode is persistent",
                "hooks.allowedSessionKeyPrefixes",
            ),
            (
                400,
                "agentId is not allowed by hooks.allowedAgentIds",
                "hooks.allowedAgentIds",
            ),
            (400, "unknown agentId \"ops\"", "agents.list"),
            (400, "hook mapping requires message", "clawdbot-verify.mjs"),
            (404, "Not Found", "hooks.path"),
            (500, "hook mapping failed", "standardwebhooks"),
        ];
        for (status, detail, setting) in said {
            let body = format!(
                r#"{{"ok":false,"error":"{}"}}"#,
                detail.replace('"', "\\\"")
            );
            let found = gateway_setting(status, &body).unwrap_or_default();
            assert!(
                found.starts_with(setting) || found.contains(setting),
                "{detail}: {found}"
            );
        }
        assert_eq!(
            gateway_setting(400, r#"{"ok":false,"error":"message required"}"#),
            None
        );
        assert_eq!(gateway_setting(413, "hooks.allowedAgentIds"), None);
        assert_eq!(gateway_setting(500, "internal error"), None);
    }
}
