//! The session watchdog (docs/openclaw.md): one pass reads every agent session transcript
//! that changed since it was last found healthy, and repairs the damaged ones (see
//! [`transcript`] for what that means). Before a repair it stops the gateway, so that no run of
//! OpenClaw's is writing a file being repaired (OpenClaw takes over any lock whose owner is not
//! an OpenClaw process, so a lock would not keep it out), and starts it again after.

pub mod agentdb;
mod context;
pub mod discover;
pub mod gateway;
pub mod lock;
mod poison;
mod repair;
mod report;
mod reset;
pub mod transcript;

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::core::alerts::{self, Alert};
use crate::core::journal;
use crate::core::outbox;
use crate::core::store::{Fingerprint, Store, StoreError};
use crate::platform::atomic::{self, FileError};
use crate::platform::command;
use crate::platform::config::Config;
use crate::platform::dir::{Dir, FileKind, Stat};
use crate::platform::exit::{Exit, ExitStatus};
use crate::platform::failpoint;
use crate::platform::time::{self, UnixTime};
use lock::Lock;
pub use report::{
    DatabaseReport, FileReport, GatewayReport, PassReport, Verdict, describe, summary,
};
use report::{incident_subject, incident_text};
pub use reset::action as reset_action;
use transcript::{Action, Findings, Problem};

/// The largest transcript read. OpenClaw reads a session whole into one string, and V8's
/// strings end at 512 MiB: a larger file is one OpenClaw cannot load either.
const FILE_MAX: u64 = 512 << 20;

/// Settings keys of the watchdog's own state.
const START_PENDING: &str = "watchdog.restart_pending";
/// The id of the container a pass stopped through `{gateway}`: the one to start.
const GATEWAY_CONTAINER: &str = "watchdog.gateway_container";
const INCIDENT_OPEN: &str = "watchdog.incident_open";
/// How long reading one OpenClaw store may take, and all of them in one pass (the unit gives
/// a pass 10 minutes, gateway stop and start included).
const STORE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);
const STORES_TIME: std::time::Duration = std::time::Duration::from_secs(300);
/// The most reset requests one pass files.
const PROPOSALS_MAX: usize = 10;
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

/// When a damaged file is repaired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Never: report only.
    DryRun,
    /// Not yet: the gateway is stopped first, once for all damaged files.
    Later,
    /// Now, with the gateway stopped.
    Stopped,
    /// Now, beside a running gateway (no stop command): only a file no lock covers.
    Beside,
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
    let stores: Vec<PathBuf> = config
        .watchdog
        .database_patterns()
        .iter()
        .flat_map(|p| discover::glob(p))
        .collect();
    let (files, legacy): (Vec<_>, Vec<_>) = config
        .watchdog
        .session_patterns()
        .iter()
        .flat_map(|p| discover::glob_stat(p))
        .filter(|(p, _)| {
            p.file_name()
                .is_some_and(|n| discover::is_primary_transcript(n.as_bytes()))
        })
        .partition(|(p, _)| !stores.contains(&discover::store_of(p)));
    report.files = files.len();
    report.legacy = legacy.len();
    journal_status(&format!("checking {} session files", files.len()));
    let mode = match (dry_run, config.watchdog.stop.is_empty()) {
        (true, _) => Mode::DryRun,
        (false, true) => Mode::Beside,
        (false, false) => Mode::Later,
    };
    let mut pass = Pass {
        config,
        store: &mut store,
        report: &mut report,
        memos: Vec::new(),
        damaged: Vec::new(),
    };
    // A file remembered as it was found (by the walk's lstat) is not opened at all.
    for (path, found) in &files {
        let remembered = known
            .remove(path.as_os_str().as_bytes())
            .map(|(seen, _)| seen);
        if remembered == Some(found.seen) {
            pass.report.unchanged += 1;
            continue;
        }
        pass.file(path, remembered, mode)?;
    }
    let damaged = std::mem::take(&mut pass.damaged);
    if !damaged.is_empty() {
        pass.repair_stopped(damaged)?;
    }
    let memos = std::mem::take(&mut pass.memos);
    if !dry_run {
        let forgotten = known.into_keys().map(|key| Memo {
            key,
            remember: None,
        });
        let memos: Vec<Memo> = memos.into_iter().chain(forgotten).collect();
        remember(&mut store, &memos, time::now())?;
        report.backups_removed = prune_backups(config);
        // Before the stores are read: a store is read by another process, as its owner, with
        // a time limit, but nothing there may keep the gateway down.
        start(config, &mut store, &mut report)?;
    }
    let deadline = std::time::Instant::now() + STORES_TIME;
    report.databases = stores.iter().map(|p| check_database(p, deadline)).collect();
    if !dry_run {
        let mut filed = 0;
        for db in &mut report.databases {
            for found in &mut db.poisoned {
                if filed == PROPOSALS_MAX {
                    found.request = Some(format!(
                        "not proposed in this pass: at most {PROPOSALS_MAX} proposals a pass"
                    ));
                    continue;
                }
                let (said, known) = reset::propose(config, &mut store, &db.agent, found)?;
                filed += usize::from(!known);
                found.request = Some(said);
                found.known = known;
            }
            remember_store(&mut store, db)?;
        }
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
    crate::core::journal::status(text);
}

/// A pass under way.
struct Pass<'a> {
    config: &'a Config,
    store: &'a mut Store,
    report: &'a mut PassReport,
    memos: Vec<Memo>,
    /// Damaged files waiting for the gateway to stop, with what the first look found.
    damaged: Vec<(PathBuf, Verdict)>,
}

impl Pass<'_> {
    /// Examine one file, repair it if `mode` says now, and record the result.
    fn file(
        &mut self,
        path: &Path,
        remembered: Option<Fingerprint>,
        mode: Mode,
    ) -> Result<(), WatchdogError> {
        let examined = match examine(self.config, path, remembered, mode) {
            Ok(examined) => examined,
            Err(e) => {
                log::warn!("{}: {e}", path.display());
                self.report.errors.push((path.to_path_buf(), e.to_string()));
                return Ok(());
            }
        };
        let report = &mut *self.report;
        match examined {
            Examined::Unchanged => report.unchanged += 1,
            Examined::Damaged(verdict) => self.damaged.push((path.to_path_buf(), verdict)),
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
                if mode != Mode::DryRun {
                    let key = path.as_os_str().as_bytes();
                    let memo = record(
                        self.config,
                        self.store,
                        key,
                        path,
                        &seen,
                        &result,
                        time::now(),
                    )?;
                    self.memos.push(memo);
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

    /// Stop the gateway, repair the damaged files (each read again: it may have changed before
    /// the gateway stopped), and leave the start to the end of the pass. If the gateway does
    /// not stop, nothing is repaired and the files are reported as they are; if it does not
    /// run, the files are repaired as beside a running one (only those no lock covers).
    fn repair_stopped(&mut self, damaged: Vec<(PathBuf, Verdict)>) -> Result<(), WatchdogError> {
        let w = &self.config.watchdog;
        let now = time::now().to_string();
        // Set first: a pass that dies after the stop still starts the gateway next time.
        let earlier = self.store.write(|tx| {
            let earlier = tx.setting(START_PENDING)?;
            tx.set_setting(START_PENDING, Some(&now))?;
            Ok(earlier)
        })?;
        let timeout = w.gateway_timeout.get();
        let mut mode = Mode::Stopped;
        // Nothing stopped (none running, or the lookup failed): nothing to start after.
        let mut nothing_stopped = false;
        let program = w.stop.first().map_or("", String::as_str);
        let found = gateway::uses_placeholder(&w.stop)
            .then(|| gateway::find(program, w, true, None, timeout));
        let stop = match found {
            None => run_gateway(w.stop.clone(), timeout),
            Some(Ok(Some(id))) => {
                // Start the very container stopped, whatever else appears meanwhile.
                self.store
                    .write(|tx| tx.set_setting(GATEWAY_CONTAINER, Some(&id)))?;
                run_gateway(gateway::fill(&w.stop, &id), timeout)
            }
            Some(Ok(None)) => {
                // Its files may still be written by a gateway run some other way.
                mode = Mode::Beside;
                nothing_stopped = true;
                GatewayReport {
                    command: w.stop.clone(),
                    ok: true,
                    detail: format!(
                        "no container of the {} is running; nothing to stop",
                        gateway::wanted(w)
                    ),
                }
            }
            Some(Err(why)) => {
                nothing_stopped = true;
                GatewayReport {
                    command: w.stop.clone(),
                    ok: false,
                    detail: why,
                }
            }
        };
        if stop.ok {
            log::info!(
                "gateway stopped to repair {} session file(s): {} ({})",
                damaged.len(),
                stop.command.join(" "),
                stop.detail
            );
        } else {
            log::error!(
                "the gateway did not stop ({}): {}; nothing repaired",
                stop.detail,
                stop.command.join(" ")
            );
        }
        let stopped = stop.ok;
        self.report.stop = Some(stop);
        for (path, mut verdict) in damaged {
            if stopped {
                self.file(&path, None, mode)?;
                continue;
            }
            if let Verdict::Corrupt { left, .. } = &mut verdict {
                *left = Some("the gateway could not be stopped; tried again next pass".into());
            }
            self.report.sessions.push(FileReport { path, verdict });
        }
        // Unless an earlier pass stopped it, a gateway this pass did not stop is not started.
        if nothing_stopped && earlier.is_none() {
            self.store.write(|tx| tx.set_setting(START_PENDING, None))?;
        }
        Ok(())
    }
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
    config: &Config,
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
                tx.set_setting(START_PENDING, Some(&now.to_string()))
            })?;
            None
        }
        Verdict::Corrupt {
            left: Some(_),
            problems,
            ..
        } if problems.iter().all(|f| f.action == Action::Reported) => {
            log_reported(path, problems);
            // Once per change of the file: it is remembered as reported until it changes.
            let found: Vec<String> = problems
                .iter()
                .map(|p| format!("line {}: {} ({})", p.line, p.kind.as_str(), p.detail))
                .collect();
            store.write(|tx| {
                alerts::raise(
                    tx,
                    config,
                    // One alert per window for all files: the agent can make many.
                    &Alert::suite(
                        journal::Kind::SessionProblem.name(),
                        10,
                        "the agent's session files",
                        "a session file has a problem the watchdog leaves for a person",
                        &format!("{}\n{}", path.display(), found.join("\n")),
                        now,
                    ),
                    now,
                )
            })?;
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

fn log_reported(path: &Path, problems: &[Problem]) {
    for found in problems {
        log::warn!(
            message_id = journal::Kind::SessionProblem.message_id(),
            clawdbot_event = journal::Kind::SessionProblem.name(),
            clawdbot_file = path.display().to_string().as_str();
            "{}: line {}: {} ({}); not rewritten",
            path.display(),
            found.line,
            found.kind.as_str(),
            found.detail
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
    /// Damaged, to be repaired once the gateway is stopped.
    Damaged(Verdict),
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
    mode: Mode,
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
    // With the gateway stopped, only a process of this host's still counts as the holder.
    let stale_after = (mode != Mode::Stopped).then(|| w.lock_stale.get());
    if let Lock::Live(reason) = lock::inspect(&opened.dir, &opened.name, stale_after, now)? {
        return Ok(Examined::NotNow(Verdict::Locked { reason }));
    }
    let age = now.saturating_sub(opened.stat.seen.mtime_ns / 1_000_000_000);
    if age < w.settle.as_secs() && mode != Mode::Stopped {
        return Ok(Examined::NotNow(Verdict::Skipped {
            reason: format!("modified {age} s ago: it may be being written"),
        }));
    }
    let seen = opened.stat.seen;
    let size = u64::try_from(seen.size).unwrap_or(0);
    if size > FILE_MAX {
        return Ok(Examined::NotNow(Verdict::Skipped {
            reason: format!("{size} bytes: larger than OpenClaw can load ({FILE_MAX}); not read"),
        }));
    }
    let mut bytes = vec![0u8; size as usize];
    opened.file.read_exact_at(&mut bytes, 0)?;
    let findings = transcript::scan(&bytes);
    if findings.problems.is_empty() {
        // Whole: is there a message in its context OpenClaw cannot send?
        let result = match context::stuck_in_transcript(&bytes) {
            None => Verdict::Healthy,
            Some(found) => stuck(&bytes, &found),
        };
        return Ok(Examined::Read {
            seen,
            bytes: size,
            result,
        });
    }
    let mut verdict = Verdict::Corrupt {
        problems: findings.problems.clone(),
        boundary: findings.cut.unwrap_or(size),
        removed_bytes: findings.removed_bytes(),
        repaired: false,
        backup: None,
        left: None,
    };
    let left = if findings.cut.is_none() {
        Some("a bad header needs a person; it is never rewritten".to_string())
    } else {
        match mode {
            Mode::DryRun => Some("dry run".into()),
            Mode::Later => return Ok(Examined::Damaged(verdict)),
            Mode::Stopped | Mode::Beside => {
                match backup_and_rewrite(config, path, &opened, &findings, now)? {
                    Some(backup) => {
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
                    None => {
                        Some("the file changed during the scan; checked again next pass".into())
                    }
                }
            }
        }
    };
    if let Verdict::Corrupt {
        left: l,
        problems,
        repaired,
        ..
    } = &mut verdict
    {
        *l = left;
        if *repaired {
            log_repair(path, problems);
        }
    }
    Ok(Examined::Read {
        seen,
        bytes: size,
        result: verdict,
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

fn log_repair(path: &Path, problems: &[Problem]) {
    for p in problems {
        log::warn!(
            message_id = journal::Kind::SessionRepair.message_id(),
            clawdbot_event = journal::Kind::SessionRepair.name(),
            clawdbot_file = path.display().to_string().as_str();
            "{}: {}: {} ({})",
            path.display(),
            transcript::describe(p),
            p.kind.as_str(),
            p.detail
        );
    }
}

/// The verdict on a whole transcript whose context holds a message OpenClaw cannot send.
fn stuck(bytes: &[u8], found: &context::Found) -> Verdict {
    let line = u64::try_from(found.seq).unwrap_or(0);
    let offset = bytes
        .split_inclusive(|&b| b == b'\n')
        .take(usize::try_from(found.seq).unwrap_or(1).saturating_sub(1))
        .map(|l| l.len() as u64)
        .sum();
    let size = bytes.len() as u64;
    Verdict::Corrupt {
        problems: vec![Problem {
            kind: transcript::Kind::StuckMessage,
            action: Action::Reported,
            line,
            offset,
            bytes: 0,
            detail: format!(
                "message {} of {} in its context is {}; OpenClaw fails every turn of this session until it is reset",
                found.position, found.messages, found.reason
            ),
        }],
        boundary: size,
        removed_bytes: 0,
        repaired: false,
        backup: None,
        left: Some(
            "a message OpenClaw cannot send needs a person: reset the session (openclaw gateway call sessions.reset)"
                .into(),
        ),
    }
}

/// Judge one file without changing anything (`clawdbot-watchdog scan FILE`).
pub fn scan_file(config: &Config, path: &Path) -> Result<FileReport, io::Error> {
    let verdict = match examine(config, path, None, Mode::DryRun)? {
        Examined::Read { result, .. } | Examined::NotNow(result) | Examined::Damaged(result) => {
            result
        }
        Examined::Unchanged => Verdict::Healthy,
    };
    Ok(FileReport {
        path: path.to_path_buf(),
        verdict,
    })
}

/// Mark a store's problems as told when the last pass found the very same, and remember
/// them for the next (a store is read every pass, unlike an unchanged transcript).
fn remember_store(store: &mut Store, db: &mut DatabaseReport) -> Result<(), WatchdogError> {
    use sha2::{Digest, Sha256};
    let digest = |text: &[u8]| crate::core::request::hex(&Sha256::digest(text));
    let key = format!(
        "watchdog.store_told.{}",
        &digest(db.path.as_os_str().as_bytes())[..32]
    );
    if !db.has_problems() {
        store.write(|tx| tx.set_setting(&key, None))?;
        return Ok(());
    }
    if db.busy {
        return Ok(());
    }
    let now = digest(db.problems_key().as_bytes());
    let told = store.read(|tx| tx.setting(&key))?;
    db.repeated = told.as_deref() == Some(now.as_str());
    if !db.repeated {
        store.write(|tx| tx.set_setting(&key, Some(&now)))?;
    }
    Ok(())
}

/// Read a per-agent store without changing it (see [`agentdb`]), by `deadline` at the latest.
fn check_database(path: &Path, deadline: std::time::Instant) -> DatabaseReport {
    let agent = path
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut report = DatabaseReport {
        path: path.to_path_buf(),
        agent,
        ok: false,
        detail: String::new(),
        busy: false,
        sessions: 0,
        poisoned: Vec::new(),
        unread: Vec::new(),
        repeated: false,
    };
    let left = deadline.saturating_duration_since(std::time::Instant::now());
    if left.is_zero() {
        report.busy = true;
        report.detail = format!(
            "not read: this pass's {} s for stores ran out; read next pass",
            STORES_TIME.as_secs()
        );
        return report;
    }
    match agentdb::check_as_owner(path, STORE_TIMEOUT.min(left)) {
        Ok(checked) => {
            report.ok = checked.quick_check == "ok";
            report.detail = format!("quick_check: {}", checked.quick_check);
            report.sessions = checked.sessions;
            report.poisoned = checked.poisoned;
            report.unread = checked.unread;
        }
        Err(not_read) => {
            report.busy = not_read.busy;
            report.detail = format!("not read: {}", not_read.reason);
        }
    }
    if !report.ok && !report.busy {
        log::warn!("{}: {}", path.display(), report.detail);
    }
    for u in &report.unread {
        log::warn!(
            "{}: session {} not read: {}",
            path.display(),
            agentdb::shown(&u.key),
            u.reason
        );
    }
    report
}

/// Start the gateway if a repair stopped it or asked for it (in this pass, or in an earlier
/// one whose start failed).
fn start(config: &Config, store: &mut Store, report: &mut PassReport) -> Result<(), WatchdogError> {
    if store.write(|tx| tx.setting(START_PENDING))?.is_none() {
        return Ok(());
    }
    let w = &config.watchdog;
    if w.start.is_empty() {
        store.write(|tx| tx.set_setting(START_PENDING, None))?;
        return Ok(());
    }
    let timeout = w.gateway_timeout.get();
    let stopped = store.write(|tx| tx.setting(GATEWAY_CONTAINER))?;
    let argv = if gateway::uses_placeholder(&w.start) {
        container_to_start(w, stopped.as_deref(), timeout).map(|id| gateway::fill(&w.start, &id))
    } else {
        Ok(w.start.clone())
    };
    let started = match argv {
        Ok(argv) => run_gateway(argv, timeout),
        Err(why) => GatewayReport {
            command: w.start.clone(),
            ok: false,
            detail: why,
        },
    };
    if started.ok {
        log::info!("gateway started: {}", started.command.join(" "));
        store.write(|tx| {
            tx.set_setting(START_PENDING, None)?;
            tx.set_setting(GATEWAY_CONTAINER, None)
        })?;
    } else {
        log::error!(
            "the gateway did not start ({}): {}; tried again next pass",
            started.detail,
            started.command.join(" ")
        );
    }
    report.start = Some(started);
    Ok(())
}

/// The gateway container to start: the one a pass stopped, if it is still one of the
/// gateway's (the id comes from the database, which the unprivileged user can write), else
/// the one found now.
fn container_to_start(
    w: &crate::platform::config::Watchdog,
    stopped: Option<&str>,
    timeout: std::time::Duration,
) -> Result<String, String> {
    let program = w.start.first().map_or("", String::as_str);
    let remembered = match stopped {
        Some(id) => gateway::find(program, w, false, Some(id), timeout)?,
        None => None,
    };
    match remembered {
        Some(id) => Ok(id),
        None => gateway::find(program, w, false, None, timeout)?
            .ok_or_else(|| format!("no container of the {}", gateway::wanted(w))),
    }
}

/// Run a stop or start command.
fn run_gateway(argv: Vec<String>, timeout: std::time::Duration) -> GatewayReport {
    let outcome = command::run(&argv, timeout);
    GatewayReport {
        command: argv,
        ok: outcome.success(),
        detail: outcome.describe(),
    }
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
    }) || report.databases.iter().any(DatabaseReport::needs_person);
    let happened = report.repaired > 0 || needs_person || report.incomplete();
    let now = time::now();
    let text = incident_text(report);
    store.write(|tx| {
        let open = tx.setting(INCIDENT_OPEN)?.is_some();
        if happened && !open {
            outbox::mail_notice(
                tx,
                config,
                "watchdog",
                &incident_subject(report),
                &text,
                now,
            )?;
            tx.set_setting(INCIDENT_OPEN, Some(&now.to_string()))?;
        }
        if tx.setting(START_PENDING)?.is_none() && !needs_person {
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
