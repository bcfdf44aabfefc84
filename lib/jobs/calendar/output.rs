//! `availability.json`: what the agent reads. Times are RFC 3339 with the offset they have in
//! the operator's zone; all-day events are dates; every event names its calendars; `sources`
//! says how fresh each calendar is. The schema is `packaging/availability.schema.json`.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value, json};

use super::event::{Show, When};
use super::merge::{self, Merged};
use crate::core::store::CalendarSource;
use crate::platform::time::UnixTime;

/// The format's version, raised on any incompatible change.
pub const VERSION: u32 = 1;

/// How one calendar fared, for the `sources` section.
#[derive(Debug, Clone)]
pub struct SourceState<'a> {
    /// What is stored for it: account, id, name, last good fetch, this run's error.
    pub row: &'a CalendarSource,
    /// Events it contributed inside the window.
    pub events: usize,
    /// Items of its answer that could not be read, each with why.
    pub skipped: &'a [String],
}

/// Everything the file is made from.
pub struct Availability<'a> {
    /// When it was made.
    pub generated: Timestamp,
    /// The operator's zone and its name.
    pub zone: (&'a TimeZone, &'a str),
    /// The window asked for.
    pub window: (Timestamp, Timestamp),
    /// The de-duplicated events.
    pub merged: &'a [Merged],
    /// Each calendar's state.
    pub sources: &'a [SourceState<'a>],
}

impl Availability<'_> {
    /// The JSON document.
    pub fn to_json(&self) -> Value {
        let busy: Vec<Value> = merge::blocks(self.merged)
            .iter()
            .map(|block| {
                let mut sources: Vec<&merge::Source> = block
                    .events
                    .iter()
                    .flat_map(|&i| &self.merged[i].sources)
                    .collect();
                sources.sort();
                sources.dedup();
                json!({
                    "start": self.time(block.start),
                    "end": self.time(block.end),
                    "status": status(merge::block_show(block, self.merged)),
                    "sources": sources.iter().map(|s| source(s)).collect::<Vec<_>>(),
                    "events": block.events.iter().map(|&i| self.event(&self.merged[i])).collect::<Vec<_>>(),
                })
            })
            .collect();
        let timed_free =
            |m: &&Merged| matches!(m.event.when, When::Timed { .. }) && !m.event.show.blocks();
        let free: Vec<Value> = self
            .merged
            .iter()
            .filter(timed_free)
            .map(|m| self.event(m))
            .collect();
        let all_day: Vec<Value> = self
            .merged
            .iter()
            .filter(|m| matches!(m.event.when, When::AllDay { .. }))
            .map(|m| self.event(m))
            .collect();
        json!({
            "version": VERSION,
            "generated": self.time(self.generated),
            "timezone": self.zone.1,
            "window": {"start": self.time(self.window.0), "end": self.time(self.window.1)},
            "busy": busy,
            "free": free,
            "all_day": all_day,
            "sources": self.sources.iter().map(|s| self.source_state(s)).collect::<Vec<_>>(),
        })
    }

    fn time(&self, at: Timestamp) -> String {
        let mut zoned = at.to_zoned(self.zone.0.clone());
        // RFC 3339 offsets are whole minutes; a local mean time of old is not: UTC then.
        if zoned.offset().seconds() % 60 != 0 {
            zoned = at.to_zoned(TimeZone::UTC);
        }
        zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }

    fn event(&self, m: &Merged) -> Value {
        let mut out = match m.event.when {
            When::Timed { start, end } => json!({"start": self.time(start), "end": self.time(end)}),
            When::AllDay { start, end } => {
                json!({"start_date": start.to_string(), "end_date": end.to_string()})
            }
        };
        out["status"] = json!(status(m.event.show));
        if !m.event.private && !m.event.subject.is_empty() {
            out["subject"] = json!(m.event.subject);
        }
        out["private"] = json!(m.event.private);
        out["sources"] = m.sources.iter().map(source).collect();
        if let Some(as_of) = m.stale {
            out["stale"] = self.stale(as_of);
        }
        out
    }

    fn stale(&self, as_of: UnixTime) -> Value {
        let at = Timestamp::from_second(as_of).unwrap_or(Timestamp::UNIX_EPOCH);
        json!({"as_of": self.time(at), "age_seconds": (self.generated.as_second() - as_of).max(0)})
    }

    fn source_state(&self, s: &SourceState) -> Value {
        let row = s.row;
        let mut out = json!({
            "account": row.account,
            "calendar": row.name,
            "id": row.calendar,
            "ok": row.error.is_none(),
            "last_success": row.fetched_at.and_then(|at| Timestamp::from_second(at).ok()).map(|at| self.time(at)),
            "events": s.events,
        });
        if let Some(error) = &row.error {
            out["error"] = json!(error);
            if let Some(as_of) = row.fetched_at {
                out["stale"] = self.stale(as_of);
            }
        }
        if !s.skipped.is_empty() {
            out["skipped"] = json!(s.skipped);
        }
        out
    }
}

fn source(s: &merge::Source) -> Value {
    json!({"account": s.account, "calendar": s.calendar})
}

fn status(show: Show) -> &'static str {
    match show {
        Show::Free => "free",
        Show::WorkingElsewhere => "working-elsewhere",
        Show::Tentative => "tentative",
        Show::Busy => "busy",
        Show::OutOfOffice => "out-of-office",
    }
}
