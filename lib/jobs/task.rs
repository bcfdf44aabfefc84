//! `clawdbot-task`: run the queued tasks of the admin agent, one at a time (docs/tasks.md).
//! Started by `clawdbot-task.path` when a trigger appears; the queue is in the store. Each
//! task runs the `[agent] command` with the operator's words as its instructions and
//! `[agent] task_timeout` as its limit; its exit status and the first part of its answer are
//! recorded, and the answer goes back to the chat or mail thread it came from. A task found
//! running when the runner starts was cut short by a crash: it is reported, never run again.

use serde::Serialize;

use crate::core::agent::{self, AgentError};
use crate::core::store::{Store, StoreError, Task};
use crate::core::task::{self, OUTPUT_MAX};
use crate::platform::atomic::{self, FileError};
use crate::platform::config::Config;
use crate::platform::dir::Dir;
use crate::platform::exit::{Exit, ExitStatus};
use crate::platform::time;

/// Why the runner stopped.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The lock could not be taken.
    #[error(transparent)]
    File(#[from] FileError),
}

impl ExitStatus for TaskError {
    fn exit(&self) -> Exit {
        match self {
            TaskError::Store(e) => e.exit(),
            TaskError::File(e) => e.exit_or(Exit::IoErr),
        }
    }
}

/// What one run did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct RunReport {
    /// Another runner was at work: this one did nothing.
    pub busy: bool,
    /// Tasks run, by id, with how each ended.
    pub ran: Vec<(String, String)>,
    /// Tasks found running, cut short by an earlier crash.
    pub interrupted: usize,
}

/// Run every queued task, oldest first, until none waits.
pub fn run(config: &Config) -> Result<RunReport, TaskError> {
    let mut report = RunReport::default();
    let lock_path = config.paths.task_lock();
    let lock = atomic::open_lock(&lock_path)?;
    if lock.try_lock().is_err() {
        log::info!("another clawdbot-task is at work; it takes the queue");
        report.busy = true;
        return Ok(report);
    }
    // Root must not make the database the broker's user then cannot write: none yet, no task.
    if !config.paths.database().exists() {
        clear_triggers(config);
        return Ok(report);
    }
    let mut store = Store::open(&config.paths.database())?;
    let now = time::now();
    let cut_short = store.write(|tx| {
        let running = tx.tasks_in(&["running"])?;
        for found in &running {
            let why = "interrupted: the runner stopped while it ran; it is not run again";
            tx.finish_task(&found.id, "failed", -1, why, now)?;
            task::tell(
                tx,
                (&found.id, &found.origin),
                &format!("failed, {why}. Ask again if you still want it."),
                now,
            )?;
            log::warn!(clawdbot_task = found.id.as_str(); "task {}: {why}", found.id);
        }
        Ok(running.len())
    })?;
    report.interrupted = cut_short;
    loop {
        // Triggers first: one that appears while a task runs starts this unit again after it,
        // and that run finds the queue empty or not.
        clear_triggers(config);
        let Some(next) = store.write(|tx| tx.start_next_task(time::now()))? else {
            break;
        };
        let ended = one(config, &next);
        let now = time::now();
        store.write(|tx| {
            tx.finish_task(&next.id, ended.state, ended.status, &ended.output, now)?;
            task::tell(tx, (&next.id, &next.origin), &ended.told, now)
        })?;
        report.ran.push((next.id.clone(), ended.state.to_string()));
    }
    Ok(report)
}

/// How one task ended.
struct Ended {
    state: &'static str,
    status: i64,
    output: String,
    told: String,
}

fn one(config: &Config, task: &Task) -> Ended {
    log::info!(
        clawdbot_task = task.id.as_str();
        "task {} started for {}: {}",
        task.id,
        task.filed_by,
        crate::core::request::excerpt(&task.words)
    );
    let limit = config.agent.task_timeout.get();
    let ended = match agent::run(config, &task::prompt(config, task), limit) {
        Ok((0, output)) => {
            let answer = head(&agent::answer_text(&output));
            Ended {
                state: "done",
                status: 0,
                told: format!("done.\n\n{answer}"),
                output: answer,
            }
        }
        Ok((status, output)) => {
            let answer = head(&agent::answer_text(&output));
            Ended {
                state: "failed",
                status,
                told: format!("failed: the admin agent exited with status {status}.\n\n{answer}"),
                output: answer,
            }
        }
        Err(AgentError::Timeout(secs)) => Ended {
            state: "timed-out",
            status: -1,
            told: format!(
                "timed out: stopped after {} ([agent] task_timeout); what it did until then stands.",
                time::age(i64::try_from(secs).unwrap_or(i64::MAX))
            ),
            output: format!("stopped after {secs} s"),
        },
        Err(e) => Ended {
            state: "failed",
            status: -1,
            told: format!("failed: {e}."),
            output: e.to_string(),
        },
    };
    let level = if ended.state == "done" {
        log::Level::Info
    } else {
        log::Level::Warn
    };
    log::log!(
        level,
        clawdbot_task = task.id.as_str();
        "task {} {} (exit status {})",
        task.id,
        ended.state,
        ended.status
    );
    ended
}

/// The first [`OUTPUT_MAX`] characters, marked when cut.
fn head(text: &str) -> String {
    match text.char_indices().nth(OUTPUT_MAX) {
        Some((cut, _)) => format!("{}\n… (cut)", &text[..cut]),
        None => text.to_string(),
    }
}

/// Remove the trigger files: the directory is the unprivileged user's, so it is opened without
/// following a link and each name is removed relative to it.
fn clear_triggers(config: &Config) {
    if let Ok(dir) = Dir::open(&config.paths.tasks())
        && let Ok(names) = dir.names()
    {
        for name in names {
            let _ = dir.remove(&name);
        }
    }
}
