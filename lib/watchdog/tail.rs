//! The session tail scanner: which lines at the end of a session file are corrupt, and what a
//! repair keeps. Pure functions over bytes; the caller reads the file and writes the result.
//!
//! A session (DESIGN.md section 9) is a header line, then one JSON entry per line. A repair
//! removes bad lines alone (the lines after them are kept), strips NULs left in front of a good
//! line, ends an unterminated good last line, and cuts an assistant turn whose tool calls were
//! never answered when nothing but its own partial answers follows it. The header is checked
//! but never rewritten, and nothing before the first problem changes.

use std::collections::HashSet;

use serde::Serialize;
use serde_json::Value;

/// The longest header line read (the header holds a few short fields).
pub const HEADER_MAX: usize = 64 * 1024;

/// What is wrong with a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The last line ends without a newline and is not a whole entry.
    PartialLine,
    /// The last line is a whole entry without its newline (the next append would merge).
    MissingNewline,
    /// A line that is not a JSON object with a `type`.
    NotJson,
    /// Two streamed events on one line (`}` then `event:`/`data:`, or a second object).
    MergedEvents,
    /// NUL bytes.
    NulBytes,
    /// Bytes that are not UTF-8.
    InvalidUtf8,
    /// The last assistant turn called tools and nothing answered them.
    UnpairedToolCall,
    /// A tool result whose call is not in the session.
    OrphanToolResult,
    /// A tool call without `id`, `name` or `arguments`.
    MalformedToolCall,
    /// The first line is not a valid session header.
    BadHeader,
}

impl Kind {
    /// The name used in reports and the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::PartialLine => "partial-line",
            Kind::MissingNewline => "missing-newline",
            Kind::NotJson => "not-json",
            Kind::MergedEvents => "merged-events",
            Kind::NulBytes => "nul-bytes",
            Kind::InvalidUtf8 => "invalid-utf8",
            Kind::UnpairedToolCall => "unpaired-tool-call",
            Kind::OrphanToolResult => "orphan-tool-result",
            Kind::MalformedToolCall => "malformed-tool-call",
            Kind::BadHeader => "bad-header",
        }
    }
}

/// What a repair does about a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The whole line goes.
    Removed,
    /// The NULs in front of a good entry go; the entry stays.
    Stripped,
    /// A newline is added after the entry.
    NewlineAdded,
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
    /// Byte offset of the line in the file.
    pub offset: u64,
    /// Bytes removed (the line with its newline, or the NULs); 0 when nothing is removed.
    pub bytes: u64,
    /// Index of the line among the lines scanned (0: the first after the boundary); the
    /// caller turns it into a line number.
    #[serde(skip)]
    pub index: usize,
    /// Details for people.
    pub detail: String,
}

/// A piece of the repaired tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece {
    /// Bytes `start..end` of the original file.
    Copy(u64, u64),
    /// A newline the original lacks.
    Newline,
}

/// The result of scanning a tail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// The window holds no line boundary, or a tool result's call may lie before it: read
    /// further back.
    NeedMore,
    /// The scan is complete.
    Done(Findings),
}

/// What a complete scan found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Findings {
    /// Offset of the first scanned line.
    pub boundary: u64,
    /// Problems in the tail, in file order (the header's is added by the caller).
    pub problems: Vec<Problem>,
    /// Offset of the first problem: everything before it is kept byte for byte.
    pub cut: Option<u64>,
    /// What follows `cut` in the repaired file.
    pub keep: Vec<Piece>,
    /// The unanswered trailing turn stopped with `toolUse`: its tool may still be running.
    pub tool_may_run: bool,
}

/// Check the header line (without its newline).
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
        .get("version")
        .and_then(Value::as_u64)
        .is_none_or(|v| v == 0)
    {
        return Err("the header has no valid version".into());
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

/// A line of the tail: where it is and what it holds.
struct Line {
    offset: u64,
    /// Length without the newline.
    len: u64,
    terminated: bool,
    /// Leading NULs to strip before `entry` (only with an entry).
    stripped: u64,
    entry: Option<Entry>,
}

/// What the pairing check needs from a good entry.
#[derive(Default)]
struct Entry {
    role: Role,
    calls: Vec<String>,
    malformed_call: Option<&'static str>,
    result_for: Option<String>,
    stop: Option<String>,
}

#[derive(Default, PartialEq, Eq)]
enum Role {
    #[default]
    Other,
    Assistant,
    ToolResult,
}

/// Scan `bytes`, which start at file offset `start`, of a file whose header ends (after its
/// newline) at `header_end`. When `start` is at or before `header_end`, the tail reaches the
/// header and the scan is always complete.
pub fn scan(bytes: &[u8], start: u64, header_end: u64) -> Scan {
    let complete = start <= header_end;
    let first = if complete {
        usize::try_from(header_end - start).unwrap_or(usize::MAX)
    } else {
        // The window starts inside a line: the first whole line follows the first newline,
        // and the last line must be among those read.
        match bytes.iter().position(|&b| b == b'\n') {
            Some(i) if i + 1 < bytes.len() => i + 1,
            _ => return Scan::NeedMore,
        }
    };
    let mut problems = Vec::new();
    let lines = split(bytes, start, first.min(bytes.len()), &mut problems);
    let mut removed = vec![false; lines.len()];
    for p in &problems {
        if p.action == Action::Removed {
            removed[p.index] = true;
        }
    }
    if !pair(&lines, &mut removed, &mut problems, complete) {
        return Scan::NeedMore;
    }
    let tool_may_run = cut_unanswered_turn(&lines, &mut removed, &mut problems);
    problems.sort_by_key(|p| p.offset);
    Scan::Done(plan(
        start + first as u64,
        &lines,
        &removed,
        problems,
        tool_may_run,
    ))
}

/// Split into lines and judge each one alone; problems found are pushed.
fn split(bytes: &[u8], start: u64, first: usize, problems: &mut Vec<Problem>) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut at = first;
    while at < bytes.len() {
        let (end, terminated) = match bytes[at..].iter().position(|&b| b == b'\n') {
            Some(i) => (at + i, true),
            None => (bytes.len(), false),
        };
        let index = lines.len();
        let offset = start + at as u64;
        let len = (end - at) as u64;
        let removed = |kind, detail: String| Problem {
            kind,
            action: Action::Removed,
            offset,
            bytes: len + u64::from(terminated),
            index,
            detail,
        };
        let (stripped, judged) = judge(&bytes[at..end]);
        let entry = match judged {
            Ok(entry) => {
                if stripped > 0 {
                    problems.push(Problem {
                        kind: Kind::NulBytes,
                        action: Action::Stripped,
                        offset,
                        bytes: stripped,
                        index,
                        detail: format!("{stripped} NUL bytes before an entry"),
                    });
                }
                if !terminated {
                    problems.push(Problem {
                        kind: Kind::MissingNewline,
                        action: Action::NewlineAdded,
                        offset,
                        bytes: 0,
                        index,
                        detail: "the last entry has no newline".into(),
                    });
                }
                Some(entry)
            }
            Err((kind, detail)) if !terminated && kind == Kind::NotJson => {
                problems.push(removed(
                    Kind::PartialLine,
                    format!("unterminated: {detail}"),
                ));
                None
            }
            Err((kind, detail)) => {
                problems.push(removed(kind, detail));
                None
            }
        };
        lines.push(Line {
            offset,
            len,
            terminated,
            stripped,
            entry,
        });
        at = end + 1;
    }
    lines
}

/// Judge one line: leading NULs to strip and the entry, or what is wrong with it.
fn judge(line: &[u8]) -> (u64, Result<Entry, (Kind, String)>) {
    let nuls = line.iter().take_while(|&&b| b == 0).count();
    let rest = &line[nuls..];
    if rest.contains(&0) {
        return (0, Err((Kind::NulBytes, "NUL bytes inside the line".into())));
    }
    if rest.is_empty() {
        return match nuls {
            0 => (0, Err((Kind::NotJson, "an empty line".into()))),
            n => (0, Err((Kind::NulBytes, format!("{n} NUL bytes")))),
        };
    }
    let Ok(text) = std::str::from_utf8(rest) else {
        return (
            0,
            Err((Kind::InvalidUtf8, "bytes that are not UTF-8".into())),
        );
    };
    match parse(text) {
        Ok(entry) => (nuls as u64, Ok(entry)),
        Err(problem) if nuls > 0 => (0, Err((Kind::NulBytes, problem.1))),
        Err(problem) => (0, Err(problem)),
    }
}

/// Parse one line's text as one session entry.
fn parse(text: &str) -> Result<Entry, (Kind, String)> {
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let value = match values.next() {
        Some(Ok(value)) => value,
        Some(Err(e)) if looks_merged(text) => {
            return Err((
                Kind::MergedEvents,
                format!("a broken event merged with another: {e}"),
            ));
        }
        Some(Err(e)) => return Err((Kind::NotJson, e.to_string())),
        None => return Err((Kind::NotJson, "an empty line".into())),
    };
    let rest = text[values.byte_offset()..].trim_start();
    if !rest.is_empty() {
        let what: String = rest.chars().take(24).collect();
        return Err((
            Kind::MergedEvents,
            format!("more after the entry's end: {what:?}"),
        ));
    }
    entry(&value).ok_or((Kind::NotJson, "not a session entry (no \"type\")".into()))
}

/// A broken entry that holds the start of a second event.
fn looks_merged(text: &str) -> bool {
    text.starts_with('{')
        && text
            .get(1..)
            .is_some_and(|t| t.contains("{\"type\"") || t.contains("event:") || t.contains("data:"))
}

fn entry(value: &Value) -> Option<Entry> {
    let object = value.as_object()?;
    object.get("type")?.as_str()?;
    let Some(message) = object.get("message").and_then(Value::as_object) else {
        return Some(Entry::default());
    };
    let mut entry = Entry {
        stop: message
            .get("stopReason")
            .and_then(Value::as_str)
            .map(str::to_string),
        ..Entry::default()
    };
    match message.get("role").and_then(Value::as_str) {
        Some("assistant") => {
            entry.role = Role::Assistant;
            let content = message.get("content").and_then(Value::as_array);
            for item in content.into_iter().flatten() {
                if item.get("type").and_then(Value::as_str) != Some("toolCall") {
                    continue;
                }
                match tool_call(item) {
                    Ok(id) => entry.calls.push(id),
                    Err(missing) => entry.malformed_call = Some(missing),
                }
            }
        }
        Some("toolResult") => {
            entry.role = Role::ToolResult;
            entry.result_for = Some(
                message
                    .get("toolCallId")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            );
        }
        _ => {}
    }
    Some(entry)
}

/// A tool call's id, or the field it lacks.
fn tool_call(item: &Value) -> Result<String, &'static str> {
    let id = item
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or("id")?;
    item.get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or("name")?;
    match item.get("arguments") {
        Some(Value::Object(_)) => Ok(id.to_string()),
        _ => Err("arguments"),
    }
}

/// Check tool calls and results in order. Returns false when a result's call may lie before
/// the window (`complete` false): the caller reads further back.
fn pair(lines: &[Line], removed: &mut [bool], problems: &mut Vec<Problem>, complete: bool) -> bool {
    let mut calls: HashSet<&str> = HashSet::new();
    for (index, line) in lines.iter().enumerate() {
        let Some(entry) = line.entry.as_ref() else {
            continue;
        };
        if let Some(missing) = entry.malformed_call {
            removed[index] = true;
            problems.push(line_problem(
                line,
                index,
                Kind::MalformedToolCall,
                format!("a tool call without {missing}"),
            ));
            continue;
        }
        calls.extend(entry.calls.iter().map(String::as_str));
        if let Some(id) = &entry.result_for
            && !calls.contains(id.as_str())
        {
            if !complete {
                return false;
            }
            removed[index] = true;
            problems.push(line_problem(
                line,
                index,
                Kind::OrphanToolResult,
                format!("a result for tool call {id:?}, which the session does not hold"),
            ));
        }
    }
    true
}

/// Cut the last assistant turn if its tool calls were never all answered and nothing but
/// those answers follows it. Returns whether that turn stopped for a tool (which may still
/// be running).
fn cut_unanswered_turn(lines: &[Line], removed: &mut [bool], problems: &mut Vec<Problem>) -> bool {
    let kept: Vec<usize> = (0..lines.len())
        .filter(|&i| !removed[i] && lines[i].entry.is_some())
        .collect();
    let Some(turn) = kept.iter().rposition(|&i| {
        lines[i]
            .entry
            .as_ref()
            .is_some_and(|e| e.role != Role::ToolResult)
    }) else {
        return false;
    };
    let turn_line = &lines[kept[turn]];
    let Some(entry) = turn_line.entry.as_ref() else {
        return false;
    };
    if entry.role != Role::Assistant || entry.calls.is_empty() {
        return false;
    }
    let answers = &kept[turn + 1..];
    let answered: HashSet<&str> = answers
        .iter()
        .filter_map(|&i| lines[i].entry.as_ref()?.result_for.as_deref())
        .collect();
    let unanswered: Vec<&str> = entry
        .calls
        .iter()
        .map(String::as_str)
        .filter(|id| !answered.contains(id))
        .collect();
    if unanswered.is_empty() {
        return false;
    }
    let stop = entry.stop.as_deref().unwrap_or("none");
    removed[kept[turn]] = true;
    problems.push(line_problem(
        turn_line,
        kept[turn],
        Kind::UnpairedToolCall,
        format!(
            "the last assistant turn (stop reason {stop}) called {} with no result",
            unanswered.join(", ")
        ),
    ));
    for &i in answers {
        removed[i] = true;
        problems.push(line_problem(
            &lines[i],
            i,
            Kind::UnpairedToolCall,
            "a result of the unanswered turn, removed with it".into(),
        ));
    }
    stop == "toolUse"
}

fn line_problem(line: &Line, index: usize, kind: Kind, detail: String) -> Problem {
    Problem {
        kind,
        action: Action::Removed,
        offset: line.offset,
        bytes: line.len + u64::from(line.terminated),
        index,
        detail,
    }
}

/// The repaired tail: everything from the first problem on, minus what goes.
fn plan(
    boundary: u64,
    lines: &[Line],
    removed: &[bool],
    problems: Vec<Problem>,
    tool_may_run: bool,
) -> Findings {
    let Some(first) = problems.iter().map(|p| p.index).min() else {
        return Findings {
            boundary,
            ..Findings::default()
        };
    };
    let mut keep = Vec::new();
    for (index, line) in lines.iter().enumerate().skip(first) {
        if removed[index] {
            continue;
        }
        let end = line.offset + line.len;
        keep.push(Piece::Copy(line.offset + line.stripped, end));
        keep.push(Piece::Newline);
    }
    Findings {
        boundary,
        cut: Some(lines[first].offset),
        keep: merge(keep, lines),
        problems,
        tool_may_run,
    }
}

/// Join pieces: a copied line followed by its own newline becomes one range.
fn merge(pieces: Vec<Piece>, lines: &[Line]) -> Vec<Piece> {
    let terminated_at: HashSet<u64> = lines
        .iter()
        .filter(|l| l.terminated)
        .map(|l| l.offset + l.len)
        .collect();
    let mut out: Vec<Piece> = Vec::new();
    for piece in pieces {
        let next = match (out.last(), piece) {
            (Some(&Piece::Copy(s, e)), Piece::Newline) if terminated_at.contains(&e) => {
                Some(Piece::Copy(s, e + 1))
            }
            (Some(&Piece::Copy(s, e)), Piece::Copy(s2, e2)) if e == s2 => Some(Piece::Copy(s, e2)),
            _ => None,
        };
        match next {
            Some(joined) => {
                out.pop();
                out.push(joined);
            }
            None => out.push(piece),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &[u8] = b"{\"type\":\"session\",\"version\":3,\"id\":\"s1\"}\n";

    fn call(id: &str) -> String {
        format!(
            "{{\"type\":\"message\",\"id\":\"a{id}\",\"message\":{{\"role\":\"assistant\",\"content\":[{{\"type\":\"toolCall\",\"id\":\"{id}\",\"name\":\"exec\",\"arguments\":{{}}}}],\"stopReason\":\"toolUse\"}}}}\n"
        )
    }

    fn result(id: &str) -> String {
        format!(
            "{{\"type\":\"message\",\"id\":\"r{id}\",\"message\":{{\"role\":\"toolResult\",\"toolCallId\":\"{id}\"}}}}\n"
        )
    }

    /// The repaired file: the original up to the cut, then the kept pieces.
    fn repaired(file: &[u8], findings: &Findings) -> Vec<u8> {
        let Some(cut) = findings.cut else {
            return file.to_vec();
        };
        let mut out = file[..cut as usize].to_vec();
        for piece in &findings.keep {
            match *piece {
                Piece::Copy(s, e) => out.extend_from_slice(&file[s as usize..e as usize]),
                Piece::Newline => out.push(b'\n'),
            }
        }
        out
    }

    fn whole(file: &[u8]) -> Findings {
        match scan(file, 0, HEADER.len() as u64) {
            Scan::Done(findings) => findings,
            Scan::NeedMore => panic!("a whole file is always complete"),
        }
    }

    #[test]
    fn a_window_inside_one_line_needs_more() {
        let mut file = HEADER.to_vec();
        file.extend_from_slice(
            format!("{{\"type\":\"custom\",\"data\":\"{}\"}}\n", "x".repeat(500)).as_bytes(),
        );
        let start = HEADER.len() as u64 + 10;
        assert_eq!(
            scan(&file[start as usize..], start, HEADER.len() as u64),
            Scan::NeedMore
        );
        assert!(whole(&file).problems.is_empty());
    }

    #[test]
    fn a_result_whose_call_lies_before_the_window_needs_more() {
        let mut file = HEADER.to_vec();
        file.extend_from_slice(call("c1").as_bytes());
        let start = file.len() as u64 - 5;
        file.extend_from_slice(result("c1").as_bytes());
        assert_eq!(
            scan(&file[start as usize..], start, HEADER.len() as u64),
            Scan::NeedMore
        );
        assert!(whole(&file).problems.is_empty());
    }

    #[test]
    fn a_bad_line_goes_alone_and_the_rest_is_kept() {
        let mut file = HEADER.to_vec();
        file.extend_from_slice(call("c1").as_bytes());
        let bad = file.len() as u64;
        file.extend_from_slice(b"not json\n");
        file.extend_from_slice(result("c1").as_bytes());
        let findings = whole(&file);
        assert_eq!(findings.cut, Some(bad));
        let mut expected = HEADER.to_vec();
        expected.extend_from_slice(call("c1").as_bytes());
        expected.extend_from_slice(result("c1").as_bytes());
        assert_eq!(repaired(&file, &findings), expected);
    }

    #[test]
    fn a_running_tool_is_flagged() {
        let mut file = HEADER.to_vec();
        file.extend_from_slice(call("c1").as_bytes());
        let findings = whole(&file);
        assert_eq!(findings.problems[0].kind, Kind::UnpairedToolCall);
        assert!(findings.tool_may_run);
        assert_eq!(repaired(&file, &findings), HEADER);
    }

    #[test]
    fn headers() {
        assert!(check_header(&HEADER[..HEADER.len() - 1]).is_ok());
        for bad in [
            &b"{\"type\":\"session\",\"version\":0,\"id\":\"s\"}"[..],
            b"{\"type\":\"session\",\"version\":3,\"id\":\"\"}",
            b"{\"type\":\"message\",\"version\":3,\"id\":\"s\"}",
            b"[1,2]",
            b"\xff",
        ] {
            assert!(
                check_header(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
