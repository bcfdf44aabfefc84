//! One run: fetch every calendar of every account (one account's failure never stops the
//! others), keep each calendar's last good events, merge, and write `availability.json`
//! atomically.

use std::io::Write;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use super::client::{Client, Fetched, Listed, MAX_CALENDARS};
use super::event::{Event, When};
use super::merge::{self, Seen, Source};
use super::output::{Availability, SourceState};
use super::{CalendarError, google, graph};
use crate::core::journal::Kind;
use crate::core::store::{CalendarSource, Store};
use crate::platform::config::{CalendarAccount, CalendarKind, Config};
use crate::platform::exit::{Exit, ExitStatus};
use crate::platform::time::UnixTime;

/// How the run is asked to go.
#[derive(Debug, Default)]
pub struct Options {
    /// Print the result instead of writing it (and keep nothing).
    pub dry_run: bool,
    /// Compute the window from this time instead of now (only with `dry_run`).
    pub at: Option<Timestamp>,
}

/// What the run did, for `--json` and the log.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Calendars in the output.
    pub calendars: usize,
    /// Calendars whose fetch failed this run.
    pub failed: usize,
    /// Events after de-duplication.
    pub events: usize,
    /// HTTP calls made.
    pub calls: usize,
    /// Bytes of output.
    pub bytes: usize,
    /// The exit status the worst failure asks for (0 when all went well).
    pub exit: u8,
}

/// The window: from `now` to the end of the day `days` days after today, in `tz`.
pub fn window(now: Timestamp, tz: &TimeZone, days: u32) -> (Timestamp, Timestamp) {
    let today = now.to_zoned(tz.clone()).date();
    let end = today
        .checked_add(jiff::Span::new().days(i64::from(days) + 1))
        .ok()
        .and_then(|day| day.to_zoned(tz.clone()).ok())
        .and_then(|z| z.start_of_day().ok())
        .map_or(now, |z| z.timestamp());
    (now, end)
}

/// Fetch, merge, write. A calendar that fails keeps its last good events, marked stale.
pub fn run(
    config: &Config,
    options: &Options,
    out: &mut dyn Write,
) -> Result<Report, CalendarError> {
    let mut report = Report::default();
    if config.calendar.accounts.is_empty() {
        log::warn!(
            "no calendar accounts are configured: add [[calendar.accounts]] to {}; nothing is written",
            config.file()
        );
        return Ok(report);
    }
    // Whole seconds: Graph parses its query times as .NET does, with at most 7 decimals.
    let now = options.at.unwrap_or_else(Timestamp::now);
    let now = Timestamp::from_second(now.as_second()).unwrap_or(now);
    let zone = &config.operator.timezone;
    let window = window(now, &zone.tz, config.calendar.horizon_days);
    let mut store = Store::open(&config.paths.database())?;
    let previous = store.read(|tx| tx.calendar_sources())?;
    let mut outcomes = Vec::new();
    let mut worst: Option<Exit> = None;
    for account in &config.calendar.accounts {
        let before: Vec<&CalendarSource> = previous
            .iter()
            .filter(|r| r.account == account.name)
            .collect();
        let fetched = fetch_account(config, options, account, window, &mut store, &mut report);
        for outcome in account_rows(account, fetched, &before, now.as_second()) {
            if let Some(e) = outcome.exit {
                worst = Some(worst.map_or(e, |w| graver(w, e)));
                report.failed += 1;
            }
            outcomes.push(outcome);
        }
    }
    let (merged, states) = merge_rows(&outcomes, &zone.tz, window);
    report.calendars = outcomes.len();
    report.events = merged.len();
    report.exit = worst.unwrap_or(Exit::Ok).code();
    let document = Availability {
        generated: now,
        zone: (&zone.tz, zone.tz.iana_name().unwrap_or(&zone.name)),
        window,
        merged: &merged,
        sources: &states,
    }
    .to_json();
    let mut text = document.to_string();
    text.push('\n');
    report.bytes = text.len();
    if options.dry_run {
        let _ = out.write_all(text.as_bytes());
        return Ok(report);
    }
    let rows: Vec<CalendarSource> = outcomes.into_iter().map(|o| o.row).collect();
    store.write(|tx| tx.set_calendar_sources(&rows))?;
    let path = config.calendar.output.path();
    crate::platform::atomic::write(path, text.as_bytes(), 0o644)?;
    log::info!(
        "wrote {}: {} events from {} calendars ({} failed), {} bytes",
        path.display(),
        report.events,
        report.calendars,
        report.failed,
        report.bytes
    );
    Ok(report)
}

/// The exit status that says more: configuration, then a refusal, then retry later.
fn graver(a: Exit, b: Exit) -> Exit {
    let rank = |e: Exit| match e {
        Exit::Config => 3,
        Exit::Unavailable => 2,
        Exit::TempFail => 1,
        _ => 0,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// One account's calendars and how each fetch went; `Err` when the account failed as a whole.
type AccountFetch = Result<Vec<(Listed, Result<Fetched, CalendarError>)>, CalendarError>;

fn fetch_account(
    config: &Config,
    options: &Options,
    account: &CalendarAccount,
    window: (Timestamp, Timestamp),
    store: &mut Store,
    report: &mut Report,
) -> AccountFetch {
    let backoff_key = format!("calendar.{}.backoff_until", account.name);
    let until = store.read(|tx| tx.setting(&backoff_key))?;
    if let Some(until) = until.and_then(|u| u.parse::<i64>().ok())
        && until > crate::platform::time::now()
    {
        return Err(CalendarError::BackingOff(crate::platform::time::rfc3339(
            until,
        )));
    }
    let mut client = Client::new(config, account)?;
    let result = fetch_calendars(&mut client, store, window);
    report.calls += client.calls;
    // Only a throttle pauses the whole account; a 5xx is retried with the next run.
    let busy = match &result {
        Err(e @ CalendarError::Busy { retry_after, .. }) if stops_account(e) => *retry_after,
        Ok(list) => list.iter().find_map(|(_, r)| match r {
            Err(e @ CalendarError::Busy { retry_after, .. }) if stops_account(e) => *retry_after,
            _ => None,
        }),
        _ => None,
    };
    let long = busy.filter(|&s| s > config.calendar.max_wait.get().as_secs());
    if let Some(wait) = long.filter(|_| !options.dry_run) {
        let until = crate::platform::time::now()
            .saturating_add(i64::try_from(wait).unwrap_or(i64::MAX))
            .to_string();
        store.write(|tx| tx.set_setting(&backoff_key, Some(&until)))?;
    }
    result
}

fn fetch_calendars(
    client: &mut Client<'_>,
    store: &mut Store,
    (start, end): (Timestamp, Timestamp),
) -> AccountFetch {
    let account = client.account;
    let listed = if account.all_calendars() {
        match account.kind {
            CalendarKind::Graph => graph::calendars(client, store)?,
            CalendarKind::Google => google::calendars(client, store)?,
        }
    } else {
        account
            .calendars
            .iter()
            .map(|id| Listed {
                id: id.clone(),
                name: id.clone(),
            })
            .collect()
    };
    if listed.len() > MAX_CALENDARS {
        return Err(CalendarError::Malformed(format!(
            "the account lists {} calendars, more than {MAX_CALENDARS}: name the ones wanted in calendars = [...]",
            listed.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    let mut results = Vec::new();
    let mut account_failure: Option<String> = None;
    for calendar in listed.into_iter().filter(|c| seen.insert(c.id.clone())) {
        if let Some(why) = &account_failure {
            let error = CalendarError::Network(format!("not tried: {why}"));
            results.push((calendar, Err(error)));
            continue;
        }
        let fetched = match account.kind {
            CalendarKind::Graph => graph::events(client, store, &calendar.id, start, end),
            CalendarKind::Google => google::events(client, store, &calendar.id, start, end),
        };
        if let Err(e) = &fetched
            && stops_account(e)
        {
            account_failure = Some(e.to_string());
        }
        results.push((calendar, fetched));
    }
    Ok(results)
}

/// Failures that would repeat for every calendar of the account. A throttle (429, or a 403
/// that says so) is the account's; a 5xx is one calendar's failure, and the account's other
/// calendars are still fetched and stay fresh.
fn stops_account(e: &CalendarError) -> bool {
    match e {
        CalendarError::Busy { status, .. } => *status < 500,
        CalendarError::Authorization { .. }
        | CalendarError::Network(_)
        | CalendarError::Store(_) => true,
        _ => false,
    }
}

/// One calendar after this run.
struct Outcome {
    /// What is stored for it.
    row: CalendarSource,
    /// Its events: this run's, or the last good ones.
    events: Vec<Event>,
    /// Items of this run's answer that could not be read.
    skipped: Vec<String>,
    /// The exit status its failure asks for.
    exit: Option<Exit>,
}

/// Every calendar of one account after this run.
fn account_rows(
    account: &CalendarAccount,
    fetched: AccountFetch,
    before: &[&CalendarSource],
    now: UnixTime,
) -> Vec<Outcome> {
    let kept = |calendar: &str, name: &str, error: &CalendarError| {
        let old = before.iter().find(|r| r.calendar == calendar);
        let row = CalendarSource {
            account: account.name.clone(),
            calendar: calendar.to_string(),
            name: name.to_string(),
            events: old.map_or_else(|| "[]".into(), |r| r.events.clone()),
            fetched_at: old.and_then(|r| r.fetched_at),
            attempted_at: now,
            error: Some(error.to_string()),
            // A network blip after a refused grant does not make the grant good again.
            needs_person: error.exit() == Exit::Config
                || (error.exit() == Exit::TempFail && old.is_some_and(|r| r.needs_person)),
        };
        Outcome {
            events: serde_json::from_str(&row.events).unwrap_or_default(),
            row,
            skipped: Vec::new(),
            exit: Some(error.exit()),
        }
    };
    match fetched {
        Err(error) => {
            failed(account, "*", &error);
            let mut rows: Vec<_> = before
                .iter()
                .map(|r| kept(&r.calendar, &r.name, &error))
                .collect();
            if rows.is_empty() {
                rows.push(kept("*", "(calendars not listed yet)", &error));
            }
            rows
        }
        Ok(list) => list
            .into_iter()
            .map(|(calendar, result)| match result {
                Ok(fetched) => {
                    for why in &fetched.skipped {
                        log::warn!("calendar {} of {}: {why}", calendar.name, account.name);
                    }
                    let row = CalendarSource {
                        account: account.name.clone(),
                        calendar: calendar.id,
                        name: calendar.name,
                        events: serde_json::to_string(&fetched.events)
                            .unwrap_or_else(|_| "[]".into()),
                        fetched_at: Some(now),
                        attempted_at: now,
                        error: None,
                        needs_person: false,
                    };
                    Outcome {
                        row,
                        events: fetched.events,
                        skipped: fetched.skipped,
                        exit: None,
                    }
                }
                Err(error) => {
                    failed(account, &calendar.name, &error);
                    kept(&calendar.id, &calendar.name, &error)
                }
            })
            .collect(),
    }
}

/// Log a failed fetch with its own MESSAGE_ID (the catalog says what to do).
fn failed(account: &CalendarAccount, calendar: &str, error: &CalendarError) {
    let level = match error.exit() {
        Exit::TempFail => log::Level::Warn,
        _ => log::Level::Error,
    };
    let what = if calendar == "*" {
        format!("calendar account {}", account.name)
    } else {
        format!("calendar {calendar} of {}", account.name)
    };
    log::log!(
        level,
        message_id = Kind::CalendarFailed.message_id(),
        clawdbot_event = Kind::CalendarFailed.name(),
        clawdbot_account = account.name.as_str(),
        clawdbot_calendar = calendar;
        "{what}: {error}; its last good events are kept, marked stale"
    );
}

/// Every calendar's events inside the window, merged; and each calendar's state.
fn merge_rows<'a>(
    outcomes: &'a [Outcome],
    tz: &TimeZone,
    window: (Timestamp, Timestamp),
) -> (Vec<merge::Merged>, Vec<SourceState<'a>>) {
    let first_day = window.0.to_zoned(tz.clone()).date();
    let last_day = window.1.to_zoned(tz.clone()).date();
    let inside = |e: &Event| match e.when {
        When::Timed { start, end } => end > window.0 && start < window.1,
        When::AllDay { start, end } => {
            end > first_day && start < last_day.max(first_day.tomorrow().unwrap_or(Date::MAX))
        }
    };
    let mut seen = Vec::new();
    let mut states = Vec::new();
    for Outcome {
        row,
        events,
        skipped,
        ..
    } in outcomes
    {
        let events: Vec<&Event> = events.iter().filter(|e| inside(e)).collect();
        states.push(SourceState {
            row,
            events: events.len(),
            skipped,
        });
        let stale = row.error.as_ref().and(row.fetched_at);
        seen.extend(events.into_iter().map(|event| Seen {
            event: event.clone(),
            source: Source {
                account: row.account.clone(),
                calendar: row.name.clone(),
            },
            stale,
        }));
    }
    (merge::dedupe(seen), states)
}
