//! The Gmail API over blocking HTTP, with the OAuth2 access token cached in the database:
//! refreshed when it expires, refreshed once and retried on a 401.

use std::time::Duration;

use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

use super::GmailError;
use crate::config::Config;
use crate::credentials;
use crate::store::Store;
use crate::time;

const TOKEN: &str = "gmail.access_token";
const TOKEN_EXPIRES: &str = "gmail.access_token_expires";

/// The OAuth client and its refresh token, as `clawdbot-mailpoll authorize` stores them.
#[derive(Deserialize)]
struct OAuthCredential {
    client_id: String,
    client_secret: String,
    refresh_token: String,
}

/// A Gmail API client for one poll.
pub struct Api<'a> {
    config: &'a Config,
    http: ureq::Agent,
    credential: OAuthCredential,
    /// HTTP calls made, for the figures and the log.
    pub calls: usize,
}

impl<'a> Api<'a> {
    /// Read the OAuth credential and set up the HTTP client.
    pub fn new(config: &'a Config) -> Result<Api<'a>, GmailError> {
        let name = &config.gmail.credential;
        let secret = credentials::read_configured(name)?;
        let credential: OAuthCredential = serde_json::from_str(secret.expose()).map_err(|e| {
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
            let text = response
                .body_mut()
                .with_config()
                .limit(64 * 1_048_576)
                .read_to_string()
                .unwrap_or_default();
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
                        detail: crate::request::excerpt(&text),
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
        if !refresh {
            let cached = store.read(|tx| Ok((tx.setting(TOKEN)?, tx.setting(TOKEN_EXPIRES)?)))?;
            if let (Some(token), Some(expires)) = cached
                && expires.parse::<i64>().is_ok_and(|e| e > time::now() + 60)
            {
                return Ok(token);
            }
        }
        let url = self.config.gmail.token_url.as_str().to_string();
        self.calls += 1;
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", self.credential.refresh_token.as_str()),
            ("client_id", self.credential.client_id.as_str()),
            ("client_secret", self.credential.client_secret.as_str()),
        ];
        let mut response = self
            .http
            .post(&url)
            .send_form(form)
            .map_err(|e| GmailError::Network(format!("POST {url}: {e}")))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        match answer["error"].as_str() {
            Some("invalid_grant") => return Err(GmailError::InvalidGrant),
            Some("invalid_client") => {
                return Err(GmailError::Credential("Google refused the OAuth client id or secret (invalid_client); check the credential, or run clawdbot-mailpoll authorize again".into()));
            }
            _ => {}
        }
        let (Some(token), Some(expires_in)) = (
            answer["access_token"].as_str(),
            answer["expires_in"].as_i64(),
        ) else {
            return Err(match status {
                429 | 500..=599 => GmailError::Busy {
                    url,
                    status,
                    retry_after: None,
                },
                _ => GmailError::Http {
                    url,
                    status,
                    detail: crate::request::excerpt(&text),
                },
            });
        };
        let expires = (time::now() + expires_in).to_string();
        store.write(|tx| {
            tx.set_setting(TOKEN, Some(token))?;
            tx.set_setting(TOKEN_EXPIRES, Some(&expires))
        })?;
        Ok(token.to_string())
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
