//! One account's HTTP client: GET JSON with its access token (refreshed once on a 401), and
//! 429 / 5xx waited out while the run's allowance lasts.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::CalendarError;
use crate::channels::oauth::{Credential, TokenError, Tokens};
use crate::core::store::Store;
use crate::platform::config::{CalendarAccount, CalendarKind, Config};
use crate::platform::credentials;

/// The largest answer read (one page of events).
const MAX_BODY: u64 = 32 * 1_048_576;
/// Attempts of one call on 429 / 5xx.
const ATTEMPTS: u32 = 3;
/// The longest `Retry-After` believed (a day).
const MAX_RETRY_AFTER: u64 = 86_400;
/// The most calendars one account may list.
pub const MAX_CALENDARS: usize = 100;

/// Google answers 403 with reason `rateLimitExceeded` or `userRateLimitExceeded` when a
/// client should slow down (as it answers 429).
fn rate_limited(status: u16, body: &str) -> bool {
    status == 403
        && serde_json::from_str::<Value>(body).is_ok_and(|v| {
            v["error"]["errors"].as_array().is_some_and(|errors| {
                errors.iter().any(|e| {
                    matches!(
                        e["reason"].as_str(),
                        Some("rateLimitExceeded" | "userRateLimitExceeded")
                    )
                })
            })
        })
}

/// The scope each service is asked for: read calendars, nothing else.
pub fn scope(kind: CalendarKind) -> &'static str {
    match kind {
        CalendarKind::Graph => "offline_access Calendars.Read Calendars.Read.Shared",
        CalendarKind::Google => "https://www.googleapis.com/auth/calendar.readonly",
    }
}

/// A client for one account in one run.
pub struct Client<'a> {
    /// The account.
    pub account: &'a CalendarAccount,
    http: ureq::Agent,
    credential: Credential,
    /// When the run's allowance for waiting out `Retry-After` ends.
    wait_until: Instant,
    /// HTTP calls made.
    pub calls: usize,
}

impl<'a> Client<'a> {
    /// Read the account's credential and set up HTTP.
    pub fn new(config: &Config, account: &'a CalendarAccount) -> Result<Self, CalendarError> {
        let name = account.credential();
        let secret = credentials::read_configured(&name)?;
        let credential: Credential =
            serde_json::from_str(secret.expose()).map_err(|e| CalendarError::Credential {
                name,
                why: e.to_string(),
            })?;
        let timeout = config.calendar.timeout.get().max(Duration::from_secs(1));
        let http = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .timeout_global(Some(timeout))
                .http_status_as_error(false)
                .build(),
        );
        Ok(Client {
            account,
            http,
            credential,
            wait_until: Instant::now() + config.calendar.max_wait.get(),
            calls: 0,
        })
    }

    /// GET `url` as JSON. Only URLs below the account's API base are fetched, so a link in an
    /// answer cannot send the token elsewhere.
    pub fn get(
        &mut self,
        store: &mut Store,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<Value, CalendarError> {
        let base = self.account.api_base().trim_end_matches('/');
        if !url.starts_with(&format!("{base}/")) {
            return Err(CalendarError::Malformed(format!(
                "a link leads outside {base}: {}",
                crate::core::request::excerpt(url)
            )));
        }
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = self.token(store, refreshed)?;
            let (status, retry_after, text) = self.fetch(url, &token, headers)?;
            match status {
                200..=299 => {
                    return serde_json::from_str(&text)
                        .map_err(|e| CalendarError::Malformed(format!("GET {url}: {e}")));
                }
                401 if !refreshed => refreshed = true,
                _ if status == 429 || status >= 500 || rate_limited(status, &text) => {
                    let wait = Duration::from_secs(retry_after.unwrap_or(1 << attempt));
                    let left = self.wait_until.saturating_duration_since(Instant::now());
                    if attempt >= ATTEMPTS || wait > left {
                        return Err(CalendarError::Busy {
                            url: url.to_string(),
                            status,
                            retry_after,
                        });
                    }
                    log::info!(
                        "account {}: {url} answered {status}; retrying in {}s",
                        self.account.name,
                        wait.as_secs()
                    );
                    std::thread::sleep(wait);
                }
                _ => {
                    return Err(CalendarError::Http {
                        url: url.to_string(),
                        status,
                        detail: crate::core::request::excerpt(&text),
                    });
                }
            }
        }
    }

    fn fetch(
        &mut self,
        url: &str,
        token: &str,
        headers: &[(&str, &str)],
    ) -> Result<(u16, Option<u64>, String), CalendarError> {
        self.calls += 1;
        let mut request = self
            .http
            .get(url)
            .header("authorization", &format!("Bearer {token}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut response = request
            .call()
            .map_err(|e| CalendarError::Network(format!("GET {url}: {e}")))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|secs| secs.min(MAX_RETRY_AFTER));
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .map_err(|e| CalendarError::Malformed(format!("GET {url}: {e}")))?;
        Ok((status, retry_after, text))
    }

    fn token(&mut self, store: &mut Store, refresh: bool) -> Result<String, CalendarError> {
        let tokens = Tokens {
            prefix: format!("calendar.{}", self.account.name),
            token_url: self.account.token_url(),
            scope: (self.account.kind == CalendarKind::Graph).then(|| scope(self.account.kind)),
            credential: &self.credential,
        };
        let (token, called) =
            tokens
                .access_token(&self.http, store, refresh)
                .map_err(|e| match e {
                    TokenError::Network(what) => CalendarError::Network(what),
                    TokenError::Busy { url, status } => CalendarError::Busy {
                        url,
                        status,
                        retry_after: None,
                    },
                    TokenError::Store(e) => CalendarError::Store(e),
                    why @ (TokenError::InvalidGrant { .. }
                    | TokenError::InvalidClient
                    | TokenError::Http { .. }) => CalendarError::Authorization {
                        account: self.account.name.clone(),
                        why: Box::new(why),
                    },
                })?;
        self.calls += usize::from(called);
        Ok(token)
    }
}

/// A calendar an account lists.
#[derive(Debug, Clone)]
pub struct Listed {
    /// Its id at the service.
    pub id: String,
    /// Its name as the service shows it.
    pub name: String,
}

impl Listed {
    /// A calendar as an answer names it: `None` for an id no one would use, the name cleaned
    /// of control characters and capped.
    pub fn new(id: &str, name: Option<&str>) -> Option<Listed> {
        if id.is_empty() || id.len() > 1024 || id.chars().any(char::is_control) {
            return None;
        }
        let name: String = name
            .unwrap_or(id)
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(200)
            .collect();
        Some(Listed {
            id: id.to_string(),
            name,
        })
    }
}

/// The most events one calendar may have in the window.
pub const MAX_EVENTS: usize = 50_000;
/// The most reasons kept for unreadable items of one calendar.
const MAX_REASONS: usize = 20;

/// An event as a person can find it: its subject (Graph `subject`, Google `summary`) and its
/// whole id. Graph ids of one folder share a long prefix, so a cut id names none of them.
fn name_of(item: &Value) -> String {
    let clean = |text: &str, max: usize| -> String {
        let mut out: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(max)
            .collect();
        if text.chars().count() > max {
            out.push('…');
        }
        out
    };
    let subject = item["subject"].as_str().or(item["summary"].as_str());
    let id = clean(item["id"].as_str().unwrap_or("?"), 400);
    match subject {
        Some(subject) if !subject.trim().is_empty() => {
            format!("{:?} (id {id})", clean(subject.trim(), 120))
        }
        _ => format!("without a subject (id {id})"),
    }
}

/// One calendar's events in the window.
#[derive(Debug, Default)]
pub struct Fetched {
    /// The events (cancelled and declined ones left out).
    pub events: Vec<super::event::Event>,
    /// Items that could not be read, each with why (the first few, then how many more).
    pub skipped: Vec<String>,
    /// How many items could not be read.
    unreadable: usize,
}

impl Fetched {
    /// Keep one item as `parse` read it, or say why not; an error once the calendar holds
    /// more than [`MAX_EVENTS`].
    pub fn add(&mut self, item: &Value, parsed: super::event::Parsed) -> Result<(), CalendarError> {
        match parsed {
            Ok(Some(event)) => self.events.push(event),
            Ok(None) => {}
            Err(why) => {
                self.unreadable += 1;
                let line = format!("event {}: {why}", name_of(item));
                match self.skipped.len() {
                    n if n < MAX_REASONS => self.skipped.push(line),
                    _ => {
                        let more = self.unreadable - MAX_REASONS;
                        self.skipped.truncate(MAX_REASONS);
                        self.skipped.push(format!("… and {more} more"));
                    }
                }
            }
        }
        if self.events.len() + self.unreadable > MAX_EVENTS {
            return Err(CalendarError::Malformed(format!(
                "more than {MAX_EVENTS} events in the window"
            )));
        }
        Ok(())
    }
}

/// Pages followed per listing before the answer is taken as broken.
pub const MAX_PAGES: usize = 1000;
