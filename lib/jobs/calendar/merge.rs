//! Many calendars into one view: copies of one event on several calendars become one event
//! with several sources (same iCalUID and time; else same time and subject), and the events
//! that take time become busy blocks, overlapping ones merged.

use std::collections::HashMap;

use jiff::Timestamp;

use super::event::{Event, Show, When};
use crate::platform::time::UnixTime;

/// Where an event was seen.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Source {
    /// The configured account's name.
    pub account: String,
    /// The calendar's name as the service shows it.
    pub calendar: String,
}

/// An event from one source, with whether that source's copy is stale.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The event.
    pub event: Event,
    /// Where.
    pub source: Source,
    /// When the source failed this run: when its last good copy was fetched.
    pub stale: Option<UnixTime>,
}

/// One event after de-duplication.
#[derive(Debug, Clone)]
pub struct Merged {
    /// The event; `show` is the strongest of its copies and it is private if any copy is.
    pub event: Event,
    /// Every calendar it is on, sorted.
    pub sources: Vec<Source>,
    /// Only stale sources have it: the newest of their fetch times.
    pub stale: Option<UnixTime>,
}

/// Overlapping events that take time, as one stretch.
#[derive(Debug, Clone)]
pub struct Block {
    /// The earliest start.
    pub start: Timestamp,
    /// The latest end.
    pub end: Timestamp,
    /// The events in it (indexes into the merged list), by start.
    pub events: Vec<usize>,
}

/// De-duplicate `seen`; the result is sorted by time, then subject.
pub fn dedupe(seen: Vec<Seen>) -> Vec<Merged> {
    let mut merged: Vec<Merged> = Vec::new();
    let mut by_uid: HashMap<(String, When), usize> = HashMap::new();
    let mut by_subject: HashMap<(String, When), usize> = HashMap::new();
    for Seen {
        event,
        source,
        stale,
    } in seen
    {
        let uid_key = event.uid.clone().map(|uid| (uid, event.when));
        let subject = normalise(&event.subject);
        let subject_key = (!subject.is_empty()).then_some((subject, event.when));
        let found = uid_key
            .as_ref()
            .and_then(|k| by_uid.get(k))
            .or_else(|| subject_key.as_ref().and_then(|k| by_subject.get(k)))
            .copied();
        let index = match found {
            Some(index) => {
                absorb(&mut merged[index], event, source, stale);
                index
            }
            None => {
                merged.push(Merged {
                    event,
                    sources: vec![source],
                    stale,
                });
                merged.len() - 1
            }
        };
        if let Some(key) = uid_key {
            by_uid.entry(key).or_insert(index);
        }
        if let Some(key) = subject_key {
            by_subject.entry(key).or_insert(index);
        }
    }
    merged.sort_by(|a, b| (a.event.when, &a.event.subject).cmp(&(b.event.when, &b.event.subject)));
    merged
}

fn absorb(into: &mut Merged, event: Event, source: Source, stale: Option<UnixTime>) {
    into.event.show = into.event.show.max(event.show);
    if event.private {
        into.event.private = true;
        into.event.subject.clear();
    }
    if into.event.subject.is_empty() && !into.event.private {
        into.event.subject = event.subject;
    }
    if into.event.uid.is_none() {
        into.event.uid = event.uid;
    }
    into.stale = into.stale.zip(stale).map(|(a, b)| a.max(b));
    if let Err(at) = into.sources.binary_search(&source) {
        into.sources.insert(at, source);
    }
}

/// A subject compared without case, punctuation or spacing.
fn normalise(subject: &str) -> String {
    subject
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The busy blocks of the timed events that take time; events that overlap (not merely
/// touch) share a block.
pub fn blocks(merged: &[Merged]) -> Vec<Block> {
    let mut timed: Vec<(Timestamp, Timestamp, usize)> = merged
        .iter()
        .enumerate()
        .filter(|(_, m)| m.event.show.blocks())
        .filter_map(|(i, m)| match m.event.when {
            When::Timed { start, end } => Some((start, end, i)),
            When::AllDay { .. } => None,
        })
        .collect();
    timed.sort();
    let mut blocks: Vec<Block> = Vec::new();
    for (start, end, index) in timed {
        match blocks.last_mut() {
            Some(block) if start < block.end => {
                block.end = block.end.max(end);
                block.events.push(index);
            }
            _ => blocks.push(Block {
                start,
                end,
                events: vec![index],
            }),
        }
    }
    blocks
}

/// How a block shows: busy if anything in it is more than tentative.
pub fn block_show(block: &Block, merged: &[Merged]) -> Show {
    block
        .events
        .iter()
        .map(|&i| merged[i].event.show)
        .max()
        .unwrap_or(Show::Busy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hour: i64) -> Timestamp {
        Timestamp::from_second(1_796_000_000 + hour * 3600).unwrap()
    }

    fn seen(
        account: &str,
        uid: Option<&str>,
        subject: &str,
        from: i64,
        to: i64,
        show: Show,
    ) -> Seen {
        Seen {
            event: Event {
                uid: uid.map(str::to_string),
                subject: subject.into(),
                when: When::Timed {
                    start: at(from),
                    end: at(to),
                },
                show,
                private: false,
            },
            source: Source {
                account: account.into(),
                calendar: "Calendar".into(),
            },
            stale: None,
        }
    }

    #[test]
    fn one_meeting_on_two_calendars_is_one_event_with_two_sources() {
        let merged = dedupe(vec![
            seen(
                "work",
                Some("uid-1"),
                "Budget review",
                1,
                2,
                Show::Tentative,
            ),
            seen("home", Some("uid-1"), "Budget Review!", 1, 2, Show::Busy),
            seen("other", None, "budget  review", 1, 2, Show::Busy),
        ]);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].sources.len(), 3);
        assert_eq!(merged[0].event.show, Show::Busy);
    }

    #[test]
    fn instances_of_a_series_share_a_uid_but_stay_apart() {
        let merged = dedupe(vec![
            seen("work", Some("series"), "Standup", 1, 2, Show::Busy),
            seen("work", Some("series"), "Standup", 25, 26, Show::Busy),
        ]);
        assert_eq!(merged.len(), 2);
    }

    #[test]
    fn different_meetings_at_the_same_time_stay_apart() {
        let merged = dedupe(vec![
            seen("work", Some("a"), "Budget", 1, 2, Show::Busy),
            seen("work", Some("b"), "Hiring", 1, 2, Show::Busy),
        ]);
        assert_eq!(merged.len(), 2);
    }

    #[test]
    fn a_private_copy_hides_the_subject_of_all_copies() {
        let mut private = seen("home", Some("u"), "", 1, 2, Show::Busy);
        private.event.private = true;
        let merged = dedupe(vec![
            seen("work", Some("u"), "Doctor", 1, 2, Show::Busy),
            private,
        ]);
        assert!(merged[0].event.private && merged[0].event.subject.is_empty());
    }

    #[test]
    fn overlapping_events_make_one_block_and_touching_ones_two() {
        let merged = dedupe(vec![
            seen("w", None, "a", 1, 3, Show::Busy),
            seen("w", None, "b", 2, 4, Show::Tentative),
            seen("w", None, "c", 4, 5, Show::Tentative),
            seen("w", None, "free", 0, 9, Show::Free),
        ]);
        let blocks = blocks(&merged);
        assert_eq!(blocks.len(), 2);
        assert_eq!((blocks[0].start, blocks[0].end), (at(1), at(4)));
        assert_eq!(block_show(&blocks[0], &merged), Show::Busy);
        assert_eq!(block_show(&blocks[1], &merged), Show::Tentative);
    }

    #[test]
    fn an_event_is_stale_only_when_every_copy_is() {
        let mut old = seen("home", Some("u"), "x", 1, 2, Show::Busy);
        old.stale = Some(100);
        let mut older = old.clone();
        older.stale = Some(50);
        let merged = dedupe(vec![
            old.clone(),
            seen("work", Some("u"), "x", 1, 2, Show::Busy),
        ]);
        assert_eq!(merged[0].stale, None);
        assert_eq!(dedupe(vec![older, old])[0].stale, Some(100));
    }
}
