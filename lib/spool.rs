//! The request spool shared with the agent: listing it, taking files out of it, quarantining
//! what is bad, and (for `clawdbot-request`) dropping a new request in atomically.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::atomic::{self, FileError, FileId};

/// A `*.json` entry in the spool, whatever kind of file it turns out to be.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The entry's full path.
    pub path: PathBuf,
    /// Its name as found (may be any bytes).
    pub name: OsString,
    /// The file that was read under this name, once it was read.
    pub read: Option<FileId>,
}

impl Entry {
    /// Whether the name still holds the file that was read. The agent may have renamed another
    /// file over it since: that one is judged by the next pass, never removed unread.
    fn unchanged(&self) -> bool {
        self.read.is_none() || FileId::of(&self.path) == self.read
    }
}

impl Entry {
    /// The name, printable: anything odd in it is replaced, for logs, mails and file names.
    pub fn display_name(&self) -> String {
        self.name
            .to_string_lossy()
            .chars()
            .take(128)
            .map(|c| if c.is_control() || c == '/' { '?' } else { c })
            .collect()
    }
}

/// The `*.json` entries of the spool, in name order. Names starting with a dot are files
/// still being written (`.NAME.tmp`) or ours, and are left alone.
pub fn list(spool: &Path) -> Result<Vec<Entry>, FileError> {
    let read = std::fs::read_dir(spool)
        .map_err(|e| FileError::new("cannot list request spool", spool, e))?;
    let mut entries = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| FileError::new("cannot list request spool", spool, e))?;
        let name = entry.file_name();
        let bytes = name.as_bytes();
        if bytes.ends_with(b".json") && !bytes.starts_with(b".") {
            entries.push(Entry {
                path: entry.path(),
                name,
                read: None,
            });
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// Take a recorded request's file out of the spool, if it is still the file that was read.
pub fn remove(entry: &Entry) -> Result<(), FileError> {
    if !entry.unchanged() {
        log::warn!(
            "{} was replaced after it was read; the next pass reads the new one",
            entry.display_name()
        );
        return Ok(());
    }
    match std::fs::remove_file(&entry.path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(FileError::new("cannot remove from spool", &entry.path, e)),
    }
}

/// Move a bad entry to `dir/name`, with `dir/name.error.json` beside it saying why; the error
/// file is written first so a quarantined file always has its reason. The entry is renamed,
/// never deleted; across file systems a regular file whose bytes we hold is copied, then
/// unlinked. If the quarantine cannot take it, it goes to the spool's own `.quarantine/`,
/// which the path unit does not watch; an entry that cannot leave the spool at all is hidden
/// in place. Returns where it went.
pub fn quarantine(
    entry: &Entry,
    dir: &Path,
    name: &str,
    content: Option<&[u8]>,
    reason: &[u8],
) -> Result<PathBuf, FileError> {
    match move_into(entry, dir, name, content, reason) {
        Ok(dest) => Ok(dest),
        Err(e) => {
            let local = entry
                .path
                .parent()
                .unwrap_or(Path::new("."))
                .join(".quarantine");
            // Under the units' sandbox the spool and the state directory are separate mounts:
            // a link, FIFO or oversized file, whose bytes are not held, always lands here.
            if e.source.raw_os_error() == Some(libc::EXDEV) {
                log::debug!("{e}; quarantining into {} instead", local.display());
            } else {
                log::warn!("{e}; quarantining into {} instead", local.display());
            }
            move_into(entry, &local, name, None, reason).or_else(|e| hide(entry, name, e))
        }
    }
}

/// A directory the agent owns cannot move to another directory (the rename would rewrite its
/// `..`, which needs write access to it) nor be emptied: rename it within the spool, out of
/// the path unit's `*.json` glob, so that it cannot start the broker again and again.
fn hide(entry: &Entry, name: &str, why: FileError) -> Result<PathBuf, FileError> {
    let hidden = entry.path.with_file_name(format!(".{name}.rejected"));
    std::fs::rename(&entry.path, &hidden)
        .map_err(|e| FileError::new("cannot hide rejected entry", &entry.path, e))?;
    log::warn!("{why}; hidden in the spool as {}", hidden.display());
    Ok(hidden)
}

fn move_into(
    entry: &Entry,
    dir: &Path,
    name: &str,
    content: Option<&[u8]>,
    reason: &[u8],
) -> Result<PathBuf, FileError> {
    std::fs::create_dir_all(dir).map_err(|e| FileError::new("cannot create quarantine", dir, e))?;
    let dest = dir.join(name);
    atomic::write(&dir.join(format!("{name}.error.json")), reason, 0o640)?;
    match std::fs::rename(&entry.path, &dest) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            let bytes = content
                .ok_or_else(|| FileError::new("cannot move across file systems", &entry.path, e))?;
            atomic::write(&dest, bytes, 0o640)?;
            remove(entry)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(FileError::new("cannot quarantine", &entry.path, e)),
    }
    atomic::sync_dir(dir)?;
    Ok(dest)
}

/// Write a new request into the spool as `NAME.json`, atomically (a `.NAME.json.…tmp`, fsync,
/// rename, fsync the directory), where NAME is the time and a random suffix.
pub fn drop_request(
    spool: &Path,
    bytes: &[u8],
    now: crate::time::UnixTime,
    random: &str,
) -> Result<PathBuf, FileError> {
    let stamp = jiff::Timestamp::from_second(now)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y%m%dT%H%M%SZ");
    let path = spool.join(format!("{stamp}-{random}.json"));
    atomic::write(&path, bytes, 0o644)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_replaced_after_it_was_read_is_not_removed() {
        let dir = std::env::temp_dir().join(format!("clawdbot-spool-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.json");
        std::fs::write(&path, "first").unwrap();
        let entry = Entry {
            path: path.clone(),
            name: "a.json".into(),
            read: FileId::of(&path),
        };
        // The agent renames a new file over the one the broker read.
        std::fs::write(dir.join(".b.tmp"), "second").unwrap();
        std::fs::rename(dir.join(".b.tmp"), &path).unwrap();
        remove(&entry).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "second",
            "kept for the next pass"
        );
        let entry = Entry {
            read: FileId::of(&path),
            ..entry
        };
        remove(&entry).unwrap();
        assert!(!path.exists());
    }
}
