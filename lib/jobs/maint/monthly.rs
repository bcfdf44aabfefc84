//! The monthly tier's own checks: SQLite care, security posture, the package inventory's
//! difference from last month, and the uptime and load summary.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::packages;
use super::{Ctx, Finding, Level};
use crate::core::store::Store;
use crate::platform::command;
use crate::platform::dir::FileKind;

/// Setting holding last month's package inventory.
const INVENTORY: &str = "maint.inventory";

/// `quick_check`, `optimize`, and `VACUUM` when a quarter of the file is free pages (over
/// 1 MB) and the disk has room for the copy, for the suite's database and configured ones.
pub fn sqlite(ctx: &Ctx) -> Vec<Finding> {
    let mut paths = vec![ctx.config.paths.database()];
    paths.extend(
        ctx.config
            .maint
            .databases
            .iter()
            .map(|p| p.path().to_path_buf()),
    );
    paths.iter().map(|p| care(ctx, p)).collect()
}

fn care(ctx: &Ctx, path: &Path) -> Finding {
    let key = format!("sqlite:{}", path.display());
    let before = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if let Err(e) = crate::platform::dir::check_database(path) {
        return Finding::new("sqlite", key, Level::Warn, e.to_string());
    }
    let result = (|| -> rusqlite::Result<(String, Vec<String>)> {
        // The state directory is the unprivileged user's: a link in a database's place is
        // not followed (SQLite opens its journal and WAL without following links too).
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NOFOLLOW,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        let check: Vec<String> = conn
            .prepare("PRAGMA quick_check")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut done = Vec::new();
        if check != ["ok"] || ctx.dry_run {
            return Ok((check.join("; "), done));
        }
        conn.execute_batch("PRAGMA optimize")?;
        done.push("optimized".to_string());
        let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        let free_bytes = (free * page) as u64;
        let room = free_space(path).is_some_and(|avail| avail > 2 * before);
        if free_bytes > 1 << 20 && free_bytes * 4 > before && room {
            conn.execute_batch("VACUUM")?;
            done.push(format!(
                "vacuumed ({:.1} MB of free pages)",
                free_bytes as f64 / 1e6
            ));
        }
        Ok(("ok".into(), done))
    })();
    let after = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    match result {
        Ok((check, done)) if check == "ok" => Finding::new(
            "sqlite",
            key,
            Level::Ok,
            format!(
                "{}: quick_check ok, {:.1} MB → {:.1} MB{}",
                path.display(),
                before as f64 / 1e6,
                after as f64 / 1e6,
                if done.is_empty() {
                    String::new()
                } else {
                    format!(", {}", done.join(", "))
                }
            ),
        ),
        Ok((check, _)) => Finding::new(
            "sqlite",
            key,
            Level::Crit,
            format!("{}: quick_check: {check}", path.display()),
        ),
        Err(e) => Finding::new(
            "sqlite",
            key,
            Level::Crit,
            format!("{}: {e}", path.display()),
        ),
    }
}

fn free_space(path: &Path) -> Option<u64> {
    let out = command::capture(
        &[
            "df".to_string(),
            "--output=avail".into(),
            "-B1".into(),
            path.display().to_string(),
        ],
        std::time::Duration::from_secs(10),
        4096,
    )
    .ok()?;
    out.lines().nth(1)?.trim().parse().ok()
}

/// sshd's effective settings, world-writable files in /etc, the suite's own unit exposure,
/// and failed logins over the last 30 days.
pub fn security(ctx: &Ctx) -> Vec<Finding> {
    let limit = ctx.config.maint.check_timeout.get();
    let mut out = Vec::new();
    let sshd = ["sshd", "-T"].map(String::from).to_vec();
    if let Ok(text) = command::capture(&sshd, limit, 1 << 20) {
        out.push(sshd_finding(&text));
    }
    let writable = world_writable(Path::new("/etc"));
    out.push(
        Finding::new(
            "security",
            "security:etc",
            if writable.is_empty() {
                Level::Ok
            } else {
                Level::Crit
            },
            format!("{} world-writable file(s) under /etc", writable.len()),
        )
        .details(writable.iter().map(|p| p.display().to_string()).collect()),
    );
    out.extend(exposure(limit));
    let journal = [
        "journalctl",
        "--since=-30d",
        "-q",
        "--no-pager",
        "-o",
        "cat",
        "-g",
        "Failed password|Invalid user|authentication failure",
    ]
    .map(String::from)
    .to_vec();
    if let Ok(text) = command::capture(&journal, limit, 64 << 20) {
        let count = text.lines().count();
        out.push(Finding::new(
            "security",
            "security:logins",
            Level::Ok,
            format!("{count} failed logins in the last 30 days"),
        ));
    }
    out
}

/// Judge `sshd -T` output.
pub fn sshd_finding(text: &str) -> Finding {
    let setting = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or("?")
            .trim()
            .to_string()
    };
    let password = setting("passwordauthentication");
    let root = setting("permitrootlogin");
    let level = if root == "yes" || password == "yes" {
        Level::Warn
    } else {
        Level::Ok
    };
    Finding::new(
        "security",
        "security:sshd",
        level,
        format!("sshd: PasswordAuthentication {password}, PermitRootLogin {root}"),
    )
}

/// World-writable files and directories (sticky directories such as /tmp aside).
fn world_writable(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    super::files::walk(root, &mut |path, meta| {
        let sticky_dir = meta.kind == FileKind::Directory && meta.mode & 0o1000 != 0;
        if meta.mode & 0o002 != 0 && meta.kind != FileKind::Link && !sticky_dir {
            found.push(path.to_path_buf());
        }
    });
    found.sort();
    found
}

/// `systemd-analyze security --offline=yes` of the suite's installed services.
fn exposure(limit: std::time::Duration) -> Vec<Finding> {
    let units: Vec<String> = std::fs::read_dir("/usr/lib/systemd/system")
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    let name = p
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    name.starts_with("clawdbot")
                        && name.ends_with(".service")
                        && !name.contains('@')
                })
                .map(|p| p.display().to_string())
                .collect()
        })
        .unwrap_or_default();
    units
        .iter()
        .filter_map(|unit| {
            let argv = [
                "systemd-analyze",
                "security",
                "--offline=yes",
                unit.as_str(),
            ]
            .map(String::from)
            .to_vec();
            let text = command::capture(&argv, limit, 1 << 20).ok()?;
            let line = text
                .lines()
                .find(|l| l.contains("Overall exposure level"))?;
            let score: f64 = line
                .split(": ")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            let name = Path::new(unit).file_name()?.to_string_lossy().into_owned();
            let level = if score > 5.0 { Level::Warn } else { Level::Ok };
            Some(Finding::new(
                "security",
                format!("security:{name}"),
                level,
                format!("{name}: exposure {score:.1}"),
            ))
        })
        .collect()
}

/// The installed packages against last month's inventory.
pub fn packages(ctx: &Ctx) -> Vec<Finding> {
    let now = packages::inventory(ctx);
    if now.is_empty() {
        return Vec::new();
    }
    let result = (|| -> Result<Finding, crate::core::store::StoreError> {
        let mut store = Store::open(&ctx.config.paths.database())?;
        let before: Option<BTreeMap<String, String>> = store
            .write(|tx| tx.setting(INVENTORY))?
            .and_then(|t| serde_json::from_str(&t).ok());
        if !ctx.dry_run {
            let text = serde_json::to_string(&now).unwrap_or_default();
            store.write(|tx| tx.set_setting(INVENTORY, Some(&text)))?;
        }
        let Some(before) = before else {
            return Ok(Finding::new(
                "packages",
                "packages",
                Level::Ok,
                format!("{} packages installed; the first inventory", now.len()),
            ));
        };
        let (added, removed, upgraded) = packages::inventory_diff(&before, &now);
        let mut details: Vec<String> = added.iter().map(|p| format!("added {p}")).collect();
        details.extend(removed.iter().map(|p| format!("removed {p}")));
        details.extend(upgraded.iter().map(|p| format!("upgraded {p}")));
        Ok(Finding::new(
            "packages",
            "packages",
            Level::Ok,
            format!(
                "{} packages: {} added, {} removed, {} upgraded since last month",
                now.len(),
                added.len(),
                removed.len(),
                upgraded.len()
            ),
        )
        .details(details))
    })();
    vec![result.unwrap_or_else(|e| {
        Finding::new(
            "packages",
            "packages",
            Level::Warn,
            format!("cannot keep the inventory: {e}"),
        )
    })]
}

/// Uptime, and load per core over the month's samples.
pub fn uptime(ctx: &Ctx) -> Vec<Finding> {
    let secs: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let month: Vec<f64> = ctx
        .samples
        .get("load")
        .map(|s| s.iter().map(|(_, v)| *v).collect())
        .unwrap_or_default();
    let load = if month.is_empty() {
        "no load samples yet".to_string()
    } else {
        let mean = month.iter().sum::<f64>() / month.len() as f64;
        let peak = month.iter().copied().fold(0.0, f64::max);
        format!(
            "load per core over {} daily samples: mean {mean:.2}, peak {peak:.2}",
            month.len()
        )
    };
    let booted = std::fs::metadata("/proc/1").map(|m| m.mtime()).unwrap_or(0);
    vec![
        Finding::new(
            "uptime",
            "uptime",
            Level::Ok,
            format!("up {:.1} days; {load}", secs / 86_400.0),
        )
        .details(vec![format!(
            "PID 1 started at {}",
            crate::platform::time::rfc3339(booted)
        )]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn sshd_settings() {
        let good = "port 22\npasswordauthentication no\npermitrootlogin prohibit-password\n";
        assert_eq!(sshd_finding(good).level, Level::Ok);
        let bad = "passwordauthentication yes\npermitrootlogin without-password\n";
        assert_eq!(sshd_finding(bad).level, Level::Warn);
        let worse = "passwordauthentication no\npermitrootlogin yes\n";
        assert_eq!(sshd_finding(worse).level, Level::Warn);
    }

    #[test]
    fn world_writable_files() {
        let dir = std::env::temp_dir().join(format!("clawdbot-ww-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("ok.conf"), "").unwrap();
        std::fs::write(dir.join("sub/bad.conf"), "").unwrap();
        std::fs::set_permissions(
            dir.join("sub/bad.conf"),
            std::fs::Permissions::from_mode(0o666),
        )
        .unwrap();
        std::fs::create_dir(dir.join("tmp")).unwrap();
        std::fs::set_permissions(dir.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert_eq!(world_writable(&dir), [dir.join("sub/bad.conf")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
