//! What a unit gives its service: the user it runs as and the credentials it loads, read from
//! the unit file and its drop-ins as systemd merges them. `clawdbot doctor` runs as root and
//! could read `/etc/credstore` whatever the units load; the services run as `clawdbot` and have
//! only what their unit's `LoadCredential=` gives them.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Where systemd finds unit files and drop-ins, the most important first.
pub const UNIT_DIRS: [&str; 3] = [
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/lib/systemd/system",
];

/// A unit, as far as its service's user and credentials go.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Unit {
    /// `User=`; `None` is root.
    pub user: Option<String>,
    /// `Group=`; `None` is the user's own group.
    pub group: Option<String>,
    /// `SupplementaryGroups=`, besides those the user's entry in the group database gives.
    pub supplementary: Vec<String>,
    /// `LoadCredential=ID:SOURCE`, as written, in order.
    pub loads: Vec<(String, String)>,
}

/// Where systemd looks for a credential given by name rather than path.
const CREDSTORES: [&str; 3] = ["/etc/credstore", "/run/credstore", "/usr/lib/credstore"];

/// Where a unit takes a credential from.
#[derive(Debug, PartialEq, Eq)]
pub struct Source {
    /// The files systemd tries, in order.
    pub paths: Vec<PathBuf>,
    /// Whether a missing file is skipped (a name systemd looks up in `/etc/credstore`) rather
    /// than failing the unit's start (an absolute path).
    pub optional: bool,
}

impl Unit {
    /// Where the unit loads the credential `id` from, if it loads it at all. A directory
    /// source (`calendar:/etc/credstore/clawdbot.calendar`) gives `ID_FILE` for each file.
    pub fn source(&self, id: &str) -> Option<Source> {
        self.loads.iter().rev().find_map(|(loaded, source)| {
            let paths: Vec<PathBuf> = if source.starts_with('/') {
                vec![PathBuf::from(source)]
            } else {
                CREDSTORES
                    .iter()
                    .map(|d| Path::new(d).join(source))
                    .collect()
            };
            let optional = !source.starts_with('/');
            if loaded == id {
                return Some(Source { paths, optional });
            }
            let file = id.strip_prefix(loaded.as_str())?.strip_prefix('_')?;
            (!file.is_empty() && !file.contains('/')).then(|| Source {
                paths: paths.iter().map(|p| p.join(file)).collect(),
                optional: true,
            })
        })
    }
}

/// Read `name` from the first of `dirs` that has it, then its drop-ins (`NAME.d/*.conf` in
/// every directory, in file-name order; a name in a more important directory hides the same
/// name in a less important one). `None` when no directory has the unit (not installed) or
/// the first that has it masks it (a link to /dev/null, or an empty file).
pub fn read(dirs: &[&Path], name: &str) -> Option<Unit> {
    let main = dirs
        .iter()
        .map(|d| d.join(name))
        .find(|p| std::fs::symlink_metadata(p).is_ok())?;
    let masked = std::fs::read_link(&main).is_ok_and(|target| target == Path::new("/dev/null"))
        || std::fs::metadata(&main).map_or(true, |m| !m.is_file() || m.len() == 0);
    if masked {
        return None;
    }
    let mut drop_ins: BTreeMap<OsString, PathBuf> = BTreeMap::new();
    for dir in dirs.iter().rev() {
        let Ok(entries) = std::fs::read_dir(dir.join(format!("{name}.d"))) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().ends_with(".conf") {
                drop_ins.insert(entry.file_name(), entry.path());
            }
        }
    }
    let mut unit = Unit::default();
    for file in std::iter::once(main).chain(drop_ins.into_values()) {
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        let mut section = String::new();
        for line in String::from_utf8_lossy(&bytes).lines().map(str::trim) {
            if line.starts_with('[') {
                section = line.to_string();
                continue;
            }
            // As systemd reads an assignment: split at the first =, both sides trimmed.
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            match (section.as_str(), key.trim(), value.trim()) {
                ("[Service]", "User", user) => {
                    unit.user = Some(user.to_string()).filter(|u| !u.is_empty());
                }
                ("[Service]", "Group", group) => {
                    unit.group = Some(group.to_string()).filter(|g| !g.is_empty());
                }
                ("[Service]", "SupplementaryGroups", "") => unit.supplementary.clear(),
                ("[Service]", "SupplementaryGroups", groups) => {
                    unit.supplementary
                        .extend(groups.split_whitespace().map(str::to_string));
                }
                // An empty assignment resets the list, as in systemd.
                ("[Service]", "LoadCredential", "") => unit.loads.clear(),
                ("[Service]", "LoadCredential", load) => {
                    let (id, source) = load.split_once(':').unwrap_or((load, load));
                    unit.loads.push((id.to_string(), source.to_string()));
                }
                _ => {}
            }
        }
    }
    Some(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(tag: &str, files: &[(&str, &str)]) -> PathBuf {
        let root =
            std::env::temp_dir().join(format!("clawdbot-units-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (path, text) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        root
    }

    #[test]
    fn drop_ins_add_credentials_and_an_empty_assignment_resets_them() {
        let root = tree(
            "merge",
            &[
                (
                    "lib/b.service",
                    "[Service]\nUser=clawdbot\nLoadCredential=bridge-secret:/etc/credstore/clawdbot.bridge-secret\n",
                ),
                (
                    "lib/b.service.d/10-smtp.conf",
                    "[Service]\nLoadCredential=smtp-password:clawdbot.smtp-password\nGroup=mail\nSupplementaryGroups=a b\n",
                ),
                (
                    "etc/b.service.d/20-reset.conf",
                    "[Service]\nLoadCredential =\nLoadCredential = other:/srv/o\nSupplementaryGroups=\nSupplementaryGroups=c\n[Unit]\nLoadCredential=not:/a/service/key\n",
                ),
                (
                    "etc/b.service.d/ignored.txt",
                    "[Service]\nLoadCredential=x:/x\n",
                ),
            ],
        );
        let (etc, lib) = (root.join("etc"), root.join("lib"));
        let unit = read(&[&etc, &lib], "b.service").unwrap();
        assert_eq!(unit.user.as_deref(), Some("clawdbot"));
        assert_eq!(unit.loads, [("other".to_string(), "/srv/o".to_string())]);
        assert_eq!(unit.group.as_deref(), Some("mail"));
        assert_eq!(unit.supplementary, ["c"]);
        assert!(read(&[&etc, &lib], "missing.service").is_none());
        // Masked in /etc: not there at all.
        std::os::unix::fs::symlink("/dev/null", etc.join("b.service")).unwrap();
        assert!(read(&[&etc, &lib], "b.service").is_none());
    }

    #[test]
    fn a_source_is_a_path_a_name_in_the_credstore_or_a_file_of_a_directory() {
        let unit = Unit {
            loads: vec![
                ("secret".into(), "/etc/credstore/clawdbot.secret".into()),
                ("token".into(), "clawdbot.token".into()),
                ("calendar".into(), "/etc/credstore/clawdbot.calendar".into()),
            ],
            ..Unit::default()
        };
        let at = |p: &str, optional| {
            Some(Source {
                paths: vec![PathBuf::from(p)],
                optional,
            })
        };
        assert_eq!(
            unit.source("secret"),
            at("/etc/credstore/clawdbot.secret", false)
        );
        assert_eq!(
            unit.source("token").unwrap().paths,
            [
                "/etc/credstore/clawdbot.token",
                "/run/credstore/clawdbot.token",
                "/usr/lib/credstore/clawdbot.token"
            ]
            .map(PathBuf::from)
        );
        assert_eq!(
            unit.source("calendar_home.json"),
            at("/etc/credstore/clawdbot.calendar/home.json", true)
        );
        assert_eq!(unit.source("smtp-password"), None);
        assert_eq!(unit.source("calendar_"), None);
    }
}
