//! A directory held open, and operations on the files in it that never follow a link.
//!
//! Session files live in users' homes, which their users (and the agent) may change at any
//! moment, and the state directory belongs to the unprivileged `clawdbot` user, while the
//! watchdog and maintenance run as root. Every path is walked one component at a time
//! without following links, and every later operation names files relative to the directory
//! handle, so a link planted on the path cannot redirect a read, a write or a rename.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use crate::store::Fingerprint;

/// An open directory.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

/// What `stat` says about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Device, inode, size and modification time.
    pub seen: Fingerprint,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// A regular file (not a link, directory, FIFO or device).
    pub regular: bool,
}

impl Stat {
    /// The facts of an open file.
    pub fn of(file: &File) -> io::Result<Stat> {
        let meta = file.metadata()?;
        let signed = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        Ok(Stat {
            seen: Fingerprint {
                dev: signed(meta.dev()),
                ino: signed(meta.ino()),
                size: signed(meta.size()),
                mtime_ns: meta
                    .mtime()
                    .saturating_mul(1_000_000_000)
                    .saturating_add(meta.mtime_nsec()),
            },
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            regular: meta.file_type().is_file(),
        })
    }
}

fn cstring(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn check(result: libc::c_int) -> io::Result<libc::c_int> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

/// `openat` relative to `dir` (or the current directory for `AT_FDCWD`).
fn openat(dir: libc::c_int, name: &OsStr, flags: libc::c_int, mode: u32) -> io::Result<OwnedFd> {
    let name = cstring(name)?;
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call; the returned
    // descriptor is new and owned by nobody else.
    let fd = check(unsafe {
        libc::openat(
            dir,
            name.as_ptr(),
            flags | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            mode,
        )
    })?;
    // SAFETY: `fd` was just returned by openat and is open.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl Dir {
    /// Open an absolute directory path, refusing a link at any component.
    pub fn open(path: &Path) -> io::Result<Dir> {
        let mut fd = openat(
            libc::AT_FDCWD,
            OsStr::new("/"),
            libc::O_RDONLY | libc::O_DIRECTORY,
            0,
        )?;
        for component in path.components() {
            match component {
                Component::RootDir => {}
                Component::Normal(name) => {
                    fd = openat(fd.as_raw_fd(), name, libc::O_RDONLY | libc::O_DIRECTORY, 0)
                        .map_err(|e| on_path(e, path))?;
                }
                _ => return Err(io::Error::from(io::ErrorKind::InvalidInput)),
            }
        }
        Ok(Dir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The directory's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Open a file in it for reading; a FIFO cannot block and a link is refused.
    pub fn open_read(&self, name: &OsStr) -> io::Result<File> {
        let fd = openat(
            self.fd.as_raw_fd(),
            name,
            libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY,
            0,
        )?;
        Ok(File::from(fd))
    }

    /// Create a new file in it (never over an existing one) for writing.
    pub fn create_new(&self, name: &OsStr, mode: u32) -> io::Result<File> {
        let fd = openat(
            self.fd.as_raw_fd(),
            name,
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
            mode,
        )?;
        Ok(File::from(fd))
    }

    /// What a name in it is now, without following a link; `None` if it is gone.
    pub fn stat(&self, name: &OsStr) -> io::Result<Option<Stat>> {
        match self.open_read(name) {
            Ok(file) => Stat::of(&file).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Rename within the directory (replacing `to` atomically).
    pub fn rename(&self, from: &OsStr, to: &OsStr) -> io::Result<()> {
        let (from, to) = (cstring(from)?, cstring(to)?);
        let fd = self.fd.as_raw_fd();
        // SAFETY: both names are valid NUL-terminated strings that outlive the call.
        check(unsafe { libc::renameat(fd, from.as_ptr(), fd, to.as_ptr()) }).map(drop)
    }

    /// Remove a file from it.
    pub fn remove(&self, name: &OsStr) -> io::Result<()> {
        let name = cstring(name)?;
        // SAFETY: `name` is a valid NUL-terminated string that outlives the call.
        check(unsafe { libc::unlinkat(self.fd.as_raw_fd(), name.as_ptr(), 0) }).map(drop)
    }

    /// Write `data` as `name` atomically: a new temporary file in this directory, fsync,
    /// rename, fsync the directory.
    pub fn write_atomic(&self, name: &OsStr, data: &[u8], mode: u32) -> io::Result<()> {
        let mut temp = OsStr::new(".").to_os_string();
        temp.push(name);
        temp.push(format!(".{}.tmp", std::process::id()));
        let _ = self.remove(&temp);
        let written = self.create_new(&temp, mode).and_then(|mut file| {
            std::io::Write::write_all(&mut file, data)?;
            file.sync_all()
        });
        let renamed = written.and_then(|()| self.rename(&temp, name));
        if renamed.is_err() {
            let _ = self.remove(&temp);
        }
        renamed.and_then(|()| self.sync())
    }

    /// Remove the regular files in it (links left alone) whose modification is older than
    /// `limit`; returns how many.
    pub fn remove_older(&self, limit: std::time::Duration) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.path) else {
            return 0;
        };
        let mut removed = 0;
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name();
            let old = self
                .stat(&name)
                .ok()
                .flatten()
                .filter(|s| s.regular)
                .and_then(|s| {
                    let secs = u64::try_from(s.seen.mtime_ns / 1_000_000_000).ok()?;
                    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
                    at.elapsed().ok()
                })
                .is_some_and(|age| age > limit);
            if old && self.remove(&name).is_ok() {
                removed += 1;
            }
        }
        removed
    }

    /// fsync the directory, so that a rename or removal survives a crash.
    pub fn sync(&self) -> io::Result<()> {
        // SAFETY: the descriptor is open for the life of `self`.
        check(unsafe { libc::fsync(self.fd.as_raw_fd()) }).map(drop)
    }
}

/// Give the owner, group and mode of the original to a replacement.
pub fn copy_owner(file: &File, like: &Stat) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: `fd` is open for the life of `file`.
    check(unsafe { libc::fchown(fd, like.uid, like.gid) })?;
    // SAFETY: as above; fchmod after fchown, which clears set-id bits.
    check(unsafe { libc::fchmod(fd, like.mode as libc::mode_t) }).map(drop)
}

fn on_path(e: io::Error, path: &Path) -> io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) || e.raw_os_error() == Some(libc::ENOTDIR) {
        io::Error::other(format!(
            "{} has a symbolic link or a non-directory on its path; not followed",
            path.display()
        ))
    } else {
        e
    }
}
