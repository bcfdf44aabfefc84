//! Finding session files: absolute glob patterns, `*` and `?` within one path component.
//! Links are never followed, so a user cannot point the root-run watchdog at another file.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use crate::platform::dir::{Dir, FileKind, Meta};

/// The regular files matching `pattern`, sorted. Unreadable directories are skipped. Each
/// directory is opened from its parent without following a link, and listed through that
/// handle, so a directory swapped for a link meanwhile leads nowhere.
pub fn glob(pattern: &str) -> Vec<PathBuf> {
    glob_stat(pattern)
        .into_iter()
        .map(|(path, _)| path)
        .collect()
}

/// [`glob`], with what `lstat` said of each file as it was found.
pub fn glob_stat(pattern: &str) -> Vec<(PathBuf, Meta)> {
    let parts: Vec<String> = Path::new(pattern)
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let mut found = Vec::new();
    if let Ok(root) = Dir::open(Path::new("/")) {
        walk(&root, &parts, &mut found);
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

fn walk(at: &Dir, parts: &[String], found: &mut Vec<(PathBuf, Meta)>) {
    let Some((part, rest)) = parts.split_first() else {
        return;
    };
    let candidates: Vec<OsString> = if part.contains(['*', '?']) {
        let Ok(names) = at.names() else {
            return;
        };
        let mut names: Vec<OsString> = names
            .into_iter()
            .filter(|name| {
                let name = name.as_bytes();
                // Like a shell, `*` does not match a hidden name.
                !name.starts_with(b".") && matches(part.as_bytes(), name)
            })
            .collect();
        names.sort();
        names
    } else {
        vec![OsString::from(part)]
    };
    for name in candidates {
        match at.lstat(&name) {
            Ok(Some(meta)) if meta.kind == FileKind::File && rest.is_empty() => {
                found.push((at.path().join(&name), meta));
            }
            Ok(Some(meta)) if meta.kind == FileKind::Directory && !rest.is_empty() => {
                if let Ok(dir) = at.child(&name) {
                    walk(&dir, rest, found);
                }
            }
            _ => {}
        }
    }
}

/// Whether a file name is a primary session transcript by OpenClaw's own rule
/// (`isPrimarySessionTranscriptFileName`, 2026.7): a `.jsonl` file that is not a trajectory
/// log (`*.trajectory.jsonl`) or a compaction checkpoint (`*.checkpoint.UUID.jsonl`). OpenClaw's
/// copies of files it could not read (`*.jsonl.corrupt-STAMP-HEX.jsonl`) are not sessions
/// either, though its rule lets them through. Archives (`.reset.`, `.deleted.`, `.bak.` with a
/// time stamp) end in the stamp, never in `.jsonl`.
pub fn is_primary_transcript(name: &[u8]) -> bool {
    let Some(stem) = name.strip_suffix(b".jsonl") else {
        return false;
    };
    !stem.is_empty()
        && !stem.ends_with(b".trajectory")
        && !is_checkpoint(stem)
        && !stem.windows(15).any(|w| w == b".jsonl.corrupt-")
}

/// `SESSION.checkpoint.UUID` (any case), the UUID of versions 1 to 5.
fn is_checkpoint(stem: &[u8]) -> bool {
    const MARK: &[u8] = b".checkpoint.";
    if stem.len() < MARK.len() + 36 + 1 {
        return false;
    }
    let (head, uuid) = stem.split_at(stem.len() - 36);
    if !head.to_ascii_lowercase().ends_with(MARK) {
        return false;
    }
    let hex = |b: &u8| b.is_ascii_hexdigit();
    uuid.iter().enumerate().all(|(i, b)| match i {
        8 | 13 | 18 | 23 => *b == b'-',
        14 => (b'1'..=b'5').contains(b),
        19 => b"89abAB".contains(b),
        _ => hex(b),
    })
}

/// Whether `name` matches `pattern` (`*` any run, `?` one byte).
pub fn matches(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == b'?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Where the SQLite store of the agent a transcript belongs to would be:
/// `agents/A/sessions/X.jsonl` → `agents/A/agent/openclaw-agent.sqlite`. An agent that has one
/// is in the SQLite era (OpenClaw 2026.8.1 on), and its transcripts are no longer read.
pub fn store_of(transcript: &Path) -> PathBuf {
    let agent = transcript
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("/"));
    agent.join("agent").join("openclaw-agent.sqlite")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_transcripts_by_openclaws_rule() {
        for name in [
            "01a24e9e-7487-7e02-a284-d63e8370cc1c.jsonl",
            "main.jsonl",
            "x.checkpoint.jsonl",
            "x.checkpoint.01a24e9e-7487-7e02-a284-d63e8370cc1c.jsonl",
        ] {
            assert!(is_primary_transcript(name.as_bytes()), "{name}");
        }
        for name in [
            "sessions.json",
            ".jsonl",
            "s.trajectory.jsonl",
            "s.checkpoint.0f0e1d2c-3b4a-4958-8776-a5b4c3d2e1f0.jsonl",
            "s.CHECKPOINT.0F0E1D2C-3B4A-4958-8776-A5B4C3D2E1F0.jsonl",
            "s.jsonl.corrupt-2026-07-01T10-00-00-000Z-1a2b3c4d.jsonl",
            "s.jsonl.reset.2026-07-01T10-00-00.000Z",
            "s.jsonl.bak-123-456",
        ] {
            assert!(!is_primary_transcript(name.as_bytes()), "{name}");
        }
    }

    #[test]
    fn wildcards() {
        assert!(matches(b"*.jsonl", b"abc.jsonl"));
        assert!(!matches(b"*.jsonl", b"abc.jsonl.lock"));
        assert!(matches(b"a?c*", b"abcdef"));
        assert!(!matches(b"a?c", b"ac"));
        assert!(matches(b"*", b""));
        assert!(matches(b"*a*b", b"xxaxxb"));
        assert!(!matches(b"*a*b", b"xxaxxbx"));
    }

    #[test]
    fn links_are_not_followed() {
        let dir = std::env::temp_dir().join(format!("clawdbot-glob-{}", std::process::id()));
        let real = dir.join("home/alice/sessions");
        std::fs::create_dir_all(&real).unwrap();
        std::fs::write(real.join("a.jsonl"), b"{}\n").unwrap();
        std::fs::create_dir_all(dir.join("elsewhere")).unwrap();
        std::fs::write(dir.join("elsewhere/secret.jsonl"), b"{}\n").unwrap();
        std::os::unix::fs::symlink(dir.join("elsewhere"), dir.join("home/bob")).unwrap();
        std::os::unix::fs::symlink(dir.join("elsewhere/secret.jsonl"), real.join("b.jsonl"))
            .unwrap();
        let pattern = format!("{}/home/*/sessions/*.jsonl", dir.display());
        let found = glob(&pattern);
        assert_eq!(found, vec![real.join("a.jsonl")]);
        let pattern = format!("{}/home/*/*.jsonl", dir.display());
        assert!(glob(&pattern).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
