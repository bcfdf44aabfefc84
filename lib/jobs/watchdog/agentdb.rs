//! The SQLite era (OpenClaw 2026.8.1 on): each agent keeps its sessions in
//! `agents/AGENT/agent/openclaw-agent.sqlite`. The watchdog only reads that store, and never
//! writes it: OpenClaw's triggers, indexes and projections would go stale, and its writes are
//! transactions, so nothing is ever half written there. What can still stick a session is a
//! message OpenClaw keeps but cannot replay ([`super::poison`]); the cure is OpenClaw's own
//! `sessions.reset`, which the caller proposes to the operator as a request.
//!
//! The store belongs to the agent's user, who can put anything in it and swap anything around
//! it, and SQLite opens files by path (the store, then its `-wal` and `-shm`). So root never
//! reads it: a pass runs `clawdbot-watchdog store FILE` as the store's owner, with a time
//! limit, and reads its JSON answer; whatever the agent plants then reaches only what the
//! agent could reach anyway, and a store that hangs or bloats its reader stops nothing else.
//!
//! Reading leaves nothing behind: with OpenClaw's `-wal` and `-shm` present the store is opened
//! `mode=ro` (SQLite uses them as they are); with neither (no gateway has it open) it is opened
//! `immutable=1`, since `mode=ro` would create both. With only one of them, or a rollback
//! journal, `mode=ro` as the owner creates what SQLite needs, as OpenClaw's own readers do.
//!
//! A session's context is OpenClaw's own active path (`session_transcript_active_events`,
//! rows marked for the model) when OpenClaw itself would trust it, else rebuilt from the leaf
//! along `parentId`; either is cut at the last `reset` or `compaction`. Events of 1 KiB or more
//! may be stored as a zstd frame (`event_zstd`, decoded length in `event_utf8_bytes`).

use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

use super::context::{self, Event};
use super::poison::Release;
use crate::platform::dir::{Companions, Dir};

/// The largest event OpenClaw compresses, and the largest decoded size accepted for one.
const ZSTD_MAX: i64 = 4 << 20;
/// The largest window a frame may ask for: OpenClaw's frames hold one event each.
const WINDOW_MAX: u64 = 8 << 20;
/// The largest event read as text.
const EVENT_MAX: usize = 64 << 20;
/// The most bytes of events read for one session (what OpenClaw could hold in one string).
const SESSION_MAX: usize = 512 << 20;
/// The most a store's reader may print.
const ANSWER_MAX: u64 = 16 << 20;
/// The tables read, which must be tables (not views or virtual tables the agent made).
const TABLES: [&str; 5] = [
    "session_nodes",
    "transcript_events",
    "session_transcript_index_state",
    "session_transcript_active_events",
    "transcript_rewrite_watermarks",
];

/// One session whose context holds a message the model cannot be sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Poisoned {
    /// The session key (`agent:main:main`).
    pub key: String,
    /// The current window (`sessionId`).
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// Proposed in an earlier pass already: no new incident.
    #[serde(default)]
    pub known: bool,
}

/// A session that could not be read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unread {
    /// The session key.
    pub key: String,
    /// Why.
    pub reason: String,
}

/// What reading one store found.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Checked {
    /// What `PRAGMA quick_check` said (`ok` when sound).
    pub quick_check: String,
    /// Sessions read whole.
    pub sessions: usize,
    /// Sessions that cannot be replayed.
    pub poisoned: Vec<Poisoned>,
    /// Sessions that could not be read.
    pub unread: Vec<Unread>,
}

/// Why a store was not read.
#[derive(Debug, Clone, Serialize, Deserialize)]
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

fn sql(e: rusqlite::Error) -> NotRead {
    let busy = matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    );
    NotRead {
        busy,
        reason: if busy {
            format!("{e}; read next pass")
        } else {
            e.to_string()
        },
    }
}

/// Read one store as its owner, through `clawdbot-watchdog store FILE` run as the owner and
/// given at most `timeout` (in this process when not run as root).
pub fn check_as_owner(path: &Path, timeout: Duration) -> Result<Checked, NotRead> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(String::from("not a file path").into());
    };
    let dir = Dir::open(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    let owner = match dir.stat(name) {
        Ok(Some(stat)) if stat.regular => stat,
        Ok(Some(_)) => return Err(String::from("not a regular file; not read").into()),
        Ok(None) => return Err(String::from("gone").into()),
        Err(e) => return Err(format!("cannot be opened: {e}").into()),
    };
    // A file someone else owns, in the agent's directory (renamed there, say), would have
    // the reader run as that someone: read a store only as the owner of its directory too.
    let keeper = dir
        .stat(std::ffi::OsStr::new("."))
        .ok()
        .flatten()
        .map(|d| d.uid);
    if keeper != Some(owner.uid) {
        return Err(format!(
            "owned by uid {} in a directory of uid {}; not read",
            owner.uid,
            keeper.map_or("unknown".into(), |u| u.to_string())
        )
        .into());
    }
    let Some(path_text) = path.to_str() else {
        return Err(String::from("its path is not UTF-8; not read").into());
    };
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        // Not root: no one else's store can be read, and no one can be become.
        return check(path);
    }
    let argv = [
        "/proc/self/exe".to_string(),
        "store".into(),
        "--json".into(),
        path_text.to_string(),
    ];
    let user = Some((owner.uid, owner.gid));
    // Its exit status says what the answer says: healthy (0), stuck (65), not read (66).
    let answer =
        crate::platform::command::capture_as(&argv, timeout, ANSWER_MAX, user, &[0, 65, 66])
            .map_err(|e| format!("its reader (as uid {}) failed: {e}", owner.uid))?;
    let answer = serde_json::from_str::<Result<Checked, NotRead>>(&answer)
        .map_err(|e| format!("its reader's answer cannot be read ({e})"))?;
    // The answer came from a process of the agent's user: what it says is shown escaped and
    // cut short, and never more of it than a store can hold.
    match answer {
        Ok(checked) => Ok(checked.sanitized()),
        Err(not_read) => Err(NotRead {
            busy: not_read.busy,
            reason: clean(&not_read.reason),
        }),
    }
}

/// At most this many stuck or unread sessions are reported per store.
const LISTED_MAX: usize = 100;

impl Checked {
    /// Every string made printable and short, every list capped.
    fn sanitized(self) -> Checked {
        Checked {
            quick_check: clean(&self.quick_check),
            sessions: self.sessions,
            poisoned: self
                .poisoned
                .into_iter()
                .take(LISTED_MAX)
                .map(|p| Poisoned {
                    reason: clean(&p.reason),
                    request: None,
                    known: false,
                    ..p
                })
                .collect(),
            unread: self
                .unread
                .into_iter()
                .take(LISTED_MAX)
                .map(|u| Unread {
                    key: u.key,
                    reason: clean(&u.reason),
                })
                .collect(),
        }
    }
}

/// Text for people from a source not trusted: control characters escaped, at most 500
/// characters. (Names are shown through [`shown`], quoted.)
fn clean(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().take(500) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if text.chars().nth(500).is_some() {
        out.push('…');
    }
    out
}

/// `clawdbot-watchdog store FILE`: read one store as the process that reads it for a pass.
/// It runs as the store's owner, whose other processes could otherwise open its standard
/// output through /proc and write into the answer: it makes itself undumpable first, which
/// gives /proc/self to root.
pub fn read_as_reader(path: &Path) -> Result<Checked, NotRead> {
    // SAFETY: prctl with PR_SET_DUMPABLE takes plain integers and has no memory effects.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    check(path)
}

/// Read one store, in this process.
pub fn check(path: &Path) -> Result<Checked, NotRead> {
    let conn = open(path)?;
    conn.execute_batch("BEGIN").map_err(sql)?;
    let quick_check = quick_check(&conn).map_err(sql)?;
    let mut checked = Checked {
        quick_check,
        ..Checked::default()
    };
    for table in TABLES {
        let kind: Option<String> = conn
            .query_row(
                "SELECT type FROM pragma_table_list WHERE schema = 'main' AND name = ?1 COLLATE NOCASE",
                [table],
                |r| r.get(0),
            )
            .ok();
        if kind.as_deref() != Some("table") {
            return Err(format!(
                "{table} is {}, not a table: a schema this watchdog does not know",
                kind.map_or("missing".into(), |k| format!("a {k}"))
            )
            .into());
        }
    }
    let nodes = nodes(&conn).map_err(|e| format!("its sessions cannot be listed ({e})"))?;
    let mut events = conn
        .prepare(
            "SELECT seq, event_json, event_zstd, event_utf8_bytes FROM transcript_events \
             WHERE session_id = ?1 ORDER BY seq",
        )
        .map_err(|e| format!("its transcripts cannot be read ({e})"))?;
    for (key, session_id) in nodes {
        let read = read_events(&mut events, &session_id).and_then(|events| {
            let path = active_path(&conn, &session_id)
                .map_err(|e| format!("its context index cannot be read ({e})"))?
                .unwrap_or_else(|| context::walked_path(&events));
            context::judge(&events, &path, Release::Sqlite)
        });
        match read {
            Ok(found) => {
                checked.sessions += 1;
                if let Some(found) = found {
                    checked.poisoned.push(Poisoned {
                        key,
                        session_id,
                        messages: found.messages,
                        position: found.position,
                        seq: found.seq,
                        entry: found.entry,
                        reason: found.reason,
                        request: None,
                        known: false,
                    });
                }
            }
            Err(reason) => checked.unread.push(Unread { key, reason }),
        }
    }
    drop(events);
    conn.execute_batch("COMMIT").map_err(sql)?;
    Ok(checked)
}

/// A store's result as text (`clawdbot-watchdog store`).
pub fn describe(path: &Path, result: &Result<Checked, NotRead>) -> String {
    let mut text = String::new();
    let path = path.display();
    match result {
        Err(e) => {
            let _ = writeln!(text, "{path}: not read: {}", e.reason);
        }
        Ok(c) => {
            let _ = writeln!(
                text,
                "{path}: quick_check {}; {} sessions read",
                c.quick_check, c.sessions
            );
            for p in &c.poisoned {
                let _ = writeln!(text, "  {}", poisoned_line(p));
            }
            for u in &c.unread {
                let _ = writeln!(text, "  session {} not read: {}", shown(&u.key), u.reason);
            }
        }
    }
    text
}

/// One stuck session as a line for people.
pub fn poisoned_line(p: &Poisoned) -> String {
    format!(
        "session {} cannot be sent to the model: message {} of {} in its context (event {}, entry {}) is {}",
        shown(&p.key),
        p.position,
        p.messages,
        p.seq,
        shown(&p.entry),
        p.reason
    )
}

/// A name the agent chose, quoted and escaped (no control character reaches a mail or the
/// journal), at most 200 characters.
pub fn shown(name: &str) -> String {
    let mut short: String = name.chars().take(200).collect();
    if short.len() < name.len() {
        short.push('…');
    }
    format!("{short:?}")
}

/// Open the store read-only without creating anything beside it (see the module comment).
fn open(path: &Path) -> Result<Connection, NotRead> {
    let beside = crate::platform::dir::check_database(path).map_err(|e| e.to_string())?;
    let quiet = beside == Companions::default();
    let how = if quiet { "immutable=1" } else { "mode=ro" };
    let uri = format!("file:{}?{how}", uri_path(path));
    let conn = Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NOFOLLOW
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql)?;
    // Read as untrusted input: no schema code runs, no page is trusted.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)
        .map_err(sql)?;
    conn.execute_batch(
        "PRAGMA query_only = ON; PRAGMA trusted_schema = OFF; PRAGMA cell_size_check = ON;",
    )
    .map_err(sql)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(sql)?;
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
            let _ = write!(out, "%{b:02X}");
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

fn read_events(stmt: &mut rusqlite::Statement<'_>, session: &str) -> Result<Vec<Event>, String> {
    let mut rows = stmt.query([session]).map_err(|e| e.to_string())?;
    let mut events = Vec::new();
    let mut total = 0usize;
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let seq: i64 = row.get(0).map_err(|e| e.to_string())?;
        let cell = |i| row.get_ref(i).map_err(|e| e.to_string());
        let raw = payload(cell(1)?, cell(2)?, cell(3)?).map_err(|e| format!("event {seq}: {e}"))?;
        total += raw.len();
        if total > SESSION_MAX {
            return Err(format!(
                "more than {} MiB of events: more than OpenClaw can load",
                SESSION_MAX >> 20
            ));
        }
        events.push(context::parse_event(seq, raw)?);
    }
    Ok(events)
}

/// An event's JSON: `event_json` as it is, or `event_zstd` decoded to exactly
/// `event_utf8_bytes` bytes.
fn payload(json: ValueRef<'_>, zstd: ValueRef<'_>, size: ValueRef<'_>) -> Result<Vec<u8>, String> {
    match (json, zstd) {
        (ValueRef::Text(t) | ValueRef::Blob(t), _) => {
            if t.len() > EVENT_MAX {
                return Err(format!("larger than {} MiB", EVENT_MAX >> 20));
            }
            // OpenClaw reads event_json first, whatever else the row holds.
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
            check_window(frame)?;
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
        _ => Err("neither event_json nor event_zstd is set".into()),
    }
}

/// Refuse a frame whose header asks for a window (the memory a decoder reserves) larger than
/// [`WINDOW_MAX`]; RFC 8878 section 3.1.1.1.
fn check_window(frame: &[u8]) -> Result<(), String> {
    let (Some(&descriptor), true) = (frame.get(4), frame.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]))
    else {
        return Err("not a zstd frame".into());
    };
    let window = if descriptor & 0x20 == 0 {
        let w = u64::from(*frame.get(5).ok_or("a cut zstd frame")?);
        let log = 10 + (w >> 3);
        let base = 1u64 << log.min(63);
        base + (base / 8) * (w & 7)
    } else {
        // One segment: the window is the content size that follows the dictionary id.
        let dict = [0, 1, 2, 4][usize::from(descriptor & 3)];
        let width = [1, 2, 4, 8][usize::from(descriptor >> 6)];
        let at = 5 + dict;
        let bytes = frame.get(at..at + width).ok_or("a cut zstd frame")?;
        let mut le = [0u8; 8];
        le[..width].copy_from_slice(bytes);
        u64::from_le_bytes(le) + if width == 2 { 256 } else { 0 }
    };
    if window > WINDOW_MAX {
        return Err(format!("a zstd frame asking for a {window}-byte window"));
    }
    Ok(())
}

/// The context's path, root to leaf, as OpenClaw keeps it (`session_transcript_active_events`),
/// when OpenClaw itself would trust it: the index is not being rebuilt, covers the last event,
/// has judged every row, and has a rewrite watermark. Each entry: the event's `seq` and
/// whether it goes to the model.
fn active_path(conn: &Connection, session: &str) -> rusqlite::Result<Option<Vec<(i64, bool)>>> {
    let fresh: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM session_transcript_index_state s \
           JOIN transcript_rewrite_watermarks w ON w.session_id = s.session_id \
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

#[cfg(test)]
mod tests {
    use super::*;

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
        // OpenClaw reads event_json first.
        let both = payload(
            ValueRef::Text(b"{}"),
            ValueRef::Blob(&frame),
            ValueRef::Integer(5),
        );
        assert_eq!(both.unwrap(), b"{}");
        // A frame asking for a 2 GiB window (descriptor 0xA8: 2^31 bytes) is not decoded.
        let greedy = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xA8, 0x01, 0x00, 0x00];
        let refused = payload(
            ValueRef::Null,
            ValueRef::Blob(&greedy),
            ValueRef::Integer(5),
        );
        assert!(refused.unwrap_err().contains("window"));
    }

    #[test]
    fn uri_paths_escape_what_sqlite_would_read_as_query() {
        assert_eq!(
            uri_path(Path::new("/home/a b/x?y#z%.sqlite")),
            "/home/a%20b/x%3Fy%23z%25.sqlite"
        );
    }
}
