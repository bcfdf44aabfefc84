//! Standard Webhooks v1 signatures: `v1,` + base64(HMAC-SHA256(key, "id.timestamp.body")),
//! key = base64 of the `whsec_` secret. Pure functions; the clock is passed in.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::platform::ids::{self, RandomError};

/// The prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Timestamps further off than this, either way, are refused.
pub const TOLERANCE_SECS: i64 = 300;
const KEY_MIN: usize = 24;
const KEY_MAX: usize = 64;

/// The three headers of a signed message.
pub const HEADER_ID: &str = "webhook-id";
/// Unix seconds.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// Space-separated `v1,…` signatures.
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// Why a secret is unusable. The secret itself is never part of the message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// No `whsec_` prefix.
    #[error("secret {0:?} does not start with whsec_ (make one with: clawdbot-bridge keygen)")]
    Prefix(String),
    /// Not base64 after the prefix.
    #[error("secret {0:?} is not base64 after whsec_")]
    Base64(String),
    /// Too short or too long.
    #[error("secret {name:?} holds {len} bytes; a secret holds 24 to 64 random bytes")]
    Length {
        /// The secret's name.
        name: String,
        /// Its decoded length.
        len: usize,
    },
}

/// A decoded signing key with the name it came from.
#[derive(Clone)]
pub struct Key {
    name: String,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({:?})", self.name)
    }
}

impl Key {
    /// Parse `whsec_BASE64`; `name` says where it came from, for errors.
    pub fn parse(name: &str, text: &str) -> Result<Key, SecretError> {
        let encoded = text
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or_else(|| SecretError::Prefix(name.to_string()))?;
        let bytes = B64
            .decode(encoded)
            .map_err(|_| SecretError::Base64(name.to_string()))?;
        if !(KEY_MIN..=KEY_MAX).contains(&bytes.len()) {
            return Err(SecretError::Length {
                name: name.to_string(),
                len: bytes.len(),
            });
        }
        Ok(Key {
            name: name.to_string(),
            bytes,
        })
    }

    /// Where the key came from.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length; new_from_slice cannot fail for it.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.bytes) {
            Ok(mac) => mac,
            Err(_) => return Vec::new(),
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }
}

/// A new secret: `whsec_` + base64 of 32 random bytes from the OS.
pub fn keygen() -> Result<String, RandomError> {
    let mut bytes = [0u8; 32];
    ids::fill_random(&mut bytes)?;
    Ok(format!("{SECRET_PREFIX}{}", B64.encode(bytes)))
}

/// The `webhook-signature` value: one `v1,…` entry per key, space-separated.
pub fn sign(keys: &[Key], id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        .map(|k| format!("v1,{}", B64.encode(k.mac(id, timestamp, body))))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a message was refused. Each has its own message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// A required header is absent.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// A header is malformed.
    #[error("bad header {name}: {why}")]
    BadHeader {
        /// The header.
        name: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
    /// Signed too long ago.
    #[error("message timestamp is {0} s old; at most 300 s is accepted")]
    TooOld(i64),
    /// Signed in the future.
    #[error("message timestamp is {0} s in the future; at most 300 s is accepted")]
    TooNew(i64),
    /// No v1 signature matches any key.
    #[error("no signature matches (wrong secret, or the message was altered)")]
    NoMatch,
    /// The id was seen before.
    #[error("message {0} was already delivered: a replay")]
    Replay(String),
    /// The body is empty.
    #[error("the body is empty")]
    EmptyBody,
}

/// The three header values as received.
#[derive(Debug, Clone, Default)]
pub struct Received<'a> {
    /// `webhook-id`.
    pub id: Option<&'a str>,
    /// `webhook-timestamp`.
    pub timestamp: Option<&'a str>,
    /// `webhook-signature`.
    pub signature: Option<&'a str>,
}

/// Check the headers and signature of a message at time `now`; returns its id.
/// Replay protection is the caller's: record the id only after this succeeds.
pub fn verify<'a>(
    keys: &[Key],
    headers: &Received<'a>,
    body: &[u8],
    now: i64,
) -> Result<&'a str, VerifyError> {
    let id = header(headers.id, HEADER_ID)?;
    let timestamp = header(headers.timestamp, HEADER_TIMESTAMP)?;
    let signature = header(headers.signature, HEADER_SIGNATURE)?;
    if id.is_empty() || id.len() > 256 {
        return Err(VerifyError::BadHeader {
            name: HEADER_ID,
            why: "must be 1 to 256 characters",
        });
    }
    if timestamp.is_empty()
        || timestamp.len() > 12
        || !timestamp.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(VerifyError::BadHeader {
            name: HEADER_TIMESTAMP,
            why: "must be unix seconds",
        });
    }
    let ts: i64 = timestamp.parse().map_err(|_| VerifyError::BadHeader {
        name: HEADER_TIMESTAMP,
        why: "must be unix seconds",
    })?;
    if now - ts > TOLERANCE_SECS {
        return Err(VerifyError::TooOld(now - ts));
    }
    if ts - now > TOLERANCE_SECS {
        return Err(VerifyError::TooNew(ts - now));
    }
    if body.is_empty() {
        return Err(VerifyError::EmptyBody);
    }
    let expected: Vec<Vec<u8>> = keys.iter().map(|k| k.mac(id, ts, body)).collect();
    let matched = signature
        .split(' ')
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .filter_map(|(_, sig)| B64.decode(sig).ok())
        .any(|given| expected.iter().any(|mac| constant_time_eq(mac, &given)));
    if matched {
        Ok(id)
    } else {
        Err(VerifyError::NoMatch)
    }
}

fn header<'a>(value: Option<&'a str>, name: &'static str) -> Result<&'a str, VerifyError> {
    let value = value.ok_or(VerifyError::MissingHeader(name))?;
    if value.chars().any(char::is_control) {
        return Err(VerifyError::BadHeader {
            name,
            why: "contains a control character (a line break?)",
        });
    }
    Ok(value.trim())
}

/// Equal length first, then every byte compared whatever the earlier ones were.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn vectors() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/standard-webhooks-vectors.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn case(v: &Value) -> (Key, String, i64, String, String) {
        (
            Key::parse("vector", v["secret"].as_str().unwrap()).unwrap(),
            v["msg_id"].as_str().unwrap().to_string(),
            v["timestamp"].as_i64().unwrap(),
            v["payload"].as_str().unwrap().to_string(),
            v["signature"].as_str().unwrap().to_string(),
        )
    }

    #[test]
    fn valid_vectors_verify_and_signing_reproduces_them() {
        let all = vectors();
        let valid = all["valid"].as_array().unwrap();
        assert!(!valid.is_empty());
        for v in valid {
            let (key, id, ts, payload, signature) = case(v);
            assert_eq!(
                sign(std::slice::from_ref(&key), &id, ts, payload.as_bytes()),
                signature
            );
            let headers = Received {
                id: Some(&id),
                timestamp: Some(&ts.to_string()),
                signature: Some(&signature),
            };
            assert_eq!(
                verify(&[key], &headers, payload.as_bytes(), ts),
                Ok(id.as_str())
            );
        }
    }

    #[test]
    fn must_fail_vectors_fail() {
        let all = vectors();
        for v in all["must_fail"].as_array().unwrap() {
            let (key, id, ts, payload, signature) = case(v);
            let headers = Received {
                id: Some(&id),
                timestamp: Some(&ts.to_string()),
                signature: Some(&signature),
            };
            assert_eq!(
                verify(&[key], &headers, payload.as_bytes(), ts),
                Err(VerifyError::NoMatch),
                "{}",
                v["why"]
            );
        }
    }

    fn signed(now: i64, ts: i64) -> Result<(), VerifyError> {
        let key = Key::parse("k", &keygen().unwrap()).unwrap();
        let sig = sign(std::slice::from_ref(&key), "msg_1", ts, b"{}");
        let ts = ts.to_string();
        verify(
            &[key],
            &Received {
                id: Some("msg_1"),
                timestamp: Some(&ts),
                signature: Some(&sig),
            },
            b"{}",
            now,
        )
        .map(drop)
    }

    #[test]
    fn clock_skew_of_299_passes_and_301_fails_both_ways() {
        let now = 1_800_000_000;
        assert_eq!(signed(now, now - 299), Ok(()));
        assert_eq!(signed(now, now + 299), Ok(()));
        assert_eq!(signed(now, now - 301), Err(VerifyError::TooOld(301)));
        assert_eq!(signed(now, now + 301), Err(VerifyError::TooNew(301)));
    }

    #[test]
    fn rotation_accepts_any_v1_entry_and_skips_other_versions() {
        let old = Key::parse("old", &keygen().unwrap()).unwrap();
        let new = Key::parse("new", &keygen().unwrap()).unwrap();
        let both = sign(&[old.clone(), new.clone()], "msg_1", 100, b"x");
        assert_eq!(both.split(' ').count(), 2);
        let with_v2 = format!("v2,AAAA {both}");
        for keys in [vec![old.clone()], vec![new.clone()]] {
            let h = Received {
                id: Some("msg_1"),
                timestamp: Some("100"),
                signature: Some(&with_v2),
            };
            assert!(verify(&keys, &h, b"x", 100).is_ok());
        }
    }

    #[test]
    fn every_rejection_has_its_own_error() {
        let key = Key::parse("k", &keygen().unwrap()).unwrap();
        let keys = [key.clone()];
        let sig = sign(&keys, "msg_1", 100, b"x");
        let ok = Received {
            id: Some("msg_1"),
            timestamp: Some("100"),
            signature: Some(&sig),
        };
        assert_eq!(
            verify(
                &keys,
                &Received {
                    id: None,
                    ..ok.clone()
                },
                b"x",
                100
            ),
            Err(VerifyError::MissingHeader(HEADER_ID))
        );
        assert_eq!(
            verify(
                &keys,
                &Received {
                    signature: None,
                    ..ok.clone()
                },
                b"x",
                100
            ),
            Err(VerifyError::MissingHeader(HEADER_SIGNATURE))
        );
        assert!(matches!(
            verify(
                &keys,
                &Received {
                    timestamp: Some("1e3"),
                    ..ok.clone()
                },
                b"x",
                100
            ),
            Err(VerifyError::BadHeader { .. })
        ));
        assert!(matches!(
            verify(
                &keys,
                &Received {
                    id: Some("msg_1\r\nx: y"),
                    ..ok.clone()
                },
                b"x",
                100
            ),
            Err(VerifyError::BadHeader { .. })
        ));
        assert_eq!(verify(&keys, &ok, b"y", 100), Err(VerifyError::NoMatch));
        assert_eq!(verify(&keys, &ok, b"", 100), Err(VerifyError::EmptyBody));
        let truncated = &sig[..sig.len() - 4];
        assert_eq!(
            verify(
                &keys,
                &Received {
                    signature: Some(truncated),
                    ..ok
                },
                b"x",
                100
            ),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn bad_secrets_are_refused() {
        assert!(matches!(
            Key::parse("a", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(SecretError::Prefix(_))
        ));
        assert!(matches!(
            Key::parse("a", "whsec_!!!"),
            Err(SecretError::Base64(_))
        ));
        assert!(matches!(
            Key::parse("a", "whsec_AAAAAAAAAAA="),
            Err(SecretError::Length { len: 8, .. })
        ));
        let err = Key::parse("a", "whsec_AAAAAAAAAAA=")
            .unwrap_err()
            .to_string();
        assert!(
            !err.contains("AAAAAAAAAAA"),
            "the secret must not appear: {err}"
        );
    }

    #[test]
    fn generated_ids_have_no_dots() {
        let id = ids::bridge_message_id().unwrap();
        assert!(id.starts_with("msg_") && !id.contains('.') && id.len() == 30);
    }
}
