//! Tasks for the admin agent: the operator's words, queued, run one at a time by
//! `clawdbot-task`, with who asked, when, the exit status and the first part of the answer.

use rusqlite::{OptionalExtension, params};

use crate::platform::time::UnixTime;

use super::{StoreError, Tx};

/// Where a task came from, and so where its answer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskOrigin {
    /// `/task` in a private Telegram chat.
    Telegram {
        /// The chat.
        chat: i64,
    },
    /// A mail to the suite.
    Mail {
        /// The operator's Message-ID, without angle brackets: the answer is in its thread.
        message_id: String,
        /// Its subject.
        subject: String,
    },
}

/// One task.
#[derive(Debug, Clone)]
pub struct Task {
    /// `T-YYYYMMDD-XXXX`.
    pub id: String,
    /// Who asked: `telegram:USER` or `mail:ADDRESS`.
    pub filed_by: String,
    /// Where the answer goes.
    pub origin: TaskOrigin,
    /// The operator's words.
    pub words: String,
    /// `queued`, `running`, `done`, `failed` or `timed-out`.
    pub state: String,
    /// When it was asked for.
    pub created_at: UnixTime,
    /// When it started.
    pub started_at: Option<UnixTime>,
    /// When it ended.
    pub finished_at: Option<UnixTime>,
    /// The agent's exit status (-1: killed, or never started).
    pub exit_status: Option<i64>,
    /// The first part of the agent's answer, or why there is none.
    pub output: Option<String>,
}

const COLUMNS: &str = "id, filed_by, chat_id, mail_id, subject, words, state, created_at, started_at, finished_at, exit_status, output";

fn task(r: &rusqlite::Row<'_>) -> rusqlite::Result<Task> {
    let chat: Option<i64> = r.get(2)?;
    let mail: Option<String> = r.get(3)?;
    let origin = match (chat, mail) {
        (Some(chat), _) => TaskOrigin::Telegram { chat },
        (None, mail) => TaskOrigin::Mail {
            message_id: mail.unwrap_or_default(),
            subject: r.get(4)?,
        },
    };
    Ok(Task {
        id: r.get(0)?,
        filed_by: r.get(1)?,
        origin,
        words: r.get(5)?,
        state: r.get(6)?,
        created_at: r.get(7)?,
        started_at: r.get(8)?,
        finished_at: r.get(9)?,
        exit_status: r.get(10)?,
        output: r.get(11)?,
    })
}

impl Tx<'_> {
    /// Queue a task; returns how many were queued or running before it.
    pub fn insert_task(
        &self,
        id: &str,
        filed_by: &str,
        origin: &TaskOrigin,
        words: &str,
        now: UnixTime,
    ) -> Result<i64, StoreError> {
        let (chat, mail, subject) = match origin {
            TaskOrigin::Telegram { chat } => (Some(*chat), None, ""),
            TaskOrigin::Mail {
                message_id,
                subject,
            } => (None, Some(message_id.as_str()), subject.as_str()),
        };
        let ahead: i64 = self
            .tx
            .query_row(
                "SELECT COUNT(*) FROM tasks WHERE state IN ('queued', 'running')",
                [],
                |r| r.get(0),
            )
            .map_err(self.err("cannot count tasks"))?;
        self.tx
            .execute(
                "INSERT INTO tasks (id, filed_by, chat_id, mail_id, subject, words, state, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7)",
                params![id, filed_by, chat, mail, subject, words, now],
            )
            .map_err(self.err(format!("cannot record task {id}")))?;
        Ok(ahead)
    }

    /// Take the oldest queued task and mark it running.
    pub fn start_next_task(&self, now: UnixTime) -> Result<Option<Task>, StoreError> {
        let next = self
            .tx
            .query_row(
                &format!("SELECT {COLUMNS} FROM tasks WHERE state = 'queued' ORDER BY created_at, rowid LIMIT 1"),
                [],
                task,
            )
            .optional()
            .map_err(self.err("cannot read the task queue"))?;
        let Some(mut next) = next else {
            return Ok(None);
        };
        self.tx
            .execute(
                "UPDATE tasks SET state = 'running', started_at = ?2 WHERE id = ?1 AND state = 'queued'",
                params![next.id, now],
            )
            .map_err(self.err(format!("cannot start task {}", next.id)))?;
        next.state = "running".into();
        next.started_at = Some(now);
        Ok(Some(next))
    }

    /// Record how a running task ended.
    pub fn finish_task(
        &self,
        id: &str,
        state: &str,
        exit_status: i64,
        output: &str,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "UPDATE tasks SET state = ?2, exit_status = ?3, output = ?4, finished_at = ?5 WHERE id = ?1 AND state = 'running'",
                params![id, state, exit_status, output, now],
            )
            .map(drop)
            .map_err(self.err(format!("cannot finish task {id}")))
    }

    /// Tasks in `states`, oldest first.
    pub fn tasks_in(&self, states: &[&str]) -> Result<Vec<Task>, StoreError> {
        let marks = vec!["?"; states.len()].join(", ");
        let mut stmt = self
            .tx
            .prepare(&format!(
                "SELECT {COLUMNS} FROM tasks WHERE state IN ({marks}) ORDER BY created_at, rowid"
            ))
            .map_err(self.err("cannot read tasks"))?;
        stmt.query_map(rusqlite::params_from_iter(states), task)
            .and_then(Iterator::collect)
            .map_err(self.err("cannot read tasks"))
    }

    /// The most recent tasks, newest first.
    pub fn recent_tasks(&self, limit: i64) -> Result<Vec<Task>, StoreError> {
        let mut stmt = self
            .tx
            .prepare(&format!(
                "SELECT {COLUMNS} FROM tasks ORDER BY created_at DESC, rowid DESC LIMIT ?1"
            ))
            .map_err(self.err("cannot read tasks"))?;
        stmt.query_map([limit], task)
            .and_then(Iterator::collect)
            .map_err(self.err("cannot read tasks"))
    }
}
