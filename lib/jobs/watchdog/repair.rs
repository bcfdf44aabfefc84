//! Backing up and rewriting one session file. The backup is a byte copy of the open file; the
//! repaired file is written beside the original under a temporary name, synced, given the
//! original's owner, group and mode, and renamed over it, so a crash leaves either the original
//! or the repaired file, never a part of one.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::transcript::{Findings, Piece};
use crate::platform::dir::{self, Dir, Stat};
use crate::platform::failpoint;

const CHUNK: usize = 1 << 20;

/// Copy bytes `start..end` of `from` to `to`.
fn copy_range(from: &File, start: u64, end: u64, to: &mut File) -> io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    let mut at = start;
    while at < end {
        let want = usize::try_from(end - at).unwrap_or(CHUNK).min(CHUNK);
        let n = from.read_at(&mut buf[..want], at)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was copied",
            ));
        }
        to.write_all(&buf[..n])?;
        at += n as u64;
    }
    Ok(())
}

/// Copy the whole of `file` (`size` bytes) into a new backup file `BACKUPS/AGENT/SESSION.STAMP`
/// (with `-N` if that is taken; mode 0600, never over an existing file), synced with its
/// directory; returns its path. The backup directory lies in the state directory, which the
/// unprivileged user owns: every directory on the way is opened, or made, without following a
/// link, so a link planted there makes the backup fail rather than land elsewhere.
pub fn backup(
    file: &File,
    size: u64,
    backups: &Path,
    agent: &str,
    session: &OsStr,
    stamp: &str,
) -> io::Result<PathBuf> {
    let agent = match agent {
        "" | "." | ".." => "unknown",
        name => name,
    };
    let dir = Dir::create_all(backups, 0o700)?.subdir(OsStr::new(agent), 0o700)?;
    let mut name = session.to_os_string();
    name.push(format!(".{stamp}"));
    let mut n = 0;
    let (name, mut out) = loop {
        let mut candidate = name.clone();
        if n > 0 {
            candidate.push(format!("-{n}"));
        }
        match dir.create_new(&candidate, 0o600) {
            Ok(out) => break (candidate, out),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
            Err(e) => return Err(e),
        }
    };
    let copied = copy_range(file, 0, size, &mut out).and_then(|()| out.sync_all());
    if let Err(e) = copied {
        let _ = dir.remove(&name);
        return Err(e);
    }
    dir.sync()?;
    Ok(dir.path().join(name))
}

/// The temporary name of a repair in progress.
pub fn temp_name(session: &OsStr) -> OsString {
    let mut name = OsString::from(".");
    name.push(session);
    name.push(".clawdbot-repair");
    name
}

/// Write the repaired file under the temporary name and rename it over `session`, if the
/// original is still the file that was scanned (`was`); returns false when it changed
/// meanwhile, and the original is left as it is.
pub fn rewrite(
    dir: &Dir,
    session: &OsStr,
    file: &File,
    was: &Stat,
    findings: &Findings,
) -> io::Result<bool> {
    let Some(cut) = findings.cut else {
        return Ok(true);
    };
    let temp = temp_name(session);
    match dir.remove(&temp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let renamed = write_repaired(dir, &temp, file, was, cut, &findings.keep).and_then(|()| {
        failpoint::hit("watchdog::before-rename");
        if dir.stat(session)?.map(|s| s.seen) != Some(was.seen) {
            return Ok(false);
        }
        dir.rename(&temp, session).map(|()| true)
    });
    if !matches!(renamed, Ok(true)) {
        let _ = dir.remove(&temp);
    }
    let renamed = renamed?;
    dir.sync()?;
    Ok(renamed)
}

fn write_repaired(
    dir: &Dir,
    temp: &OsStr,
    file: &File,
    was: &Stat,
    cut: u64,
    keep: &[Piece],
) -> io::Result<()> {
    let mut out = dir.create_new(temp, 0o600)?;
    copy_range(file, 0, cut, &mut out)?;
    for piece in keep {
        match piece {
            Piece::Copy(start, end) => copy_range(file, *start, *end, &mut out)?,
            Piece::Bytes(bytes) => out.write_all(bytes)?,
        }
    }
    dir::copy_owner(&out, was)?;
    out.sync_all()
}
