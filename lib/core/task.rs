//! Tasks for the admin agent (docs/tasks.md): an authenticated operator's words, by mail or
//! `/task`, queued in the store and run one at a time by `clawdbot-task` (started through
//! `clawdbot-task.path`, as root, with a time limit). Only the reply reader and the Telegram
//! bot file tasks, each after its channel's operator checks; nothing the agent writes reaches
//! here.

use std::os::unix::fs::OpenOptionsExt;

use crate::core::agent::{self, Use};
use crate::core::store::{Channel, Draft, Store, StoreError, Task, TaskOrigin, Tx};
use crate::platform::config::Config;
use crate::platform::ids;
use crate::platform::time::{self, UnixTime};

/// The most of the operator's words a task carries.
pub const WORDS_MAX: usize = 8_000;
/// The most of the agent's answer kept and told.
pub const OUTPUT_MAX: usize = 3_000;

/// Whether tasks are on: the admin agent is configured and `task` is among its uses.
pub fn enabled(config: &Config) -> bool {
    agent::enabled(config, Use::Task)
}

/// Why the operator's words cannot be a task, if they cannot.
pub fn problem(words: &str) -> Option<String> {
    if words.trim().is_empty() {
        return Some("a task needs words: what the admin agent should do".into());
    }
    if words.chars().count() > WORDS_MAX {
        return Some(format!("a task is at most {WORDS_MAX} characters"));
    }
    None
}

/// Queue a task in the caller's transaction; returns its id and how many tasks are ahead.
/// After the commit, [`kick`] starts the runner.
pub fn file(
    tx: &Tx<'_>,
    by: &str,
    origin: &TaskOrigin,
    words: &str,
    now: UnixTime,
) -> Result<(String, i64), StoreError> {
    let id = format!(
        "T-{}-{}",
        time::utc_stamp(now).get(..8).unwrap_or("00000000"),
        ids::random_base32(6)?
    );
    let ahead = tx.insert_task(&id, by, origin, words, now)?;
    log::info!(
        clawdbot_task = id.as_str();
        "task {id} queued for {by} ({ahead} ahead): {}",
        crate::core::request::excerpt(words)
    );
    Ok((id, ahead))
}

/// Start `clawdbot-task` (through its path unit) if a task waits: a trigger file, created in
/// place, whose absence only delays a task until the next broker pass calls this again.
pub fn kick(config: &Config, store: &mut Store) {
    let waiting = store.read(|tx| tx.tasks_in(&["queued"]));
    match waiting {
        Ok(waiting) if waiting.is_empty() => {}
        Ok(_) => {
            let path = config.paths.tasks().join("queued");
            let made = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o640)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path);
            if let Err(e) = made {
                log::warn!(
                    "{}: cannot start the task runner ({e}); the next pass tries again",
                    path.display()
                );
            }
        }
        Err(e) => log::warn!("cannot read the task queue: {e}"),
    }
}

/// Tell the operator who asked, in the chat or mail thread task `id` came from.
pub fn tell(
    tx: &Tx<'_>,
    (id, origin): (&str, &TaskOrigin),
    text: &str,
    now: UnixTime,
) -> Result<(), StoreError> {
    let draft = match origin {
        TaskOrigin::Telegram { chat } => (
            Channel::Telegram,
            Draft {
                kind: "task".into(),
                chat: Some(*chat),
                text: format!("{id}: {text}"),
                created_at: now,
                ..Draft::default()
            },
        ),
        TaskOrigin::Mail {
            message_id,
            subject,
        } => (
            Channel::Mail,
            Draft {
                kind: "task".into(),
                subject: re(subject),
                text: format!("{id}: {text}"),
                in_reply_to: Some(message_id.clone()),
                created_at: now,
                ..Draft::default()
            },
        ),
    };
    tx.insert_draft(draft.0, &draft.1)
}

/// `Re: SUBJECT`, once.
fn re(subject: &str) -> String {
    let subject = crate::core::request::header_safe(subject);
    let subject = subject.trim();
    if subject.to_lowercase().starts_with("re:") {
        subject.to_string()
    } else if subject.is_empty() {
        "Re: your task".into()
    } else {
        format!("Re: {subject}")
    }
}

/// The prompt of a task: the operator's words are the instructions (it is the operator
/// speaking, authenticated as for an approval).
pub fn prompt(config: &Config, task: &Task) -> String {
    serde_json::json!({
        "task": Use::Task.as_str(),
        "instructions": format!(
            "An operator of this server asks you to do the following on it. You run as root, \
             with at most {} minutes. Do what is asked, carefully, and nothing else; then answer \
             in a few short lines of plain text: what you did, and what you found.",
            config.agent.task_timeout.get().as_secs().div_ceil(60)
        ),
        "operator_message": task.words,
        "task_id": task.id,
        "asked_by": task.filed_by,
    })
    .to_string()
}
