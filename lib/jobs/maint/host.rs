//! The host's own resources: disk and inode use per real mount, memory and swap, load per core.
//! Read from /proc and statvfs(3); the parsers take text so that fixtures can test them.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;

use super::{Ctx, Finding, Level};
use crate::platform::time::UnixTime;

/// File systems that hold no data of their own (or are images that are always full).
const PSEUDO: &[&str] = &[
    "proc",
    "sysfs",
    "devtmpfs",
    "devpts",
    "tmpfs",
    "ramfs",
    "cgroup",
    "cgroup2",
    "securityfs",
    "pstore",
    "bpf",
    "tracefs",
    "debugfs",
    "mqueue",
    "hugetlbfs",
    "fusectl",
    "configfs",
    "autofs",
    "binfmt_misc",
    "rpc_pipefs",
    "nsfs",
    "overlay",
    "squashfs",
    "efivarfs",
    "fuse.lxcfs",
    "fuse.gvfsd-fuse",
    "fuse.portal",
    "selinuxfs",
    "nfsd",
];

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// A mount from `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// `major:minor` of the device.
    pub device: String,
    /// Where it is mounted.
    pub point: String,
    /// The file system type.
    pub fstype: String,
}

/// The real mounts in a mountinfo text: pseudo file systems skipped, and each device once:
/// where its whole file system is mounted (bind mounts of a part repeat it), else at its
/// shortest mount point.
pub fn real_mounts(mountinfo: &str) -> Vec<Mount> {
    let mut mounts: Vec<(bool, Mount)> = mountinfo
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let dash = fields.iter().position(|f| *f == "-")?;
            let part = *fields.get(3)? != "/";
            let mount = Mount {
                device: fields.get(2)?.to_string(),
                point: unescape(fields.get(4)?),
                fstype: fields.get(dash + 1)?.to_string(),
            };
            Some((part, mount))
        })
        .filter(|(_, m)| !PSEUDO.contains(&m.fstype.as_str()))
        .collect();
    mounts.sort_by_key(|(part, m)| (*part, m.point.len()));
    let mut seen = BTreeSet::new();
    let mut mounts: Vec<Mount> = mounts
        .into_iter()
        .map(|(_, m)| m)
        .filter(|m| seen.insert(m.device.clone()))
        .collect();
    mounts.sort_by(|a, b| a.point.cmp(&b.point));
    mounts
}

/// mountinfo writes space, tab, newline and backslash as octal escapes.
fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Space and inodes of one file system, as df(1) counts them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// Bytes used.
    pub used: f64,
    /// Bytes available to unprivileged users.
    pub avail: f64,
    /// Percent used, as df shows it (used / (used + available), rounded up).
    pub percent: f64,
    /// Percent of inodes used (0 where the file system has no inode count).
    pub inodes: f64,
}

fn statvfs(point: &str) -> std::io::Result<Usage> {
    let path = CString::new(std::path::Path::new(point).as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: an all-zero statvfs is a valid value of this plain C struct.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid NUL-terminated string and `st` a valid out-pointer.
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let frsize = st.f_frsize as f64;
    let used = (st.f_blocks.saturating_sub(st.f_bfree)) as f64 * frsize;
    let avail = st.f_bavail as f64 * frsize;
    let percent = if used + avail > 0.0 {
        (used * 100.0 / (used + avail)).ceil()
    } else {
        0.0
    };
    let inodes = if st.f_files > 0 {
        (st.f_files.saturating_sub(st.f_ffree)) as f64 * 100.0 / st.f_files as f64
    } else {
        0.0
    };
    Ok(Usage {
        used,
        avail,
        percent,
        inodes,
    })
}

/// The level of a use percentage, with hysteresis: a warning stays until use drops below
/// `clear`.
pub fn graded(
    percent: f64,
    free_gib: f64,
    was: Level,
    m: &crate::platform::config::Maint,
) -> Level {
    if percent >= m.disk_crit && free_gib < m.disk_crit_free_gib {
        Level::Crit
    } else if percent >= m.disk_warn || (was > Level::Ok && percent >= m.disk_clear) {
        Level::Warn
    } else {
        Level::Ok
    }
}

/// When the disk fills at the rate seen since the oldest sample of the last week, if it does
/// within a week: seconds from now.
pub fn time_to_full(
    samples: &[(UnixTime, f64)],
    now: UnixTime,
    used: f64,
    avail: f64,
) -> Option<f64> {
    let (then, was) = samples
        .iter()
        .find(|(at, _)| now - at <= 7 * 86_400 && now - at >= 3600)?;
    let rate = (used - was) / (now - then) as f64;
    (rate > 0.0)
        .then(|| avail / rate)
        .filter(|s| *s < 7.0 * 86_400.0)
}

fn duration_text(secs: f64) -> String {
    match secs {
        s if s < 2.0 * 3600.0 => format!("{:.0} min", s / 60.0),
        s if s < 2.0 * 86_400.0 => format!("{:.0} h", s / 3600.0),
        s => format!("{:.0} days", s / 86_400.0),
    }
}

/// Disk and inode use per real mount.
pub fn disk(ctx: &Ctx) -> Vec<Finding> {
    let m = &ctx.config.maint;
    let mountinfo = match std::fs::read_to_string("/proc/self/mountinfo") {
        Ok(text) => text,
        Err(e) => {
            return vec![Finding::new(
                "disk",
                "disk:check",
                Level::Crit,
                format!("cannot read /proc/self/mountinfo: {e}"),
            )];
        }
    };
    let mut out = Vec::new();
    for mount in real_mounts(&mountinfo) {
        if m.disk_ignore.contains(&mount.point) {
            continue;
        }
        let key = format!("disk:{}", mount.point);
        let usage = match statvfs(&mount.point) {
            Ok(usage) => usage,
            Err(e) => {
                out.push(Finding::new(
                    "disk",
                    key,
                    Level::Warn,
                    format!("{}: statvfs failed: {e}", mount.point),
                ));
                continue;
            }
        };
        let free_gib = usage.avail / GIB;
        let mut level = graded(usage.percent, free_gib, ctx.was(&key), m);
        let mut details = Vec::new();
        let samples = ctx.samples.get(&key).map(Vec::as_slice).unwrap_or(&[]);
        if let Some(secs) = time_to_full(samples, ctx.now, usage.used, usage.avail) {
            details.push(format!(
                "at the rate of the last days it is full in {}",
                duration_text(secs)
            ));
            if secs < 86_400.0 {
                level = level.max(Level::Warn);
            }
        }
        out.push(
            Finding::new(
                "disk",
                key.clone(),
                level,
                format!(
                    "{}: {:.0}% used, {:.1} GiB free ({})",
                    mount.point, usage.percent, free_gib, mount.fstype
                ),
            )
            .details(details)
            .sample(usage.used),
        );
        let ikey = format!("inodes:{}", mount.point);
        let ilevel = graded(usage.inodes.ceil(), f64::MAX, ctx.was(&ikey), m);
        out.push(Finding::new(
            "disk",
            ikey,
            ilevel,
            format!(
                "{}: {:.0}% of inodes used",
                mount.point,
                usage.inodes.ceil()
            ),
        ));
    }
    out
}

/// Fields of /proc/meminfo in KiB.
pub fn meminfo(text: &str) -> std::collections::BTreeMap<String, u64> {
    text.lines()
        .filter_map(|line| {
            let (name, rest) = line.split_once(':')?;
            let kib = rest.split_whitespace().next()?.parse().ok()?;
            Some((name.to_string(), kib))
        })
        .collect()
}

/// Memory available and swap in use.
pub fn memory(ctx: &Ctx) -> Vec<Finding> {
    let m = &ctx.config.maint;
    let info = match std::fs::read_to_string("/proc/meminfo") {
        Ok(text) => meminfo(&text),
        Err(e) => {
            return vec![Finding::new(
                "memory",
                "memory:check",
                Level::Crit,
                format!("cannot read /proc/meminfo: {e}"),
            )];
        }
    };
    memory_findings(&info, m)
}

/// The findings for a parsed /proc/meminfo.
pub fn memory_findings(
    info: &std::collections::BTreeMap<String, u64>,
    m: &crate::platform::config::Maint,
) -> Vec<Finding> {
    let get = |k: &str| info.get(k).copied().unwrap_or(0) as f64;
    let total = get("MemTotal");
    let available = get("MemAvailable");
    let percent = if total > 0.0 {
        available * 100.0 / total
    } else {
        0.0
    };
    let level = if percent < m.memory_warn / 2.0 {
        Level::Crit
    } else if percent < m.memory_warn {
        Level::Warn
    } else {
        Level::Ok
    };
    let mut out = vec![Finding::new(
        "memory",
        "memory",
        level,
        format!(
            "{:.1} GiB of {:.1} GiB available ({percent:.0}%)",
            available / 1048576.0,
            total / 1048576.0
        ),
    )];
    let swap_total = get("SwapTotal");
    if swap_total > 0.0 {
        let used = swap_total - get("SwapFree");
        let pct = used * 100.0 / swap_total;
        let level = if pct >= m.swap_warn {
            Level::Warn
        } else {
            Level::Ok
        };
        out.push(Finding::new(
            "memory",
            "swap",
            level,
            format!("swap {pct:.0}% used ({:.1} GiB)", used / 1048576.0),
        ));
    }
    out
}

/// The 1, 5 and 15 minute load averages from /proc/loadavg.
pub fn loadavg(text: &str) -> Option<[f64; 3]> {
    let mut fields = text.split_whitespace().map(|f| f.parse::<f64>());
    Some([
        fields.next()?.ok()?,
        fields.next()?.ok()?,
        fields.next()?.ok()?,
    ])
}

/// Load per core now and over the day's samples.
pub fn load(ctx: &Ctx) -> Vec<Finding> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let Some([one, five, fifteen]) = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .as_deref()
        .and_then(loadavg)
    else {
        return vec![Finding::new(
            "load",
            "load:check",
            Level::Crit,
            "cannot read /proc/loadavg",
        )];
    };
    let per_core = fifteen / cores;
    let day: Vec<f64> = ctx
        .samples
        .get("load")
        .map(|s| {
            s.iter()
                .filter(|(at, _)| ctx.now - at <= 86_400)
                .map(|(_, v)| *v)
                .collect()
        })
        .unwrap_or_default();
    let peak = day.iter().copied().fold(per_core, f64::max);
    let warn = ctx.config.maint.load_warn;
    let level = if per_core >= 2.0 * warn {
        Level::Crit
    } else if per_core >= warn {
        Level::Warn
    } else {
        Level::Ok
    };
    let mut details = vec![format!(
        "load {one:.2} {five:.2} {fifteen:.2} on {cores:.0} cores"
    )];
    if !day.is_empty() {
        let mean = day.iter().sum::<f64>() / day.len() as f64;
        details.push(format!(
            "last 24 h: mean {mean:.2}, peak {peak:.2} per core ({} samples)",
            day.len()
        ));
    }
    vec![
        Finding::new(
            "load",
            "load",
            level,
            format!("load {per_core:.2} per core (15 min)"),
        )
        .details(details)
        .sample(per_core),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::config::Maint;

    const MOUNTINFO: &str = "\
22 1 252:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
23 22 0:21 / /proc rw,nosuid - proc proc rw
24 22 0:5 / /dev rw,nosuid - devtmpfs udev rw,size=1000k
25 22 0:22 / /run rw,nosuid - tmpfs tmpfs rw
40 22 252:16 / /srv/data\\040disk rw,relatime - xfs /dev/vdb rw
41 22 252:16 /sub /mnt/bind rw,relatime - xfs /dev/vdb rw
50 22 0:45 / /var/lib/docker/overlay2/abc/merged rw - overlay overlay rw
51 22 7:1 / /snap/core/1 ro - squashfs /dev/loop1 ro
";

    #[test]
    fn real_mounts_only_once_each() {
        let mounts = real_mounts(MOUNTINFO);
        let points: Vec<&str> = mounts.iter().map(|m| m.point.as_str()).collect();
        assert_eq!(points, ["/", "/srv/data disk"]);
        assert_eq!(mounts[1].fstype, "xfs");
    }

    #[test]
    fn hysteresis() {
        let m = Maint::default();
        assert_eq!(graded(85.0, 100.0, Level::Ok, &m), Level::Ok);
        assert_eq!(graded(90.0, 100.0, Level::Ok, &m), Level::Warn);
        assert_eq!(
            graded(85.0, 100.0, Level::Warn, &m),
            Level::Warn,
            "stays until below 80"
        );
        assert_eq!(graded(79.0, 100.0, Level::Warn, &m), Level::Ok);
        assert_eq!(
            graded(99.0, 100.0, Level::Ok, &m),
            Level::Warn,
            "98% of a big disk leaves room"
        );
        assert_eq!(graded(99.0, 4.0, Level::Ok, &m), Level::Crit);
    }

    #[test]
    fn fill_rate() {
        let now = 1_000_000;
        let day = 86_400;
        // 10 GiB used a day ago, 20 GiB now, 5 GiB left: full in half a day.
        let samples = [(now - day, 10.0 * GIB)];
        let secs = time_to_full(&samples, now, 20.0 * GIB, 5.0 * GIB).unwrap();
        assert!((secs - 43_200.0).abs() < 1.0, "{secs}");
        assert_eq!(
            time_to_full(&samples, now, 9.0 * GIB, 5.0 * GIB),
            None,
            "shrinking"
        );
        assert_eq!(time_to_full(&[], now, 9.0 * GIB, 5.0 * GIB), None);
    }

    #[test]
    fn memory_thresholds() {
        let text = "MemTotal:       16000000 kB\nMemFree:  100 kB\nMemAvailable:    1200000 kB\nSwapTotal: 1000000 kB\nSwapFree: 400000 kB\n";
        let findings = memory_findings(&meminfo(text), &Maint::default());
        assert_eq!(findings[0].level, Level::Warn, "{:?}", findings[0]);
        assert_eq!(findings[1].level, Level::Warn, "60% swap used");
        let text = "MemTotal: 16000000 kB\nMemAvailable: 400000 kB\n";
        assert_eq!(
            memory_findings(&meminfo(text), &Maint::default())[0].level,
            Level::Crit
        );
    }

    #[test]
    fn loadavg_parse() {
        assert_eq!(
            loadavg("0.52 0.58 0.59 1/467 12345\n"),
            Some([0.52, 0.58, 0.59])
        );
        assert_eq!(loadavg("garbage"), None);
    }
}
