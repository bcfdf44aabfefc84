//! Time: stored as UTC unix seconds, shown in the operator's zone with its offset.

use std::time::{SystemTime, UNIX_EPOCH};

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Seconds since the epoch, UTC.
pub type UnixTime = i64;

/// The current time. Read from the standard library: `jiff::Timestamp::now` would link jiff's
/// error messages into the request writer for a clock before 1970.
pub fn now() -> UnixTime {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// `YYYYMMDD` of a time in UTC, for ids (requests, reports, digests).
pub fn utc_date(at: UnixTime) -> String {
    let mut stamp = utc_stamp(at);
    stamp.truncate("YYYYMMDD".len());
    stamp
}

/// `YYYYMMDDTHHMMSSZ` of a time, for the names of spool files.
pub fn utc_stamp(at: UnixTime) -> String {
    let t = utc(at);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The civil time in UTC. Written out by hand rather than with `strftime`, whose formatter
/// (and every time zone's) would otherwise be linked into the request writer.
fn utc(at: UnixTime) -> jiff::civil::DateTime {
    jiff::tz::Offset::UTC.to_datetime(Timestamp::from_second(at).unwrap_or(Timestamp::UNIX_EPOCH))
}

/// RFC 3339 in UTC, for JSON and logs.
pub fn rfc3339(at: UnixTime) -> String {
    Timestamp::from_second(at)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_string()
}

/// A time as the operator reads it: `2026-11-27 10:15 CET (+01:00)`.
pub fn local(at: UnixTime, tz: &TimeZone) -> String {
    Timestamp::from_second(at)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned(tz.clone())
        .strftime("%Y-%m-%d %H:%M %Z (%:z)")
        .to_string()
}

/// A short age such as `3m`, `5h` or `2d`.
pub fn age(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_names_are_the_civil_time_in_utc() {
        // 2026-11-27T09:05:07Z.
        assert_eq!(utc_date(1_795_770_307), "20261127");
        assert_eq!(utc_stamp(1_795_770_307), "20261127T090507Z");
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        assert_eq!(utc_stamp(-1), "19691231T235959Z");
    }

    #[test]
    fn local_time_shows_zone_and_offset() {
        let tz = TimeZone::get("Europe/Amsterdam").unwrap();
        // 2026-11-27T09:15:00Z is winter time in Amsterdam.
        assert_eq!(local(1_795_770_900, &tz), "2026-11-27 10:15 CET (+01:00)");
        // 2026-07-01T09:15:00Z is summer time.
        assert_eq!(local(1_782_897_300, &tz), "2026-07-01 11:15 CEST (+02:00)");
    }

    #[test]
    fn utc_date_and_age() {
        assert_eq!(utc_date(1_795_770_900), "20261127");
        assert_eq!(age(59), "59s");
        assert_eq!(age(7200), "2h");
        assert_eq!(age(-5), "0s");
    }
}
