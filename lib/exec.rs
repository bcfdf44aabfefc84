//! `clawdbot-exec`: carries out approved requests, at most once each. It reads the approval
//! from the database (never from the trigger file), checks the hash again, claims the request
//! `Approved → Executing` in its own transaction, runs the argv without a shell and records the
//! result. The broker tells the agent and the operator afterwards.

use std::ffi::{OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::core::alerts::{self, Alert};
use crate::core::journal::Kind;
use crate::core::request::{self, hex};
use crate::core::state::State;
use crate::core::store::{RequestRow, Store, StoreError};
use crate::core::{agent, decide, outbox};
use crate::platform::apt;
use crate::platform::atomic::{self, FileError};
use crate::platform::config::{Config, Preview};
use crate::platform::dir::{Dir, FileKind};
use crate::platform::exit::{Exit, ExitStatus};
use crate::platform::failpoint;
use crate::platform::time;

/// Why a run could not happen.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file could not be used.
    #[error(transparent)]
    File(#[from] FileError),
}

impl ExitStatus for ExecError {
    fn exit(&self) -> Exit {
        match self {
            ExecError::Store(e) => e.exit(),
            ExecError::File(e) => e.exit_or(Exit::IoErr),
        }
    }
}

/// What one run did.
#[derive(Debug, Default, Serialize)]
pub struct ExecReport {
    /// Requests run.
    pub ran: usize,
    /// Requests refused at the claim (hash mismatch, nothing to run).
    pub refused: usize,
}

/// The lock `clawdbot-exec` holds while it runs; the broker takes it to know none is running.
pub fn lock_path(config: &Config) -> std::path::PathBuf {
    config.paths.state_dir.path().join("exec.lock")
}

/// Run every approved request once.
pub fn run(config: &Config) -> Result<ExecReport, ExecError> {
    let lock_path = lock_path(config);
    let lock = atomic::open_lock(&lock_path)?;
    lock.lock()
        .map_err(|e| FileError::new("cannot lock", &lock_path, e))?;
    let mut store = Store::open(&config.paths.database())?;
    let mut report = ExecReport::default();
    // Until none is left: the broker may approve more while this runs.
    while let Some(row) = store.requests_in(&[State::Approved])?.into_iter().next() {
        // Outside the transaction: a simulation may take a while.
        let simulated = simulate(config, &row);
        let claimed = store.write(|tx| {
            let Some(row) = tx.request(&row.id)?.filter(|r| r.state == State::Approved) else {
                return Ok(None);
            };
            match check(config, &row, simulated.as_ref()) {
                Ok(plan) => {
                    tx.transition(
                        &row.id,
                        State::Approved,
                        State::Executing,
                        "clawdbot-exec",
                        &format!("running {}", plan.describe()),
                        time::now(),
                    )?;
                    Ok(Some((row, plan)))
                }
                Err(why) => {
                    tx.note(
                        &row.id,
                        Kind::ApprovalRefused,
                        "clawdbot-exec",
                        &format!("approval refused by clawdbot-exec: {why}"),
                        time::now(),
                    )?;
                    // What was approved is not what would run: the operator hears of it now.
                    alerts::raise(
                        tx,
                        config,
                        &Alert::suite(
                            Kind::ApprovalRefused.name(),
                            12,
                            row.id.as_str(),
                            &format!("approval of {} refused by clawdbot-exec", row.id),
                            &why,
                            time::now(),
                        ),
                        time::now(),
                    )?;
                    decide::notify_agent(
                        tx,
                        config,
                        &row,
                        State::Failed,
                        &why,
                        None,
                        None,
                        time::now(),
                    )?;
                    outbox::mail_thread(
                        tx,
                        &row,
                        "Not run",
                        &format!("Not run: {why}."),
                        None,
                        false,
                        time::now(),
                    )?;
                    outbox::telegram_confirm(tx, &row, &format!("Not run: {why}."), time::now())?;
                    tx.transition(
                        &row.id,
                        State::Approved,
                        State::Failed,
                        "clawdbot-exec",
                        &why,
                        time::now(),
                    )?;
                    Ok(None)
                }
            }
        })?;
        remove_trigger(config, row.id.as_str());
        let Some((row, argv)) = claimed else {
            report.refused += 1;
            continue;
        };
        failpoint::hit("exec::after-claim");
        let (exit, output) = match argv {
            Plan::Argv(argv) => {
                let timeout = config
                    .actions
                    .get(&row.kind)
                    .map_or(Duration::from_secs(120), |a| a.timeout.get());
                run_argv(config, &argv, timeout, row.id.as_str())
            }
            Plan::Agent => run_agent(config, &row),
        };
        failpoint::hit("exec::after-run");
        store.write(|tx| tx.set_execution(&row.id, exit, &output, time::now()))?;
        mark(config, row.id.as_str());
        report.ran += 1;
    }
    remove_stale_triggers(config, &store)?;
    Ok(report)
}

/// Trigger files of requests no longer `Approved` would start this service again and again.
/// The directory belongs to the unprivileged user: it is opened without following a link and
/// every name is removed relative to it, so a link in its place steers no removal elsewhere.
fn remove_stale_triggers(config: &Config, store: &Store) -> Result<(), ExecError> {
    let path = config.paths.approved();
    let (names, dir) = match Dir::open(&path).and_then(|dir| Ok((dir.names()?, dir))) {
        Ok(found) => found,
        Err(e) => {
            log::warn!("stale triggers left alone: {}: {e}", path.display());
            return Ok(());
        }
    };
    for name in names {
        let approved = match name
            .to_str()
            .and_then(crate::platform::ids::RequestId::parse)
        {
            Some(id) => store
                .request(&id)?
                .is_some_and(|r| r.state == State::Approved),
            None => false,
        };
        if !approved && dir.kind(&name).ok().flatten() != Some(FileKind::Directory) {
            let _ = dir.remove(&name);
        }
    }
    Ok(())
}

/// The simulation of an action configured with `preview = "apt"`, made again just before it
/// runs, with the argv it simulated.
struct Simulated {
    argv: Vec<String>,
    plan: Result<apt::Plan, apt::SimulationError>,
}

/// Only an argv that already passes every other check is simulated: the database is the
/// unprivileged user's, and root runs nothing from it that the canonical request and root's
/// configuration do not render to.
fn simulate(config: &Config, row: &RequestRow) -> Option<Simulated> {
    let action = config.actions.get(&row.kind)?;
    if action.preview != Some(Preview::Apt) {
        return None;
    }
    let Ok(Plan::Argv(argv)) = verified(config, row) else {
        return None;
    };
    Some(Simulated {
        plan: apt::simulate(&argv),
        argv,
    })
}

/// An apt action runs only if it removes nothing the operator was not shown: the packages
/// its simulation removes now must all have been in the simulation mailed with the request.
fn check_simulation(
    row: &RequestRow,
    argv: &[String],
    simulated: Option<&Simulated>,
) -> Result<(), String> {
    let Some(simulated) = simulated.filter(|s| s.argv == argv) else {
        return Err("the action was not simulated again before it ran".into());
    };
    let now = simulated
        .plan
        .as_ref()
        .map_err(|e| format!("apt-get -s fails now: {}", request::excerpt(&e.to_string())))?;
    // The operator was shown no removal when the first simulation failed or is missing.
    let shown = match row.preview.as_deref().and_then(apt::Stored::parse) {
        Some(apt::Stored::Apt(plan)) => plan,
        _ => apt::Plan::default(),
    };
    let beyond = now.removals_beyond(&shown);
    if beyond.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "apt-get -s says it would now remove {}, which the operator was not shown",
            beyond.join(", ")
        ))
    }
}

/// What carries out an approved request.
enum Plan {
    /// The action's argv.
    Argv(Vec<String>),
    /// The admin agent (freeform requests).
    Agent,
}

impl Plan {
    fn describe(&self) -> String {
        match self {
            Plan::Argv(argv) => serde_json::to_string(argv).unwrap_or_default(),
            Plan::Agent => "the admin agent (freeform)".into(),
        }
    }
}

/// A freeform request is carried out by the admin agent alone, with the request as untrusted
/// data; its exit status and output are the result.
fn run_agent(config: &Config, row: &RequestRow) -> (i64, String) {
    let task = "The operator approved this freeform request. Carry out exactly what it describes, nothing more, then report what you changed.";
    let prompt = agent::prompt(agent::Use::Execute, task, row, row.decision_note.as_deref());
    match agent::run(config, &prompt, config.agent.timeout.get()) {
        Ok((exit, output)) => (
            exit,
            output.chars().take(config.exec.output_bytes).collect(),
        ),
        Err(e) => (-1, e.to_string()),
    }
}

/// What to run, if the approval holds: approved for this very hash, the hash still that of the
/// stored request, and the stored argv exactly what the request renders to under today's
/// configuration (the database is writable by the unprivileged broker; the canonical request,
/// bound to the hash, and the configuration, writable only by root, are what count); for an
/// action simulated, also the simulation made again just now.
fn check(config: &Config, row: &RequestRow, simulated: Option<&Simulated>) -> Result<Plan, String> {
    let plan = verified(config, row)?;
    let preview = config.actions.get(&row.kind).and_then(|a| a.preview);
    if let (Plan::Argv(argv), Some(Preview::Apt)) = (&plan, preview) {
        check_simulation(row, argv, simulated)?;
    }
    Ok(plan)
}

/// The checks that need nothing run: the approval, the hash, and the argv as rendered.
fn verified(config: &Config, row: &RequestRow) -> Result<Plan, String> {
    if row.approved_hash.as_deref() != Some(row.hash.as_str()) {
        return Err("the approval is not for this request's hash".into());
    }
    if hex(&Sha256::digest(row.canonical.as_bytes())) != row.hash {
        return Err("the stored request no longer matches its hash".into());
    }
    let rendered =
        request::validate(row.canonical.as_bytes(), config.rules()).map_err(|problems| {
            format!(
                "the request no longer passes validation: {}",
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })?;
    match (&rendered.plan, &row.argv) {
        (request::Plan::Run { argv, .. }, Some(stored)) if argv == stored => {
            Ok(Plan::Argv(argv.clone()))
        }
        (request::Plan::Run { .. }, _) => {
            Err("the stored argv is not what the approved request renders to".into())
        }
        (request::Plan::Freeform, None) if agent::enabled(config, agent::Use::Execute) => {
            Ok(Plan::Agent)
        }
        (request::Plan::Freeform, None) => {
            Err("a freeform request needs the admin agent command, and none is configured".into())
        }
        (request::Plan::Freeform, Some(_)) => Err("a freeform request cannot carry an argv".into()),
    }
}

/// Run without a shell, with a clean environment and a time limit; returns the exit status
/// (-1 when killed) and the start of the output.
fn run_argv(config: &Config, argv: &[String], timeout: Duration, id: &str) -> (i64, String) {
    let name = OsString::from(format!(".exec-{id}.out"));
    let result = Dir::open(config.paths.state_dir.path()).and_then(|dir| {
        let ran = output_file(&dir, &name).and_then(|file| {
            let status = spawn_and_wait(argv, timeout, &file)?;
            Ok((status, read_capped(file, config.exec.output_bytes)))
        });
        let _ = dir.remove(&name);
        ran
    });
    match result {
        Ok((Some(code), output)) => (i64::from(code), output),
        Ok((None, output)) => (
            -1,
            format!(
                "{output}\n[killed: no exit within {}s, or ended by a signal]",
                timeout.as_secs()
            ),
        ),
        Err(e) => (127, format!("cannot start {}: {e}", argv[0])),
    }
}

/// A fresh output file, created by this process alone: the state directory belongs to the
/// unprivileged user, who must not be able to plant a link that root then writes through or
/// reads from. The output is read back through the same handle, never by path.
fn output_file(dir: &Dir, name: &OsStr) -> std::io::Result<File> {
    let _ = dir.remove(name);
    dir.create_new(name, 0o600)
}

fn spawn_and_wait(argv: &[String], timeout: Duration, out: &File) -> std::io::Result<Option<i32>> {
    let mut child = crate::platform::command::clean(&argv[0], &argv[1..])
        .stdout(out.try_clone()?)
        .stderr(out.try_clone()?)
        .spawn()?;
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status.code());
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_capped(mut file: File, cap: usize) -> String {
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(0)).is_ok() {
        let _ = file.take(cap as u64).read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The trigger file for `clawdbot-exec.path` (the truth is in the database). It is empty, so
/// it is created in place: a temporary file beside it would be swept away by a concurrent
/// `clawdbot-exec`, which removes everything in the directory that is not a live trigger.
pub fn trigger(config: &Config, id: &str) -> Result<(), FileError> {
    let dir = config.paths.approved();
    let path = dir.join(id);
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o640)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|e| FileError::new("cannot create", &path, e))?;
    crate::platform::atomic::sync_dir(&dir)
}

/// Leave a mark that this run finished, for `clawdbot-broker.path`: the broker's pass that
/// approved it may still be ending, and a start asked of it then would merge into that pass.
/// The directory is the unprivileged user's: the mark is created in place, never over or
/// through an existing name. Without it the broker's 5-minute timer finishes the run.
fn mark(config: &Config, id: &str) {
    let path = config.paths.executed();
    let made = Dir::open(&path).and_then(|dir| dir.create_new(std::ffi::OsStr::new(id), 0o640));
    match made {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => log::warn!(
            "{}: cannot mark {id} finished ({e}); the broker's timer will finish it",
            path.display()
        ),
        _ => {}
    }
}

/// Remove every finished-run mark (the broker, before it reads which runs finished).
pub fn take_marks(config: &Config) {
    if let Ok(dir) = Dir::open(&config.paths.executed())
        && let Ok(names) = dir.names()
    {
        for name in names {
            let _ = dir.remove(&name);
        }
    }
}

fn remove_trigger(config: &Config, id: &str) {
    if let Ok(dir) = Dir::open(&config.paths.approved()) {
        let _ = dir.remove(std::ffi::OsStr::new(id));
    }
}
