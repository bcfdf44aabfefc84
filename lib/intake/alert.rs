//! Wazuh's alerts coming in (docs/alerts.md). `wazuh-integratord` runs `custom-clawdbot` as the
//! wazuh user with the alert file's path first; that script runs `clawdbot-alert`, which
//! reads the alert ([`from_wazuh`]), keeps the few fields the operator is told, and drops them
//! into the alert spool ([`hand_over`]). The broker takes the spool ([`take`]), checking each
//! file as strictly as a request: Wazuh's group writes there.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::core::alerts::{self, AGENT_MAX, Alert, DETAIL_MAX, Raised, TITLE_MAX, WAZUH};
use crate::core::store::{Store, StoreError};
use crate::intake::spool::{self, Entry};
use crate::platform::atomic::{self, FileError, Untrusted};
use crate::platform::config::Config;
use crate::platform::exit::{Exit, ExitStatus};
use crate::platform::ids::{self, RandomError};
use crate::platform::time::UnixTime;

/// The suite's Wazuh rules (packaging/wazuh/clawdbot_rules.xml) for the events it raises as
/// alerts itself (spoofed command, spoofed reply, refused approval, session problem): handed
/// over again they would reach the operators twice. Its other rules (many refused requests,
/// a refused command mail, a misplaced decision, a relayed Telegram message) are handed over.
pub const OWN_RULES: [&str; 4] = ["100507", "100511", "100520", "100541"];

/// The largest spool file read: a record is a few kilobytes.
const RECORD_MAX: u64 = 64 * 1024;

/// Why an alert could not be handed over.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// The alert file could not be opened or read.
    #[error("cannot read alert file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The spool could not be written.
    #[error(transparent)]
    File(#[from] FileError),
    /// No random bytes for the file's name.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ExitStatus for AlertError {
    fn exit(&self) -> Exit {
        match self {
            AlertError::Read { .. } => Exit::NoInput,
            AlertError::File(e) => e.exit_or(Exit::CantCreat),
            AlertError::Random(_) => Exit::TempFail,
            AlertError::Store(e) => e.exit(),
        }
    }
}

/// What became of one alert file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handed {
    /// Written into the spool under this path.
    Spooled(PathBuf),
    /// One of the suite's own rules, which it tells the operator itself.
    Own,
}

/// Read a Wazuh alert file and drop what the operator is told of it into the alert spool. A
/// file that cannot be understood is handed over as an alert saying so: it still reached the
/// integration at its level, and the operator should know.
pub fn hand_over(config: &Config, file: &Path, now: UnixTime) -> Result<Handed, AlertError> {
    let limit = config.alerts.max_bytes;
    let read = |source| AlertError::Read {
        path: file.to_path_buf(),
        source,
    };
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(std::fs::File::open(file).map_err(read)?, limit + 1),
        &mut bytes,
    )
    .map_err(read)?;
    let read = if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
        Err(format!("larger than {limit} bytes ([alerts] max_bytes)"))
    } else {
        from_wazuh(&bytes, now)
    };
    let alert = match read {
        Ok(Some(alert)) => alert,
        Ok(None) => return Ok(Handed::Own),
        Err(why) => {
            log::warn!(
                "alert file {} cannot be read: {why}; handed over as an alert saying so",
                file.display()
            );
            unreadable(config, &why, now)
        }
    };
    let record = serde_json::to_vec(&alert).unwrap_or_default();
    let path = spool::drop_request(
        config.alerts.spool.path(),
        &record,
        now,
        &ids::random_base32(8)?,
    )?;
    Ok(Handed::Spooled(path))
}

/// An alert file that could not be read, as an alert of the integration's own.
fn unreadable(config: &Config, why: &str, now: UnixTime) -> Alert {
    Alert {
        source: WAZUH.into(),
        level: config.alerts.min_level,
        rule: "unreadable".into(),
        agent: "wazuh-integratord".into(),
        title: alerts::clean_line(
            &format!("an alert from Wazuh could not be read: {why}"),
            TITLE_MAX,
        ),
        at: now,
        detail: String::new(),
    }
}

/// The alert in a Wazuh alert file (the JSON object `alerts.json` holds one per line); None
/// for an alert of the suite's own rules that it raises itself ([`OWN_RULES`]).
pub fn from_wazuh(bytes: &[u8], now: UnixTime) -> Result<Option<Alert>, String> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not a JSON alert ({e})"))?;
    let rule = value.get("rule").ok_or("it has no rule")?;
    let level = rule
        .get("level")
        .and_then(Value::as_u64)
        .filter(|l| *l <= 16)
        .ok_or("its rule.level is not a number from 0 to 16")?;
    let id = match rule.get("id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err("its rule.id is missing".into()),
    };
    if !alerts::is_rule_id(&id) {
        return Err("its rule.id is not an id".into());
    }
    if OWN_RULES.contains(&id.as_str()) {
        return Ok(None);
    }
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
    let description = text(rule.get("description"));
    let agent = value.get("agent");
    let agent = format!(
        "{} {}",
        text(agent.and_then(|a| a.get("id"))),
        text(agent.and_then(|a| a.get("name")))
    );
    let at = value
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(wazuh_time)
        .unwrap_or(now);
    let location = text(value.get("location"));
    let log = text(value.get("full_log"));
    let mut detail = String::new();
    if !location.is_empty() {
        detail.push_str(&format!("Location: {location}\n"));
    }
    detail.push_str(&log);
    Ok(Some(Alert {
        source: WAZUH.into(),
        level: u8::try_from(level).unwrap_or(16),
        rule: id,
        agent: alerts::clean_line(agent.trim(), AGENT_MAX),
        title: alerts::clean_line(
            if description.is_empty() {
                "(no description)"
            } else {
                &description
            },
            TITLE_MAX,
        ),
        at,
        detail: alerts::clean_text(detail.trim_end(), DETAIL_MAX),
    }))
}

/// Wazuh's `timestamp`: `2026-12-07T10:30:45.123+0000`.
fn wazuh_time(text: &str) -> Option<UnixTime> {
    jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S%.f%z", text)
        .ok()?
        .to_timestamp()
        .ok()
        .map(|t| t.as_second())
}

/// What one pass took from the alert spool.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Taken {
    /// Recorded, to be sent.
    pub new: usize,
    /// Counted on an alert of the same rule and agent.
    pub repeats: usize,
    /// Below `[alerts] min_level`.
    pub dropped: usize,
    /// Not a valid record: quarantined, and an alert says so.
    pub bad: usize,
}

/// Take every alert out of the spool into the store. A missing spool is no alert: Wazuh is not
/// set up. A bad file is quarantined with its reason, and raised as an alert of its own; one
/// file the store cannot take now stays for the next pass.
pub fn take(config: &Config, store: &mut Store, now: UnixTime) -> Result<Taken, AlertError> {
    let dir = config.alerts.spool.path();
    let entries = match spool::list(dir) {
        Ok(entries) => entries,
        Err(e) if e.source.kind() == std::io::ErrorKind::NotFound => return Ok(Taken::default()),
        Err(e) => return Err(e.into()),
    };
    let mut taken = Taken::default();
    for entry in entries {
        let outcome = read(&entry);
        // A quarantined file is named by a random id: the name in the spool is anyone's in
        // Wazuh's group, and one too long to be a quarantine name must not stop the pass.
        let hidden = match &outcome {
            Read::Bad(..) => format!("alert-{}.json", ids::random_base32(10)?),
            _ => String::new(),
        };
        let alert = match &outcome {
            Read::Good(alert, _) => alert.clone(),
            Read::Gone => continue,
            // One alert per window however many bad files: the name is in the detail.
            Read::Bad(entry, _, why) => Alert::suite(
                "alert-spool",
                config.alerts.min_level,
                "the alert spool",
                &format!("a file in the alert spool is not an alert: {why}"),
                &format!(
                    "{} quarantined as {}",
                    entry.display_name(),
                    config.paths.quarantine().join(&hidden).display()
                ),
                now,
            ),
        };
        // Recorded first: a file that then cannot leave the spool is counted again by the next
        // pass (as a repeat within the window), never lost.
        match store.write(|tx| alerts::raise(tx, config, &alert, now))? {
            Raised::New => taken.new += 1,
            Raised::Repeat => taken.repeats += 1,
            Raised::BelowLevel => taken.dropped += 1,
        }
        match outcome {
            Read::Good(_, entry) => {
                if let Err(e) = spool::remove(&entry) {
                    log::error!("{e}; the next pass counts it again");
                }
            }
            Read::Bad(entry, content, why) => {
                taken.bad += 1;
                let reason =
                    serde_json::json!({"alert_spool": entry.display_name(), "problem": why});
                let quarantine = config.paths.quarantine();
                match spool::quarantine(&entry, &quarantine, &hidden, content.as_deref(), &reason) {
                    Ok(moved) => log::warn!(
                        "alert spool file {} is not an alert record ({why}); quarantined as {}",
                        entry.display_name(),
                        moved.display()
                    ),
                    Err(e) => log::error!(
                        "alert spool file {} is not an alert record ({why}) and stays: {e}",
                        entry.display_name()
                    ),
                }
            }
            Read::Gone => {}
        }
    }
    Ok(taken)
}

/// One spool file, read.
enum Read {
    /// A valid record, and the entry as read.
    Good(Alert, Entry),
    /// Not a valid record: the entry, its bytes if they were read, and why.
    Bad(Entry, Option<Vec<u8>>, String),
    /// Gone since it was listed.
    Gone,
}

fn read(entry: &Entry) -> Read {
    let (found, id) = match atomic::read_identified(&entry.path, RECORD_MAX) {
        Ok(found) => found,
        Err(e) if e.source.kind() == std::io::ErrorKind::NotFound => return Read::Gone,
        Err(e) => return Read::Bad(entry.clone(), None, e.to_string()),
    };
    let entry = Entry {
        read: id,
        ..entry.clone()
    };
    let raw = match found {
        Untrusted::File(raw) => raw,
        Untrusted::TooLarge(size) => {
            return Read::Bad(entry, None, format!("{size} bytes, at most {RECORD_MAX}"));
        }
        Untrusted::NotRegular(what) => {
            return Read::Bad(entry, None, format!("is {what}, not a regular file"));
        }
    };
    match serde_json::from_slice::<Alert>(&raw) {
        // The suite records its own events itself: one in the spool is Wazuh's group posing
        // as the suite (above min_level, or pre-empting a real one's de-duplication).
        Ok(alert) if alert.source != WAZUH => Read::Bad(
            entry,
            Some(raw),
            format!(
                "source {:?}: the spool carries Wazuh's alerts only",
                alert.source
            ),
        ),
        Ok(alert) => match alert.problem() {
            None => Read::Good(alert, entry),
            Some(why) => Read::Bad(entry, Some(raw), why),
        },
        Err(e) => Read::Bad(entry, Some(raw), format!("not an alert record ({e})")),
    }
}
