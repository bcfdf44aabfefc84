//! Security alerts to the operator (docs/alerts.md): Wazuh's, handed over through the alert
//! spool, and the suite's own grave events (a forged reply, a refused approval, a session
//! problem left for a person). Each is recorded once per rule and agent within
//! `[alerts] dedup_window`; [`route`] then turns what is pending into drafts for mail and
//! Telegram: one message each while the hour's count stays within `max_per_hour`, one digest
//! past it, and during quiet hours only the critical ones, the rest summarised after.

use crate::core::outbox;
pub use crate::core::store::{Alert, PendingAlert as Pending};
use crate::core::store::{Channel, Draft, StoreError, Tx};
use crate::platform::config::{Config, in_quiet_hours};
use crate::platform::time::{self, UnixTime};

/// Where an alert comes from: `wazuh`, or `clawdbot` for the suite's own events.
pub const WAZUH: &str = "wazuh";
/// The suite's own events.
pub const SUITE: &str = "clawdbot";

/// The longest title kept.
pub const TITLE_MAX: usize = 300;
/// The longest detail kept (a few lines of the log that raised it).
pub const DETAIL_MAX: usize = 2000;
/// The longest agent name kept.
pub const AGENT_MAX: usize = 200;
/// The longest rule id kept.
pub const RULE_MAX: usize = 64;

impl Alert {
    /// One of the suite's own events.
    pub fn suite(
        rule: &str,
        level: u8,
        about: &str,
        title: &str,
        detail: &str,
        at: UnixTime,
    ) -> Alert {
        Alert {
            source: SUITE.into(),
            level,
            rule: rule.into(),
            agent: clean_line(about, AGENT_MAX),
            title: clean_line(title, TITLE_MAX),
            at,
            detail: clean_text(detail, DETAIL_MAX),
        }
    }

    /// Why this record may not be kept as it is, if it may not: a spool file is written by
    /// Wazuh's group, so it is checked as strictly as anything from outside.
    pub fn problem(&self) -> Option<String> {
        if self.source != WAZUH && self.source != SUITE {
            return Some(format!(
                "source {:?} is neither wazuh nor clawdbot",
                clip(&self.source)
            ));
        }
        if self.level > 16 {
            return Some(format!("level {} is not 0 to 16", self.level));
        }
        if !is_rule_id(&self.rule) {
            return Some(format!("rule {:?} is not an id", clip(&self.rule)));
        }
        for (name, text, max) in [
            ("agent", &self.agent, AGENT_MAX),
            ("title", &self.title, TITLE_MAX),
        ] {
            if text.chars().count() > max || *text != clean_line(text, max) {
                return Some(format!(
                    "{name} is longer than {max} characters or has control characters"
                ));
            }
        }
        if self.detail.chars().count() > DETAIL_MAX
            || self.detail != clean_text(&self.detail, DETAIL_MAX)
        {
            return Some(format!(
                "detail is longer than {DETAIL_MAX} characters or has control characters"
            ));
        }
        if self.at < 0 {
            return Some("at is before 1970".into());
        }
        None
    }

    fn is_critical(&self, config: &Config) -> bool {
        self.level >= config.alerts.critical_level
    }

    fn origin(&self) -> String {
        match self.source.as_str() {
            WAZUH => format!("Wazuh rule {}", self.rule),
            _ => format!("clawdbot {}", self.rule),
        }
    }
}

/// Whether `rule` can be a rule id: letters, digits and `._:-`, at most [`RULE_MAX`].
pub fn is_rule_id(rule: &str) -> bool {
    !rule.is_empty()
        && rule.len() <= RULE_MAX
        && rule
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
}

/// One line: control and format characters (line breaks, bidirectional overrides) become
/// spaces, and at most `max` characters are kept.
pub fn clean_line(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| if is_hidden(c) { ' ' } else { c })
        .take(max)
        .collect()
}

/// Text of several lines: as [`clean_line`], but line breaks stay.
pub fn clean_text(text: &str, max: usize) -> String {
    text.replace("\r\n", "\n")
        .chars()
        .map(|c| if c != '\n' && is_hidden(c) { ' ' } else { c })
        .take(max)
        .collect()
}

fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

fn clip(text: &str) -> String {
    clean_line(text, 40)
}

/// What became of an alert handed to [`raise`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Raised {
    /// Recorded, to be sent.
    New,
    /// The same rule about the same agent within the window: counted on the first.
    Repeat,
    /// A Wazuh alert below `[alerts] min_level`: dropped.
    BelowLevel,
}

/// Record an alert, once per rule and agent within `[alerts] dedup_window`.
pub fn raise(
    tx: &Tx<'_>,
    config: &Config,
    alert: &Alert,
    now: UnixTime,
) -> Result<Raised, StoreError> {
    if alert.source == WAZUH && alert.level < config.alerts.min_level {
        return Ok(Raised::BelowLevel);
    }
    let window = i64::try_from(config.alerts.dedup_window.get().as_secs()).unwrap_or(i64::MAX);
    if tx.count_alert_repeat(alert, now.saturating_sub(window))? {
        return Ok(Raised::Repeat);
    }
    tx.insert_alert(alert, now)?;
    log::warn!(
        "alert from {} (level {}): {}: {}",
        alert.origin(),
        alert.level,
        alert.agent,
        alert.title
    );
    Ok(Raised::New)
}

/// Turn pending alerts into drafts for the operators' mail and Telegram chats. Returns how many
/// alerts were sent (singly or in a digest).
pub fn route(tx: &Tx<'_>, config: &Config, now: UnixTime) -> Result<usize, StoreError> {
    let pending = tx.pending_alerts()?;
    if pending.is_empty() {
        return Ok(0);
    }
    let quiet = in_quiet_hours(
        &config.alerts.quiet_hours,
        &config.operator.timezone.tz,
        now,
    );
    let (ready, held): (Vec<_>, Vec<_>) = pending
        .into_iter()
        .partition(|a| !quiet || a.alert.is_critical(config));
    if !held.is_empty() {
        tx.hold_alerts(&held.iter().map(|a| a.id).collect::<Vec<_>>())?;
    }
    if ready.is_empty() {
        return Ok(0);
    }
    let hour = now - 3600;
    let (singles, digests, last_digest) = tx.alerts_sent_since(hour)?;
    let limit = i64::from(config.alerts.max_per_hour);
    let critical = ready.iter().any(|a| a.alert.is_critical(config));
    let count = i64::try_from(ready.len()).unwrap_or(i64::MAX);
    let tz = &config.operator.timezone.tz;
    let (messages, sent, as_digest) = if ready.iter().any(|a| a.held) && ready.len() > 1 {
        let (message, listed) = digest(&ready, "held during quiet hours", tz);
        (vec![message], listed, true)
    } else if singles + digests + count <= limit {
        let messages = ready.iter().map(|a| single(a, tz)).collect();
        (messages, ready.iter().map(|a| a.id).collect(), false)
    } else if digests == 0 || (critical && last_digest.is_none_or(|at| now - at >= CRITICAL_GAP)) {
        let (message, listed) = digest(&ready, &format!("more than {limit} an hour"), tz);
        (vec![message], listed, true)
    } else {
        return Ok(0);
    };
    for (subject, text) in &messages {
        send(tx, config, subject, text, now)?;
    }
    tx.alerts_sent(&sent, as_digest, now)?;
    tx.forget_alerts(now - KEEP)?;
    Ok(sent.len())
}

/// A critical alert past the hourly limit may start a digest this long after the last one.
const CRITICAL_GAP: i64 = 600;
/// Alerts sent are kept this long (for the window and the hourly count, and to look back).
const KEEP: i64 = 90 * 86_400;
/// Alerts listed in one digest.
const DIGEST_MAX: usize = 50;

fn send(
    tx: &Tx<'_>,
    config: &Config,
    subject: &str,
    text: &str,
    now: UnixTime,
) -> Result<(), StoreError> {
    for chat in &config.telegram.operators {
        tx.insert_draft(
            Channel::Telegram,
            &Draft {
                kind: "alert".into(),
                chat: Some(*chat),
                text: text.into(),
                created_at: now,
                ..Draft::default()
            },
        )?;
    }
    outbox::mail_notice(tx, config, "alert", subject, text, now)?;
    Ok(())
}

fn single(p: &Pending, tz: &jiff::tz::TimeZone) -> (String, String) {
    let a = &p.alert;
    let again = match p.repeats {
        0 => String::new(),
        n => format!("\nSeen {} times since.", n),
    };
    let detail = if a.detail.is_empty() {
        String::new()
    } else {
        format!("\n\n{}", a.detail)
    };
    (
        format!("level {}: {}", a.level, a.title),
        format!(
            "Security alert, level {} ({})\n{}\nAbout: {}\nWhen: {}{again}{detail}",
            a.level,
            a.origin(),
            a.title,
            a.agent,
            time::local(a.at, tz),
        ),
    )
}

/// One message listing pending alerts, the highest levels first (a flood of low ones never
/// pushes a critical one out of sight), at most [`DIGEST_MAX`]; returns it and the alerts it
/// lists: the others wait for the next digest.
fn digest(all: &[Pending], why: &str, tz: &jiff::tz::TimeZone) -> ((String, String), Vec<i64>) {
    let mut order: Vec<&Pending> = all.iter().collect();
    order.sort_by_key(|p| (std::cmp::Reverse(p.alert.level), p.id));
    let listed = &order[..order.len().min(DIGEST_MAX)];
    let top = listed.first().map_or(0, |p| p.alert.level);
    let mut text = format!(
        "{} security alerts ({why}), highest level {top}:\n",
        all.len()
    );
    for p in listed {
        let a = &p.alert;
        let again = if p.repeats > 0 {
            format!(" (×{})", p.repeats + 1)
        } else {
            String::new()
        };
        text.push_str(&format!(
            "• {} level {} {} on {}: {}{again}\n",
            time::local(a.at, tz),
            a.level,
            a.origin(),
            a.agent,
            a.title
        ));
    }
    if all.len() > listed.len() {
        text.push_str(&format!(
            "… and {} more of lower levels, in the next digest\n",
            all.len() - listed.len()
        ));
    }
    (
        (format!("{} alerts, highest level {top}", all.len()), text),
        listed.iter().map(|p| p.id).collect(),
    )
}
