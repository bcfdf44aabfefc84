//! Secret rotation (docs/maintenance.md, "Secret rotation"): an inventory in the configuration
//! (`[secrets.NAME]`), rotations recorded in the state database, and reminders mailed 14, 7
//! and 1 days before a secret is due, then weekly while it is overdue, never the same one twice.

use jiff::civil::Date;
use jiff::{Span, ToSpan};
use serde::Serialize;

use crate::core::outbox;
use crate::core::store::{Store, StoreError};
use crate::platform::config::{Cadence, Config};
use crate::platform::exit::{Exit, ExitStatus};
use crate::platform::time;

/// Why a secrets command failed.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The state database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No such secret in the configuration.
    #[error("no secret {name:?} in the configuration (known: {known})")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The configured names.
        known: String,
    },
    /// A rotation date in the future.
    #[error("{0} is in the future: a rotation is recorded when it has happened")]
    Future(Date),
}

impl ExitStatus for SecretsError {
    fn exit(&self) -> Exit {
        match self {
            SecretsError::Store(e) => e.exit(),
            SecretsError::Unknown { .. } | SecretsError::Future(_) => Exit::Usage,
        }
    }
}

/// Where a secret's last rotation date comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Since {
    /// `clawdbot-secrets rotated`.
    Recorded,
    /// `rotated = …` in the configuration.
    Configured,
    /// Neither: the day the suite first saw it.
    FirstSeen,
}

/// One secret's state.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Its name.
    pub name: String,
    /// How often it is rotated.
    pub cadence: String,
    /// When it was last rotated (or first seen).
    pub last: String,
    /// Where `last` comes from.
    pub since: Since,
    /// When it is due.
    pub due: String,
    /// Days until due; negative when overdue.
    pub days_left: i64,
    /// Where it lives.
    #[serde(rename = "where")]
    pub location: String,
    /// Who rotates it.
    pub owner: Option<String>,
}

/// The due date: a month-based cadence keeps the day of the month, or takes the month's last
/// day when it has fewer (31 Aug + 6 months is 28 or 29 Feb).
pub fn due(last: Date, cadence: Cadence) -> Date {
    let span = match cadence {
        Cadence::Months(n) => n.months(),
        Cadence::Days(n) => n.days(),
    };
    last.checked_add(span).unwrap_or(Date::MAX)
}

/// How urgent a reminder is at `days_left`: 1 at 14 days, 2 at 7, 3 at 1 (and on the day), then
/// 4, 5, … for each week overdue; `None` when nothing is due yet.
pub fn urgency(days_left: i64) -> Option<i64> {
    match days_left {
        15.. => None,
        8..=14 => Some(1),
        2..=7 => Some(2),
        0..=1 => Some(3),
        overdue => Some(4 + (-overdue - 1) / 7),
    }
}

/// Today in the operator's time zone.
pub fn today(config: &Config) -> Date {
    jiff::Timestamp::now()
        .to_zoned(config.operator.timezone.tz.clone())
        .date()
}

/// Every configured secret with its due date, most urgent first.
pub fn list(config: &Config, store: &mut Store, today: Date) -> Result<Vec<Status>, StoreError> {
    let mut all = store.write(|tx| {
        config
            .secrets
            .iter()
            .map(|(name, secret)| {
                let recorded = tx.last_rotation(name)?.and_then(|d| d.parse::<Date>().ok());
                let (last, since) = match (recorded, secret.rotated) {
                    (Some(r), Some(c)) if c > r => (c, Since::Configured),
                    (Some(r), _) => (r, Since::Recorded),
                    (None, Some(c)) => (c, Since::Configured),
                    (None, None) => {
                        let first = tx.tracked_since(name, &today.to_string())?;
                        (first.parse().unwrap_or(today), Since::FirstSeen)
                    }
                };
                let due = due(last, secret.cadence);
                Ok(Status {
                    name: name.clone(),
                    cadence: secret.cadence.to_string(),
                    last: last.to_string(),
                    since,
                    due: due.to_string(),
                    days_left: days_between(today, due),
                    location: secret.location.clone(),
                    owner: secret.owner.clone(),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()
    })?;
    all.sort_by_key(|s| (s.days_left, s.name.clone()));
    Ok(all)
}

fn days_between(from: Date, to: Date) -> i64 {
    from.until(to)
        .map_or(0, |span: Span| i64::from(span.get_days()))
}

/// Record that `name` was rotated on `on` (today when not given).
pub fn rotated(
    config: &Config,
    store: &mut Store,
    name: &str,
    on: Option<Date>,
    actor: &str,
) -> Result<Status, SecretsError> {
    if !config.secrets.contains_key(name) {
        return Err(SecretsError::Unknown {
            name: name.to_string(),
            known: config
                .secrets
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let today = today(config);
    let on = on.unwrap_or(today);
    if on > today {
        return Err(SecretsError::Future(on));
    }
    let now = time::now();
    store.write(|tx| tx.record_rotation(name, &on.to_string(), actor, now))?;
    log::info!("secret {name} rotated on {on} (recorded by {actor})");
    list(config, store, today)?
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| SecretsError::Unknown {
            name: name.to_string(),
            known: String::new(),
        })
}

/// What the daily run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RemindReport {
    /// Secrets reminded about in this run.
    pub reminded: Vec<String>,
    /// Whether a mail was queued.
    pub mailed: bool,
}

/// Mail one reminder listing each secret that reached a new urgency since the last one.
pub fn remind(config: &Config, store: &mut Store, today: Date) -> Result<RemindReport, StoreError> {
    if !config.has_operator("no reminder can be mailed") {
        return Ok(RemindReport::default());
    }
    let statuses = list(config, store, today)?;
    let now = time::now();
    store.write(|tx| {
        let mut due_now = Vec::new();
        for status in &statuses {
            let Some(rank) = urgency(status.days_left) else {
                continue;
            };
            if tx.reminder_rank(&status.name, &status.due)? >= Some(rank) {
                continue;
            }
            tx.set_reminder_rank(&status.name, &status.due, rank, now)?;
            due_now.push(status);
        }
        let mut report = RemindReport {
            reminded: due_now.iter().map(|s| s.name.clone()).collect(),
            mailed: false,
        };
        if due_now.is_empty() {
            return Ok(report);
        }
        let (subject, text) = reminder_text(&due_now);
        report.mailed = outbox::mail_notice(tx, config, "secrets", &subject, &text, now)?;
        for s in &due_now {
            log::warn!("secret {} is due {} ({} days)", s.name, s.due, s.days_left);
        }
        Ok(report)
    })
}

fn reminder_text(due: &[&Status]) -> (String, String) {
    use std::fmt::Write;
    let overdue = due.iter().filter(|s| s.days_left < 0).count();
    let subject = match (overdue, due.len()) {
        (0, 1) => format!("rotate {} by {}", due[0].name, due[0].due),
        (0, n) => format!("{n} secrets to rotate soon"),
        (o, _) => format!("OVERDUE: {o} secret(s) past their rotation date"),
    };
    let mut text = String::new();
    for s in due {
        let when = match s.days_left {
            d if d < 0 => format!("OVERDUE by {} days (due {})", -d, s.due),
            0 => format!("due today ({})", s.due),
            d => format!("due in {d} days ({})", s.due),
        };
        let _ = writeln!(text, "{}: {when}", s.name);
        let _ = writeln!(text, "  where: {}", s.location);
        if let Some(owner) = &s.owner {
            let _ = writeln!(text, "  owner: {owner}");
        }
        let _ = writeln!(
            text,
            "  last rotated {} ({}), {}",
            s.last,
            since_text(s.since),
            s.cadence
        );
        let _ = writeln!(
            text,
            "  after rotating: clawdbot-secrets rotated {}\n",
            s.name
        );
    }
    text.push_str("Overdue secrets are reminded of once a week until their rotation is recorded.");
    (subject, text)
}

fn since_text(since: Since) -> &'static str {
    match since {
        Since::Recorded => "recorded",
        Since::Configured => "from the configuration",
        Since::FirstSeen => "first seen then; no rotation recorded",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn month_ends_and_leap_years() {
        let q = Cadence::Months(3);
        assert_eq!(due(date(2026, 11, 30), q), date(2027, 2, 28));
        assert_eq!(due(date(2027, 11, 30), q), date(2028, 2, 29));
        assert_eq!(
            due(date(2028, 2, 29), Cadence::Months(12)),
            date(2029, 2, 28)
        );
        assert_eq!(
            due(date(2026, 8, 31), Cadence::Months(6)),
            date(2027, 2, 28)
        );
        assert_eq!(
            due(date(2026, 1, 31), Cadence::Months(1)),
            date(2026, 2, 28)
        );
        assert_eq!(
            due(date(2027, 12, 31), Cadence::Days(60)),
            date(2028, 2, 29)
        );
        assert_eq!(due(date(2026, 3, 15), q), date(2026, 6, 15));
    }

    #[test]
    fn urgency_steps() {
        let ranks: Vec<Option<i64>> = [30, 15, 14, 8, 7, 2, 1, 0, -1, -7, -8, -14, -15]
            .into_iter()
            .map(urgency)
            .collect();
        assert_eq!(
            ranks,
            [
                None,
                None,
                Some(1),
                Some(1),
                Some(2),
                Some(2),
                Some(3),
                Some(3),
                Some(4),
                Some(4),
                Some(5),
                Some(5),
                Some(6)
            ]
        );
    }

    #[test]
    fn days_left() {
        assert_eq!(days_between(date(2028, 2, 28), date(2028, 3, 1)), 2);
        assert_eq!(days_between(date(2027, 2, 28), date(2027, 3, 1)), 1);
        assert_eq!(days_between(date(2026, 12, 1), date(2026, 11, 24)), -7);
    }
}
