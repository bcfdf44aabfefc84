//! OAuth 2.0 for the services the suite reads (Google, Microsoft): the credential a person
//! gets once with the consent flow, and access tokens from its refresh token, cached in the
//! database until they expire.

use std::io::{BufRead, Write};
use std::path::Path;

use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::core::request::hex;
use crate::core::store::{Store, StoreError};
use crate::platform::atomic::FileError;
use crate::platform::time;

/// Where the consent page sends the browser: a loopback address nothing listens on, which
/// both Google and Microsoft accept for desktop clients.
pub const REDIRECT: &str = "http://127.0.0.1";

/// The credential `authorize` writes: an OAuth client and its refresh token.
#[derive(Deserialize)]
pub struct Credential {
    /// The client id.
    pub client_id: String,
    /// The client secret (Microsoft's public clients have none).
    #[serde(default)]
    pub client_secret: String,
    /// The refresh token.
    pub refresh_token: String,
}

/// Why no access token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The refresh token was revoked or has expired.
    #[error("the refresh token was refused (invalid_grant{})", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    InvalidGrant {
        /// The service's own words, shortened.
        detail: Option<String>,
    },
    /// The client id or secret was refused.
    #[error("the OAuth client id or secret was refused (invalid_client)")]
    InvalidClient,
    /// The network failed.
    #[error("network: POST {0}")]
    Network(String),
    /// 429 or 5xx from the token endpoint.
    #[error("{url} answered {status}")]
    Busy {
        /// The endpoint.
        url: String,
        /// The status.
        status: u16,
    },
    /// Any other answer without a token.
    #[error("{url} answered {status}: {detail}")]
    Http {
        /// The endpoint.
        url: String,
        /// The status.
        status: u16,
        /// The start of the body.
        detail: String,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where one credential's tokens are cached: settings `PREFIX.access_token`,
/// `PREFIX.access_token_expires` and `PREFIX.refresh_token`.
pub struct Tokens<'a> {
    /// The settings prefix, e.g. `gmail` or `calendar.work`.
    pub prefix: String,
    /// The token endpoint.
    pub token_url: &'a str,
    /// The scope to ask for on refresh (Microsoft wants it; Google takes the granted one).
    pub scope: Option<&'a str>,
    /// The credential.
    pub credential: &'a Credential,
}

impl Tokens<'_> {
    /// The cached access token if it is good for another minute, else a fresh one (always
    /// fresh when `refresh`, after the service refused the cached one); and whether the token
    /// endpoint was called.
    pub fn access_token(
        &self,
        http: &ureq::Agent,
        store: &mut Store,
        refresh: bool,
    ) -> Result<(String, bool), TokenError> {
        let (token_key, expires_key, refresh_key) = (
            format!("{}.access_token", self.prefix),
            format!("{}.access_token_expires", self.prefix),
            format!("{}.refresh_token", self.prefix),
        );
        let (cached, expires, rotated) = store.read(|tx| {
            Ok((
                tx.setting(&token_key)?,
                tx.setting(&expires_key)?,
                tx.setting(&refresh_key)?,
            ))
        })?;
        if !refresh
            && let (Some(token), Some(expires)) = (cached, expires)
            && expires.parse::<i64>().is_ok_and(|e| e > time::now() + 60)
        {
            return Ok((token, false));
        }
        // Microsoft rotates refresh tokens: the newest one it gave is kept beside the hash of
        // the credential's own, so that a new credential (re-authorised) wins over it.
        let own = hex(&Sha256::digest(self.credential.refresh_token.as_bytes()));
        let refresh_token = rotated
            .as_deref()
            .and_then(|r| r.split_once(' '))
            .filter(|(hash, _)| *hash == own)
            .map_or(self.credential.refresh_token.as_str(), |(_, token)| token)
            .to_string();
        let fresh = self.refresh(http, &refresh_token)?;
        let expires = (time::now() + fresh.expires_in).to_string();
        let rotated = fresh.refresh_token.map(|new| format!("{own} {new}"));
        store.write(|tx| {
            tx.set_setting(&token_key, Some(&fresh.access_token))?;
            tx.set_setting(&expires_key, Some(&expires))?;
            match &rotated {
                Some(rotated) => tx.set_setting(&refresh_key, Some(rotated)),
                None => Ok(()),
            }
        })?;
        Ok((fresh.access_token, true))
    }

    fn refresh(&self, http: &ureq::Agent, refresh_token: &str) -> Result<Fresh, TokenError> {
        let url = self.token_url;
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", self.credential.client_id.as_str()),
        ];
        if !self.credential.client_secret.is_empty() {
            form.push(("client_secret", self.credential.client_secret.as_str()));
        }
        if let Some(scope) = self.scope {
            form.push(("scope", scope));
        }
        let mut response = http
            .post(url)
            .send_form(form)
            .map_err(|e| TokenError::Network(format!("{url}: {e}")))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(1_048_576)
            .read_to_string()
            .unwrap_or_default();
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        match answer["error"].as_str() {
            Some("invalid_grant") => {
                return Err(TokenError::InvalidGrant {
                    detail: answer["error_description"]
                        .as_str()
                        .map(crate::core::request::excerpt),
                });
            }
            Some("invalid_client" | "unauthorized_client") => {
                return Err(TokenError::InvalidClient);
            }
            _ => {}
        }
        // Some endpoints send expires_in as a string.
        let expires_in = answer["expires_in"]
            .as_i64()
            .or_else(|| answer["expires_in"].as_str()?.parse().ok());
        match (answer["access_token"].as_str(), expires_in) {
            (Some(token), Some(expires_in)) if (200..300).contains(&status) => Ok(Fresh {
                access_token: token.to_string(),
                expires_in: expires_in.clamp(0, 86_400),
                refresh_token: answer["refresh_token"]
                    .as_str()
                    .filter(|r| *r != refresh_token)
                    .map(str::to_string),
            }),
            _ if status == 429 || status >= 500 => Err(TokenError::Busy {
                url: url.to_string(),
                status,
            }),
            // A success without a usable token is not quoted: it may hold one.
            _ if (200..300).contains(&status) => Err(TokenError::Http {
                url: url.to_string(),
                status,
                detail: "no access_token and expires_in in the answer".into(),
            }),
            _ => Err(TokenError::Http {
                url: url.to_string(),
                status,
                detail: crate::core::request::excerpt(&text),
            }),
        }
    }
}

struct Fresh {
    access_token: String,
    expires_in: i64,
    refresh_token: Option<String>,
}

/// The consent flow for one service and scope.
pub struct Consent<'a> {
    /// The service's name, for the person ("Google", "Microsoft").
    pub service: &'a str,
    /// The consent page.
    pub auth_url: &'a str,
    /// The token endpoint.
    pub token_url: &'a str,
    /// The scopes asked for, space-separated.
    pub scope: &'a str,
    /// Extra query parameters of the consent page.
    pub extra: &'a [(&'a str, &'a str)],
    /// The client id.
    pub client_id: &'a str,
    /// The client secret ("" for a public client).
    pub client_secret: &'a str,
}

/// Why the consent flow failed.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    /// What the person pasted or the service answered is not usable.
    #[error("{0}")]
    Refused(String),
    /// The network failed.
    #[error("network: POST {0}")]
    Network(String),
    /// The credential file could not be written.
    #[error(transparent)]
    File(#[from] FileError),
}

impl Consent<'_> {
    /// The consent page's address.
    pub fn url(&self) -> String {
        let mut url = format!(
            "{}?client_id={}&redirect_uri={}&response_type=code&scope={}",
            self.auth_url,
            urlencode(self.client_id),
            urlencode(REDIRECT),
            urlencode(self.scope)
        );
        for (name, value) in self.extra {
            url.push_str(&format!("&{name}={}", urlencode(value)));
        }
        url
    }

    /// Walk the person through consent, exchange the code, and write the credential to
    /// `output` (mode 0600, never over an existing file).
    pub fn run(
        &self,
        output: &Path,
        input: &mut dyn BufRead,
        out: &mut dyn Write,
    ) -> Result<(), ConsentError> {
        let _ = writeln!(
            out,
            "1. Open this address in a browser, sign in to {} and allow access:\n\n   {}\n",
            self.service,
            self.url()
        );
        let _ = writeln!(
            out,
            "2. The browser then fails to load {REDIRECT}/?code=…; copy that whole address (or just the code) and paste it here:"
        );
        let _ = out.flush();
        let mut line = String::new();
        input
            .read_line(&mut line)
            .map_err(|e| ConsentError::Refused(format!("cannot read the code: {e}")))?;
        let code = code_from(&line)
            .ok_or_else(|| ConsentError::Refused("no code in what was pasted".into()))?;
        let refresh = self.exchange(&code)?;
        let credential = json!({"client_id": self.client_id, "client_secret": self.client_secret, "refresh_token": refresh});
        write_private(output, credential.to_string().as_bytes())?;
        let _ = writeln!(out, "\n3. Stored in {} (mode 0600).", output.display());
        Ok(())
    }

    fn exchange(&self, code: &str) -> Result<String, ConsentError> {
        let http = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build(),
        );
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", self.client_id),
            ("redirect_uri", REDIRECT),
        ];
        if !self.client_secret.is_empty() {
            form.push(("client_secret", self.client_secret));
        }
        let url = self.token_url;
        let mut response = http
            .post(url)
            .send_form(form)
            .map_err(|e| ConsentError::Network(format!("{url}: {e}")))?;
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        match answer["refresh_token"].as_str() {
            Some(refresh) => Ok(refresh.to_string()),
            None => {
                let why = answer["error_description"]
                    .as_str()
                    .or(answer["error"].as_str())
                    .unwrap_or("no refresh_token in the answer");
                Err(ConsentError::Refused(format!(
                    "{} did not give a refresh token: {}",
                    self.service,
                    crate::core::request::excerpt(why)
                )))
            }
        }
    }
}

/// Percent-encoding for a query value or a path segment.
pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The code from a pasted redirect address, or the pasted code itself.
pub fn code_from(pasted: &str) -> Option<String> {
    let pasted = pasted.trim();
    let code = match pasted.split_once("code=") {
        Some((_, rest)) => rest.split('&').next().unwrap_or(""),
        None => pasted,
    };
    let code = percent_decode(code);
    (!code.is_empty() && !code.chars().any(char::is_whitespace)).then_some(code)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn write_private(path: &Path, data: &[u8]) -> Result<(), FileError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| FileError::new("cannot create credential", path, e))?;
    file.write_all(data)
        .and_then(|()| file.sync_all())
        .map_err(|e| FileError::new("cannot write credential", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_is_found_in_what_people_paste() {
        assert_eq!(
            code_from("http://127.0.0.1/?code=4%2F0AbC-d&scope=x").as_deref(),
            Some("4/0AbC-d")
        );
        assert_eq!(code_from("  4/0AbC  \n").as_deref(), Some("4/0AbC"));
        assert_eq!(code_from(""), None);
        assert_eq!(code_from("two words"), None);
    }

    #[test]
    fn the_consent_url_carries_the_scope_and_extras_encoded() {
        let consent = Consent {
            service: "Microsoft",
            auth_url: "https://login.example/authorize",
            token_url: "https://login.example/token",
            scope: "offline_access Calendars.Read",
            extra: &[("prompt", "consent")],
            client_id: "a b",
            client_secret: "",
        };
        assert_eq!(
            consent.url(),
            "https://login.example/authorize?client_id=a%20b&redirect_uri=http%3A%2F%2F127.0.0.1&response_type=code&scope=offline_access%20Calendars.Read&prompt=consent"
        );
    }
}
