//! OpenClaw's session write lock, `FILE.jsonl.lock`: JSON with the writer's `pid` and
//! `createdAt`. The watchdog leaves a locked file alone. It never takes the lock itself:
//! OpenClaw takes over a lock whose owner is not an OpenClaw process, so holding it would keep
//! nothing out (the gateway is stopped for a repair instead).

use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use serde_json::Value;

use crate::platform::dir::Dir;
use crate::platform::time::UnixTime;

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

/// Judge the lock of `session`: live while its process runs here, or while it is younger than
/// `stale_after` (the gateway may run in another PID namespace, where its pid means nothing
/// here); `None` once the gateway is stopped, when only a process of this host counts.
pub fn inspect(
    dir: &Dir,
    session: &OsStr,
    stale_after: Option<Duration>,
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
    let who = pid.map_or("no pid".to_string(), |p| format!("pid {p}"));
    if alive {
        return Ok(Lock::Live(format!("{who} is running")));
    }
    let limit = stale_after.map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    if age < limit {
        return Ok(Lock::Live(format!("{who}, taken {age} s ago")));
    }
    Ok(Lock::Stale(format!("{who} is gone, taken {age} s ago")))
}

/// Whether a process with this pid runs in this PID namespace.
fn process_alive(pid: u64) -> bool {
    pid > 0 && std::path::Path::new("/proc").join(pid.to_string()).exists()
}
