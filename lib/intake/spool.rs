//! The request spool shared with the agent: listing it, taking files out of it, moving what
//! is bad to the quarantine, and (for `clawdbot-request`) dropping a new request in atomically.

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::platform::atomic::{self, FileError, FileId};

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

/// The `*.json` entries of a spool (the agent's requests, or Wazuh's alerts), in name order. Names starting with a dot are files
/// still being written (`.NAME.tmp`) or ours, and are left alone.
pub fn list(spool: &Path) -> Result<Vec<Entry>, FileError> {
    let read =
        std::fs::read_dir(spool).map_err(|e| FileError::new("cannot list spool", spool, e))?;
    let mut entries = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| FileError::new("cannot list spool", spool, e))?;
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

/// Move a bad entry out of the spool to `dir/name`, with `dir/name.error.json` beside it
/// saying why (`reason`, a JSON object, to which what became of the entry is added); the error
/// file is written first, so a quarantined file always has its reason. There is no fallback
/// inside the spool, whose every name the agent controls: the entry is renamed into the
/// quarantine; across file systems a regular file is copied (never through a link) and then
/// unlinked, and a link, FIFO, socket or device, which holds no bytes to keep, is recorded
/// (a link with its target) and unlinked. Only a directory the agent made, which cannot be
/// moved to another directory (the rename would rewrite its `..`) nor emptied, is renamed
/// within the spool, out of the path unit's `*.json` glob. Returns where the entry went.
pub fn quarantine(
    entry: &Entry,
    dir: &Path,
    name: &str,
    content: Option<&[u8]>,
    reason: &serde_json::Value,
) -> Result<PathBuf, FileError> {
    std::fs::create_dir_all(dir).map_err(|e| FileError::new("cannot create quarantine", dir, e))?;
    let dest = dir.join(name);
    let error_file = dir.join(format!("{name}.error.json"));
    let write_reason = |what: Option<String>| {
        let mut reason = reason.clone();
        if let (Some(what), Some(map)) = (what, reason.as_object_mut()) {
            map.insert("entry".into(), what.into());
        }
        let bytes = serde_json::to_vec_pretty(&reason).unwrap_or_default();
        atomic::write(&error_file, &bytes, 0o640)
    };
    write_reason(None)?;
    // A directory the agent made stays the agent's wherever it goes: never into the state
    // directory, even where a rename could move it.
    if std::fs::symlink_metadata(&entry.path).is_ok_and(|m| m.file_type().is_dir()) {
        write_reason(Some("a directory, which cannot leave the spool".into()))?;
        return hide(entry, name);
    }
    let moved = match std::fs::rename(&entry.path, &dest) {
        Ok(()) => Ok(dest),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(dest),
        Err(e) => match std::fs::symlink_metadata(&entry.path).map(|m| m.file_type()) {
            Err(gone) if gone.kind() == std::io::ErrorKind::NotFound => Ok(dest),
            Ok(kind) if kind.is_dir() => {
                write_reason(Some(format!(
                    "a directory, which cannot leave the spool ({e})"
                )))?;
                hide(entry, name)
            }
            Ok(kind) if e.raw_os_error() == Some(libc::EXDEV) && kind.is_file() => {
                if let Some(note) = copy_out(entry, &dest, content)? {
                    write_reason(Some(note))?;
                }
                remove(entry).map(|()| dest)
            }
            Ok(_) if e.raw_os_error() == Some(libc::EXDEV) => {
                let what = match std::fs::read_link(&entry.path) {
                    Ok(target) => format!(
                        "a symbolic link to {}, removed from the spool",
                        target.display()
                    ),
                    Err(_) => "a FIFO, socket or device, removed from the spool".into(),
                };
                write_reason(Some(what))?;
                remove(entry).map(|()| error_file.clone())
            }
            _ => Err(FileError::new("cannot quarantine", &entry.path, e)),
        },
    }?;
    atomic::sync_dir(dir)?;
    Ok(moved)
}

/// The most of a regular file that is copied out of the spool when its bytes were not held (it
/// was over the size limit): enough to see what it was, never so much that the agent, with a
/// sparse file, fills the state directory's disk.
const HEAD: u64 = 64 * 1024;

/// Copy a regular file to `dest`: the bytes already read when they are held; otherwise at
/// most its first [`HEAD`] bytes, the file opened without following a link and checked to be
/// the one that was judged. Returns a note for the reason when the copy is not whole. A file
/// that cannot be read at all is noted too: it leaves the spool all the same.
fn copy_out(
    entry: &Entry,
    dest: &Path,
    content: Option<&[u8]>,
) -> Result<Option<String>, FileError> {
    if let Some(bytes) = content.filter(|_| entry.unchanged()) {
        atomic::write(dest, bytes, 0o640)?;
        return Ok(None);
    }
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(&entry.path);
    let file = match opened {
        Ok(file) => file,
        Err(e) => return Ok(Some(format!("unreadable ({e}), removed from the spool"))),
    };
    let meta = file
        .metadata()
        .map_err(|e| FileError::new("cannot stat", &entry.path, e))?;
    if !meta.file_type().is_file() || !entry.unchanged() {
        return Err(FileError::new(
            "cannot quarantine",
            &entry.path,
            std::io::Error::other("the entry was replaced after it was judged"),
        ));
    }
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o640)
        .open(dest)
        .map_err(|e| FileError::new("cannot create", dest, e))?;
    std::io::copy(&mut (&file).take(HEAD), &mut out)
        .and_then(|_| out.sync_all())
        .map_err(|e| FileError::new("cannot copy into", dest, e))?;
    Ok((meta.len() > HEAD).then(|| {
        format!(
            "a file of {} bytes, of which the first {HEAD} are kept; removed from the spool",
            meta.len()
        )
    }))
}

/// Rename a directory the agent made within the spool, under a dot name (by request id) that
/// the path unit's glob does not match and that never replaces an existing name.
fn hide(entry: &Entry, name: &str) -> Result<PathBuf, FileError> {
    let hidden = entry.path.with_file_name(format!(".{name}.rejected"));
    atomic::rename_new(&entry.path, &hidden)
        .map_err(|e| FileError::new("cannot hide rejected entry", &entry.path, e))?;
    log::warn!(
        "{} is a directory that cannot leave the spool; hidden there as {}",
        entry.display_name(),
        hidden.display()
    );
    Ok(hidden)
}

/// Write a new request into the spool as `NAME.json`, atomically (a `.NAME.json.…tmp`, fsync,
/// rename, fsync the directory), where NAME is the time and a random suffix.
pub fn drop_request(
    spool: &Path,
    bytes: &[u8],
    now: crate::platform::time::UnixTime,
    random: &str,
) -> Result<PathBuf, FileError> {
    let stamp = crate::platform::time::utc_stamp(now);
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
