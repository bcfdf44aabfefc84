//! File operations that never leave a half-written file and never follow a planted link.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// An I/O error with the file it happened to.
#[derive(Debug, thiserror::Error)]
#[error("{action} {}: {source}", path.display())]
pub struct FileError {
    /// What was being done, e.g. "cannot write".
    pub action: &'static str,
    /// The file.
    pub path: PathBuf,
    /// The cause.
    pub source: io::Error,
}

impl FileError {
    /// The exit code: 75 (retry later) when the disk or quota is full, which passes once space
    /// is freed; else `otherwise`.
    pub fn exit_or(&self, otherwise: crate::platform::exit::Exit) -> crate::platform::exit::Exit {
        match self.source.raw_os_error() {
            Some(libc::ENOSPC | libc::EDQUOT) => crate::platform::exit::Exit::TempFail,
            _ => otherwise,
        }
    }

    /// Wrap an I/O error with its file.
    pub fn new(action: &'static str, path: &Path, source: io::Error) -> Self {
        FileError {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Write `data` to `path` atomically with `mode`: a new `.NAME.PID.N.tmp` beside it, fsync,
/// rename, fsync the directory. Readers see the old file or the whole new one, never a part;
/// two processes writing the same path at once each rename their own temporary file.
pub fn write(path: &Path, data: &[u8], mode: u32) -> Result<(), FileError> {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{seq}.tmp", std::process::id()));
    let result = write_tmp(&tmp, data, mode)
        .and_then(|()| {
            std::fs::rename(&tmp, path).map_err(|e| FileError::new("cannot rename into", path, e))
        })
        .and_then(|()| sync_dir(dir));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_tmp(tmp: &Path, data: &[u8], mode: u32) -> Result<(), FileError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(tmp)
        .map_err(|e| FileError::new("cannot create", tmp, e))?;
    // Exactly `mode`, whatever the umask: the units run with UMask=0077, and a file meant for
    // the agent's group (an envelope, availability.json) must still reach it.
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .and_then(|()| file.write_all(data))
        .and_then(|()| file.sync_all())
        .map_err(|e| FileError::new("cannot write", tmp, e))
}

/// Bytes available to unprivileged users on the file system holding `path` (or its parent,
/// when `path` does not exist yet).
pub fn available_bytes(path: &Path) -> Option<u64> {
    let existing = path.ancestors().find(|p| p.exists())?;
    let c = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(existing.as_os_str()))
        .ok()?;
    // SAFETY: an all-zero statvfs is a valid value of this plain C struct.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated string and `st` a valid out-pointer.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

/// fsync a directory, so that a rename or unlink in it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<(), FileError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| FileError::new("cannot sync directory", dir, e))
}

/// Rename `from` to `to`, never over an existing `to` (`renameat2` with `RENAME_NOREPLACE`).
pub fn rename_new(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let cstr = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
    };
    let (from, to) = (cstr(from)?, cstr(to)?);
    // SAFETY: both are valid NUL-terminated strings that outlive the call.
    let result = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if result < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Open a lock file: created if missing, never truncated, never through a link (state
/// directories belong to the unprivileged user, and root takes some of these locks).
pub fn open_lock(path: &Path) -> Result<File, FileError> {
    // Without blocking: a FIFO put in the lock's place must not hold a root job up.
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| FileError::new("cannot open lock", path, e))?;
    let meta = file
        .metadata()
        .map_err(|e| FileError::new("cannot stat lock", path, e))?;
    if !meta.file_type().is_file() {
        return Err(FileError::new(
            "cannot use lock",
            path,
            std::io::Error::other(format!(
                "it is {}, not a regular file",
                kind_of(meta.mode())
            )),
        ));
    }
    Ok(file)
}

/// What was found at a path that should hold a regular file.
#[derive(Debug)]
pub enum Untrusted {
    /// A regular file, read whole (it was no larger than the limit).
    File(Vec<u8>),
    /// A regular file larger than the limit; its size.
    TooLarge(u64),
    /// Not a regular file: a symlink, FIFO, directory, device or socket; what it is.
    NotRegular(&'static str),
}

/// Read a file an attacker may have placed: the final component is never followed if it is a
/// link, a FIFO cannot block the reader, and at most `limit` bytes are read.
pub fn read_untrusted(path: &Path, limit: u64) -> Result<Untrusted, FileError> {
    read_identified(path, limit).map(|(found, _)| found)
}

/// Which file a path named when it was read (device and inode), so that it is removed only if
/// the path still names that file: the writer may have put another in its place meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId(u64, u64);

impl FileId {
    /// The file a path names now, without following a link.
    pub fn of(path: &Path) -> Option<FileId> {
        std::fs::symlink_metadata(path)
            .ok()
            .map(|m| FileId(m.dev(), m.ino()))
    }
}

/// [`read_untrusted`], and the identity of what was read.
pub fn read_identified(path: &Path, limit: u64) -> Result<(Untrusted, Option<FileId>), FileError> {
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path);
    let file = match opened {
        Ok(file) => file,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Ok((Untrusted::NotRegular("a symbolic link"), FileId::of(path)));
        }
        Err(e) => return Err(FileError::new("cannot open", path, e)),
    };
    let meta = file
        .metadata()
        .map_err(|e| FileError::new("cannot stat", path, e))?;
    let id = Some(FileId(meta.dev(), meta.ino()));
    Ok((read_opened(file, &meta, path, limit)?, id))
}

fn read_opened(
    file: File,
    meta: &std::fs::Metadata,
    path: &Path,
    limit: u64,
) -> Result<Untrusted, FileError> {
    if !meta.file_type().is_file() {
        return Ok(Untrusted::NotRegular(kind_of(meta.mode())));
    }
    if meta.len() > limit {
        return Ok(Untrusted::TooLarge(meta.len()));
    }
    let mut data = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(limit + 1)
        .read_to_end(&mut data)
        .map_err(|e| FileError::new("cannot read", path, e))?;
    // The file may have grown between the stat and the read.
    if data.len() as u64 > limit {
        return Ok(Untrusted::TooLarge(data.len() as u64));
    }
    Ok(Untrusted::File(data))
}

fn kind_of(mode: u32) -> &'static str {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => "a directory",
        libc::S_IFIFO => "a FIFO",
        libc::S_IFLNK => "a symbolic link",
        libc::S_IFSOCK => "a socket",
        libc::S_IFCHR | libc::S_IFBLK => "a device",
        _ => "not a regular file",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("clawdbot-atomic-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn write_replaces_whole_and_leaves_no_temp() {
        let dir = tempdir("write");
        let path = dir.join("a.json");
        write(&path, b"one", 0o600).unwrap();
        write(&path, b"two", 0o600).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn untrusted_reads_refuse_links_fifos_dirs_and_big_files() {
        let dir = tempdir("untrusted");
        std::os::unix::fs::symlink("/etc/hostname", dir.join("link")).unwrap();
        std::fs::create_dir(dir.join("dir")).unwrap();
        std::fs::write(dir.join("big"), vec![b'x'; 100]).unwrap();
        std::fs::write(dir.join("ok"), b"{}").unwrap();
        let fifo = std::ffi::CString::new(dir.join("fifo").to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);

        assert!(matches!(
            read_untrusted(&dir.join("link"), 10).unwrap(),
            Untrusted::NotRegular("a symbolic link")
        ));
        assert!(matches!(
            read_untrusted(&dir.join("dir"), 10).unwrap(),
            Untrusted::NotRegular("a directory")
        ));
        assert!(matches!(
            read_untrusted(&dir.join("fifo"), 10).unwrap(),
            Untrusted::NotRegular("a FIFO")
        ));
        assert!(matches!(
            read_untrusted(&dir.join("big"), 10).unwrap(),
            Untrusted::TooLarge(100)
        ));
        assert!(
            matches!(read_untrusted(&dir.join("ok"), 10).unwrap(), Untrusted::File(d) if d == b"{}")
        );
    }
}
