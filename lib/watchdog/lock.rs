//! The gateway's session lock, `FILE.jsonl.lock`: JSON with the writer's `pid` and
//! `createdAt`. The watchdog leaves a locked file alone and takes the same lock itself while it
//! repairs, so that the gateway cannot append between the check and the rename.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use serde_json::{Value, json};

use crate::dir::Dir;
use crate::time::UnixTime;

/// Who wrote the locks the watchdog takes, so that one left by a crash can be recognised.
const OWNER: &str = "clawdbot-watchdog";

/// The state of a session's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lock {
    /// No lock file.
    Free,
    /// A writer holds it; why it counts as live.
    Live(String),
    /// A lock left behind; why it counts as stale.
    Stale(String),
}

/// The lock file's name for a session file.
pub fn name_for(session: &OsStr) -> OsString {
    let mut name = session.to_os_string();
    name.push(".lock");
    name
}

/// Judge the lock of `session`: live while its process runs or while it is younger than
/// `stale_after` (the gateway may run in another PID namespace, where its pid means nothing
/// here).
pub fn inspect(
    dir: &Dir,
    session: &OsStr,
    stale_after: Duration,
    now: UnixTime,
) -> io::Result<Lock> {
    let name = name_for(session);
    let file = match dir.open_read(&name) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Lock::Free),
        Err(e) => return Err(e),
    };
    let mtime = file.metadata()?.mtime();
    let mut text = Vec::new();
    file.take(4096).read_to_end(&mut text)?;
    let value: Value = serde_json::from_slice(&text).unwrap_or(Value::Null);
    let pid = value.get("pid").and_then(Value::as_u64);
    let created = value
        .get("createdAt")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map_or(mtime, |t| t.as_second());
    let age = now.saturating_sub(created);
    let alive = pid.is_some_and(process_alive);
    if value.get("owner").and_then(Value::as_str) == Some(OWNER) && !alive {
        return Ok(Lock::Stale("left by a watchdog pass that crashed".into()));
    }
    let who = pid.map_or("no pid".to_string(), |p| format!("pid {p}"));
    if alive {
        return Ok(Lock::Live(format!("{who} is running")));
    }
    let limit = i64::try_from(stale_after.as_secs()).unwrap_or(i64::MAX);
    if age < limit {
        return Ok(Lock::Live(format!("{who}, taken {age} s ago")));
    }
    Ok(Lock::Stale(format!("{who} is gone, taken {age} s ago")))
}

/// Whether a process with this pid runs in this PID namespace.
fn process_alive(pid: u64) -> bool {
    pid > 0 && std::path::Path::new("/proc").join(pid.to_string()).exists()
}

/// A lock the watchdog holds on one session file.
#[derive(Debug)]
pub struct Held {
    name: OsString,
}

/// Take the lock of `session`, removing a stale one first; `None` if another writer has it.
pub fn take(dir: &Dir, session: &OsStr, stale: bool, now: UnixTime) -> io::Result<Option<Held>> {
    let name = name_for(session);
    if stale {
        match dir.remove(&name) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    let mut file = match dir.create_new(&name, 0o644) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(None),
        Err(e) => return Err(e),
    };
    let created = jiff::Timestamp::from_second(now).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let body =
        json!({ "pid": std::process::id(), "createdAt": created.to_string(), "owner": OWNER });
    if let Err(e) = file.write_all(body.to_string().as_bytes()) {
        // An empty lock would hold the gateway off until it went stale.
        let _ = dir.remove(&name);
        return Err(e);
    }
    Ok(Some(Held { name }))
}

impl Held {
    /// Give the lock back.
    pub fn release(self, dir: &Dir) -> io::Result<()> {
        dir.remove(&self.name)
    }
}
