//! One calendar event, read from a service's JSON into a form where every time is an instant
//! (or, for all-day events, a date): Graph's `dateTime` is read in its `timeZone`, Google's in
//! its own offset, else its `timeZone`, else the calendar's. Nothing here looks at the
//! machine's zone.

use jiff::civil::{Date, DateTime};
use jiff::{Timestamp, tz::TimeZone};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::zones;

/// The longest subject kept (characters).
const MAX_SUBJECT: usize = 200;
/// The longest iCalUID kept (bytes); longer ones are not used for de-duplication.
const MAX_UID: usize = 1024;

/// When an event happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum When {
    /// From one instant to another.
    Timed {
        /// Start.
        start: Timestamp,
        /// End (after the start, or equal for a zero-length event).
        end: Timestamp,
    },
    /// Whole days, from `start` up to (not including) `end`, in whatever zone the reader is in.
    AllDay {
        /// First day.
        start: Date,
        /// The day after the last.
        end: Date,
    },
}

/// How an event shows the operator's time, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Show {
    /// Does not block (Graph `free`, Google `transparent`).
    Free,
    /// Working from elsewhere: does not block.
    WorkingElsewhere,
    /// Tentatively accepted or `tentative`: blocks, marked as such.
    Tentative,
    /// Busy.
    Busy,
    /// Out of office.
    OutOfOffice,
}

impl Show {
    /// Whether the time is taken.
    pub fn blocks(self) -> bool {
        self >= Show::Tentative
    }
}

/// An event as the merge sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The iCalendar UID, shared by copies of one meeting on several calendars.
    pub uid: Option<String>,
    /// The subject ("" when private or missing).
    pub subject: String,
    /// When.
    pub when: When,
    /// How it shows.
    pub show: Show,
    /// Private or confidential: shown as busy time without a subject.
    pub private: bool,
}

/// What became of one item of a service's answer.
pub type Parsed = Result<Option<Event>, String>;

/// A Microsoft Graph event (`calendarView` item). `Ok(None)`: cancelled or declined.
pub fn from_graph(item: &Value) -> Parsed {
    if item["isCancelled"].as_bool() == Some(true)
        || item["responseStatus"]["response"].as_str() == Some("declined")
    {
        return Ok(None);
    }
    let when = if item["isAllDay"].as_bool() == Some(true) {
        // An all-day event is the same dates everywhere; its midnight is expressed in
        // whatever zone the answer uses, so only the date part counts.
        When::AllDay {
            start: graph_date(&item["start"])?,
            end: graph_date(&item["end"])?,
        }
    } else {
        When::Timed {
            start: graph_time(&item["start"])?,
            end: graph_time(&item["end"])?,
        }
    };
    let show = match item["showAs"].as_str() {
        Some("free") => Show::Free,
        Some("workingElsewhere") => Show::WorkingElsewhere,
        Some("tentative") => Show::Tentative,
        Some("oof") => Show::OutOfOffice,
        // "busy", "unknown" and anything new: the safe reading is that the time is taken.
        _ => Show::Busy,
    };
    let private = matches!(
        item["sensitivity"].as_str(),
        Some("private" | "confidential")
    );
    event(
        item["iCalUId"].as_str(),
        item["subject"].as_str(),
        when,
        show,
        private,
    )
}

/// A Google Calendar event (`events.list` item); `calendar_zone` is the list's `timeZone`.
/// `Ok(None)`: cancelled or declined by the operator.
pub fn from_google(item: &Value, calendar_zone: Option<&str>) -> Parsed {
    if item["status"].as_str() == Some("cancelled") {
        return Ok(None);
    }
    let declined = item["attendees"].as_array().is_some_and(|people| {
        people.iter().any(|p| {
            p["self"].as_bool() == Some(true) && p["responseStatus"].as_str() == Some("declined")
        })
    });
    if declined {
        return Ok(None);
    }
    let when = match (item["start"]["date"].as_str(), item["end"]["date"].as_str()) {
        (Some(start), Some(end)) => When::AllDay {
            start: date(start)?,
            end: date(end)?,
        },
        _ => When::Timed {
            start: google_time(&item["start"], calendar_zone)?,
            end: google_time(&item["end"], calendar_zone)?,
        },
    };
    let tentative = item["attendees"].as_array().is_some_and(|people| {
        people.iter().any(|p| {
            p["self"].as_bool() == Some(true) && p["responseStatus"].as_str() == Some("tentative")
        })
    });
    let show = match (item["eventType"].as_str(), item["transparency"].as_str()) {
        (Some("outOfOffice"), _) => Show::OutOfOffice,
        (Some("workingLocation"), _) | (_, Some("transparent")) => Show::Free,
        _ if tentative => Show::Tentative,
        _ => Show::Busy,
    };
    let private = matches!(
        item["visibility"].as_str(),
        Some("private" | "confidential")
    );
    event(
        item["iCalUID"].as_str(),
        item["summary"].as_str(),
        when,
        show,
        private,
    )
}

fn event(
    uid: Option<&str>,
    subject: Option<&str>,
    when: When,
    show: Show,
    private: bool,
) -> Parsed {
    let (ordered, years) = match when {
        When::Timed { start, end } => (
            start <= end,
            [start, end].map(|t| t.to_zoned(TimeZone::UTC).year()),
        ),
        When::AllDay { start, end } => (start < end, [start.year(), end.year()]),
    };
    if !ordered {
        return Err("it ends before it starts".into());
    }
    if years.iter().any(|y| !(1900..=9999).contains(y)) {
        return Err("it is dated outside the years 1900 to 9999".into());
    }
    let subject = if private {
        String::new()
    } else {
        clean(subject.unwrap_or(""))
    };
    Ok(Some(Event {
        uid: uid
            .filter(|u| !u.is_empty() && u.len() <= MAX_UID)
            .map(str::to_string),
        subject,
        when,
        show,
        private,
    }))
}

/// A subject with control characters replaced and its length capped.
fn clean(subject: &str) -> String {
    subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_SUBJECT)
        .collect::<String>()
        .trim()
        .to_string()
}

fn date(text: &str) -> Result<Date, String> {
    text.parse::<Date>()
        .map_err(|_| format!("{text:?} is not a date"))
}

/// Graph's `{"dateTime": "2026-11-30T09:00:00.0000000", "timeZone": "…"}`: a wall-clock time
/// in the named zone (a Windows or IANA name), never in the machine's zone.
fn graph_time(value: &Value) -> Result<Timestamp, String> {
    let (civil, zone) = graph_parts(value)?;
    let tz = zones::resolve(zone).ok_or_else(|| format!("unknown time zone {zone:?}"))?;
    local_to_instant(civil, &tz)
}

fn graph_date(value: &Value) -> Result<Date, String> {
    Ok(graph_parts(value)?.0.date())
}

fn graph_parts(value: &Value) -> Result<(DateTime, &str), String> {
    let text = value["dateTime"]
        .as_str()
        .ok_or("no dateTime in start or end")?;
    let civil = text
        .parse::<DateTime>()
        .map_err(|_| format!("{text:?} is not a date and time"))?;
    Ok((civil, value["timeZone"].as_str().unwrap_or("")))
}

/// Google's `{"dateTime": "…+01:00"}` (an offset makes it exact), or a `dateTime` without one
/// read in the event's `timeZone`, else the calendar's.
fn google_time(value: &Value, calendar_zone: Option<&str>) -> Result<Timestamp, String> {
    let text = value["dateTime"]
        .as_str()
        .ok_or("neither date nor dateTime in start or end")?;
    if let Ok(exact) = text.parse::<Timestamp>() {
        return Ok(exact);
    }
    let civil = text
        .parse::<DateTime>()
        .map_err(|_| format!("{text:?} is not a date and time"))?;
    let zone = value["timeZone"]
        .as_str()
        .or(calendar_zone)
        .ok_or_else(|| format!("{text:?} has no offset and no timeZone"))?;
    let tz = zones::resolve(zone).ok_or_else(|| format!("unknown time zone {zone:?}"))?;
    local_to_instant(civil, &tz)
}

/// A wall-clock time in `tz`. A time the clocks skip (spring forward) is read with the offset
/// before the gap, and a time they pass twice as the first pass, as RFC 5545 says.
fn local_to_instant(civil: DateTime, tz: &TimeZone) -> Result<Timestamp, String> {
    tz.to_ambiguous_timestamp(civil)
        .compatible()
        .map_err(|e| format!("{civil} cannot be placed in its zone: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn timed(parsed: Parsed) -> (String, String) {
        match parsed.unwrap().unwrap().when {
            When::Timed { start, end } => (start.to_string(), end.to_string()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn graph_times_are_read_in_their_own_zone() {
        let item = json!({"start": {"dateTime": "2026-11-30T09:00:00.0000000", "timeZone": "W. Europe Standard Time"},
                          "end": {"dateTime": "2026-11-30T10:30:00.0000000", "timeZone": "W. Europe Standard Time"}});
        assert_eq!(
            timed(from_graph(&item)),
            ("2026-11-30T08:00:00Z".into(), "2026-11-30T09:30:00Z".into())
        );
        let utc = json!({"start": {"dateTime": "2026-11-30T09:00:00.0000000", "timeZone": "UTC"},
                         "end": {"dateTime": "2026-11-30T09:15:00.0000000", "timeZone": "UTC"}});
        assert_eq!(
            timed(from_graph(&utc)),
            ("2026-11-30T09:00:00Z".into(), "2026-11-30T09:15:00Z".into())
        );
        let ny = json!({"start": {"dateTime": "2026-07-01T09:00:00", "timeZone": "Eastern Standard Time"},
                        "end": {"dateTime": "2026-07-01T10:00:00", "timeZone": "Eastern Standard Time"}});
        // Summer: New York is UTC-4 even though Windows calls the zone "Standard".
        assert_eq!(timed(from_graph(&ny)).0, "2026-07-01T13:00:00Z");
    }

    #[test]
    fn an_unknown_zone_is_an_error_not_a_guess() {
        let item = json!({"start": {"dateTime": "2026-11-30T09:00:00", "timeZone": "tzone://Microsoft/Custom"},
                          "end": {"dateTime": "2026-11-30T10:00:00", "timeZone": "tzone://Microsoft/Custom"}});
        assert!(
            from_graph(&item)
                .unwrap_err()
                .contains("tzone://Microsoft/Custom")
        );
        let none = json!({"start": {"dateTime": "2026-11-30T09:00:00"}, "end": {"dateTime": "2026-11-30T10:00:00"}});
        assert!(from_google(&none, None).is_err());
    }

    #[test]
    fn google_times_use_their_offset_then_their_zone_then_the_calendars() {
        let offset = json!({"start": {"dateTime": "2026-11-30T09:00:00-05:00"}, "end": {"dateTime": "2026-11-30T10:00:00-05:00"}});
        assert_eq!(
            timed(from_google(&offset, Some("Asia/Tokyo"))).0,
            "2026-11-30T14:00:00Z"
        );
        let zone = json!({"start": {"dateTime": "2026-11-30T09:00:00", "timeZone": "America/New_York"},
                          "end": {"dateTime": "2026-11-30T10:00:00", "timeZone": "America/New_York"}});
        assert_eq!(
            timed(from_google(&zone, Some("Asia/Tokyo"))).0,
            "2026-11-30T14:00:00Z"
        );
        let bare = json!({"start": {"dateTime": "2026-11-30T09:00:00"}, "end": {"dateTime": "2026-11-30T10:00:00"}});
        assert_eq!(
            timed(from_google(&bare, Some("Asia/Tokyo"))).0,
            "2026-11-30T00:00:00Z"
        );
    }

    #[test]
    fn all_day_events_are_dates_whatever_zone_they_are_written_in() {
        let graph = json!({"isAllDay": true,
                           "start": {"dateTime": "2026-12-01T00:00:00.0000000", "timeZone": "Tokyo Standard Time"},
                           "end": {"dateTime": "2026-12-02T00:00:00.0000000", "timeZone": "Tokyo Standard Time"}});
        let google = json!({"start": {"date": "2026-12-01"}, "end": {"date": "2026-12-02"}});
        let want = When::AllDay {
            start: "2026-12-01".parse().unwrap(),
            end: "2026-12-02".parse().unwrap(),
        };
        assert_eq!(from_graph(&graph).unwrap().unwrap().when, want);
        assert_eq!(from_google(&google, None).unwrap().unwrap().when, want);
    }

    #[test]
    fn times_around_the_dst_changes_follow_rfc_5545() {
        let ams = |t: &str| {
            json!({"start": {"dateTime": t, "timeZone": "Europe/Amsterdam"},
                   "end": {"dateTime": "2027-03-28T05:00:00", "timeZone": "Europe/Amsterdam"}})
        };
        // 02:30 does not exist on 2027-03-28: read with the offset before the gap (+01:00).
        assert_eq!(
            timed(from_google(&ams("2027-03-28T02:30:00"), None)).0,
            "2027-03-28T01:30:00Z"
        );
        let fold = json!({"start": {"dateTime": "2026-10-25T02:30:00", "timeZone": "Europe/Amsterdam"},
                          "end": {"dateTime": "2026-10-25T04:00:00", "timeZone": "Europe/Amsterdam"}});
        // 02:30 happens twice on 2026-10-25: the first time (+02:00).
        assert_eq!(timed(from_google(&fold, None)).0, "2026-10-25T00:30:00Z");
    }

    #[test]
    fn status_privacy_and_responses_are_respected() {
        let base = json!({"start": {"dateTime": "2026-11-30T09:00:00Z"}, "end": {"dateTime": "2026-11-30T10:00:00Z"},
                          "summary": "Salary talk", "iCalUID": "u1@google.com"});
        let with = |extra: Value| {
            let mut item = base.clone();
            item.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            from_google(&item, None).unwrap()
        };
        assert_eq!(with(json!({})).unwrap().show, Show::Busy);
        assert_eq!(
            with(json!({"transparency": "transparent"})).unwrap().show,
            Show::Free
        );
        assert_eq!(
            with(json!({"eventType": "outOfOffice"})).unwrap().show,
            Show::OutOfOffice
        );
        let private = with(json!({"visibility": "private"})).unwrap();
        assert!(private.private && private.subject.is_empty());
        let declined = json!({"attendees": [{"email": "a@x", "responseStatus": "accepted"},
                                             {"email": "me@x", "self": true, "responseStatus": "declined"}]});
        assert_eq!(with(declined), None);
        let tentative =
            json!({"attendees": [{"email": "me@x", "self": true, "responseStatus": "tentative"}]});
        assert_eq!(with(tentative).unwrap().show, Show::Tentative);
        assert_eq!(with(json!({"status": "cancelled"})), None);

        let graph = json!({"start": {"dateTime": "2026-11-30T09:00:00", "timeZone": "UTC"},
                           "end": {"dateTime": "2026-11-30T10:00:00", "timeZone": "UTC"},
                           "subject": "a\u{0}b", "showAs": "tentative", "sensitivity": "normal"});
        let parsed = from_graph(&graph).unwrap().unwrap();
        assert_eq!(
            (parsed.show, parsed.subject.as_str()),
            (Show::Tentative, "a b")
        );
        let mut declined = graph.clone();
        declined["responseStatus"] = json!({"response": "declined"});
        assert_eq!(from_graph(&declined).unwrap(), None);
    }

    #[test]
    fn backwards_events_and_garbage_are_errors() {
        let back = json!({"start": {"dateTime": "2026-11-30T10:00:00Z"}, "end": {"dateTime": "2026-11-30T09:00:00Z"}});
        assert!(from_google(&back, None).is_err());
        assert!(from_google(&json!({"start": 1}), None).is_err());
        assert!(from_graph(&json!(null)).is_err());
        let ancient = json!({"start": {"dateTime": "0005-01-01T00:00:00Z"}, "end": {"dateTime": "2027-01-01T00:00:00Z"}});
        assert!(from_google(&ancient, None).unwrap_err().contains("1900"));
    }
}
