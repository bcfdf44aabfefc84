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

/// A name of a file in a directory, one component only: a `/` would let the kernel follow a
/// link on the way (`O_NOFOLLOW` guards only the last component), and `..` leaves the
/// directory. Callers check the names they build; this refuses any they did not.
fn entry(name: &OsStr) -> io::Result<&OsStr> {
    if name.is_empty() || name == "." || name == ".." || name.as_bytes().contains(&b'/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not a name in the directory"),
        ));
    }
    Ok(name)
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
        // The directories above need only be searchable, as for any lookup (a store's reader
        // runs as its owner, who may not read every directory on the way).
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Dir::walk(path, open_dir);
        };
        let above = Dir::walk(parent, |dir, name| {
            openat(dir.as_raw_fd(), name, libc::O_PATH | libc::O_DIRECTORY, 0)
        })?;
        let fd = open_dir(&above.fd, name).map_err(|e| on_path(e, path))?;
        Ok(Dir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// Open an absolute directory path as [`Dir::open`] does, creating the directories that
    /// are missing (with `mode`) one at a time, each relative to its parent: a link planted on
    /// the path is refused, never created behind.
    pub fn create_all(path: &Path, mode: u32) -> io::Result<Dir> {
        Dir::walk(path, |parent, name| open_or_make(parent, name, mode))
    }

    /// Walk an absolute path from `/`, one component at a time, each opened by `step` relative
    /// to its parent.
    fn walk(
        path: &Path,
        step: impl Fn(&OwnedFd, &OsStr) -> io::Result<OwnedFd>,
    ) -> io::Result<Dir> {
        let mut fd = openat(
            libc::AT_FDCWD,
            OsStr::new("/"),
            libc::O_RDONLY | libc::O_DIRECTORY,
            0,
        )?;
        for component in path.components() {
            match component {
                Component::RootDir => {}
                Component::Normal(name) => fd = step(&fd, name).map_err(|e| on_path(e, path))?,
                _ => return Err(io::Error::from(io::ErrorKind::InvalidInput)),
            }
        }
        Ok(Dir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// A directory in this one; a link is refused.
    pub fn child(&self, name: &OsStr) -> io::Result<Dir> {
        let name = entry(name)?;
        let path = self.path.join(name);
        let fd = open_dir(&self.fd, name).map_err(|e| on_path(e, &path))?;
        Ok(Dir { fd, path })
    }

    /// A directory in this one, created (with `mode`) if it is missing; a link is refused.
    pub fn subdir(&self, name: &OsStr, mode: u32) -> io::Result<Dir> {
        let name = entry(name)?;
        let path = self.path.join(name);
        let fd = open_or_make(&self.fd, name, mode).map_err(|e| on_path(e, &path))?;
        Ok(Dir { fd, path })
    }

    /// The names in the directory (`.` and `..` left out), read through the open handle, so a
    /// link put in place of the directory since it was opened changes nothing.
    pub fn names(&self) -> io::Result<Vec<std::ffi::OsString>> {
        let fd = openat(
            self.fd.as_raw_fd(),
            OsStr::new("."),
            libc::O_RDONLY | libc::O_DIRECTORY,
            0,
        )?;
        let raw = std::os::fd::IntoRawFd::into_raw_fd(fd);
        // SAFETY: `raw` is an open directory descriptor that fdopendir takes over (closedir
        // closes it); on failure it is still ours and is closed here.
        let stream = unsafe { libc::fdopendir(raw) };
        if stream.is_null() {
            let e = io::Error::last_os_error();
            // SAFETY: fdopendir failed, so `raw` was not taken over.
            unsafe { libc::close(raw) };
            return Err(e);
        }
        let mut names = Vec::new();
        let result = loop {
            // SAFETY: errno is thread-local; it is cleared so that the end of the stream
            // (NULL, errno 0) can be told from an error (NULL, errno set).
            unsafe { *libc::__errno_location() = 0 };
            // SAFETY: `stream` is a valid open directory stream until closedir below.
            let entry = unsafe { libc::readdir(stream) };
            if entry.is_null() {
                let e = io::Error::last_os_error();
                break if e.raw_os_error() == Some(0) {
                    Ok(())
                } else {
                    Err(e)
                };
            }
            // SAFETY: `entry` points to a dirent whose d_name is NUL-terminated, valid until
            // the next readdir; the bytes are copied at once.
            let name = unsafe { std::ffi::CStr::from_ptr((*entry).d_name.as_ptr()) };
            let bytes = name.to_bytes();
            if bytes != b"." && bytes != b".." {
                names.push(OsStr::from_bytes(bytes).to_os_string());
            }
        };
        // SAFETY: `stream` is open and closed exactly once.
        unsafe { libc::closedir(stream) };
        result.map(|()| names)
    }

    /// What kind of file a name is, without following a link or opening it (a FIFO or a
    /// device is never opened); `None` if it is gone.
    pub fn kind(&self, name: &OsStr) -> io::Result<Option<FileKind>> {
        self.lstat(name).map(|m| m.map(|m| m.kind))
    }

    /// What `lstat` says about a name in the directory (`.`: the directory itself), without
    /// following a link or opening it; `None` if it is gone.
    pub fn lstat(&self, name: &OsStr) -> io::Result<Option<Meta>> {
        let c = cstring(if name == "." { name } else { entry(name)? })?;
        // SAFETY: an all-zero `stat` is a valid value for fstatat to fill in.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `c` is NUL-terminated and `st` is a valid out-pointer, both outliving the call.
        let result = unsafe {
            libc::fstatat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        match check(result) {
            Ok(_) => Ok(Some(Meta {
                kind: FileKind::of_mode(st.st_mode),
                mode: st.st_mode & 0o7777,
                dev: st.st_dev,
                size: u64::try_from(st.st_size).unwrap_or(0),
                blocks: u64::try_from(st.st_blocks).unwrap_or(0),
                mtime: st.st_mtime,
                seen: Fingerprint {
                    dev: i64::try_from(st.st_dev).unwrap_or(i64::MAX),
                    ino: i64::try_from(st.st_ino).unwrap_or(i64::MAX),
                    size: st.st_size,
                    mtime_ns: st
                        .st_mtime
                        .saturating_mul(1_000_000_000)
                        .saturating_add(st.st_mtime_nsec),
                },
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The directory's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Open a file in it for reading; a FIFO cannot block and a link is refused.
    pub fn open_read(&self, name: &OsStr) -> io::Result<File> {
        let fd = openat(
            self.fd.as_raw_fd(),
            entry(name)?,
            libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY,
            0,
        )?;
        Ok(File::from(fd))
    }

    /// Create a new file in it (never over an existing one) for writing and reading back.
    pub fn create_new(&self, name: &OsStr, mode: u32) -> io::Result<File> {
        let fd = openat(
            self.fd.as_raw_fd(),
            entry(name)?,
            libc::O_RDWR | libc::O_CREAT | libc::O_EXCL,
            mode,
        )?;
        Ok(File::from(fd))
    }

    /// What a name in it is now (`.`: the directory itself), without following a link;
    /// `None` if it is gone.
    pub fn stat(&self, name: &OsStr) -> io::Result<Option<Stat>> {
        let opened = if name == "." {
            openat(
                self.fd.as_raw_fd(),
                name,
                libc::O_RDONLY | libc::O_DIRECTORY,
                0,
            )
            .map(File::from)
        } else {
            self.open_read(name)
        };
        match opened {
            Ok(file) => Stat::of(&file).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Rename within the directory (replacing `to` atomically).
    pub fn rename(&self, from: &OsStr, to: &OsStr) -> io::Result<()> {
        let (from, to) = (cstring(entry(from)?)?, cstring(entry(to)?)?);
        let fd = self.fd.as_raw_fd();
        // SAFETY: both names are valid NUL-terminated strings that outlive the call.
        check(unsafe { libc::renameat(fd, from.as_ptr(), fd, to.as_ptr()) }).map(drop)
    }

    /// Remove a file from it.
    pub fn remove(&self, name: &OsStr) -> io::Result<()> {
        let name = cstring(entry(name)?)?;
        // SAFETY: `name` is a valid NUL-terminated string that outlives the call.
        check(unsafe { libc::unlinkat(self.fd.as_raw_fd(), name.as_ptr(), 0) }).map(drop)
    }

    /// Write `data` as `name` atomically: a new temporary file in this directory, fsync,
    /// rename, fsync the directory.
    pub fn write_atomic(&self, name: &OsStr, data: &[u8], mode: u32) -> io::Result<()> {
        let name = entry(name)?;
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
        let Ok(names) = self.names() else {
            return 0;
        };
        let mut removed = 0;
        for name in names {
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

/// What `lstat` says about a directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// What it is.
    pub kind: FileKind,
    /// Permission bits (with set-id and sticky).
    pub mode: u32,
    /// The file system it is on.
    pub dev: u64,
    /// Size in bytes.
    pub size: u64,
    /// 512-byte blocks allocated.
    pub blocks: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Device, inode, size and modification time, as [`Stat::of`] gives them.
    pub seen: Fingerprint,
}

/// What a directory entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link.
    Link,
    /// A FIFO.
    Fifo,
    /// A socket, a device or anything else.
    Other,
}

impl FileKind {
    fn of_mode(mode: libc::mode_t) -> FileKind {
        match mode & libc::S_IFMT {
            libc::S_IFREG => FileKind::File,
            libc::S_IFDIR => FileKind::Directory,
            libc::S_IFLNK => FileKind::Link,
            libc::S_IFIFO => FileKind::Fifo,
            _ => FileKind::Other,
        }
    }

    /// In words, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            FileKind::File => "a regular file",
            FileKind::Directory => "a directory",
            FileKind::Link => "a symbolic link",
            FileKind::Fifo => "a FIFO",
            FileKind::Other => "a socket or device",
        }
    }
}

/// Open the directory `name` in `parent`, making it first if it is missing. A name that
/// another process makes meanwhile is simply opened; a link is refused either way.
fn open_or_make(parent: &OwnedFd, name: &OsStr, mode: u32) -> io::Result<OwnedFd> {
    match open_dir(parent, name) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let c = cstring(name)?;
            // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
            match check(unsafe { libc::mkdirat(parent.as_raw_fd(), c.as_ptr(), mode) }) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
            open_dir(parent, name)
        }
        other => other,
    }
}

/// Open the directory `name` in `parent`, refusing a link.
fn open_dir(parent: &OwnedFd, name: &OsStr) -> io::Result<OwnedFd> {
    openat(
        parent.as_raw_fd(),
        name,
        libc::O_RDONLY | libc::O_DIRECTORY,
        0,
    )
}

/// SQLite opens a database's `-journal`, `-wal` and `-shm` beside it without `O_NONBLOCK`:
/// a FIFO planted under one of those names would hold the opener (root, for some jobs) for
/// ever. Refuse a database with anything but a regular file (or nothing) under those names,
/// and the database itself if it is present and not a regular file.
pub fn check_database(path: &Path) -> io::Result<Companions> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    };
    let dir = match Dir::open(parent) {
        Ok(dir) => dir,
        // No directory: SQLite says so itself.
        Err(e) if e.kind() == io::ErrorKind::NotFound || !parent.is_absolute() => {
            return Ok(Companions::default());
        }
        Err(e) => return Err(e),
    };
    let mut present = [false; 4];
    for (suffix, seen) in ["", "-journal", "-wal", "-shm"].iter().zip(&mut present) {
        let mut companion = name.to_os_string();
        companion.push(suffix);
        match dir.kind(&companion)? {
            None => {}
            Some(FileKind::File) => *seen = true,
            Some(other) => {
                return Err(io::Error::other(format!(
                    "{} is {}, not a regular file; the database is not opened",
                    parent.join(&companion).display(),
                    other.describe()
                )));
            }
        }
    }
    let [_, journal, wal, shm] = present;
    Ok(Companions { journal, wal, shm })
}

/// Which of SQLite's files beside a database are there (each a regular file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Companions {
    /// `-journal`: a rollback journal.
    pub journal: bool,
    /// `-wal`: a write-ahead log.
    pub wal: bool,
    /// `-shm`: the write-ahead log's index.
    pub shm: bool,
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

/// What identifies a file's content cheaply: device, inode, size and modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    /// Device.
    pub dev: i64,
    /// Inode.
    pub ino: i64,
    /// Size in bytes.
    pub size: i64,
    /// Modification time in nanoseconds since the epoch.
    pub mtime_ns: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_with_a_slash_or_dots_is_refused_before_any_link_is_followed() {
        let root = std::env::temp_dir().join(format!("clawdbot-dir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let target = root.join("elsewhere");
        std::fs::create_dir_all(&target).unwrap();
        std::fs::write(target.join("secret"), "s").unwrap();
        let inside = root.join("dir");
        std::fs::create_dir_all(&inside).unwrap();
        // A link planted as a directory on the way: only the last component has O_NOFOLLOW.
        std::os::unix::fs::symlink(&target, inside.join("via")).unwrap();
        let dir = Dir::open(&inside).unwrap();
        let refused = |r: io::Result<()>| {
            assert_eq!(r.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        };
        refused(dir.open_read(OsStr::new("via/secret")).map(drop));
        refused(dir.create_new(OsStr::new("via/new"), 0o600).map(drop));
        refused(dir.remove(OsStr::new("via/secret")));
        refused(dir.rename(OsStr::new("via/secret"), OsStr::new("taken")));
        refused(dir.write_atomic(OsStr::new("via/new"), b"x", 0o600));
        refused(dir.child(OsStr::new("..")).map(drop));
        refused(dir.subdir(OsStr::new("via/sub"), 0o700).map(drop));
        refused(dir.lstat(OsStr::new("../elsewhere")).map(drop));
        refused(dir.create_new(OsStr::new(""), 0o600).map(drop));
        assert!(target.join("secret").exists() && !target.join("new").exists());
        // One component, and `.` for the directory itself, still work.
        assert!(dir.lstat(OsStr::new(".")).unwrap().is_some());
        let own = dir.stat(OsStr::new(".")).unwrap().unwrap();
        assert!(!own.regular && own.uid == std::fs::metadata(&inside).unwrap().uid());
        dir.write_atomic(OsStr::new("plain"), b"x", 0o600).unwrap();
        assert_eq!(std::fs::read(inside.join("plain")).unwrap(), b"x");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
