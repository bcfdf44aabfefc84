//! The SQLite era (OpenClaw 2026.8.1 on): each agent keeps its sessions in
//! `agents/AGENT/agent/openclaw-agent.sqlite`. The watchdog only reads that store, and never
//! writes it: OpenClaw's triggers, indexes and projections would go stale, and its writes are
//! transactions, so nothing is ever half written there. What can still stick a session is a
//! message OpenClaw keeps but cannot replay ([`super::poison`]); the cure is OpenClaw's own
//! `sessions.reset`, which the caller proposes to the operator as a request.
//!
//! A session's context is rebuilt as OpenClaw does: every event of the session's current
//! window (`session_nodes.current_session_id`) in `seq` order, the leaf (the last entry, or
//! the target of a `leaf` event), the `parentId` chain back from it, cut at the last `reset`
//! or `compaction` on that chain. Events of 1 KiB or more may be stored as a zstd frame
//! (`event_zstd`, with its decoded length in `event_utf8_bytes`) instead of `event_json`.
//!
//! Reading leaves nothing behind: with OpenClaw's `-wal` and `-shm` present the store is opened
//! `mode=ro` (SQLite uses them as they are); with neither present (no gateway has it open) it
//! is opened `immutable=1`, since `mode=ro` would create both, owned by root. Anything in
//! between is a write under way, and the store is read next pass.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::io::Read;
use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use serde_json::Value;

use super::poison;
use crate::dir::{Dir, FileKind};

/// The largest event OpenClaw compresses, and the largest decoded size accepted for one.
const ZSTD_MAX: i64 = 4 << 20;
/// The largest event read as text.
const EVENT_MAX: usize = 16 << 20;
/// The most bytes of events read for one session (what OpenClaw could hold in one string).
const SESSION_MAX: usize = 512 << 20;

/// One session whose context holds a message the model cannot be sent.
#[derive(Debug, Clone, Serialize)]
pub struct Poisoned {
    /// The session key (`agent:main:main`).
    pub key: String,
    /// The current window (`sessionId`), which a reset must still find.
    pub session_id: String,
    /// Messages in the model's context now: what a reset takes out of it.
    pub messages: usize,
    /// The first such message: its place in the context (from 1), its event and entry.
    pub position: usize,
    /// Its event's `seq`.
    pub seq: i64,
    /// Its entry id.
    pub entry: String,
    /// What is wrong with it.
    pub reason: String,
    /// The request filed for it, or why none was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
}

/// A session that could not be read.
#[derive(Debug, Clone, Serialize)]
pub struct Unread {
    /// The session key.
    pub key: String,
    /// Why.
    pub reason: String,
}

/// What reading one store found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Checked {
    /// What `PRAGMA quick_check` said (`ok` when sound).
    pub quick_check: String,
    /// Sessions read.
    pub sessions: usize,
    /// Sessions that cannot be replayed.
    pub poisoned: Vec<Poisoned>,
    /// Sessions that could not be read.
    pub unread: Vec<Unread>,
}

/// Why a store was not read.
#[derive(Debug, Clone)]
pub struct NotRead {
    /// For a passing reason (a write under way): read next pass.
    pub busy: bool,
    /// What.
    pub reason: String,
}

impl From<String> for NotRead {
    fn from(reason: String) -> Self {
        NotRead {
            busy: false,
            reason,
        }
    }
}

fn busy(reason: &str) -> NotRead {
    NotRead {
        busy: true,
        reason: format!("{reason}; read next pass"),
    }
}

fn sql(e: rusqlite::Error) -> NotRead {
    let busy = matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    );
    NotRead {
        busy,
        reason: e.to_string(),
    }
}

/// Read one store.
pub fn check(path: &Path) -> Result<Checked, NotRead> {
    let conn = open(path)?;
    conn.execute_batch("BEGIN").map_err(sql)?;
    let quick_check = quick_check(&conn).map_err(sql)?;
    let mut checked = Checked {
        quick_check,
        ..Checked::default()
    };
    let nodes = nodes(&conn).map_err(|e| {
        format!("its sessions cannot be listed ({e}): a schema this watchdog does not know")
    })?;
    let mut events = conn
        .prepare(
            "SELECT seq, event_json, event_zstd, event_utf8_bytes FROM transcript_events \
             WHERE session_id = ?1 ORDER BY seq",
        )
        .map_err(|e| format!("its transcripts cannot be read ({e})"))?;
    for (key, session_id) in nodes {
        checked.sessions += 1;
        let read = read_events(&mut events, &session_id).and_then(|events| {
            let path = active_path(&conn, &session_id)
                .map_err(|e| format!("its context index cannot be read ({e})"))?
                .unwrap_or_else(|| walked_path(&events));
            Ok(judge(&events, &path))
        });
        match read {
            Ok(None) => {}
            Ok(Some(found)) => checked.poisoned.push(Poisoned {
                key,
                session_id,
                messages: found.messages,
                position: found.position,
                seq: found.seq,
                entry: found.entry,
                reason: found.reason,
                request: None,
            }),
            Err(reason) => checked.unread.push(Unread { key, reason }),
        }
    }
    drop(events);
    conn.execute_batch("COMMIT").map_err(sql)?;
    Ok(checked)
}

/// Open the store read-only without creating anything beside it (see the module comment).
fn open(path: &Path) -> Result<Connection, NotRead> {
    crate::dir::check_database(path).map_err(|e| e.to_string())?;
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(String::from("not a file path").into());
    };
    let dir = Dir::open(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    let present = |suffix: &str| -> Result<bool, NotRead> {
        let mut companion = OsString::from(name);
        companion.push(suffix);
        match dir.kind(&companion) {
            Ok(None) => Ok(false),
            Ok(Some(FileKind::File)) => Ok(true),
            Ok(Some(_)) => Err(format!("{suffix} is not a regular file").into()),
            Err(e) => Err(format!("{suffix}: {e}").into()),
        }
    };
    if present("-journal")? {
        return Err(busy("a rollback journal is present (a write under way)"));
    }
    let how = match (present("-wal")?, present("-shm")?) {
        (true, true) => "mode=ro",
        (false, false) => "immutable=1",
        _ => {
            return Err(busy(
                "only one of -wal and -shm is present (a gateway opening or closing it)",
            ));
        }
    };
    let uri = format!("file:{}?{how}", uri_path(path));
    let conn = Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NOFOLLOW
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql)?;
    // The store belongs to the agent's user: read it as untrusted input.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)
        .map_err(sql)?;
    conn.execute_batch(
        "PRAGMA query_only = ON; PRAGMA trusted_schema = OFF; PRAGMA cell_size_check = ON;",
    )
    .map_err(sql)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(sql)?;
    Ok(conn)
}

/// A path as a `file:` URI path: every byte but unreserved ones and `/` percent-encoded.
fn uri_path(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn quick_check(conn: &Connection) -> rusqlite::Result<String> {
    let mut stmt = conn.prepare("PRAGMA quick_check")?;
    let lines = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(lines.join("; "))
}

/// Every live session: its key and current window. Archived ones are not replayed.
fn nodes(conn: &Connection) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare(
        "SELECT session_key, current_session_id FROM session_nodes \
         WHERE archived_at IS NULL ORDER BY session_key",
    )?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

/// One decoded event.
struct Event {
    seq: i64,
    value: Value,
}

fn read_events(stmt: &mut rusqlite::Statement<'_>, session: &str) -> Result<Vec<Event>, String> {
    let mut rows = stmt.query([session]).map_err(|e| e.to_string())?;
    let mut events = Vec::new();
    let mut total = 0usize;
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let seq: i64 = row.get(0).map_err(|e| e.to_string())?;
        let cell = |i| row.get_ref(i).map_err(|e| e.to_string());
        let text =
            payload(cell(1)?, cell(2)?, cell(3)?).map_err(|e| format!("event {seq}: {e}"))?;
        total += text.len();
        if total > SESSION_MAX {
            return Err(format!(
                "more than {} MiB of events: more than OpenClaw can load",
                SESSION_MAX >> 20
            ));
        }
        let value =
            serde_json::from_slice(&text).map_err(|e| format!("event {seq} is not JSON ({e})"))?;
        events.push(Event { seq, value });
    }
    Ok(events)
}

/// An event's JSON: `event_json` as it is, or `event_zstd` decoded to exactly
/// `event_utf8_bytes` bytes.
fn payload(json: ValueRef<'_>, zstd: ValueRef<'_>, size: ValueRef<'_>) -> Result<Vec<u8>, String> {
    match (json, zstd) {
        (ValueRef::Text(t) | ValueRef::Blob(t), ValueRef::Null) => {
            if t.len() > EVENT_MAX {
                return Err(format!("larger than {} MiB", EVENT_MAX >> 20));
            }
            Ok(t.to_vec())
        }
        (ValueRef::Null, ValueRef::Blob(frame)) => {
            let ValueRef::Integer(size) = size else {
                return Err("compressed, with no decoded length".into());
            };
            if !(1..=ZSTD_MAX).contains(&size) || frame.len() as i64 > ZSTD_MAX {
                return Err(format!(
                    "compressed, with a length of {size} bytes out of bounds"
                ));
            }
            let size = size as usize;
            let mut src = frame;
            let decoder = ruzstd::decoding::StreamingDecoder::new(&mut src)
                .map_err(|e| format!("not a zstd frame ({e})"))?;
            let mut out = Vec::with_capacity(size);
            decoder
                .take(size as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("zstd frame cannot be decoded ({e})"))?;
            if out.len() != size {
                return Err(format!(
                    "zstd frame decodes to {} bytes, not the {size} recorded",
                    out.len()
                ));
            }
            Ok(out)
        }
        _ => Err("neither event_json nor event_zstd alone is set".into()),
    }
}

/// The first message of a session's context that cannot be replayed.
struct Found {
    messages: usize,
    position: usize,
    seq: i64,
    entry: String,
    reason: String,
}

fn str_of<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// The context's path, root to leaf, as OpenClaw keeps it (`session_transcript_active_events`),
/// when OpenClaw itself would trust it: the index is not being rebuilt, covers the last event,
/// and has judged every row. Each entry: the event's `seq` and whether it goes to the model.
fn active_path(conn: &Connection, session: &str) -> rusqlite::Result<Option<Vec<(i64, bool)>>> {
    let fresh: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM session_transcript_index_state s \
           WHERE s.session_id = ?1 AND s.needs_rebuild = 0 \
             AND s.indexed_seq = (SELECT max(seq) FROM transcript_events WHERE session_id = ?1) \
             AND NOT EXISTS (SELECT 1 FROM session_transcript_active_events \
                             WHERE session_id = ?1 AND context_eligible IS NULL))",
        [session],
        |r| r.get(0),
    )?;
    if !fresh {
        return Ok(None);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT event_seq, context_eligible = 1 FROM session_transcript_active_events \
         WHERE session_id = ?1 ORDER BY active_position",
    )?;
    let path = stmt
        .query_map([session], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(path))
}

/// The context's path when OpenClaw's index cannot be trusted: back from the leaf (the last
/// entry, or the target of a `leaf` event) along `parentId`. A parent that is missing, or
/// seen already, is taken to be the entry before in the window, as OpenClaw appends.
fn walked_path(events: &[Event]) -> Vec<(i64, bool)> {
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    let mut leaf: Option<usize> = None;
    for (i, event) in events.iter().enumerate() {
        let v = &event.value;
        let Some(id) = str_of(v, "id") else {
            continue;
        };
        match str_of(v, "type") {
            Some("session") | None => {}
            Some("leaf") => {
                if let Some(&target) = str_of(v, "targetId").and_then(|t| by_id.get(t)) {
                    leaf = Some(target);
                }
            }
            Some(_) => {
                by_id.insert(id, i);
                leaf = Some(i);
            }
        }
    }
    let mut path = Vec::new();
    let mut seen = HashSet::new();
    let mut at = leaf;
    while let Some(i) = at {
        if !seen.insert(i) {
            break;
        }
        path.push((events[i].seq, true));
        let parent = str_of(&events[i].value, "parentId");
        at = match parent.map(|p| by_id.get(p).copied()) {
            None => None,
            Some(Some(p)) if !seen.contains(&p) => Some(p),
            // Missing or circular: the entry before it.
            Some(_) => (0..i).rev().find(|&j| {
                !seen.contains(&j)
                    && !matches!(
                        str_of(&events[j].value, "type"),
                        Some("session" | "leaf") | None
                    )
            }),
        };
    }
    path.reverse();
    path
}

/// Judge each message of the model's context: the path, cut after the last reset or
/// compaction on it (or at the entry a compaction says it kept).
fn judge(events: &[Event], path: &[(i64, bool)]) -> Option<Found> {
    let by_seq: HashMap<i64, &Event> = events.iter().map(|e| (e.seq, e)).collect();
    let path: Vec<(&Event, bool)> = path
        .iter()
        .filter_map(|&(seq, eligible)| by_seq.get(&seq).map(|e| (*e, eligible)))
        .collect();
    let kind = |e: &Event| str_of(&e.value, "type").map(str::to_owned);
    let start = match path
        .iter()
        .rposition(|(e, _)| matches!(kind(e).as_deref(), Some("reset" | "compaction")))
    {
        None => 0,
        Some(b) => {
            let kept = str_of(&path[b].0.value, "firstKeptEntryId");
            kept.and_then(|k| {
                path[..b]
                    .iter()
                    .position(|(e, _)| str_of(&e.value, "id") == Some(k))
            })
            .unwrap_or(b + 1)
        }
    };
    let messages: Vec<&Event> = path[start..]
        .iter()
        .filter(|(e, eligible)| *eligible && kind(e).as_deref() == Some("message"))
        .map(|(e, _)| *e)
        .collect();
    let mut replay = poison::Replay::default();
    messages.iter().enumerate().find_map(|(n, e)| {
        let message = e.value.get("message").unwrap_or(&Value::Null);
        replay.message(message).map(|reason| Found {
            messages: messages.len(),
            position: n + 1,
            seq: e.seq,
            entry: str_of(&e.value, "id").unwrap_or_default().to_string(),
            reason,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn events(values: Vec<Value>) -> Vec<Event> {
        values
            .into_iter()
            .enumerate()
            .map(|(seq, value)| Event {
                seq: seq as i64,
                value,
            })
            .collect()
    }

    fn walked(evs: &[Event]) -> Option<Found> {
        judge(evs, &walked_path(evs))
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
        assert!(judge(&evs, &[(0, false), (1, true)]).is_none());
        assert_eq!(judge(&evs, &[(0, true), (1, true)]).unwrap().entry, "a");
    }

    #[test]
    fn a_compressed_event_is_decoded_to_its_recorded_length_only() {
        // `printf hello | zstd --no-check`.
        let frame = [
            0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58, 0x29, 0x00, 0x00, b'h', b'e', b'l', b'l', b'o',
        ];
        let ok = payload(ValueRef::Null, ValueRef::Blob(&frame), ValueRef::Integer(5));
        assert_eq!(ok.unwrap(), b"hello");
        let short = payload(ValueRef::Null, ValueRef::Blob(&frame), ValueRef::Integer(4));
        assert!(short.unwrap_err().contains("not the 4 recorded"));
        let huge = payload(
            ValueRef::Null,
            ValueRef::Blob(&frame),
            ValueRef::Integer(1 << 40),
        );
        assert!(huge.unwrap_err().contains("out of bounds"));
        let junk = payload(
            ValueRef::Null,
            ValueRef::Blob(b"junk"),
            ValueRef::Integer(5),
        );
        assert!(junk.is_err());
        let both = payload(
            ValueRef::Text(b"{}"),
            ValueRef::Blob(&frame),
            ValueRef::Integer(5),
        );
        assert!(both.is_err());
    }

    #[test]
    fn uri_paths_escape_what_sqlite_would_read_as_query() {
        assert_eq!(
            uri_path(Path::new("/home/a b/x?y#z%.sqlite")),
            "/home/a%20b/x%3Fy%23z%25.sqlite"
        );
    }
}
