//! One poll: follow the mailbox's history from the stored id, hand every new message that may
//! answer the broker to the reply Maildir, and only then store the new history id.

use serde::Serialize;
use serde_json::{Value, json};

use super::GmailError;
use super::api::{self, Api};
use crate::channels::notify;
use crate::channels::oauth::urlencode;
use crate::core::store::Store;
use crate::platform::atomic::{self, FileError};
use crate::platform::config::Config;
use crate::platform::{failpoint, time};

const HISTORY: &str = "gmail.history_id";
const BACKOFF_UNTIL: &str = "gmail.backoff_until";
const BACKOFF_SECS: &str = "gmail.backoff_secs";
const GRANT_REPORTED: &str = "gmail.invalid_grant_reported";
const LABEL_ID: &str = "gmail.label_id";
/// When the last poll succeeded, for the maintenance health check.
pub const LAST_SUCCESS: &str = "gmail.last_success";
/// The longest wait after repeated 429s and 5xx.
const BACKOFF_MAX: i64 = 900;
const METADATA: &str = "format=metadata&metadataHeaders=From&metadataHeaders=To&metadataHeaders=Subject\
                        &metadataHeaders=In-Reply-To&metadataHeaders=References&metadataHeaders=Auto-Submitted";

/// What one poll did.
#[derive(Debug, Default, Serialize)]
pub struct PollReport {
    /// HTTP calls made.
    pub calls: usize,
    /// New messages looked at.
    pub seen: usize,
    /// Messages written to the reply Maildir.
    pub delivered: usize,
    /// Messages Gmail could not give whole, recorded and set aside.
    pub set_aside: usize,
    /// Whether the history had expired and a bounded full sync ran.
    pub full_sync: bool,
    /// Whether the poll was skipped: Gmail asked for a pause, or the grant is known revoked.
    pub skipped: bool,
    /// Mail notifications queued for Telegram.
    pub notified: usize,
}

/// Run one poll. Backoffs and a revoked grant are remembered across the 10-second runs, so
/// an outage does not become thousands of failing calls, nor a revoked grant a log line
/// every 10 seconds.
pub fn run(config: &Config) -> Result<PollReport, GmailError> {
    let mut store = Store::open(&config.paths.database())?;
    let now = time::now();
    let (until, reported) =
        store.read(|tx| Ok((tx.setting(BACKOFF_UNTIL)?, tx.setting(GRANT_REPORTED)?)))?;
    let mut report = PollReport::default();
    if until
        .and_then(|u| u.parse::<i64>().ok())
        .is_some_and(|u| u > now)
    {
        report.skipped = true;
        return Ok(report);
    }
    let mut api = Api::new(config)?;
    let result = poll(config, &mut store, &mut api, &mut report);
    report.calls = api.calls;
    match result {
        Ok(()) => {
            store.write(|tx| {
                report.notified = notify::route(tx, config, now)?;
                tx.set_setting(LAST_SUCCESS, Some(&now.to_string()))?;
                tx.set_setting(BACKOFF_UNTIL, None)?;
                tx.set_setting(BACKOFF_SECS, None)?;
                tx.set_setting(GRANT_REPORTED, None)
            })?;
            Ok(report)
        }
        Err(GmailError::Busy {
            url,
            status,
            retry_after,
        }) => {
            let previous = store
                .read(|tx| tx.setting(BACKOFF_SECS))?
                .and_then(|s| s.parse::<i64>().ok())
                .unwrap_or(5);
            let wait = retry_after.map_or((previous * 2).min(BACKOFF_MAX), |r| {
                i64::try_from(r).unwrap_or(BACKOFF_MAX)
            });
            store.write(|tx| {
                tx.set_setting(BACKOFF_UNTIL, Some(&(now + wait).to_string()))?;
                tx.set_setting(BACKOFF_SECS, Some(&wait.to_string()))
            })?;
            Err(GmailError::Busy {
                url,
                status,
                retry_after: Some(u64::try_from(wait).unwrap_or(0)),
            })
        }
        Err(GmailError::InvalidGrant) if reported.is_some() => {
            report.skipped = true;
            Ok(report)
        }
        Err(GmailError::InvalidGrant) => {
            store.write(|tx| tx.set_setting(GRANT_REPORTED, Some(&now.to_string())))?;
            Err(GmailError::InvalidGrant)
        }
        Err(e) => Err(e),
    }
}

fn poll(
    config: &Config,
    store: &mut Store,
    api: &mut Api<'_>,
    report: &mut PollReport,
) -> Result<(), GmailError> {
    let Some(start) = store.read(|tx| tx.setting(HISTORY))? else {
        // First run: start from now; older mail is not the broker's business.
        let profile = api.get(store, "profile")?;
        let id = history_id(&profile)?;
        return Ok(store.write(|tx| tx.set_setting(HISTORY, Some(&id.to_string())))?);
    };
    let (ids, next) = match history(store, api, &start) {
        Err(GmailError::NotFound(_)) => {
            report.full_sync = true;
            full_sync(config, store, api)?
        }
        other => other?,
    };
    for id in &ids {
        match handle(config, store, api, id) {
            Ok(true) => report.delivered += 1,
            Ok(false) => {}
            // One message Gmail cannot give whole (deleted meanwhile, refused, malformed) is
            // recorded and set aside; it must not hold back every later message.
            Err(e) if e.is_about_one_message() => {
                log::error!("message {id}: {e}; set aside, the poll goes on");
                let reason = format!("set aside: {e}");
                store.write(|tx| tx.gmail_record(id, false, &reason, time::now()))?;
                report.set_aside += 1;
            }
            Err(e) => return Err(e),
        }
        report.seen += 1;
    }
    failpoint::hit("mailpoll::before-history");
    store.write(|tx| tx.set_setting(HISTORY, Some(&next.to_string())))?;
    Ok(())
}

/// Message ids added to the INBOX since `start`, every page followed, and the new history id.
fn history(
    store: &mut Store,
    api: &mut Api<'_>,
    start: &str,
) -> Result<(Vec<String>, u64), GmailError> {
    let mut ids = Vec::new();
    let mut page = String::new();
    loop {
        let answer = api.get(
            store,
            &format!(
                "history?startHistoryId={start}&historyTypes=messageAdded&labelId=INBOX{page}"
            ),
        )?;
        for record in answer["history"].as_array().into_iter().flatten() {
            for added in record["messagesAdded"].as_array().into_iter().flatten() {
                let message = &added["message"];
                let labels: Vec<&str> = message["labelIds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                if let Some(id) = message["id"]
                    .as_str()
                    .filter(|_| !labels.iter().any(|l| *l == "SENT" || *l == "DRAFT"))
                    && !ids.iter().any(|known| known == id)
                {
                    ids.push(id.to_string());
                }
            }
        }
        let next = history_id(&answer)?;
        match answer["nextPageToken"].as_str() {
            Some(token) if !token.is_empty() => page = format!("&pageToken={}", urlencode(token)),
            _ => return Ok((ids, next)),
        }
    }
}

/// The history was too old: the current history id first (nothing in between is missed),
/// then the INBOX messages of the configured query, bounded.
fn full_sync(
    config: &Config,
    store: &mut Store,
    api: &mut Api<'_>,
) -> Result<(Vec<String>, u64), GmailError> {
    let next = history_id(&api.get(store, "profile")?)?;
    let query = urlencode(&config.gmail.full_sync_query);
    let mut ids = Vec::new();
    let mut page = String::new();
    while ids.len() < config.gmail.full_sync_max as usize {
        let answer = api.get(
            store,
            &format!("messages?labelIds=INBOX&maxResults=100&q={query}{page}"),
        )?;
        ids.extend(
            answer["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["id"].as_str())
                .map(str::to_string),
        );
        match answer["nextPageToken"].as_str() {
            Some(token) if !token.is_empty() => page = format!("&pageToken={}", urlencode(token)),
            _ => break,
        }
    }
    ids.truncate(config.gmail.full_sync_max as usize);
    Ok((ids, next))
}

/// Look at one message's headers; fetch it whole only if it may answer the broker. Returns
/// whether it went into the Maildir. Each id is handled once; a message already in the
/// Maildir (a poll killed before it recorded it) is not written again.
fn handle(
    config: &Config,
    store: &mut Store,
    api: &mut Api<'_>,
    id: &str,
) -> Result<bool, GmailError> {
    if !is_gmail_id(id) || store.read(|tx| tx.gmail_seen(id))? {
        return Ok(false);
    }
    let meta = api.get(store, &format!("messages/{id}?{METADATA}"))?;
    // A mail larger than any reply the broker reads is not fetched at all: a stranger's
    // 50 MB mail would otherwise time out every poll at the same history id.
    let limit = config.replies.max_bytes.get();
    if let Some(size) = meta["sizeEstimate"].as_u64().filter(|&size| size > limit) {
        let reason = format!("set aside: {size} bytes, over [replies] max_bytes ({limit})");
        log::warn!("message {id}: {reason}");
        store.write(|tx| tx.gmail_record(id, false, &reason, time::now()))?;
        return Ok(false);
    }
    let labels: Vec<&str> = meta["labelIds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let verdict = if labels.iter().any(|l| *l == "SENT" || *l == "DRAFT") {
        Err("sent or draft")
    } else if !may_answer_broker(config, &meta) {
        Err(NOT_A_REPLY)
    } else {
        Ok(())
    };
    if let Err(reason) = verdict {
        if reason == NOT_A_REPLY && wants_notice(config, &meta, &labels) {
            return notice(config, store, api, id).map(|()| false);
        }
        store.write(|tx| tx.gmail_record(id, false, reason, time::now()))?;
        return Ok(false);
    }
    let maildir = config.paths.maildir();
    let name = format!("gmail-{id}");
    let already = maildir.join("new").join(&name).exists()
        || maildir.join("cur").join(format!("{name}:2,S")).exists();
    if !already {
        let raw = fetch_raw(store, api, id)?;
        deliver(&maildir, &name, &raw)?;
        failpoint::hit("mailpoll::after-write");
    }
    store.write(|tx| tx.gmail_record(id, true, "handed to the broker", time::now()))?;
    if let Err(e) = label(config, store, api, id) {
        log::warn!(
            "message {id}: cannot label it {:?}: {e}",
            config.gmail.label
        );
    }
    Ok(true)
}

const NOT_A_REPLY: &str = "not a reply to the broker";

/// Whether a `[[notify.rules]]` rule wants the operator told of this mail, by its headers.
fn wants_notice(config: &Config, meta: &Value, labels: &[&str]) -> bool {
    if config.notify.rules.is_empty() {
        return false;
    }
    let header = |name: &str| {
        meta["payload"]["headers"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|h| {
                h["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
            .and_then(|h| h["value"].as_str())
            .unwrap_or("")
    };
    notify::wanted(
        config,
        address_of(header("From")),
        labels,
        header("Subject"),
    )
}

/// The address of a `From` header: in angle brackets, or the whole value.
fn address_of(from: &str) -> &str {
    match (from.rfind('<'), from.rfind('>')) {
        (Some(open), Some(close)) if open < close => from[open + 1..close].trim(),
        _ => from.trim(),
    }
}

/// Record the mail for a Telegram notification (its text, never its attachments), once.
fn notice(
    config: &Config,
    store: &mut Store,
    api: &mut Api<'_>,
    id: &str,
) -> Result<(), GmailError> {
    let raw = fetch_raw(store, api, id)?;
    let summary = notify::summarise(id, &raw, config.notify.lines);
    let now = time::now();
    store.write(|tx| {
        if let Some(summary) = &summary {
            tx.add_notification(summary, now)?;
        }
        tx.gmail_record(id, false, "notified on Telegram", now)
    })?;
    Ok(())
}

/// One message whole, as the bytes of the mail.
fn fetch_raw(store: &mut Store, api: &mut Api<'_>, id: &str) -> Result<Vec<u8>, GmailError> {
    let full = api.get(store, &format!("messages/{id}?format=raw"))?;
    full["raw"]
        .as_str()
        .and_then(api::decode_raw)
        .ok_or_else(|| GmailError::Malformed(format!("message {id}: no decodable raw")))
}

/// Maildir delivery: `tmp/NAME`, fsync, rename to `new/NAME`.
fn deliver(maildir: &std::path::Path, name: &str, raw: &[u8]) -> Result<(), FileError> {
    let tmp = maildir.join("tmp").join(name);
    atomic::write(&tmp, raw, 0o640)?;
    let new = maildir.join("new").join(name);
    std::fs::rename(&tmp, &new).map_err(|e| FileError::new("cannot move into new/", &tmp, e))?;
    atomic::sync_dir(&maildir.join("new"))
}

/// A `[clawdbot R-…]` subject tag, a reference to a broker Message-ID, the reply address, a
/// subject `run …` from an operator address (a command; the broker checks who really sent
/// it, and a stranger's "Run completed" stays mail for `[[notify.rules]]`), or, with tasks on,
/// a new mail from an operator address to the suite's (a task, checked the same way).
fn may_answer_broker(config: &Config, meta: &Value) -> bool {
    let domain = config.mail.from.email.domain().to_lowercase();
    let user = config.mail.from.email.user().to_lowercase();
    let headers = meta["payload"]["headers"].as_array().into_iter().flatten();
    let from_operator = headers.clone().any(|h| {
        h["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case("From"))
            && h["value"].as_str().is_some_and(|from| {
                // The address itself, never a part of the header.
                let address = address_of(from);
                config
                    .operator
                    .emails
                    .iter()
                    .any(|e| e.to_string().eq_ignore_ascii_case(address))
            })
    });
    let ours = format!("{user}@{domain}");
    let is = |h: &Value, name: &str| {
        h["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    };
    let task = from_operator
        && crate::core::task::enabled(config)
        && !headers
            .clone()
            .any(|h| is(h, "In-Reply-To") || is(h, "References"))
        && headers
            .clone()
            .filter(|h| is(h, "To") || is(h, "Cc"))
            .any(|h| {
                h["value"].as_str().is_some_and(|v| {
                    v.split(',')
                        .any(|a| address_of(a).eq_ignore_ascii_case(&ours))
                })
            });
    task || headers.into_iter().any(|h| {
        let name = h["name"].as_str().unwrap_or("").to_ascii_lowercase();
        let value = h["value"].as_str().unwrap_or("").to_lowercase();
        match name.as_str() {
            "subject" => {
                value.contains("[clawdbot r-")
                    || value.contains("[clawdbot]")
                    || (from_operator
                        && value
                            .trim_start()
                            .strip_prefix("run")
                            .is_some_and(|rest| rest.starts_with(char::is_whitespace)))
            }
            "in-reply-to" | "references" => {
                value.contains(&format!("@{domain}>"))
                    && (value.contains("<r-") || value.contains("<digest-"))
            }
            "to" => value.contains(&format!("{user}+")) && value.contains(&format!("@{domain}")),
            _ => false,
        }
    })
}

/// Give a handled message the configured label, creating the label once.
fn label(
    config: &Config,
    store: &mut Store,
    api: &mut Api<'_>,
    id: &str,
) -> Result<(), GmailError> {
    let label_id = match store.read(|tx| tx.setting(LABEL_ID))? {
        Some(label_id) => label_id,
        None => {
            let name = &config.gmail.label;
            let labels = api.get(store, "labels")?;
            let found = labels["labels"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|l| l["name"].as_str() == Some(name))
                .and_then(|l| l["id"].as_str())
                .map(str::to_string);
            let label_id = match found {
                Some(found) => found,
                None => {
                    let made = api.post(store, "labels", &json!({"name": name, "labelListVisibility": "labelShow", "messageListVisibility": "show"}))?;
                    made["id"].as_str().map(str::to_string).ok_or_else(|| {
                        GmailError::Malformed("label created without an id".into())
                    })?
                }
            };
            store.write(|tx| tx.set_setting(LABEL_ID, Some(&label_id)))?;
            label_id
        }
    };
    api.post(
        store,
        &format!("messages/{id}/modify"),
        &json!({"addLabelIds": [label_id]}),
    )?;
    Ok(())
}

fn history_id(answer: &Value) -> Result<u64, GmailError> {
    answer["historyId"]
        .as_str()
        .and_then(|h| h.parse().ok())
        .or_else(|| answer["historyId"].as_u64())
        .ok_or_else(|| GmailError::Malformed("no historyId".into()))
}

/// Gmail ids are hex; anything else is not put into a URL or a file name.
fn is_gmail_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric())
}
