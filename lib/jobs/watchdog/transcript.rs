//! Judging one OpenClaw session transcript (the JSONL era, up to 2026.7) and planning its repair.
//! Pure functions over the file's bytes; the caller reads the file and writes the result.
//!
//! A transcript is a header line, then one JSON entry per line. Each entry names its `parentId`,
//! and OpenClaw builds the model's context by following those links back from the last entry
//! (or from a `leaf` row's target): an entry whose parent is missing ends the walk, and all
//! history before it silently drops out of the context.
//!
//! OpenClaw 2026.7 drops every line it cannot parse when it next opens the file
//! (`repairSessionFileIfNeeded`), but it never relinks: one bad line in the middle cuts the
//! context to what follows it. It also repairs tool pairing (calls without results, errored
//! turns, orphan results) in memory before each model call. So the watchdog does what OpenClaw
//! does not, and nothing else:
//! - a line that is not one JSON value goes, and so does a message without a role (OpenClaw
//!   would drop both);
//! - entries glued onto one line are split onto their own lines, and what is left of a broken
//!   entry goes;
//! - NULs in front of an entry are stripped, and the entry stays;
//! - every entry whose parent went is re-pointed to the nearest ancestor that is still there,
//!   and so is an entry whose parent was lost before (by OpenClaw's own repair, say): to the
//!   entry before it in the file, which is where OpenClaw appended it.
//!
//! A whole file is also judged on its context ([`super::context`]): a message OpenClaw keeps
//! but can never send is reported (`stuck-message`) for a person, and never rewritten.
//!
//! What OpenClaw reads without harm is left byte for byte: blank lines, values that are not
//! objects, bytes that are not UTF-8 inside strings, a last entry without its newline, unpaired
//! tool calls and results. The header is checked and never rewritten; with a bad header
//! nothing is.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;

/// The longest header line read (OpenClaw reads at most this much looking for it).
pub const HEADER_MAX: usize = 64 * 1024;

/// Entry types OpenClaw writes, and the `leaf` rows that move the current branch. A glued
/// object is taken for an entry only if it is one of these with an id, not a content block.
const ENTRY_TYPES: [&str; 10] = [
    "message",
    "thinking_level_change",
    "model_change",
    "compaction",
    "branch_summary",
    "custom",
    "custom_message",
    "label",
    "session_info",
    "leaf",
];

/// What is wrong with a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The last line is cut short: an entry whose write was interrupted.
    PartialLine,
    /// A line that is not JSON.
    NotJson,
    /// More than one entry on one line, or an entry glued to the rest of a broken one.
    MergedEvents,
    /// NUL bytes (a preallocated tail, or NULs in front of an entry).
    NulBytes,
    /// A broken line holding bytes that are not UTF-8.
    InvalidUtf8,
    /// A message entry without a role, which no provider can replay.
    InvalidMessage,
    /// An entry whose parent is missing: OpenClaw's context would stop there.
    BrokenParent,
    /// The first line is not a session header.
    BadHeader,
    /// A message in the context that OpenClaw keeps but cannot send to the model: every
    /// turn of the session fails. Left for a person (a reset), never rewritten.
    StuckMessage,
}

impl Kind {
    /// The name used in reports and the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::PartialLine => "partial-line",
            Kind::NotJson => "not-json",
            Kind::MergedEvents => "merged-events",
            Kind::NulBytes => "nul-bytes",
            Kind::InvalidUtf8 => "invalid-utf8",
            Kind::InvalidMessage => "invalid-message",
            Kind::BrokenParent => "broken-parent",
            Kind::BadHeader => "bad-header",
            Kind::StuckMessage => "stuck-message",
        }
    }
}

/// What a repair does about a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The line (or the broken part of it) goes.
    Removed,
    /// The NULs in front of an entry go; the entry stays.
    Stripped,
    /// The entries on the line are put on lines of their own.
    Split,
    /// The entry's parent link is pointed at its nearest surviving ancestor.
    Repointed,
    /// Nothing changes; a person must look (a bad header).
    Reported,
}

/// One problem, located in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// What is wrong.
    pub kind: Kind,
    /// What a repair does.
    pub action: Action,
    /// 1-based line number.
    pub line: u64,
    /// Byte offset of the line in the file.
    pub offset: u64,
    /// Bytes removed; 0 when nothing is.
    pub bytes: u64,
    /// Details for people.
    pub detail: String,
}

/// A piece of the repaired file after the cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Bytes `start..end` of the original file.
    Copy(u64, u64),
    /// New bytes (a split, stripped or re-pointed entry, with its newline).
    Bytes(Vec<u8>),
}

/// What a scan found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Findings {
    /// Problems in file order.
    pub problems: Vec<Problem>,
    /// Offset of the first changed line: everything before it is kept byte for byte. `None`
    /// when there is nothing to rewrite (a healthy file, or a bad header).
    pub cut: Option<u64>,
    /// What follows `cut` in the repaired file.
    pub keep: Vec<Piece>,
}

impl Findings {
    /// Bytes the repair removes.
    pub fn removed_bytes(&self) -> u64 {
        self.problems.iter().map(|p| p.bytes).sum()
    }
}

/// Check the header line (without its newline) the way OpenClaw's repair does: a JSON object
/// of type `session` with a non-empty string id. A missing `version` means version 1.
pub fn check_header(line: &[u8]) -> Result<(), String> {
    let value: Value =
        serde_json::from_slice(line).map_err(|e| format!("the header is not JSON: {e}"))?;
    let Some(header) = value.as_object() else {
        return Err("the header is not a JSON object".into());
    };
    if header.get("type").and_then(Value::as_str) != Some("session") {
        return Err("the first line is not a \"session\" header".into());
    }
    if header
        .get("id")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err("the header has no session id".into());
    }
    Ok(())
}

/// Scan a whole transcript.
pub fn scan(file: &[u8]) -> Findings {
    let (header_end, header) = match file.iter().position(|&b| b == b'\n') {
        Some(end) if end <= HEADER_MAX => (end + 1, check_header(&file[..end])),
        Some(_) => (file.len(), Err("the header line is too long".into())),
        None if file.is_empty() => (0, Err("the file is empty".into())),
        None => (file.len(), Err("the header line has no end".into())),
    };
    let lines = split(file, header_end);
    let mut problems = Vec::new();
    if let Err(detail) = header {
        problems.push(Problem {
            kind: Kind::BadHeader,
            action: Action::Reported,
            line: 1,
            offset: 0,
            bytes: 0,
            detail,
        });
    }
    let judged: Vec<Judged> = lines
        .iter()
        .map(|line| judge(line, &file[line.start..line.end]))
        .collect();
    let outcomes = relink(&lines, judged, file, &mut problems);
    problems.sort_by_key(|p| (p.offset, p.kind == Kind::BrokenParent));
    if !problems.iter().all(|p| p.kind != Kind::BadHeader) {
        return Findings {
            problems,
            ..Findings::default()
        };
    }
    let (cut, keep) = plan(&lines, &outcomes);
    Findings {
        problems,
        cut,
        keep,
    }
}

/// A line of the file after the header.
struct Line {
    /// 1-based line number.
    number: u64,
    start: usize,
    /// End of the line's text, before its newline.
    end: usize,
    terminated: bool,
    last: bool,
}

fn split(file: &[u8], from: usize) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut at = from;
    let mut number = 2;
    while at < file.len() {
        let (end, terminated) = match file[at..].iter().position(|&b| b == b'\n') {
            Some(i) => (at + i, true),
            None => (file.len(), false),
        };
        lines.push(Line {
            number,
            start: at,
            end,
            terminated,
            last: false,
        });
        number += 1;
        at = end + 1;
    }
    if let Some(line) = lines.last_mut() {
        line.last = true;
    }
    lines
}

/// What a parsed entry says about the tree.
#[derive(Debug, Default, Clone)]
struct Facts {
    id: Option<String>,
    /// `Some(None)`: `"parentId": null`; `None`: no such key.
    parent: Option<Option<String>>,
    /// A `leaf` row's `targetId` and `appendParentId`, which name entries too.
    leaf_links: Vec<(&'static str, String)>,
    /// A message without a role.
    invalid_message: bool,
}

impl Facts {
    fn of(value: &Value) -> Facts {
        let Some(object) = value.as_object() else {
            return Facts::default();
        };
        let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_string);
        let parent = match object.get("parentId") {
            None => None,
            Some(Value::String(p)) => Some(Some(p.clone())),
            Some(_) => Some(None),
        };
        let kind = object.get("type").and_then(Value::as_str);
        let mut leaf_links = Vec::new();
        if kind == Some("leaf") {
            for key in ["targetId", "appendParentId"] {
                if let Some(id) = text(key) {
                    leaf_links.push((key, id));
                }
            }
        }
        let invalid_message = kind == Some("message")
            && object
                .get("message")
                .and_then(Value::as_object)
                .and_then(|m| m.get("role"))
                .and_then(Value::as_str)
                .is_none_or(|role| role.trim().is_empty());
        Facts {
            id: text("id").filter(|id| !id.is_empty()),
            parent,
            leaf_links,
            invalid_message,
        }
    }

    fn is_entry(value: &Value) -> bool {
        let object = value.as_object();
        let kind = object.and_then(|o| o.get("type")).and_then(Value::as_str);
        kind.is_some_and(|k| ENTRY_TYPES.contains(&k))
            && object
                .and_then(|o| o.get("id"))
                .and_then(Value::as_str)
                .is_some_and(|id| !id.is_empty())
    }
}

/// One value that survives on a changed line: its text and what it says.
struct Part {
    text: String,
    facts: Facts,
}

/// A line judged alone.
enum Judged {
    /// Left as it is (an entry, a blank line, anything OpenClaw reads without harm).
    Keep(Facts),
    /// Changed: the values kept (each goes on its own line) and what was wrong.
    Change {
        parts: Vec<Part>,
        kind: Kind,
        action: Action,
        removed: u64,
        detail: String,
        /// The id and parent of the broken entry that went, as far as they can be read.
        lost: Option<(String, Option<String>)>,
    },
}

/// Judge one line (without its newline).
fn judge(line: &Line, bytes: &[u8]) -> Judged {
    let whole = (line.end - line.start + usize::from(line.terminated)) as u64;
    let nuls = bytes.iter().take_while(|&&b| b == 0).count();
    let rest = &bytes[nuls..];
    if rest.iter().all(u8::is_ascii_whitespace) {
        if nuls == 0 {
            return Judged::Keep(Facts::default());
        }
        return gone(Kind::NulBytes, whole, format!("{nuls} NUL bytes"), None);
    }
    let invalid_utf8 = std::str::from_utf8(rest).is_err();
    // OpenClaw reads the file as UTF-8 with replacement characters, so bytes that are not
    // UTF-8 inside a string do not stop it.
    let text = String::from_utf8_lossy(rest);
    let (values, broken) = values(&text);
    if broken.is_none() {
        if nuls == 0 && values.len() == 1 {
            let facts = Facts::of(&values[0].2);
            if facts.invalid_message {
                return gone(
                    Kind::InvalidMessage,
                    whole,
                    "a message without a role".into(),
                    facts.id.map(|id| (id, facts.parent.flatten())),
                );
            }
            return Judged::Keep(facts);
        }
        let parts = parts(&text, &values);
        let (kind, action, detail, removed) = if values.len() > 1 {
            let detail = format!("{} entries on one line", values.len());
            (Kind::MergedEvents, Action::Split, detail, nuls as u64)
        } else {
            let detail = format!("{nuls} NUL bytes before an entry");
            (Kind::NulBytes, Action::Stripped, detail, nuls as u64)
        };
        return Judged::Change {
            parts,
            kind,
            action,
            removed,
            detail,
            lost: None,
        };
    }
    let broken = broken.unwrap_or(0);
    let (salvaged, resumes) = salvage(&text, broken);
    let mut kept = values;
    kept.extend(salvaged);
    let parts = parts(&text, &kept);
    let lost_text = &text[broken..resumes];
    let lost = lost_ids(lost_text);
    let reason = serde_json::from_str::<Value>(lost_text.trim_end())
        .err()
        .map_or_else(|| "not JSON".to_string(), |e| e.to_string());
    let kind = if lost_text
        .trim_matches(|c: char| c == '\0' || c.is_whitespace())
        .is_empty()
    {
        Kind::NulBytes
    } else if !parts.is_empty() {
        Kind::MergedEvents
    } else if nuls > 0 || rest.contains(&0) {
        Kind::NulBytes
    } else if invalid_utf8 {
        Kind::InvalidUtf8
    } else if line.last && !line.terminated {
        Kind::PartialLine
    } else {
        Kind::NotJson
    };
    let detail = match kind {
        Kind::MergedEvents => format!(
            "a broken entry glued to {} whole one(s); the broken part goes: {reason}",
            parts.len()
        ),
        Kind::PartialLine => format!("unterminated: {reason}"),
        _ => reason,
    };
    if parts.is_empty() {
        return gone(kind, whole, detail, lost);
    }
    let kept_bytes: usize = parts.iter().map(|p| p.text.len()).sum();
    let removed = bytes.len().saturating_sub(kept_bytes) as u64;
    Judged::Change {
        parts,
        kind,
        action: Action::Removed,
        removed,
        detail,
        lost,
    }
}

fn gone(
    kind: Kind,
    removed: u64,
    detail: String,
    lost: Option<(String, Option<String>)>,
) -> Judged {
    Judged::Change {
        parts: Vec::new(),
        kind,
        action: Action::Removed,
        removed,
        detail,
        lost,
    }
}

/// A whole JSON value on a line: where it starts and ends, and the value.
type Span = (usize, usize, Value);

fn parts(text: &str, spans: &[Span]) -> Vec<Part> {
    spans
        .iter()
        .map(|(s, e, v)| Part {
            text: text[*s..*e].to_string(),
            facts: Facts::of(v),
        })
        .collect()
}

/// The whole JSON values at the start of `text`, as spans, and where the first broken one
/// starts (`None` when the text is whole values and white space only).
fn values(text: &str) -> (Vec<Span>, Option<usize>) {
    let mut spans = Vec::new();
    let mut at = 0;
    loop {
        let rest = &text[at..];
        let skipped = rest.len() - rest.trim_start().len();
        let start = at + skipped;
        if start == text.len() {
            return (spans, None);
        }
        let mut stream = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
        match stream.next() {
            Some(Ok(value)) => {
                let end = start + stream.byte_offset();
                spans.push((start, end, value));
                at = end;
            }
            _ => return (spans, Some(start)),
        }
    }
}

/// After a broken value at `broken`: the first `{"type"` from which the rest of the line is
/// whole session entries. Returns their spans and where they start (the line's end if none).
/// Each try resumes past what the last one showed cannot start such a run (its broken value,
/// or its last value that is no entry), so a hostile line is parsed a bounded number of times.
fn salvage(text: &str, broken: usize) -> (Vec<Span>, usize) {
    let mut from = broken + 1;
    while let Some(i) = text.get(from..).and_then(|t| t.find("{\"type\"")) {
        let at = from + i;
        let (spans, rest) = values(&text[at..]);
        from = match (
            rest,
            spans.iter().rposition(|(_, _, v)| !Facts::is_entry(v)),
        ) {
            (Some(bad), _) => at + bad + 1,
            (None, Some(last)) => at + spans[last].1,
            (None, None) if spans.is_empty() => break,
            (None, None) => {
                let spans = spans.into_iter().map(|(s, e, v)| (at + s, at + e, v));
                return (spans.collect(), at);
            }
        };
    }
    (Vec::new(), text.len())
}

/// The id and parent of a broken entry, read from its start: OpenClaw writes `type`, `id` and
/// `parentId` first, so they are read only before the first nested object.
fn lost_ids(text: &str) -> Option<(String, Option<String>)> {
    let head = match text.get(1..).and_then(|t| t.find('{')) {
        Some(i) => &text[..=i],
        None => text,
    };
    let string_after = |key: &str| {
        let start = head.find(key)? + key.len();
        let end = head[start..].find('"')?;
        Some(head[start..start + end].to_string())
    };
    let id = string_after("\"id\":\"").filter(|id| !id.is_empty())?;
    Some((id, string_after("\"parentId\":\"")))
}

/// What becomes of each line: kept as it is, or replaced by new lines.
enum Outcome {
    Same,
    Replaced(Vec<u8>),
}

/// Where an entry that went would have led: its parent, and the surviving entry before it.
struct Lost {
    parent: Option<String>,
    before: Option<String>,
}

/// Walk the lines in order, note the entries that went, and re-point every surviving entry
/// whose parent went (or was never there) to its nearest surviving ancestor.
fn relink(
    lines: &[Line],
    judged: Vec<Judged>,
    file: &[u8],
    problems: &mut Vec<Problem>,
) -> Vec<Outcome> {
    let mut everywhere: HashSet<String> = HashSet::new();
    for j in &judged {
        match j {
            Judged::Keep(facts) => everywhere.extend(facts.id.clone()),
            Judged::Change { parts, lost, .. } => {
                everywhere.extend(parts.iter().filter_map(|p| p.facts.id.clone()));
                everywhere.extend(lost.as_ref().map(|(id, _)| id.clone()));
            }
        }
    }
    let mut alive: HashSet<String> = HashSet::new();
    let mut lost: HashMap<String, Lost> = HashMap::new();
    let mut last: Option<String> = None;
    let mut outcomes = Vec::with_capacity(lines.len());
    for (line, judged) in lines.iter().zip(judged) {
        let offset = line.start as u64;
        let (parts, changed) = match judged {
            Judged::Keep(facts) => {
                if !needs_relink(&facts, &alive, &lost, &everywhere) {
                    if let Some(id) = facts.id {
                        alive.insert(id.clone());
                        last = Some(id);
                    }
                    outcomes.push(Outcome::Same);
                    continue;
                }
                let text = String::from_utf8_lossy(&file[line.start..line.end]).into_owned();
                (vec![Part { text, facts }], false)
            }
            Judged::Change {
                parts,
                kind,
                action,
                removed,
                detail,
                lost: gone,
            } => {
                problems.push(Problem {
                    kind,
                    action,
                    line: line.number,
                    offset,
                    bytes: removed,
                    detail,
                });
                if let Some((id, parent)) = gone {
                    lost.insert(
                        id,
                        Lost {
                            parent,
                            before: last.clone(),
                        },
                    );
                }
                (parts, true)
            }
        };
        let mut out = Vec::new();
        let mut repointed = false;
        for mut part in parts {
            if part.facts.invalid_message {
                problems.push(Problem {
                    kind: Kind::InvalidMessage,
                    action: Action::Removed,
                    line: line.number,
                    offset,
                    bytes: part.text.len() as u64,
                    detail: "a message without a role".into(),
                });
                if let Some(id) = part.facts.id {
                    let parent = part.facts.parent.flatten();
                    lost.insert(
                        id,
                        Lost {
                            parent,
                            before: last.clone(),
                        },
                    );
                }
                continue;
            }
            let mut changes: Vec<(&str, Option<String>)> = Vec::new();
            if let Some(Some(parent)) = &part.facts.parent
                && parent_lost(parent, &alive, &lost, &everywhere)
            {
                let to = ancestor(parent, &lost, &alive, last.as_ref());
                changes.push(("parentId", to));
            }
            for (key, id) in &part.facts.leaf_links {
                if lost.contains_key(id) {
                    changes.push((key, ancestor(id, &lost, &alive, last.as_ref())));
                }
            }
            if !changes.is_empty()
                && let Some(text) = replace_members(&part.text, &changes)
            {
                let said: Vec<String> = changes
                    .iter()
                    .map(|(key, to)| format!("{key} now {}", to.as_deref().unwrap_or("null")))
                    .collect();
                problems.push(Problem {
                    kind: Kind::BrokenParent,
                    action: Action::Repointed,
                    line: line.number,
                    offset,
                    bytes: 0,
                    detail: format!(
                        "{} points at an entry that is lost; {}",
                        part.facts.id.as_deref().unwrap_or("an entry"),
                        said.join(", ")
                    ),
                });
                part.text = text;
                repointed = true;
            }
            if let Some(id) = &part.facts.id {
                alive.insert(id.clone());
                last = Some(id.clone());
            }
            out.extend_from_slice(part.text.as_bytes());
            out.push(b'\n');
        }
        outcomes.push(if changed || repointed {
            Outcome::Replaced(out)
        } else {
            Outcome::Same
        });
    }
    outcomes
}

/// Whether an entry's parent went in this repair, or is nowhere in the file (lost before).
fn parent_lost(
    parent: &str,
    alive: &HashSet<String>,
    lost: &HashMap<String, Lost>,
    everywhere: &HashSet<String>,
) -> bool {
    !alive.contains(parent) && (lost.contains_key(parent) || !everywhere.contains(parent))
}

fn needs_relink(
    facts: &Facts,
    alive: &HashSet<String>,
    lost: &HashMap<String, Lost>,
    everywhere: &HashSet<String>,
) -> bool {
    matches!(&facts.parent, Some(Some(p)) if parent_lost(p, alive, lost, everywhere))
        || facts.leaf_links.iter().any(|(_, id)| lost.contains_key(id))
}

/// The nearest surviving ancestor of a lost entry: up through lost parents while they are
/// known, else the surviving entry that came before the lost one in the file.
fn ancestor(
    id: &str,
    lost: &HashMap<String, Lost>,
    alive: &HashSet<String>,
    last: Option<&String>,
) -> Option<String> {
    let mut at = id.to_string();
    let mut fallback = last.cloned();
    for _ in 0..lost.len() + 1 {
        let Some(gone) = lost.get(&at) else {
            return if alive.contains(&at) {
                Some(at)
            } else {
                fallback
            };
        };
        fallback = gone.before.clone();
        match &gone.parent {
            Some(parent) => at = parent.clone(),
            None => return fallback,
        }
    }
    fallback
}

/// `text` (one JSON object) with the named top-level members' values replaced by the given
/// ids (or null); `None` if it holds none of them.
fn replace_members(text: &str, changes: &[(&str, Option<String>)]) -> Option<String> {
    let spans = members(text)?;
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for (key, to) in changes {
        let &(_, start, end) = spans.iter().find(|(k, _, _)| k == key)?;
        let value = to.as_ref().map_or_else(
            || "null".to_string(),
            |id| Value::String(id.clone()).to_string(),
        );
        edits.push((start, end, value));
    }
    edits.sort_by_key(|e| e.0);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end, value) in edits {
        out.push_str(&text[at..start]);
        out.push_str(&value);
        at = end;
    }
    out.push_str(&text[at..]);
    Some(out)
}

/// The top-level members of a JSON object known to be valid: each key with its value's span.
fn members(text: &str) -> Option<Vec<(String, usize, usize)>> {
    let bytes = text.as_bytes();
    let mut at = text.find('{')? + 1;
    let mut out = Vec::new();
    loop {
        at = skip_space(bytes, at);
        match bytes.get(at)? {
            b'}' => return Some(out),
            b',' => {
                at += 1;
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        let key_end = string_end(bytes, at)?;
        let key: String = serde_json::from_str(&text[at..key_end]).ok()?;
        at = skip_space(bytes, key_end);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        let start = skip_space(bytes, at + 1);
        let end = value_end(bytes, start)?;
        out.push((key, start, end));
        at = end;
    }
}

fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
        at += 1;
    }
    at
}

/// The end (after the closing quote) of the string starting at `at`.
fn string_end(bytes: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// The end of the value starting at `at`.
fn value_end(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'"' => string_end(bytes, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            while let Some(&b) = bytes.get(i) {
                match b {
                    b'"' => {
                        i = string_end(bytes, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            let len = bytes[at..]
                .iter()
                .position(|&b| b == b',' || b == b'}' || b.is_ascii_whitespace())
                .unwrap_or(bytes.len() - at);
            Some(at + len)
        }
    }
}

/// The repaired file after the first changed line.
fn plan(lines: &[Line], outcomes: &[Outcome]) -> (Option<u64>, Vec<Piece>) {
    let Some(first) = outcomes
        .iter()
        .position(|o| matches!(o, Outcome::Replaced(_)))
    else {
        return (None, Vec::new());
    };
    let mut keep: Vec<Piece> = Vec::new();
    for (line, outcome) in lines.iter().zip(outcomes).skip(first) {
        match outcome {
            Outcome::Same => {
                let end = (line.end + usize::from(line.terminated)) as u64;
                match keep.last_mut() {
                    Some(Piece::Copy(_, e)) if *e == line.start as u64 => *e = end,
                    _ => keep.push(Piece::Copy(line.start as u64, end)),
                }
            }
            Outcome::Replaced(bytes) => keep.push(Piece::Bytes(bytes.clone())),
        }
    }
    (Some(lines[first].start as u64), keep)
}

/// The repaired file, built from the original and the findings (for tests and the fuzzer).
pub fn repaired(file: &[u8], findings: &Findings) -> Vec<u8> {
    let Some(cut) = findings.cut else {
        return file.to_vec();
    };
    let mut out = file[..cut as usize].to_vec();
    for piece in &findings.keep {
        match piece {
            Piece::Copy(s, e) => out.extend_from_slice(&file[*s as usize..*e as usize]),
            Piece::Bytes(bytes) => out.extend_from_slice(bytes),
        }
    }
    out
}

/// Text for a problem's line in the journal.
pub fn describe(problem: &Problem) -> String {
    match problem.action {
        Action::Removed => format!("removed {} bytes of line {}", problem.bytes, problem.line),
        Action::Stripped => format!(
            "stripped {} NUL bytes from line {}",
            problem.bytes, problem.line
        ),
        Action::Split => format!("split line {} into its entries", problem.line),
        Action::Repointed => format!("re-pointed the entry on line {}", problem.line),
        Action::Reported => format!("left line {} for a person", problem.line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "{\"type\":\"session\",\"version\":3,\"id\":\"s1\",\"cwd\":\"/w\"}\n";

    fn msg(id: &str, parent: Option<&str>, role: &str, text: &str) -> String {
        let parent = parent.map_or("null".to_string(), |p| format!("\"{p}\""));
        format!(
            "{{\"type\":\"message\",\"id\":\"{id}\",\"parentId\":{parent},\"timestamp\":\"t\",\"message\":{{\"role\":\"{role}\",\"content\":[{{\"type\":\"text\",\"text\":\"{text}\"}}]}}}}\n"
        )
    }

    /// A linear conversation a ← b ← c ← d.
    fn chain() -> Vec<String> {
        vec![
            msg("a", None, "user", "hello"),
            msg("b", Some("a"), "assistant", "hi"),
            msg("c", Some("b"), "user", "more"),
            msg("d", Some("c"), "assistant", "done"),
        ]
    }

    fn file(lines: &[String]) -> Vec<u8> {
        let mut out = HEADER.as_bytes().to_vec();
        for line in lines {
            out.extend_from_slice(line.as_bytes());
        }
        out
    }

    /// Each entry's id and parent, in file order, as OpenClaw would read them.
    fn tree(bytes: &[u8]) -> Vec<(String, Option<String>)> {
        String::from_utf8_lossy(bytes)
            .lines()
            .skip(1)
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| {
                let id = v.get("id")?.as_str()?.to_string();
                Some((id, v.get("parentId")?.as_str().map(str::to_string)))
            })
            .collect()
    }

    fn kinds(findings: &Findings) -> Vec<Kind> {
        findings.problems.iter().map(|p| p.kind).collect()
    }

    #[test]
    fn what_openclaw_reads_without_harm_is_left_byte_for_byte() {
        let mut lines = chain();
        lines.insert(1, "\n".into());
        lines.insert(2, "42\n".into());
        lines.insert(
            3,
            "{\"type\":\"custom\",\"id\":\"x\",\"parentId\":\"a\",\"data\":\"\u{fffd}\"}\n".into(),
        );
        let last = lines.pop().unwrap();
        lines.push(last.trim_end().to_string());
        let mut bytes = file(&lines);
        // A byte that is not UTF-8 inside a string: OpenClaw reads it as U+FFFD.
        let at = bytes
            .windows(3)
            .position(|w| w == "\u{fffd}".as_bytes())
            .unwrap();
        bytes.splice(at..at + 3, [0xff]);
        let versionless = b"{\"type\":\"session\",\"id\":\"s1\"}\n{\"type\":\"custom\"}\n";
        for healthy in [bytes.as_slice(), HEADER.as_bytes(), versionless] {
            let findings = scan(healthy);
            assert_eq!(
                findings,
                Findings::default(),
                "{}",
                String::from_utf8_lossy(healthy)
            );
        }
    }

    #[test]
    fn a_cut_last_line_goes_even_when_its_content_holds_a_type() {
        let mut lines = chain();
        let cut = lines[3][..lines[3].len() - 12].to_string();
        lines[3] = cut;
        let bytes = file(&lines);
        let findings = scan(&bytes);
        assert_eq!(kinds(&findings), [Kind::PartialLine]);
        assert_eq!(tree(&repaired(&bytes, &findings)).len(), 3);
    }

    #[test]
    fn a_bad_line_in_the_middle_goes_and_its_child_keeps_the_history() {
        let mut lines = chain();
        lines[1] = lines[1][..40].to_string() + "\n";
        let bytes = file(&lines);
        let findings = scan(&bytes);
        assert_eq!(kinds(&findings), [Kind::NotJson, Kind::BrokenParent]);
        let after = repaired(&bytes, &findings);
        assert_eq!(
            tree(&after),
            [
                ("a".into(), None),
                ("c".into(), Some("a".into())),
                ("d".into(), Some("c".into()))
            ]
        );
        assert_eq!(scan(&after), Findings::default(), "a repair is final");
    }

    #[test]
    fn glued_entries_are_split_and_a_broken_one_gives_way() {
        let mut lines = chain();
        // b's write broke off; c was appended right after it.
        let broken = lines[1][..lines[1].len() - 20].to_string();
        lines[1] = broken + &lines[2];
        lines.remove(2);
        let bytes = file(&lines);
        let findings = scan(&bytes);
        assert_eq!(kinds(&findings), [Kind::MergedEvents, Kind::BrokenParent]);
        let after = repaired(&bytes, &findings);
        assert_eq!(tree(&after)[1], ("c".into(), Some("a".into())));
        // Two whole entries on one line: both stay, each on its line.
        let mut lines = chain();
        lines[1] = lines[1].trim_end().to_string() + &lines[2];
        lines.remove(2);
        let bytes = file(&lines);
        let findings = scan(&bytes);
        assert_eq!(kinds(&findings), [Kind::MergedEvents]);
        assert_eq!(repaired(&bytes, &findings), file(&chain()));
    }

    #[test]
    fn nuls_go_and_the_entries_stay() {
        let mut lines = chain();
        lines[2] = "\0\0\0".to_string() + &lines[2];
        lines.push("\0\0\0\0\0\0".into());
        let bytes = file(&lines);
        let findings = scan(&bytes);
        assert_eq!(kinds(&findings), [Kind::NulBytes, Kind::NulBytes]);
        assert_eq!(repaired(&bytes, &findings), file(&chain()));
    }

    #[test]
    fn a_message_without_a_role_goes_and_a_lost_parent_is_found() {
        let mut lines = chain();
        lines[1] = "{\"type\":\"message\",\"id\":\"b\",\"parentId\":\"a\",\"message\":{}}\n".into();
        let bytes = file(&lines);
        let findings = scan(&bytes);
        assert_eq!(kinds(&findings), [Kind::InvalidMessage, Kind::BrokenParent]);
        assert_eq!(
            tree(&repaired(&bytes, &findings))[1],
            ("c".into(), Some("a".into()))
        );
        // A parent lost before (OpenClaw's own repair dropped it): the entry before.
        let mut lines = chain();
        lines.remove(1);
        let bytes = file(&lines);
        let findings = scan(&bytes);
        assert_eq!(kinds(&findings), [Kind::BrokenParent]);
        assert_eq!(
            tree(&repaired(&bytes, &findings))[1],
            ("c".into(), Some("a".into()))
        );
    }

    #[test]
    fn a_leaf_row_that_names_a_lost_entry_names_its_ancestor() {
        let mut lines = chain();
        lines.push(
            "{\"type\":\"leaf\",\"id\":\"l\",\"parentId\":\"d\",\"targetId\":\"c\"}\n".into(),
        );
        lines[3] = "garbage\n".into();
        lines[2] = "{\"type\":\"message\",\"id\":\"c\",\"parentId\":\"b\",\"message\":{\"role\":\"user\",\"content\":[{\"type\":\"te\n".into();
        let bytes = file(&lines);
        let findings = scan(&bytes);
        let after = String::from_utf8(repaired(&bytes, &findings)).unwrap();
        let leaf = after.lines().last().unwrap();
        assert!(leaf.contains("\"targetId\":\"b\""), "{leaf}");
    }

    #[test]
    fn a_bad_header_is_reported_and_nothing_rewritten() {
        for bad in [
            &b""[..],
            b"{\"type\":\"session\",\"version\":3}\n",
            b"{\"type\":\"message\",\"id\":\"s\"}\n",
            b"[1]\n",
            b"\xff\n",
        ] {
            let mut bytes = bad.to_vec();
            bytes.extend_from_slice(b"not json\n");
            let findings = scan(&bytes);
            assert_eq!(findings.problems[0].kind, Kind::BadHeader);
            assert_eq!(findings.cut, None);
        }
    }

    #[test]
    fn a_hostile_line_is_parsed_a_bounded_number_of_times() {
        // A broken start, then 200,000 whole entries and junk: each try must not parse the
        // rest of the line again (trying every entry start in turn would not finish).
        let entry = "{\"type\":\"custom\",\"id\":\"x\"}";
        let line = format!("{{\"type\":\"mess{}junk\n", entry.repeat(200_000));
        let bytes = [HEADER.as_bytes(), line.as_bytes()].concat();
        let findings = scan(&bytes);
        assert_eq!(kinds(&findings), [Kind::NotJson]);
    }

    #[test]
    fn members_are_found_at_the_top_level_only() {
        let text = r#"{"type":"m","message":{"parentId":"x"},"parentId":"p\"q","n":-1.5e3}"#;
        let out = replace_members(text, &[("parentId", Some("z".into()))]).unwrap();
        assert_eq!(
            out,
            r#"{"type":"m","message":{"parentId":"x"},"parentId":"z","n":-1.5e3}"#
        );
        assert_eq!(replace_members(text, &[("targetId", None)]), None);
    }
}
