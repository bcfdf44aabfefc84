//! The model's context of a session, as OpenClaw builds it from the session's entries: the
//! leaf (the last entry, or the target of a `leaf` entry), the `parentId` chain back from it,
//! cut at the last `reset` or `compaction`; and the first message in it that OpenClaw cannot
//! send ([`super::poison`]). Shared by both storage eras: a JSONL transcript's lines and a
//! SQLite store's events are the same entries.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use serde_json::Value;

use super::poison::{self, Release};

/// One entry (a line, or a store's event): its `seq`, the members that place it in the tree, and its bytes (the message
/// is parsed only when judged).
pub struct Event {
    /// Its place: a store's `seq`, or a transcript's line number.
    pub seq: i64,
    kind: Option<String>,
    id: Option<String>,
    parent: Option<String>,
    target: Option<String>,
    first_kept: Option<String>,
    raw: Vec<u8>,
}

/// The members of an event that place it; any other member is skipped unparsed.
#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type", default)]
    kind: Loose,
    #[serde(default)]
    id: Loose,
    #[serde(rename = "parentId", default)]
    parent: Loose,
    #[serde(rename = "targetId", default)]
    target: Loose,
    #[serde(rename = "firstKeptEntryId", default)]
    first_kept: Loose,
}

/// A member that counts only when it is a string.
#[derive(Default)]
struct Loose(Option<String>);

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Loose(match Value::deserialize(d)? {
            Value::String(s) => Some(s),
            _ => None,
        }))
    }
}

/// Parse one entry; only the members that place it are read now.
pub fn parse_event(seq: i64, raw: Vec<u8>) -> Result<Event, String> {
    let head: Head =
        serde_json::from_slice(&raw).map_err(|e| format!("event {seq} is not JSON ({e})"))?;
    Ok(Event {
        seq,
        kind: head.kind.0,
        id: head.id.0,
        parent: head.parent.0,
        target: head.target.0,
        first_kept: head.first_kept.0,
        raw,
    })
}

/// The first message of a session's context that cannot be sent.
pub struct Found {
    /// Messages in the context.
    pub messages: usize,
    /// The message's place in the context, from 1.
    pub position: usize,
    /// Its event's `seq` (line number).
    pub seq: i64,
    /// Its entry id.
    pub entry: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Whether an event is an entry of the tree (not the header, a `leaf` pointer or untyped).
fn is_entry(e: &Event) -> bool {
    e.id.is_some() && !matches!(e.kind.as_deref(), Some("session" | "leaf") | None)
}

/// The context's path when OpenClaw's index cannot be trusted: back from the leaf (the last
/// entry, or the target of a `leaf` event) along `parentId`. A parent that is missing, or
/// seen already, is taken to be the entry before the earliest one reached, as OpenClaw
/// appends. Each event is visited once.
pub fn walked_path(events: &[Event]) -> Vec<(i64, bool)> {
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    let mut leaf: Option<usize> = None;
    for (i, e) in events.iter().enumerate() {
        if e.kind.as_deref() == Some("leaf") {
            if let Some(&target) = e.target.as_deref().and_then(|t| by_id.get(t)) {
                leaf = Some(target);
            }
        } else if is_entry(e) {
            if let Some(id) = e.id.as_deref() {
                by_id.insert(id, i);
            }
            leaf = Some(i);
        }
    }
    let mut path = Vec::new();
    let mut seen = HashSet::new();
    let mut lowest = events.len();
    let mut at = leaf;
    while let Some(i) = at {
        seen.insert(i);
        lowest = lowest.min(i);
        path.push((events[i].seq, true));
        at = match events[i].parent.as_deref() {
            None => None,
            Some(p) => match by_id.get(p) {
                Some(&j) if !seen.contains(&j) => Some(j),
                _ => (0..lowest)
                    .rev()
                    .find(|&j| is_entry(&events[j]) && !seen.contains(&j)),
            },
        };
    }
    path.reverse();
    path
}

/// Judge each message of the model's context: the path, cut after the last reset or
/// compaction on it (or at the entry a compaction says it kept).
pub fn judge(
    events: &[Event],
    path: &[(i64, bool)],
    release: Release,
) -> Result<Option<Found>, String> {
    let by_seq: HashMap<i64, &Event> = events.iter().map(|e| (e.seq, e)).collect();
    let path: Vec<(&Event, bool)> = path
        .iter()
        .filter_map(|&(seq, eligible)| by_seq.get(&seq).map(|e| (*e, eligible)))
        .collect();
    let start = match path
        .iter()
        .rposition(|(e, _)| matches!(e.kind.as_deref(), Some("reset" | "compaction")))
    {
        None => 0,
        Some(b) => {
            let kept = path[b].0.first_kept.as_deref();
            kept.and_then(|k| {
                path[..b]
                    .iter()
                    .position(|(e, _)| e.id.as_deref() == Some(k))
            })
            .unwrap_or(b + 1)
        }
    };
    let messages: Vec<&Event> = path[start..]
        .iter()
        .filter(|(e, eligible)| *eligible && e.kind.as_deref() == Some("message"))
        .map(|(e, _)| *e)
        .collect();
    #[derive(Deserialize)]
    struct Message {
        #[serde(default)]
        message: Value,
    }
    let mut replay = poison::Replay::new(release);
    for (n, e) in messages.iter().enumerate() {
        let m: Message = serde_json::from_slice(&e.raw)
            .map_err(|err| format!("event {} is not JSON ({err})", e.seq))?;
        if let Some(reason) = replay.message(&m.message) {
            return Ok(Some(Found {
                messages: messages.len(),
                position: n + 1,
                seq: e.seq,
                entry: e.id.clone().unwrap_or_default(),
                reason,
            }));
        }
    }
    Ok(None)
}

/// What OpenClaw (compact JSON) writes for every shape [`Release::Jsonl`] looks for: a file
/// holding none of these is not parsed a second time.
const JSONL_SIGNS: [&[u8]; 6] = [
    b"\"type\":\"toolUse\"",
    b"\"type\":\"functionCall\"",
    b"\"arguments\":\"",
    b"\"arguments\":[",
    b"\"text\":null",
    b"\"type\":\"text\"}",
];

/// The first message a JSONL transcript's context holds that OpenClaw cannot send: its line
/// (from 1) and what is wrong. Lines that are not JSON are skipped, as OpenClaw skips them.
pub fn stuck_in_transcript(bytes: &[u8]) -> Option<Found> {
    // One pass: every sign begins with a quote.
    let signed = bytes
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'"' && JSONL_SIGNS.iter().any(|sign| bytes[i..].starts_with(sign)));
    if !signed {
        return None;
    }
    let events: Vec<Event> = bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .filter_map(|(n, line)| parse_event(n as i64 + 1, line.to_vec()).ok())
        .collect();
    judge(&events, &walked_path(&events), Release::Jsonl)
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn events(values: Vec<Value>) -> Vec<Event> {
        values
            .into_iter()
            .enumerate()
            .map(|(seq, value)| parse_event(seq as i64, value.to_string().into_bytes()).unwrap())
            .collect()
    }

    fn walked(evs: &[Event]) -> Option<Found> {
        judge(evs, &walked_path(evs), Release::Sqlite).unwrap()
    }

    fn msg(id: &str, parent: Option<&str>, message: Value) -> Value {
        json!({ "type": "message", "id": id, "parentId": parent, "message": message })
    }

    fn user(t: &str) -> Value {
        json!({ "role": "user", "content": [{ "type": "text", "text": t }] })
    }

    fn bad() -> Value {
        json!({ "role": "assistant", "content": [{ "type": "toolUse", "id": "t" }] })
    }

    #[test]
    fn a_poisoned_message_on_the_path_is_found_with_what_a_reset_takes() {
        let evs = events(vec![
            json!({ "type": "session", "id": "s", "version": 4 }),
            msg("a", None, user("1")),
            msg("b", Some("a"), bad()),
            msg("c", Some("b"), user("3")),
        ]);
        let found = walked(&evs).unwrap();
        assert_eq!((found.messages, found.position, found.seq), (3, 2, 2));
        assert_eq!(found.entry, "b");
    }

    #[test]
    fn a_message_off_the_branch_or_before_a_reset_is_not_in_the_context() {
        let off_branch = events(vec![
            msg("a", None, user("1")),
            msg("b", Some("a"), bad()),
            msg("c", Some("a"), user("other branch")),
        ]);
        assert!(walked(&off_branch).is_none());
        let leaf_back = events(vec![
            msg("a", None, user("1")),
            msg("b", Some("a"), user("2")),
            msg("c", Some("b"), bad()),
            json!({ "type": "leaf", "id": "l", "targetId": "b" }),
        ]);
        assert!(walked(&leaf_back).is_none());
        let reset = events(vec![
            msg("a", None, bad()),
            json!({ "type": "reset", "id": "r", "parentId": "a", "reason": "reset" }),
            msg("c", Some("r"), user("after")),
        ]);
        assert!(walked(&reset).is_none());
        let kept = events(vec![
            msg("a", None, user("1")),
            msg("b", Some("a"), bad()),
            json!({ "type": "compaction", "id": "k", "parentId": "b", "firstKeptEntryId": "b" }),
        ]);
        assert_eq!(walked(&kept).unwrap().entry, "b");
    }

    #[test]
    fn a_missing_or_circular_parent_continues_from_the_entry_before() {
        let evs = events(vec![
            msg("a", None, bad()),
            msg("b", Some("gone"), user("2")),
            msg("c", Some("d"), user("3")),
            msg("d", Some("c"), user("4")),
        ]);
        let found = walked(&evs).unwrap();
        assert_eq!((found.entry.as_str(), found.messages), ("a", 4));
    }

    #[test]
    fn only_what_openclaw_marks_for_the_model_is_judged() {
        let evs = events(vec![msg("a", None, bad()), msg("b", Some("a"), user("2"))]);
        assert!(
            judge(&evs, &[(0, false), (1, true)], Release::Sqlite)
                .unwrap()
                .is_none()
        );
        assert_eq!(
            judge(&evs, &[(0, true), (1, true)], Release::Sqlite)
                .unwrap()
                .unwrap()
                .entry,
            "a"
        );
    }
    #[test]
    fn a_transcript_is_judged_on_its_context_with_the_jsonl_rules() {
        let line = |v: Value| format!("{v}\n");
        let header = line(json!({ "type": "session", "version": 3, "id": "s" }));
        let spelled = json!({ "role": "assistant", "content": [{ "type": "toolUse", "id": "t", "input": {} }], "stopReason": "toolUse" });
        let numbers = json!({ "role": "assistant", "content": [{ "type": "toolCall", "id": "t", "arguments": 5 }] });
        let stuck = [
            header.clone(),
            line(msg("a", None, user("1"))),
            line(msg("b", Some("a"), spelled)),
        ]
        .concat();
        let found = stuck_in_transcript(stuck.as_bytes()).unwrap();
        assert_eq!((found.seq, found.entry.as_str()), (3, "b"));
        // Not seen to break 2026.7: left alone.
        let fine = [
            header,
            line(msg("a", None, user("1"))),
            line(msg("b", Some("a"), numbers)),
        ]
        .concat();
        assert!(stuck_in_transcript(fine.as_bytes()).is_none());
    }
}
