//! The calendar: each calendar's last good fetch and last error.

use rusqlite::params;

use crate::platform::time::UnixTime;

use super::{StoreError, Tx};

/// One calendar's last fetch: its events as of the last success (JSON), and the last error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarSource {
    /// The configured account.
    pub account: String,
    /// The calendar's id at its service.
    pub calendar: String,
    /// Its name as the service shows it.
    pub name: String,
    /// The events of the last good fetch, as JSON.
    pub events: String,
    /// When that fetch was.
    pub fetched_at: Option<UnixTime>,
    /// When the last attempt was.
    pub attempted_at: UnixTime,
    /// Why the last attempt failed (none: it succeeded).
    pub error: Option<String>,
    /// The failure will not pass by itself (a refused grant, a missing credential).
    pub needs_person: bool,
}

impl Tx<'_> {
    /// Every calendar's last fetch, by account and calendar.
    pub fn calendar_sources(&self) -> Result<Vec<CalendarSource>, StoreError> {
        let err = self.err("cannot read calendar sources");
        let mut stmt = self
            .tx
            .prepare("SELECT account, calendar, name, events, fetched_at, attempted_at, error, needs_person FROM calendar_sources ORDER BY account, calendar")
            .map_err(self.err("cannot read calendar sources"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(CalendarSource {
                    account: r.get(0)?,
                    calendar: r.get(1)?,
                    name: r.get(2)?,
                    events: r.get(3)?,
                    fetched_at: r.get(4)?,
                    attempted_at: r.get(5)?,
                    error: r.get(6)?,
                    needs_person: r.get(7)?,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>());
        rows.map_err(err)
    }

    /// Replace the calendar sources with `sources`: calendars and accounts not in it are
    /// forgotten.
    pub fn set_calendar_sources(&self, sources: &[CalendarSource]) -> Result<(), StoreError> {
        self.tx
            .execute("DELETE FROM calendar_sources", [])
            .map_err(self.err("cannot replace calendar sources"))?;
        for s in sources {
            self.tx
                .execute(
                    "INSERT INTO calendar_sources (account, calendar, name, events, fetched_at, attempted_at, error, needs_person) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![s.account, s.calendar, s.name, s.events, s.fetched_at, s.attempted_at, s.error, s.needs_person],
                )
                .map_err(self.err(format!("cannot store calendar {} of {}", s.calendar, s.account)))?;
        }
        Ok(())
    }
}
