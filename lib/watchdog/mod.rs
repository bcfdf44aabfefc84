//! The session watchdog (DESIGN.md section 9): one pass scans the tail of every agent session
//! file, backs up and repairs the corrupted ones, and restarts the gateway once if it repaired
//! any. Files unchanged since they were last found healthy are not read at all.

pub mod discover;
pub mod lock;
mod repair;
mod report;
pub mod tail;

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::atomic::{self, FileError};
use crate::command;
use crate::config::Config;
use crate::dir::{Dir, FileKind, Stat};
use crate::exit::{Exit, ExitStatus};
use crate::failpoint;
use crate::journal;
use crate::mail;
use crate::store::{Fingerprint, Store, StoreError};
use crate::time::{self, UnixTime};
use lock::Lock;
pub use report::{
    DatabaseReport, FileReport, Found, PassReport, RestartReport, Verdict, describe, summary,
};
use report::{incident_subject, incident_text};
use tail::{Action, Findings, Kind, Problem, Scan};

/// The furthest back a scan reads looking for a line boundary or a tool call.
const SCAN_MAX: u64 = 64 << 20;

/// Settings keys of the watchdog's own state.
const RESTART_PENDING: &str = "watchdog.restart_pending";
const INCIDENT_OPEN: &str = "watchdog.incident_open";
/// When the last pass finished, for the maintenance health check.
pub const LAST_PASS: &str = "watchdog.last_pass";

/// Why a pass could not run.
#[derive(Debug, thiserror::Error)]
pub enum WatchdogError {
    /// The state database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A state file or directory could not be used.
    #[error(transparent)]
    File(#[from] FileError),
}

impl ExitStatus for WatchdogError {
    fn exit(&self) -> Exit {
        match self {
            WatchdogError::Store(e) => e.exit(),
            WatchdogError::File(_) => Exit::TempFail,
        }
    }
}

/// One pass over every session file. `dry_run` reads and reports, and changes nothing (not
/// even the watchdog's own memory of healthy files).
pub fn run(config: &Config, dry_run: bool) -> Result<PassReport, WatchdogError> {
    if !dry_run {
        config.has_operator("session files are repaired, but no incident is mailed");
    }
    let paths = &config.paths;
    let state = paths.state_dir.path();
    Dir::create_all(state, 0o750).map_err(|e| FileError::new("cannot open", state, e))?;
    let lock_path = paths.watchdog_lock();
    let lock = atomic::open_lock(&lock_path)?;
    lock.lock()
        .map_err(|e| FileError::new("cannot lock", &lock_path, e))?;

    let mut store = Store::open(&paths.database())?;
    let mut known = store.sessions_seen()?;
    let mut report = PassReport {
        dry_run,
        ..PassReport::default()
    };
    let files: Vec<PathBuf> = config
        .watchdog
        .session_patterns()
        .iter()
        .flat_map(|p| discover::glob(p))
        .collect();
    report.files = files.len();
    journal_status(&format!("checking {} session files", files.len()));
    let mut memos = Vec::new();
    for path in &files {
        let key = path.as_os_str().as_bytes();
        let remembered = known.remove(key).map(|(seen, _)| seen);
        pass_file(
            config,
            &mut store,
            path,
            remembered,
            &mut report,
            &mut memos,
        )?;
    }
    if !dry_run {
        memos.extend(known.into_keys().map(|key| Memo {
            key,
            remember: None,
        }));
        remember(&mut store, &memos, time::now())?;
        report.backups_removed = prune_backups(config);
    }
    report.databases = config
        .watchdog
        .database_patterns()
        .iter()
        .flat_map(|p| discover::glob(p))
        .map(|p| check_database(&p))
        .collect();
    if !dry_run {
        restart(config, &mut store, &mut report)?;
        incident(config, &mut store, &report)?;
        let now = time::now().to_string();
        store.write(|tx| tx.set_setting(LAST_PASS, Some(&now)))?;
    }
    journal_status(&format!(
        "{} files, {} read, {} repaired",
        report.files, report.read, report.repaired
    ));
    Ok(report)
}

fn journal_status(text: &str) {
    crate::journal::status(text);
}

/// Examine one file in a pass, repair it unless `dry_run`, and record the result.
fn pass_file(
    config: &Config,
    store: &mut Store,
    path: &Path,
    remembered: Option<Fingerprint>,
    report: &mut PassReport,
    memos: &mut Vec<Memo>,
) -> Result<(), WatchdogError> {
    let key = path.as_os_str().as_bytes();
    let examined = match examine(config, path, remembered, report.dry_run) {
        Ok(examined) => examined,
        Err(e) => {
            log::warn!("{}: {e}", path.display());
            report.errors.push((path.to_path_buf(), e.to_string()));
            return Ok(());
        }
    };
    let now = time::now();
    match examined {
        Examined::Unchanged => report.unchanged += 1,
        Examined::Read {
            seen,
            bytes,
            result,
        } => {
            report.read += 1;
            report.bytes_read += bytes;
            match &result {
                Verdict::Healthy => report.healthy += 1,
                Verdict::Corrupt { repaired: true, .. } => report.repaired += 1,
                _ => {}
            }
            if !report.dry_run {
                memos.push(record(store, key, path, &seen, &result, now)?);
            }
            if !matches!(result, Verdict::Healthy) {
                report.sessions.push(FileReport {
                    path: path.to_path_buf(),
                    verdict: result,
                });
            }
        }
        Examined::NotNow(verdict) => report.sessions.push(FileReport {
            path: path.to_path_buf(),
            verdict,
        }),
    }
    Ok(())
}

/// What a pass learnt about a file: remember it as it is now (`healthy`, or `reported` when
/// its only problem is for a person), or forget it. Written together at the end of the pass;
/// a crash before then only means the files are read once more.
struct Memo {
    key: Vec<u8>,
    remember: Option<(Fingerprint, &'static str)>,
}

/// Record a repair at once (with the restart it calls for); return what to remember.
fn record(
    store: &mut Store,
    key: &[u8],
    path: &Path,
    seen: &Fingerprint,
    result: &Verdict,
    now: UnixTime,
) -> Result<Memo, WatchdogError> {
    let remember = match result {
        Verdict::Healthy => Some((*seen, "healthy")),
        Verdict::Corrupt {
            repaired: true,
            backup,
            problems,
            removed_bytes,
            ..
        } => {
            let backup = backup.as_deref().unwrap_or(Path::new(""));
            let problems = serde_json::to_string(problems).unwrap_or_default();
            store.write(|tx| {
                tx.record_repair(
                    key,
                    backup.as_os_str().as_bytes(),
                    *removed_bytes,
                    &problems,
                    now,
                )?;
                tx.set_setting(RESTART_PENDING, Some(&now.to_string()))
            })?;
            None
        }
        Verdict::Corrupt {
            left: Some(_),
            problems,
            ..
        } if problems
            .iter()
            .all(|f| f.problem.action == Action::Reported) =>
        {
            log_reported(path, problems);
            Some((*seen, "reported"))
        }
        _ => None,
    };
    Ok(Memo {
        key: key.to_vec(),
        remember,
    })
}

/// Write what the pass learnt, in one transaction.
fn remember(store: &mut Store, memos: &[Memo], now: UnixTime) -> Result<(), WatchdogError> {
    store.write(|tx| {
        memos.iter().try_for_each(|memo| match memo.remember {
            Some((seen, verdict)) => tx.remember_session(&memo.key, &seen, verdict, now),
            None => tx.forget_session(&memo.key),
        })
    })?;
    Ok(())
}

fn log_reported(path: &Path, problems: &[Found]) {
    for found in problems {
        log::warn!(
            message_id = journal::Kind::SessionProblem.message_id(),
            clawdbot_event = journal::Kind::SessionProblem.name(),
            clawdbot_file = path.display().to_string().as_str();
            "{}: line {}: {} ({}); not rewritten",
            path.display(),
            found.line,
            found.problem.kind.as_str(),
            found.problem.detail
        );
    }
}

/// What looking at one file gave.
enum Examined {
    /// Same size, mtime and inode as when last found healthy: not read.
    Unchanged,
    /// Read and judged (and repaired if it needed it and could be).
    Read {
        seen: Fingerprint,
        bytes: u64,
        result: Verdict,
    },
    /// Locked, being written, or not a regular file.
    NotNow(Verdict),
}

/// A session file opened for examination.
struct Opened {
    dir: Dir,
    name: std::ffi::OsString,
    file: File,
    stat: Stat,
}

fn open(path: &Path) -> io::Result<Opened> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::other("not a file path"));
    };
    let dir = Dir::open(parent)?;
    let file = dir.open_read(name).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            io::Error::other("a symbolic link; not followed")
        } else {
            e
        }
    })?;
    let stat = Stat::of(&file)?;
    Ok(Opened {
        dir,
        name: name.to_os_string(),
        file,
        stat,
    })
}

fn examine(
    config: &Config,
    path: &Path,
    remembered: Option<Fingerprint>,
    dry_run: bool,
) -> io::Result<Examined> {
    let opened = open(path)?;
    if !opened.stat.regular {
        return Ok(Examined::NotNow(Verdict::Skipped {
            reason: "not a regular file".into(),
        }));
    }
    if remembered == Some(opened.stat.seen) {
        return Ok(Examined::Unchanged);
    }
    let now = time::now();
    let w = &config.watchdog;
    let lock = lock::inspect(&opened.dir, &opened.name, w.lock_stale.get(), now)?;
    if let Lock::Live(reason) = &lock {
        return Ok(Examined::NotNow(Verdict::Locked {
            reason: reason.clone(),
        }));
    }
    let age = now.saturating_sub(opened.stat.seen.mtime_ns / 1_000_000_000);
    if age < w.settle.as_secs() {
        return Ok(Examined::NotNow(Verdict::Skipped {
            reason: format!("modified {age} s ago: it may be being written"),
        }));
    }
    let (findings, bytes) = read_and_scan(&opened.file, opened.stat.seen.size, w.window.get())?;
    let seen = opened.stat.seen;
    let Some(findings) = findings else {
        return Ok(Examined::Read {
            seen,
            bytes,
            result: Verdict::Skipped {
                reason: format!("no line boundary or tool call within {SCAN_MAX} bytes of the end"),
            },
        });
    };
    if findings.problems.is_empty() {
        return Ok(Examined::Read {
            seen,
            bytes,
            result: Verdict::Healthy,
        });
    }
    let problems = number_lines(&opened.file, &findings)?;
    let removed_bytes = problems
        .iter()
        .filter(|f| matches!(f.problem.action, Action::Removed | Action::Stripped))
        .map(|f| f.problem.bytes)
        .sum();
    let mut verdict = Verdict::Corrupt {
        problems,
        boundary: findings.cut.unwrap_or(opened.stat.seen.size as u64),
        removed_bytes,
        repaired: false,
        backup: None,
        left: None,
    };
    let left = if findings.cut.is_none() {
        Some("a bad header needs a person; it is never rewritten".to_string())
    } else if findings.tool_may_run && age < w.tool_grace.as_secs() {
        return Ok(Examined::NotNow(Verdict::Skipped {
            reason: format!(
                "the last turn waits for a tool that may still run (modified {age} s ago)"
            ),
        }));
    } else if dry_run {
        Some("dry run".into())
    } else {
        match fix(config, path, &opened, &lock, &findings, now)? {
            Fixed::Done(backup) => {
                if let Verdict::Corrupt {
                    repaired,
                    backup: b,
                    ..
                } = &mut verdict
                {
                    *repaired = true;
                    *b = Some(backup);
                }
                None
            }
            Fixed::Not(why) => Some(why),
        }
    };
    if let Verdict::Corrupt { left: l, .. } = &mut verdict {
        *l = left;
    }
    if let Verdict::Corrupt {
        problems,
        repaired: true,
        ..
    } = &verdict
    {
        log_repair(path, problems);
    }
    Ok(Examined::Read {
        seen,
        bytes,
        result: verdict,
    })
}

/// Read the header and as much of the tail as the scan needs; `None` findings when even
/// [`SCAN_MAX`] bytes were not enough.
fn read_and_scan(file: &File, size: i64, window: u64) -> io::Result<(Option<Findings>, u64)> {
    let size = u64::try_from(size).unwrap_or(0);
    let (head, mut read) = read_header(file, size)?;
    let newline = head.iter().position(|&b| b == b'\n');
    let header_problem = match newline {
        Some(end) => tail::check_header(&head[..end]).err(),
        None if size == 0 => Some("the file is empty".to_string()),
        None => Some("the header line has no end".to_string()),
    };
    let Some(header_end) = newline.map(|n| n as u64 + 1) else {
        let mut findings = Findings::default();
        findings.problems.extend(header_problem.map(header));
        return Ok((Some(findings), read));
    };
    let mut len = window;
    let mut findings = loop {
        let start = size.saturating_sub(len).max(header_end.min(size));
        let mut bytes = vec![0u8; (size - start) as usize];
        file.read_exact_at(&mut bytes, start)?;
        read += size - start;
        match tail::scan(&bytes, start, header_end) {
            Scan::Done(findings) => break findings,
            Scan::NeedMore if len >= SCAN_MAX => return Ok((None, read)),
            Scan::NeedMore => len = (len * 2).min(SCAN_MAX),
        }
    };
    if let Some(problem) = header_problem {
        findings.problems.insert(0, header(problem));
    }
    Ok((Some(findings), read))
}

/// The start of the file, enough to hold the header line: a few hundred bytes as a rule,
/// at most [`tail::HEADER_MAX`].
fn read_header(file: &File, size: u64) -> io::Result<(Vec<u8>, u64)> {
    let mut len = size.min(4096);
    loop {
        let mut head = vec![0u8; len as usize];
        file.read_exact_at(&mut head, 0)?;
        let limit = size.min(tail::HEADER_MAX as u64);
        if head.contains(&b'\n') || len >= limit {
            return Ok((head, len));
        }
        len = limit;
    }
}

fn header(detail: String) -> Problem {
    Problem {
        kind: Kind::BadHeader,
        action: Action::Reported,
        offset: 0,
        bytes: 0,
        index: 0,
        detail,
    }
}

/// Line numbers for the problems: newlines before the scan's boundary, then within it.
fn number_lines(file: &File, findings: &Findings) -> io::Result<Vec<Found>> {
    let end = findings
        .problems
        .iter()
        .map(|p| p.offset)
        .max()
        .unwrap_or(0);
    let mut offsets: Vec<u64> = findings.problems.iter().map(|p| p.offset).collect();
    offsets.sort_unstable();
    offsets.dedup();
    let mut lines = std::collections::HashMap::new();
    let mut buf = vec![0u8; 1 << 20];
    let (mut at, mut count, mut next) = (0u64, 1u64, 0usize);
    while next < offsets.len() && at <= end {
        let n = file.read_at(&mut buf, at)?;
        let chunk = &buf[..n];
        for (i, &b) in chunk.iter().enumerate() {
            while next < offsets.len() && offsets[next] == at + i as u64 {
                lines.insert(offsets[next], count);
                next += 1;
            }
            if b == b'\n' {
                count += 1;
            }
        }
        if n == 0 {
            break;
        }
        at += n as u64;
    }
    Ok(findings
        .problems
        .iter()
        .map(|p| Found {
            line: lines.get(&p.offset).copied().unwrap_or(count),
            problem: p.clone(),
        })
        .collect())
}

enum Fixed {
    Done(PathBuf),
    Not(String),
}

/// Take the gateway's lock, back the file up, and write the repaired one over it.
fn fix(
    config: &Config,
    path: &Path,
    opened: &Opened,
    lock: &Lock,
    findings: &Findings,
    now: UnixTime,
) -> io::Result<Fixed> {
    let stale = matches!(lock, Lock::Stale(_));
    let Some(held) = lock::take(&opened.dir, &opened.name, stale, now)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot take the session's lock: {e}")))?
    else {
        return Ok(Fixed::Not("the gateway took its lock meanwhile".into()));
    };
    let result = backup_and_rewrite(config, path, opened, findings, now);
    let released = held.release(&opened.dir);
    let backup = result?;
    released?;
    Ok(match backup {
        Some(backup) => Fixed::Done(backup),
        None => Fixed::Not("the file changed during the scan; checked again next pass".into()),
    })
}

fn backup_and_rewrite(
    config: &Config,
    path: &Path,
    opened: &Opened,
    findings: &Findings,
    now: UnixTime,
) -> io::Result<Option<PathBuf>> {
    if Stat::of(&opened.file)?.seen != opened.stat.seen
        || opened.dir.stat(&opened.name)?.map(|s| s.seen) != Some(opened.stat.seen)
    {
        return Ok(None);
    }
    let stamp = backup_stamp(now);
    let size = u64::try_from(opened.stat.seen.size).unwrap_or(0);
    let backups = config.paths.backups();
    let backup = repair::backup(
        &opened.file,
        size,
        &backups,
        &agent_of(path),
        &opened.name,
        &stamp,
    )
    .map_err(|e| io::Error::new(e.kind(), format!("backup in {}: {e}", backups.display())))?;
    failpoint::hit("watchdog::after-backup");
    let renamed = repair::rewrite(
        &opened.dir,
        &opened.name,
        &opened.file,
        &opened.stat,
        findings,
    )
    .map_err(|e| io::Error::new(e.kind(), format!("cannot write the repaired file: {e}")))?;
    Ok(renamed.then_some(backup))
}

fn backup_stamp(now: UnixTime) -> String {
    jiff::Timestamp::from_second(now)
        .map(|t| t.strftime("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_else(|_| now.to_string())
}

/// The agent a session belongs to: `…/agents/AGENT/sessions/FILE`; else the parent's name.
fn agent_of(path: &Path) -> String {
    let parent = path.parent();
    let named = match parent.and_then(Path::file_name) {
        Some(name) if name == "sessions" => parent.and_then(Path::parent).and_then(Path::file_name),
        other => other,
    };
    let name = named.map(OsStr::to_string_lossy).unwrap_or_default();
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        "unknown".into()
    } else {
        clean
    }
}

fn log_repair(path: &Path, problems: &[Found]) {
    for found in problems {
        let p = &found.problem;
        let what = match p.action {
            Action::Removed => format!("removed line {} ({} bytes)", found.line, p.bytes),
            Action::Stripped => format!("stripped {} NUL bytes from line {}", p.bytes, found.line),
            Action::NewlineAdded => format!("ended line {} with a newline", found.line),
            Action::Reported => format!("left line {} for a person", found.line),
        };
        log::warn!(
            message_id = journal::Kind::SessionRepair.message_id(),
            clawdbot_event = journal::Kind::SessionRepair.name(),
            clawdbot_file = path.display().to_string().as_str();
            "{}: {what}: {} ({})",
            path.display(),
            p.kind.as_str(),
            p.detail
        );
    }
}

/// Judge one file without changing anything (`clawdbot-watchdog scan FILE`).
pub fn scan_file(config: &Config, path: &Path) -> Result<FileReport, io::Error> {
    let verdict = match examine(config, path, None, true)? {
        Examined::Read { result, .. } | Examined::NotNow(result) => result,
        Examined::Unchanged => Verdict::Healthy,
    };
    Ok(FileReport {
        path: path.to_path_buf(),
        verdict,
    })
}

/// Run `PRAGMA quick_check` on a per-agent database, opened read-only.
fn check_database(path: &Path) -> DatabaseReport {
    use rusqlite::{Connection, OpenFlags};
    // In a user's home: the directories are walked without following a link, and only a
    // regular file (with no FIFO as its journal) is handed to SQLite, itself not followed.
    let checked = crate::dir::check_database(path)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_NOFOLLOW,
            )
            .map_err(|e| e.to_string())
        });
    let checked = checked.and_then(|conn| {
        let quick_check = || -> rusqlite::Result<Vec<String>> {
            let mut stmt = conn.prepare("PRAGMA quick_check")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect()
        };
        quick_check().map_err(|e| e.to_string())
    });
    let (ok, detail) = match checked {
        Ok(lines) if lines == ["ok"] => (true, "ok".to_string()),
        Ok(lines) => (false, lines.join("; ")),
        Err(e) => (false, e),
    };
    if !ok {
        log::warn!("{}: quick_check: {detail}", path.display());
    }
    DatabaseReport {
        path: path.to_path_buf(),
        ok,
        detail,
    }
}

/// Restart the gateway if a repair asked for it (in this pass or an earlier one whose
/// restart failed).
fn restart(
    config: &Config,
    store: &mut Store,
    report: &mut PassReport,
) -> Result<(), WatchdogError> {
    if store.write(|tx| tx.setting(RESTART_PENDING))?.is_none() {
        return Ok(());
    }
    let argv = &config.watchdog.restart;
    if argv.is_empty() {
        store.write(|tx| tx.set_setting(RESTART_PENDING, None))?;
        return Ok(());
    }
    let outcome = command::run(argv, config.watchdog.restart_timeout.get());
    let detail = outcome.describe();
    if outcome.success() {
        log::info!("gateway restarted: {}", argv.join(" "));
        store.write(|tx| tx.set_setting(RESTART_PENDING, None))?;
    } else {
        log::error!(
            "gateway restart failed ({detail}): {}; retried on the next pass",
            argv.join(" ")
        );
    }
    report.restart = Some(RestartReport {
        command: argv.clone(),
        ok: outcome.success(),
        detail,
    });
    Ok(())
}

/// Mail the operator once when an incident begins (a repair, a problem for a person, a
/// failed restart); the incident ends when no restart is pending.
fn incident(config: &Config, store: &mut Store, report: &PassReport) -> Result<(), WatchdogError> {
    let needs_person = report.sessions.iter().any(|f| {
        matches!(
            &f.verdict,
            Verdict::Corrupt {
                repaired: false,
                ..
            }
        )
    }) || report.databases.iter().any(|d| !d.ok);
    let happened = report.repaired > 0 || needs_person || report.incomplete();
    let now = time::now();
    let text = incident_text(report);
    store.write(|tx| {
        let open = tx.setting(INCIDENT_OPEN)?.is_some();
        if happened && !open {
            mail::queue_notice(
                tx,
                config,
                "watchdog",
                &incident_subject(report),
                &text,
                now,
            )?;
            tx.set_setting(INCIDENT_OPEN, Some(&now.to_string()))?;
        }
        if tx.setting(RESTART_PENDING)?.is_none() && !needs_person {
            tx.set_setting(INCIDENT_OPEN, None)?;
        }
        Ok(())
    })?;
    Ok(())
}

/// Remove backups older than the configured number of days; returns how many. Only real
/// directories are entered and only regular files removed: the state directory belongs to the
/// unprivileged user, who must not steer root's removals elsewhere with a link.
fn prune_backups(config: &Config) -> usize {
    let limit = std::time::Duration::from_secs(u64::from(config.watchdog.backup_days) * 86_400);
    let Ok(root) = Dir::open(&config.paths.backups()) else {
        return 0;
    };
    let Ok(agents) = root.names() else {
        return 0;
    };
    agents
        .iter()
        .filter(|a| root.kind(a).ok().flatten() == Some(FileKind::Directory))
        .filter_map(|a| root.child(a).ok())
        .map(|dir| dir.remove_older(limit))
        .sum()
}
