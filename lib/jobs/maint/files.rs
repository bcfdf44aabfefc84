//! Files: stale files in configured directories, the journal's size, and where the space of
//! configured roots goes. Walks never follow links and never leave the root's file system.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::{Ctx, Finding, Level};
use crate::platform::command;
use crate::platform::dir::{Dir, FileKind, Meta};

/// How deep a walk goes: deeper directories are left out (and their descriptors not held).
const MAX_DEPTH: usize = 64;

/// Call `visit` for every entry under `root` (files, directories, links themselves), with its
/// metadata, never following a link or crossing into another file system. Each directory is
/// opened from its parent and listed through its handle (`lib/platform/dir.rs`), so a directory a user
/// swaps for a link meanwhile leads nowhere.
pub fn walk(root: &Path, visit: &mut dyn FnMut(&Path, &Meta)) {
    let Ok(top) = Dir::open(root) else {
        return;
    };
    let Ok(Some(meta)) = top.lstat(OsStr::new(".")) else {
        return;
    };
    walk_dir(&top, meta.dev, 0, visit);
}

fn walk_dir(dir: &Dir, device: u64, depth: usize, visit: &mut dyn FnMut(&Path, &Meta)) {
    let Ok(names) = dir.names() else {
        return;
    };
    for name in names {
        let Ok(Some(meta)) = dir.lstat(&name) else {
            continue;
        };
        if meta.dev != device {
            continue;
        }
        visit(&dir.path().join(&name), &meta);
        if meta.kind == FileKind::Directory
            && depth < MAX_DEPTH
            && let Ok(child) = dir.child(&name)
        {
            walk_dir(&child, device, depth + 1, visit);
        }
    }
}

/// Old files in each `[[maint.stale]]` directory; removed where `remove = true`.
pub fn stale(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for dir in &ctx.config.maint.stale {
        let root = dir.path.path();
        let limit = dir.age.as_secs();
        let mut old: Vec<(PathBuf, u64)> = Vec::new();
        walk(root, &mut |path, meta| {
            if meta.kind == FileKind::File && ctx.now - meta.mtime > limit {
                old.push((path.to_path_buf(), meta.size));
            }
        });
        let bytes: u64 = old.iter().map(|(_, n)| n).sum();
        let remove = dir.remove && !ctx.dry_run;
        let mut failed = Vec::new();
        if remove {
            for (path, _) in &old {
                if let Err(e) = remove_unfollowed(path) {
                    failed.push(format!("{}: {e}", path.display()));
                }
            }
        }
        let what = match (dir.remove, ctx.dry_run) {
            (true, false) => "removed",
            (true, true) => "would remove",
            (false, _) => "found",
        };
        let level = if failed.is_empty() {
            Level::Ok
        } else {
            Level::Warn
        };
        let mut details: Vec<String> = old
            .iter()
            .take(20)
            .map(|(p, n)| format!("{} ({n} bytes)", p.display()))
            .collect();
        if old.len() > 20 {
            details.push(format!("… and {} more", old.len() - 20));
        }
        details.extend(failed);
        out.push(
            Finding::new(
                "stale",
                format!("stale:{}", root.display()),
                level,
                format!(
                    "{}: {what} {} file(s) older than {} days ({:.1} MB)",
                    root.display(),
                    old.len(),
                    limit / 86_400,
                    bytes as f64 / 1e6
                ),
            )
            .details(details),
        );
    }
    out
}

/// Remove a file through its directory opened without following links: whoever may write
/// in a stale directory cannot swap a link in between the walk and root's removal.
fn remove_unfollowed(path: &Path) -> std::io::Result<()> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
    };
    crate::platform::dir::Dir::open(parent)?.remove(name)
}

/// A size as journalctl prints it (`1.2G`, `512.0M`, `8.0K`, `0B`; binary units).
pub fn parse_binary_size(text: &str) -> Option<f64> {
    let text = text.trim().trim_end_matches('B');
    let (number, unit) = match text.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&text[..i], c),
        _ => (text, ' '),
    };
    let scale = match unit {
        'K' => 1024.0,
        'M' => 1024.0 * 1024.0,
        'G' => 1024.0 * 1024.0 * 1024.0,
        'T' => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => 1.0,
    };
    number.trim().parse::<f64>().ok().map(|n| n * scale)
}

/// The journal's use on disk.
pub fn journal(ctx: &Ctx) -> Vec<Finding> {
    let argv = ["journalctl", "--disk-usage", "--no-pager"]
        .map(String::from)
        .to_vec();
    let Ok(text) = command::capture(&argv, ctx.config.maint.check_timeout.get(), 4096) else {
        return Vec::new();
    };
    // "Archived and active journals take up 1.2G in the file system."
    let Some(bytes) = text
        .split_whitespace()
        .skip_while(|w| *w != "up")
        .nth(1)
        .and_then(parse_binary_size)
    else {
        return vec![Finding::new(
            "logs",
            "logs:journal",
            Level::Warn,
            format!("cannot read the journal's use: {}", text.trim()),
        )];
    };
    let gib = bytes / (1u64 << 30) as f64;
    let limit = ctx.config.maint.journal_max_gib;
    let level = if gib > limit { Level::Warn } else { Level::Ok };
    vec![Finding::new(
        "logs",
        "logs:journal",
        level,
        format!(
            "the journal takes {gib:.2} GiB (limit {limit} GiB; SystemMaxUse= in journald.conf)"
        ),
    )]
}

/// The largest directories directly under each configured root.
pub fn breakdown(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for root in &ctx.config.maint.breakdown {
        let Ok(root) = Dir::open(root.path()) else {
            continue;
        };
        let (Ok(names), Ok(Some(top))) = (root.names(), root.lstat(OsStr::new("."))) else {
            continue;
        };
        let mut sizes: Vec<(u64, PathBuf)> = names
            .iter()
            .filter(|name| root.kind(name).ok().flatten() == Some(FileKind::Directory))
            .filter_map(|name| root.child(name).ok())
            .map(|dir| {
                let mut total = 0;
                walk_dir(&dir, top.dev, 0, &mut |_, meta| {
                    if meta.kind == FileKind::File {
                        total += meta.blocks * 512;
                    }
                });
                (total, dir.path().to_path_buf())
            })
            .collect();
        sizes.sort_by_key(|s| std::cmp::Reverse(s.0));
        let total: u64 = sizes.iter().map(|(n, _)| n).sum();
        let details = sizes
            .iter()
            .take(10)
            .map(|(n, p)| {
                format!(
                    "{:>8.1} GiB  {}",
                    *n as f64 / (1u64 << 30) as f64,
                    p.display()
                )
            })
            .collect();
        out.push(
            Finding::new(
                "breakdown",
                format!("breakdown:{}", root.path().display()),
                Level::Ok,
                format!(
                    "{}: {:.1} GiB in its directories",
                    root.path().display(),
                    total as f64 / (1u64 << 30) as f64
                ),
            )
            .details(details),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_sizes() {
        assert_eq!(parse_binary_size("1.5G"), Some(1.5 * 1073741824.0));
        assert_eq!(parse_binary_size("8.0K"), Some(8192.0));
        assert_eq!(parse_binary_size("0B"), Some(0.0));
        assert_eq!(parse_binary_size("lots"), None);
    }
}
