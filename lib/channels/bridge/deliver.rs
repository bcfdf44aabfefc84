//! Delivery of a signed message: an envelope file in the agent's inbox (`drop`), or a POST
//! to the gateway's hook (`http`) with retries on 429, 5xx and connection errors.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use super::BridgeError;
use super::signature::{self, Key};
use crate::platform::atomic;
use crate::platform::config::Config;
use crate::platform::credentials;
use crate::platform::time::{self, UnixTime};

/// Write `{"headers": {...}, "body": "<exact signed text>"}` atomically as `INBOX/ID.json`.
pub fn drop(
    inbox: &Path,
    keys: &[Key],
    id: &str,
    body: &[u8],
    now: UnixTime,
) -> Result<PathBuf, BridgeError> {
    let text = std::str::from_utf8(body).map_err(|_| BridgeError::Body("not UTF-8".into()))?;
    let envelope = json!({
        "headers": {
            signature::HEADER_ID: id,
            signature::HEADER_TIMESTAMP: now.to_string(),
            signature::HEADER_SIGNATURE: signature::sign(keys, id, now, body),
        },
        "body": text,
    });
    let path = inbox.join(format!("{id}.json"));
    atomic::write(&path, envelope.to_string().as_bytes(), 0o640)?;
    Ok(path)
}

/// The longest wait a `Retry-After` may impose on one attempt.
const RETRY_AFTER_MAX: Duration = Duration::from_secs(30);

/// POST the message; each attempt is signed afresh (same id, new timestamp). Returns the URL.
pub fn http(config: &Config, keys: &[Key], id: &str, body: &[u8]) -> Result<String, BridgeError> {
    let bridge = &config.bridge;
    let url = bridge
        .url
        .as_ref()
        .map(|u| u.as_str().to_string())
        .unwrap_or_default();
    let token = credentials::read_configured(&bridge.token_credential)?;
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .timeout_global(Some(bridge.timeout.get()))
            .http_status_as_error(false)
            .max_redirects(0)
            .build(),
    );
    let mut delay = Duration::from_millis(500);
    let mut why = String::new();
    for attempt in 0..=bridge.retries {
        if attempt > 0 {
            std::thread::sleep(delay);
            delay = (delay * 2).min(RETRY_AFTER_MAX);
        }
        let now = time::now();
        let response = agent
            .post(&url)
            .header("content-type", "application/json")
            .header("authorization", &format!("Bearer {}", token.expose()))
            .header("idempotency-key", id)
            .header(signature::HEADER_ID, id)
            .header(signature::HEADER_TIMESTAMP, &now.to_string())
            .header(
                signature::HEADER_SIGNATURE,
                &signature::sign(keys, id, now, body),
            )
            .send(body);
        let mut response = match response {
            Ok(response) => response,
            Err(e) => {
                why = format!("attempt {}: {e}", attempt + 1);
                log::warn!("bridge message {id} to {url}: {why}");
                continue;
            }
        };
        let status = response.status().as_u16();
        if (200..=299).contains(&status) {
            return Ok(url);
        }
        if matches!(status, 401 | 403) {
            return Err(BridgeError::Unauthorized {
                url,
                status,
                credential: bridge.token_credential.clone(),
            });
        }
        let wait = retry_after(&response);
        let detail = response
            .body_mut()
            .with_config()
            .limit(512)
            .read_to_string()
            .unwrap_or_default();
        let setting = super::gateway_setting(status, &detail);
        let detail = crate::core::request::excerpt(&detail);
        if let Some(setting) = setting {
            return Err(BridgeError::Gateway {
                url,
                status,
                detail,
                setting,
            });
        }
        // 408: the body came too slowly; 409: OpenClaw reloaded its hooks or the session
        // changed under the run. Both pass on a later attempt.
        if !matches!(status, 408 | 409 | 429 | 500..=599) {
            return Err(BridgeError::Refused {
                url,
                status,
                detail,
            });
        }
        why = format!("attempt {}: HTTP {status} {detail}", attempt + 1);
        log::warn!("bridge message {id} to {url}: {why}");
        if let Some(wait) = wait {
            delay = wait.min(RETRY_AFTER_MAX);
        }
    }
    Err(BridgeError::Retry {
        url,
        why,
        id: id.to_string(),
    })
}

fn retry_after(response: &ureq::http::Response<ureq::Body>) -> Option<Duration> {
    let value = response.headers().get("retry-after")?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}
