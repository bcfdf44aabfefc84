//! The Gmail API over blocking HTTP, with the OAuth2 access token cached in the database:
//! refreshed when it expires, refreshed once and retried on a 401.

use std::time::Duration;

use base64::Engine;
use serde_json::Value;

use super::GmailError;
use crate::channels::oauth::{Credential, TokenError, Tokens};
use crate::core::store::Store;
use crate::platform::config::Config;
use crate::platform::credentials;

/// A Gmail API client for one poll.
pub struct Api<'a> {
    config: &'a Config,
    http: ureq::Agent,
    credential: Credential,
    /// HTTP calls made, for the figures and the log.
    pub calls: usize,
}

impl<'a> Api<'a> {
    /// Read the OAuth credential and set up the HTTP client.
    pub fn new(config: &'a Config) -> Result<Api<'a>, GmailError> {
        let name = &config.gmail.credential;
        let secret = credentials::read_configured(name)?;
        let credential: Credential = serde_json::from_str(secret.expose()).map_err(|e| {
            GmailError::Credential(format!(
                "credential {name:?} is not the JSON clawdbot-mailpoll authorize writes: {e}"
            ))
        })?;
        let http = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .timeout_global(Some(config.gmail.timeout.get().max(Duration::from_secs(1))))
                .http_status_as_error(false)
                .build(),
        );
        Ok(Api {
            config,
            http,
            credential,
            calls: 0,
        })
    }

    /// GET `path` (below `users/me/`) as JSON.
    pub fn get(&mut self, store: &mut Store, path: &str) -> Result<Value, GmailError> {
        self.call(store, "GET", path, None)
    }

    /// POST JSON to `path` (below `users/me/`).
    pub fn post(
        &mut self,
        store: &mut Store,
        path: &str,
        body: &Value,
    ) -> Result<Value, GmailError> {
        self.call(store, "POST", path, Some(body))
    }

    fn call(
        &mut self,
        store: &mut Store,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, GmailError> {
        let url = format!("{}/users/me/{path}", self.config.gmail.api_base.as_str());
        for attempt in 0..2 {
            let token = self.token(store, attempt > 0)?;
            self.calls += 1;
            let request = match method {
                "POST" => self
                    .http
                    .post(&url)
                    .header("authorization", &format!("Bearer {token}"))
                    .header("content-type", "application/json")
                    .send(body.unwrap_or(&Value::Null).to_string().as_bytes()),
                _ => self
                    .http
                    .get(&url)
                    .header("authorization", &format!("Bearer {token}"))
                    .call(),
            };
            let mut response =
                request.map_err(|e| GmailError::Network(format!("{method} {url}: {e}")))?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            // A body that breaks off is the network's failure (tried again); one over the
            // limit is the message's (set aside), as is any answer that is not JSON.
            let text = match response
                .body_mut()
                .with_config()
                .limit(64 * 1_048_576)
                .read_to_string()
            {
                Ok(text) => text,
                Err(ureq::Error::BodyExceedsLimit(limit)) => {
                    return Err(GmailError::Malformed(format!(
                        "{method} {url}: the answer is over {limit} bytes"
                    )));
                }
                Err(e) => return Err(GmailError::Network(format!("{method} {url}: {e}"))),
            };
            match status {
                200..=299 => {
                    return serde_json::from_str(&text)
                        .map_err(|e| GmailError::Malformed(format!("{method} {url}: {e}")));
                }
                401 if attempt == 0 => continue,
                404 => return Err(GmailError::NotFound(url)),
                429 | 500..=599 => {
                    return Err(GmailError::Busy {
                        url,
                        status,
                        retry_after,
                    });
                }
                _ => {
                    return Err(GmailError::Http {
                        url,
                        status,
                        detail: crate::core::request::excerpt(&text),
                    });
                }
            }
        }
        Err(GmailError::Http {
            url,
            status: 401,
            detail: "the access token was refused twice".into(),
        })
    }

    /// The cached access token, or a fresh one (always fresh when `refresh`).
    fn token(&mut self, store: &mut Store, refresh: bool) -> Result<String, GmailError> {
        let tokens = Tokens {
            prefix: "gmail".into(),
            token_url: self.config.gmail.token_url.as_str(),
            scope: None,
            credential: &self.credential,
        };
        let (token, called) = tokens
            .access_token(&self.http, store, refresh)
            .map_err(|e| match e {
                TokenError::InvalidGrant { .. } => GmailError::InvalidGrant,
                TokenError::InvalidClient => GmailError::Credential("Google refused the OAuth client id or secret (invalid_client); check the credential, or run clawdbot-mailpoll authorize again".into()),
                TokenError::Network(what) => GmailError::Network(what),
                TokenError::Busy { url, status } => GmailError::Busy {
                    url,
                    status,
                    retry_after: None,
                },
                TokenError::Http { url, status, detail } => GmailError::Http { url, status, detail },
                TokenError::Store(e) => GmailError::Store(e),
            })?;
        self.calls += usize::from(called);
        Ok(token)
    }
}

/// Gmail's `raw` is base64url, with or without padding.
pub fn decode_raw(raw: &str) -> Option<Vec<u8>> {
    let trimmed = raw.trim().trim_end_matches('=');
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_is_read_with_or_without_padding_and_junk_is_refused() {
        assert_eq!(decode_raw("aGk_").as_deref(), Some(&b"hi?"[..]));
        assert_eq!(decode_raw("aGk=").as_deref(), Some(&b"hi"[..]));
        assert_eq!(decode_raw("aGk").as_deref(), Some(&b"hi"[..]));
        assert_eq!(decode_raw("not base64!"), None);
    }
}
