//! Packages: pending updates read from apt's own lists (no network), the installed inventory
//! and its month-to-month difference, a newer kernel than the running one, and processes
//! still mapping deleted libraries.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::{Ctx, Finding, Level};

/// Compare two Debian versions as dpkg does (epoch, upstream, revision; `~` sorts first).
pub fn compare(a: &str, b: &str) -> Ordering {
    let split = |v: &str| -> (u64, String, String) {
        let (epoch, rest) = match v.split_once(':') {
            Some((e, r)) if e.bytes().all(|c| c.is_ascii_digit()) => (e.parse().unwrap_or(0), r),
            _ => (0, v),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((u, r)) => (u, r),
            None => (rest, ""),
        };
        (epoch, upstream.to_string(), revision.to_string())
    };
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| compare_part(&ua, &ub))
        .then_with(|| compare_part(&ra, &rb))
}

/// dpkg's character order: `~` before the end, the end before letters, letters before the rest.
fn order(c: u8) -> i32 {
    match c {
        b'~' => -1,
        0 => 0,
        c if c.is_ascii_digit() => 0,
        c if c.is_ascii_alphabetic() => i32::from(c),
        c => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`: alternating runs of non-digits (by [`order`]) and numbers.
fn compare_part(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let (ac, bc) = (order(at(a, i)), order(at(b, j)));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while at(a, i) == b'0' {
            i += 1;
        }
        while at(b, j) == b'0' {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while at(a, i).is_ascii_digit() && at(b, j).is_ascii_digit() {
            if first_diff == Ordering::Equal {
                first_diff = at(a, i).cmp(&at(b, j));
            }
            i += 1;
            j += 1;
        }
        if at(a, i).is_ascii_digit() {
            return Ordering::Greater;
        }
        if at(b, j).is_ascii_digit() {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

/// The stanzas of a dpkg status or Packages file: `Package`, `Version`, `Status`.
fn stanzas(text: &str) -> impl Iterator<Item = BTreeMap<&str, &str>> {
    text.split("\n\n").map(|stanza| {
        stanza
            .lines()
            .filter(|l| !l.starts_with([' ', '\t']))
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k, v.trim()))
            .collect()
    })
}

/// Installed packages and their versions, from dpkg's status file.
pub fn installed(status: &str) -> BTreeMap<String, String> {
    stanzas(status)
        .filter(|s| s.get("Status").is_some_and(|st| st.ends_with(" installed")))
        .filter_map(|s| Some((s.get("Package")?.to_string(), s.get("Version")?.to_string())))
        .collect()
}

/// An update apt would install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// The package.
    pub package: String,
    /// Installed version.
    pub from: String,
    /// The newest version in the lists.
    pub to: String,
    /// Whether that version comes from a security archive.
    pub security: bool,
}

/// Pending updates: installed packages with a newer version in one of the lists (file name,
/// text). A list whose name mentions `security` is a security archive.
pub fn updates(installed: &BTreeMap<String, String>, lists: &[(String, String)]) -> Vec<Update> {
    let mut newest: BTreeMap<&str, (&str, bool)> = BTreeMap::new();
    for (name, text) in lists {
        let security = name.contains("security");
        for s in stanzas(text) {
            let (Some(package), Some(version)) = (s.get("Package"), s.get("Version")) else {
                continue;
            };
            let entry = newest.entry(package).or_insert((version, security));
            match compare(version, entry.0) {
                Ordering::Greater => *entry = (version, security),
                Ordering::Equal => entry.1 |= security,
                Ordering::Less => {}
            }
        }
    }
    let mut out: Vec<Update> = installed
        .iter()
        .filter_map(|(package, from)| {
            let (to, security) = newest.get(package.as_str())?;
            (compare(to, from) == Ordering::Greater).then(|| Update {
                package: package.clone(),
                from: from.clone(),
                to: to.to_string(),
                security: *security,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.security
            .cmp(&a.security)
            .then_with(|| a.package.cmp(&b.package))
    });
    out
}

/// Pending apt updates, security ones first.
pub fn apt(ctx: &Ctx) -> Vec<Finding> {
    let m = &ctx.config.maint;
    let Ok(status) = std::fs::read_to_string(m.dpkg_status.path()) else {
        return vec![Finding::new(
            "apt",
            "apt",
            Level::Ok,
            "no dpkg status: not a Debian system",
        )];
    };
    let lists: Vec<(String, String)> = std::fs::read_dir(m.apt_lists.path())
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with("_Packages"))
                .filter_map(|e| {
                    let text = std::fs::read_to_string(e.path()).ok()?;
                    Some((e.file_name().to_string_lossy().into_owned(), text))
                })
                .collect()
        })
        .unwrap_or_default();
    let pending = updates(&installed(&status), &lists);
    if pending.is_empty() {
        let note = if lists.is_empty() {
            " (apt has no package lists; run apt-get update)"
        } else {
            ""
        };
        return vec![Finding::new(
            "apt",
            "apt",
            Level::Ok,
            format!("no pending updates{note}"),
        )];
    }
    let security = pending.iter().filter(|u| u.security).count();
    let level = if security > 0 { Level::Warn } else { Level::Ok };
    let details = pending
        .iter()
        .map(|u| {
            format!(
                "{}{} {} → {}",
                if u.security { "[security] " } else { "" },
                u.package,
                u.from,
                u.to
            )
        })
        .collect();
    vec![
        Finding::new(
            "apt",
            "apt",
            level,
            format!(
                "{} updates pending, {security} of them security",
                pending.len()
            ),
        )
        .details(details),
    ]
}

/// A newer kernel installed than the one running, and processes mapping deleted libraries.
pub fn restart_needed(_ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    let running = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let running = running.trim();
    let newest = std::fs::read_dir("/boot")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .strip_prefix("vmlinuz-")
                        .map(str::to_string)
                })
                .max_by(|a, b| compare(a, b))
        })
        .ok()
        .flatten();
    match newest {
        Some(newest) if newest != running && compare(&newest, running) == Ordering::Greater => {
            out.push(Finding::new(
                "restart",
                "kernel",
                Level::Warn,
                format!("kernel {newest} is installed, {running} runs: reboot to use it"),
            ));
        }
        _ => out.push(Finding::new(
            "restart",
            "kernel",
            Level::Ok,
            format!("kernel {running} is the newest installed"),
        )),
    }
    let stale = deleted_libraries();
    if stale.is_empty() {
        out.push(Finding::new(
            "restart",
            "deleted-libraries",
            Level::Ok,
            "no process maps a deleted library",
        ));
    } else {
        let details = stale
            .iter()
            .map(|(proc, libs)| format!("{proc}: {}", libs.join(", ")))
            .collect();
        out.push(
            Finding::new(
                "restart",
                "deleted-libraries",
                Level::Warn,
                format!(
                    "{} processes still use deleted libraries: restart them",
                    stale.len()
                ),
            )
            .details(details),
        );
    }
    out
}

/// Processes (`comm (pid)`) mapping a shared library that has been deleted or replaced.
fn deleted_libraries() -> Vec<(String, Vec<String>)> {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for proc in procs.filter_map(Result::ok) {
        let pid = proc.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(maps) = std::fs::read_to_string(proc.path().join("maps")) else {
            continue;
        };
        let libs = deleted_in_maps(&maps);
        if !libs.is_empty() {
            let comm = std::fs::read_to_string(proc.path().join("comm")).unwrap_or_default();
            out.push((format!("{} ({pid})", comm.trim()), libs));
        }
    }
    out
}

/// The deleted shared libraries in a /proc/PID/maps text.
pub fn deleted_in_maps(maps: &str) -> Vec<String> {
    let mut libs: Vec<String> = maps
        .lines()
        .filter_map(|l| l.strip_suffix(" (deleted)"))
        .filter_map(|l| l.split_whitespace().last())
        .filter(|path| {
            path.contains(".so") && !path.starts_with("/memfd:") && !path.starts_with("/dev/")
        })
        .map(str::to_string)
        .collect();
    libs.sort();
    libs.dedup();
    libs
}

/// The installed packages compared with last month's inventory (kept as a sample-free
/// setting by the caller): added, removed, upgraded.
pub fn inventory_diff(
    before: &BTreeMap<String, String>,
    now: &BTreeMap<String, String>,
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let added = now
        .keys()
        .filter(|p| !before.contains_key(*p))
        .cloned()
        .collect();
    let removed = before
        .keys()
        .filter(|p| !now.contains_key(*p))
        .cloned()
        .collect();
    let upgraded = now
        .iter()
        .filter_map(|(p, v)| {
            let old = before.get(p)?;
            (old != v).then(|| format!("{p} {old} → {v}"))
        })
        .collect();
    (added, removed, upgraded)
}

/// Installed packages now, for the monthly inventory.
pub fn inventory(ctx: &Ctx) -> BTreeMap<String, String> {
    std::fs::read_to_string(ctx.config.maint.dpkg_status.path())
        .map(|s| installed(&s))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_version_order() {
        let ordered = [
            "1.0~rc1",
            "1.0",
            "1.0-1",
            "1.0-1+deb12u1",
            "1.0-2",
            "1.0a",
            "1.0.1",
            "1.2",
            "1.10",
            "2:0.1",
        ];
        for pair in ordered.windows(2) {
            assert_eq!(
                compare(pair[0], pair[1]),
                Ordering::Less,
                "{} < {}",
                pair[0],
                pair[1]
            );
            assert_eq!(compare(pair[1], pair[0]), Ordering::Greater);
        }
        assert_eq!(compare("1.0-1", "1.0-1"), Ordering::Equal);
        assert_eq!(compare("0:1.0", "1.0"), Ordering::Equal);
        assert_eq!(
            compare("6.1.0-28-amd64", "6.1.0-9-amd64"),
            Ordering::Greater
        );
        assert_eq!(
            compare("2.36-9+deb12u14", "2.36-9+deb12u9"),
            Ordering::Greater
        );
    }

    #[test]
    fn maps_with_deleted_libraries() {
        let maps = "7f00-7f01 r-xp 00000000 fd:00 123 /usr/lib/x86_64-linux-gnu/libssl.so.3 (deleted)\n\
                    7f02-7f03 r-xp 00000000 fd:00 124 /usr/lib/x86_64-linux-gnu/libc.so.6\n\
                    7f04-7f05 rw-s 00000000 00:01 125 /memfd:pulse (deleted)\n\
                    7f06-7f07 r--p 00000000 fd:00 123 /usr/lib/x86_64-linux-gnu/libssl.so.3 (deleted)\n";
        assert_eq!(
            deleted_in_maps(maps),
            ["/usr/lib/x86_64-linux-gnu/libssl.so.3"]
        );
    }
}
