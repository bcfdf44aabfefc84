//! Finding session files: absolute glob patterns, `*` and `?` within one path component.
//! Links are never followed, so a user cannot point the root-run watchdog at another file.

use std::path::{Component, Path, PathBuf};

/// The regular files matching `pattern`, sorted. Unreadable directories are skipped.
pub fn glob(pattern: &str) -> Vec<PathBuf> {
    let parts: Vec<String> = Path::new(pattern)
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let mut found = Vec::new();
    walk(PathBuf::from("/"), &parts, &mut found);
    found.sort();
    found
}

fn walk(at: PathBuf, parts: &[String], found: &mut Vec<PathBuf>) {
    let Some((part, rest)) = parts.split_first() else {
        return;
    };
    let candidates: Vec<PathBuf> = if part.contains(['*', '?']) {
        let Ok(entries) = std::fs::read_dir(&at) else {
            return;
        };
        let mut names: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                // Like a shell, `*` does not match a hidden name.
                !name.starts_with('.') && matches(part.as_bytes(), name.as_bytes())
            })
            .map(|e| e.path())
            .collect();
        names.sort();
        names
    } else {
        vec![at.join(part)]
    };
    for path in candidates {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if rest.is_empty() {
            if meta.file_type().is_file() {
                found.push(path);
            }
        } else if meta.file_type().is_dir() {
            walk(path, rest, found);
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
