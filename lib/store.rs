//! The state store: one SQLite database in WAL mode. Every state change happens in one
//! `BEGIN IMMEDIATE` transaction together with its audit row; events are logged only after the
//! transaction commits, so the journal never tells of a change the database does not hold.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use crate::exit::{Exit, ExitStatus};
use crate::ids::{RandomError, RequestId};
use crate::journal::{self, Event, Kind};
use crate::state::State;
use crate::time::UnixTime;

/// The schema, one migration per version; `PRAGMA user_version` says how many have run.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE requests (
    id            TEXT PRIMARY KEY,
    state         TEXT NOT NULL,
    kind          TEXT NOT NULL,
    summary       TEXT NOT NULL,
    reason        TEXT NOT NULL,
    details       TEXT,
    client_ref    TEXT,
    reply_session TEXT,
    hash          TEXT NOT NULL,
    canonical     TEXT NOT NULL,
    raw           BLOB NOT NULL,
    source        TEXT NOT NULL,
    risk          TEXT NOT NULL,
    risk_reasons  TEXT NOT NULL,
    argv          TEXT,
    reply_key     TEXT NOT NULL,
    mails         INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    deadline_at   INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX requests_client_ref ON requests(client_ref) WHERE client_ref IS NOT NULL;
CREATE INDEX requests_hash ON requests(hash);
CREATE INDEX requests_state ON requests(state);

CREATE TABLE rejections (
    id          TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    quarantined TEXT NOT NULL,
    problems    TEXT NOT NULL,
    excerpt     TEXT NOT NULL,
    at          INTEGER NOT NULL
);

CREATE TABLE audit (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    at         INTEGER NOT NULL,
    from_state TEXT,
    to_state   TEXT,
    actor      TEXT NOT NULL,
    event      TEXT NOT NULL,
    detail     TEXT NOT NULL
);
CREATE INDEX audit_request ON audit(request_id, seq);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,
    message_id      TEXT NOT NULL UNIQUE,
    sender          TEXT NOT NULL,
    recipients      TEXT NOT NULL,
    message         BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox(sent_at, next_attempt_at);

CREATE TABLE outbox_requests (
    outbox_id  INTEGER NOT NULL REFERENCES outbox(id),
    request_id TEXT NOT NULL REFERENCES requests(id),
    PRIMARY KEY (outbox_id, request_id)
);
CREATE INDEX outbox_requests_request ON outbox_requests(request_id);
"#,
    r#"
CREATE TABLE bridge_messages (
    id           TEXT PRIMARY KEY,
    request_id   TEXT,
    mode         TEXT NOT NULL,
    body         BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    delivered_at INTEGER
);
CREATE INDEX bridge_messages_state ON bridge_messages(state);

CREATE TABLE bridge_seen (
    id      TEXT PRIMARY KEY,
    seen_at INTEGER NOT NULL
);
CREATE INDEX bridge_seen_at ON bridge_seen(seen_at);
"#,
    r#"
CREATE TABLE replies (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id   TEXT,
    content_hash TEXT NOT NULL UNIQUE,
    file         TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    sender       TEXT,
    request_id   TEXT,
    outcome      TEXT NOT NULL CHECK (outcome IN ('unreadable', 'refused', 'accepted')),
    reason       TEXT NOT NULL,
    intent       TEXT,
    text         TEXT
);
CREATE UNIQUE INDEX replies_message_id ON replies(message_id) WHERE message_id IS NOT NULL;
ALTER TABLE requests ADD COLUMN decided_by TEXT;
ALTER TABLE requests ADD COLUMN decision_note TEXT;
ALTER TABLE requests ADD COLUMN approved_hash TEXT;
ALTER TABLE requests ADD COLUMN exec_exit INTEGER;
ALTER TABLE requests ADD COLUMN exec_output TEXT;
ALTER TABLE requests ADD COLUMN exec_finished_at INTEGER;
ALTER TABLE requests ADD COLUMN reminded INTEGER NOT NULL DEFAULT 0;
"#,
    r#"
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE gmail_messages (
    id      TEXT PRIMARY KEY,
    seen_at INTEGER NOT NULL,
    fetched INTEGER NOT NULL,
    reason  TEXT NOT NULL
);
"#,
    r#"
CREATE TABLE watchdog_files (
    path       BLOB PRIMARY KEY,
    dev        INTEGER NOT NULL,
    ino        INTEGER NOT NULL,
    size       INTEGER NOT NULL,
    mtime_ns   INTEGER NOT NULL,
    verdict    TEXT NOT NULL,
    checked_at INTEGER NOT NULL
);
CREATE TABLE watchdog_repairs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    path        BLOB NOT NULL,
    backup      BLOB NOT NULL,
    repaired_at INTEGER NOT NULL,
    removed     INTEGER NOT NULL,
    problems    TEXT NOT NULL
);
"#,
    r#"
CREATE TABLE secret_rotations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    rotated_on  TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    actor       TEXT NOT NULL
);
CREATE INDEX secret_rotations_name ON secret_rotations(name, rotated_on);
CREATE TABLE secret_tracking (
    name  TEXT PRIMARY KEY,
    since TEXT NOT NULL
);
CREATE TABLE secret_reminders (
    name    TEXT NOT NULL,
    due     TEXT NOT NULL,
    rank    INTEGER NOT NULL,
    sent_at INTEGER NOT NULL,
    PRIMARY KEY (name, due)
);
"#,
    r#"
CREATE TABLE maint_samples (
    at    INTEGER NOT NULL,
    key   TEXT NOT NULL,
    value REAL NOT NULL
);
CREATE INDEX maint_samples_key ON maint_samples(key, at);
"#,
    r#"
CREATE TABLE telegram_outbox (
    id              INTEGER PRIMARY KEY,
    chat_id         INTEGER NOT NULL,
    text            TEXT NOT NULL,
    markup          TEXT,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    kind            TEXT NOT NULL DEFAULT 'bot'
);
CREATE INDEX telegram_outbox_due ON telegram_outbox(state, next_attempt_at);
CREATE TABLE notifications (
    id         INTEGER PRIMARY KEY,
    gmail_id   TEXT NOT NULL UNIQUE,
    sender     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    excerpt    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    held       INTEGER NOT NULL DEFAULT 0,
    queued_at  INTEGER
);
CREATE INDEX notifications_pending ON notifications(queued_at);
CREATE TABLE telegram_updates (
    update_id  INTEGER PRIMARY KEY,
    handled_at INTEGER NOT NULL
);
CREATE TABLE telegram_refusals (
    sender         INTEGER PRIMARY KEY,
    count          INTEGER NOT NULL,
    last_logged_at INTEGER NOT NULL
);
"#,
    r#"
CREATE TABLE calendar_sources (
    account      TEXT NOT NULL,
    calendar     TEXT NOT NULL,
    name         TEXT NOT NULL,
    events       TEXT NOT NULL,
    fetched_at   INTEGER,
    attempted_at INTEGER NOT NULL,
    error        TEXT,
    needs_person INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account, calendar)
);
"#,
    // Only a reply that passed every check may claim its Message-ID (a stranger could
    // otherwise pre-claim the id of the operator's coming reply); the id any mail carried is
    // kept beside it.
    r#"
ALTER TABLE replies ADD COLUMN mail_message_id TEXT;
UPDATE replies SET mail_message_id = message_id;
UPDATE replies SET message_id = NULL WHERE outcome != 'accepted';
"#,
    // What a simulation of the action (apt-get -s) showed the operator, as JSON.
    r#"
ALTER TABLE requests ADD COLUMN preview TEXT;
"#,
];

/// One calendar's last fetch: its events as of the last success (JSON), and the last error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarSource {
    /// The configured account.
    pub account: String,
    /// The calendar's id at its service.
    pub calendar: String,
    /// Its name as the service shows it.
    pub name: String,
    /// The events of the last good fetch, as JSON.
    pub events: String,
    /// When that fetch was.
    pub fetched_at: Option<UnixTime>,
    /// When the last attempt was.
    pub attempted_at: UnixTime,
    /// Why the last attempt failed (none: it succeeded).
    pub error: Option<String>,
    /// The failure will not pass by itself (a refused grant, a missing credential).
    pub needs_person: bool,
}

/// A mail the operator is told of on Telegram.
#[derive(Debug, Clone, Default)]
pub struct Notification {
    /// Its row (0 before it is recorded).
    pub id: i64,
    /// The Gmail message id (each is notified once).
    pub gmail_id: String,
    /// The sender's address.
    pub sender: String,
    /// The subject.
    pub subject: String,
    /// The first lines of the trimmed text.
    pub excerpt: String,
    /// When it was recorded.
    pub created_at: UnixTime,
    /// Whether quiet hours held it.
    pub held: bool,
}

/// A queued Telegram message.
#[derive(Debug, Clone)]
pub struct TelegramOut {
    /// Its row.
    pub id: i64,
    /// The chat it goes to.
    pub chat_id: i64,
    /// The text (HTML parse mode).
    pub text: String,
    /// `reply_markup` JSON, if any.
    pub markup: Option<String>,
    /// Attempts so far.
    pub attempts: i64,
}

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("state database {}: {context}: {source}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        context: String,
        /// The cause.
        source: rusqlite::Error,
    },
    /// The disk holding the database is full.
    #[error("state database {}: {context}: the disk is full ({source}); the job retries once space is freed", path.display())]
    Full {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        context: String,
        /// The cause as SQLite saw it.
        source: Box<rusqlite::Error>,
    },
    /// A transition that the state machine does not have.
    #[error("request {id}: {from} → {to} is not a transition of the state machine")]
    InvalidTransition {
        /// The request.
        id: String,
        /// Its state.
        from: State,
        /// The state asked for.
        to: State,
    },
    /// The request was not in the expected state (another pass moved it).
    #[error("request {id} is no longer {expected}")]
    Conflict {
        /// The request.
        id: String,
        /// The state it was expected in.
        expected: State,
    },
    /// The database was written by a newer version.
    #[error("state database {} has schema version {found}; this build knows {known}: upgrade clawdbot", path.display())]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// Ours.
        known: usize,
    },
    /// No random bytes for a new id.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// Something other than a regular file lies where the database or its journal would be.
    #[error("state database {}: {source}", path.display())]
    NotAFile {
        /// The database file.
        path: PathBuf,
        /// What was found.
        source: std::io::Error,
    },
}

impl StoreError {
    /// A SQLite error, told apart as [`StoreError::Full`] when it comes from a full disk:
    /// SQLite says so itself (`SQLITE_FULL`), or reports an I/O error while the file system
    /// holding the database has no space left.
    fn sqlite(path: PathBuf, context: String, source: rusqlite::Error) -> StoreError {
        use rusqlite::ErrorCode;
        let full = match source.sqlite_error_code() {
            Some(ErrorCode::DiskFull) => true,
            Some(ErrorCode::SystemIoFailure | ErrorCode::CannotOpen) => {
                crate::atomic::available_bytes(&path).is_some_and(|free| free < 64 * 1024)
            }
            _ => false,
        };
        if full {
            StoreError::Full {
                path,
                context,
                source: Box::new(source),
            }
        } else {
            StoreError::Sqlite {
                path,
                context,
                source,
            }
        }
    }
}

impl ExitStatus for StoreError {
    fn exit(&self) -> Exit {
        match self {
            // Busy, locked or full: a later run succeeds once the other writer or the space
            // is gone.
            StoreError::Full { .. } => Exit::TempFail,
            StoreError::Sqlite { source, .. }
                if matches!(
                    source.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                ) =>
            {
                Exit::TempFail
            }
            StoreError::Sqlite { .. } | StoreError::Random(_) | StoreError::NotAFile { .. } => {
                Exit::IoErr
            }
            StoreError::InvalidTransition { .. } | StoreError::Conflict { .. } => Exit::Software,
            StoreError::TooNew { .. } => Exit::Config,
        }
    }
}

/// The open database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// A new request, validated, about to be recorded as `Detected`.
#[derive(Debug, Clone)]
pub struct NewRequest<'a> {
    /// Action name or `freeform`.
    pub kind: &'a str,
    /// One line.
    pub summary: &'a str,
    /// Why.
    pub reason: &'a str,
    /// Free text.
    pub details: Option<&'a str>,
    /// The agent's idempotency key.
    pub client_ref: Option<&'a str>,
    /// Where the outcome goes.
    pub reply_session: Option<&'a str>,
    /// SHA-256 of the canonical JSON.
    pub hash: &'a str,
    /// The canonical JSON.
    pub canonical: &'a str,
    /// The bytes as received.
    pub raw: &'a [u8],
    /// The spool file name it came from.
    pub source: &'a str,
    /// The assessed risk.
    pub risk: &'a str,
    /// Why that risk.
    pub risk_reasons: &'a [String],
    /// What will run (action requests).
    pub argv: Option<&'a [String]>,
    /// The key in the per-request reply address.
    pub reply_key: &'a str,
    /// When it was received.
    pub now: UnixTime,
    /// When it expires.
    pub deadline: UnixTime,
    /// What a simulation showed (JSON), for actions simulated.
    pub preview: Option<&'a str>,
}

/// A request as stored.
#[derive(Debug, Clone, Serialize)]
pub struct RequestRow {
    /// The id.
    pub id: RequestId,
    /// Its state.
    pub state: State,
    /// Action name or `freeform`.
    pub kind: String,
    /// One line.
    pub summary: String,
    /// Why.
    pub reason: String,
    /// Free text.
    pub details: Option<String>,
    /// The agent's idempotency key.
    pub client_ref: Option<String>,
    /// The agent session the outcome should go to.
    pub reply_session: Option<String>,
    /// SHA-256 of the canonical JSON.
    pub hash: String,
    /// The risk.
    pub risk: String,
    /// Why.
    pub risk_reasons: Vec<String>,
    /// What will run.
    pub argv: Option<Vec<String>>,
    /// The per-request reply key.
    pub reply_key: String,
    /// Mails sent about it so far.
    pub mails: i64,
    /// Received.
    pub created_at: UnixTime,
    /// Expires.
    pub deadline_at: UnixTime,
    /// Last change.
    pub updated_at: UnixTime,
    /// Who approved or denied it.
    pub decided_by: Option<String>,
    /// The operator's words with the decision.
    pub decision_note: Option<String>,
    /// The hash the approval was given for.
    pub approved_hash: Option<String>,
    /// The action's exit status (-1: killed or timed out).
    pub exec_exit: Option<i64>,
    /// The start of the action's output.
    pub exec_output: Option<String>,
    /// When the run ended.
    pub exec_finished_at: Option<UnixTime>,
    /// Whether the half-time reminder went out.
    pub reminded: bool,
    /// The canonical JSON the hash is of.
    #[serde(skip)]
    pub canonical: String,
    /// What a simulation of the action showed the operator (JSON), for actions simulated.
    pub preview: Option<String>,
}

/// One audit row.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRow {
    /// Order.
    pub seq: i64,
    /// The request.
    pub request_id: String,
    /// When.
    pub at: UnixTime,
    /// State before, if it changed.
    pub from: Option<String>,
    /// State after, if it changed.
    pub to: Option<String>,
    /// Who: `broker`, an operator address, `clawdbot-exec`.
    pub actor: String,
    /// What happened.
    pub event: String,
    /// Details.
    pub detail: String,
}

/// A mail waiting in the outbox.
#[derive(Debug, Clone)]
pub struct OutboxMail {
    /// Row id.
    pub id: i64,
    /// `approval` or `digest`.
    pub kind: String,
    /// The Message-ID.
    pub message_id: String,
    /// Envelope sender.
    pub sender: String,
    /// Envelope recipients.
    pub recipients: Vec<String>,
    /// The formatted message.
    pub message: Vec<u8>,
    /// Attempts so far.
    pub attempts: i64,
}

/// What identifies a file's content cheaply: device, inode, size and modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    /// Device.
    pub dev: i64,
    /// Inode.
    pub ino: i64,
    /// Size in bytes.
    pub size: i64,
    /// Modification time in nanoseconds since the epoch.
    pub mtime_ns: i64,
}

/// A rejected request file.
#[derive(Debug, Clone)]
pub struct Rejection<'a> {
    /// The id given to it.
    pub id: &'a RequestId,
    /// The spool file name.
    pub source: &'a str,
    /// Where it went.
    pub quarantined: &'a str,
    /// The problems, as JSON.
    pub problems: &'a str,
    /// A short printable excerpt.
    pub excerpt: &'a str,
    /// When.
    pub now: UnixTime,
}

const REQUEST_COLUMNS: &str = "id, state, kind, summary, reason, details, client_ref, hash, risk, risk_reasons, argv, reply_key, mails, created_at, deadline_at, updated_at, reply_session, decided_by, decision_note, approved_hash, exec_exit, exec_output, exec_finished_at, reminded, canonical, preview";

impl Store {
    /// Open (creating if needed) the database and bring its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let fail = |context: &str| {
            let path = path.to_path_buf();
            let context = context.to_string();
            move |source| StoreError::sqlite(path, context, source)
        };
        // Root jobs (exec, watchdog, maintenance) open this file inside a directory the
        // unprivileged clawdbot user owns: a link planted there must not lead root's writes
        // elsewhere. SQLite refuses a link anywhere in the name with NOFOLLOW (and opens -wal
        // and -shm without following links), so the directory, whose own path only root
        // controls, is resolved first.
        let real = match (path.parent(), path.file_name()) {
            (Some(dir), Some(name)) if !dir.as_os_str().is_empty() => {
                std::fs::canonicalize(dir).map_or_else(|_| path.to_path_buf(), |dir| dir.join(name))
            }
            _ => path.to_path_buf(),
        };
        crate::dir::check_database(&real).map_err(|source| StoreError::NotAFile {
            path: real.clone(),
            source,
        })?;
        let flags = OpenFlags::default() | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        let conn = Connection::open_with_flags(&real, flags).map_err(fail("cannot open"))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(fail("cannot set busy timeout"))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(fail("cannot enable WAL"))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(fail("cannot set synchronous"))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(fail("cannot enable foreign keys"))?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.migrate()?;
        Ok(store)
    }

    fn err<C: Into<String>>(
        &self,
        context: C,
    ) -> impl FnOnce(rusqlite::Error) -> StoreError + use<C> {
        let path = self.path.clone();
        let context = context.into();
        move |source| StoreError::sqlite(path, context, source)
    }

    /// Bring the schema up to date, one migration per transaction. The version is read inside
    /// each write transaction: several jobs may open a new database at once, and the one that
    /// waited for the lock must see what the first one did.
    fn migrate(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let fail = |context: String| {
            let path = path.clone();
            move |source| StoreError::sqlite(path, context, source)
        };
        loop {
            let begin = fail("cannot begin migration".into());
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(begin)?;
            let version: i64 = tx
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .map_err(fail("cannot read schema version".into()))?;
            let Some(sql) = usize::try_from(version)
                .ok()
                .and_then(|v| MIGRATIONS.get(v))
            else {
                if version > MIGRATIONS.len() as i64 {
                    return Err(StoreError::TooNew {
                        path: path.clone(),
                        found: version,
                        known: MIGRATIONS.len(),
                    });
                }
                return Ok(());
            };
            let err = fail(format!("migration to schema version {}", version + 1));
            tx.execute_batch(sql)
                .and_then(|()| tx.pragma_update(None, "user_version", version + 1))
                .and_then(|()| tx.commit())
                .map_err(err)?;
        }
    }

    /// Run `f` in one `BEGIN IMMEDIATE` transaction; log its events once it has committed.
    pub fn write<T>(
        &mut self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        let begin = self.err("cannot begin transaction");
        let commit = self.err("cannot commit");
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(begin)?;
        let mut wrapped = Tx {
            tx,
            path,
            events: Vec::new(),
        };
        let value = f(&mut wrapped)?;
        let Tx { tx, events, .. } = wrapped;
        tx.commit().map_err(commit)?;
        crate::failpoint::hit("store::after-commit");
        events.iter().for_each(journal::emit);
        Ok(value)
    }

    /// Remember a verified bridge message id and hand its body over, in one write
    /// transaction: the id counts as seen only once `hand_over` succeeded, so a receiver that
    /// dies in between is given the message again (at least once), and two receivers of the
    /// same message cannot both take it. `None` when the id was seen before (a replay).
    pub fn take_message<T, E>(
        &mut self,
        id: &str,
        now: UnixTime,
        hand_over: impl FnOnce() -> Result<T, E>,
    ) -> Result<Option<Result<T, E>>, StoreError> {
        let begin = self.err("cannot begin transaction");
        let commit = self.err(format!("cannot commit message id {id}"));
        let tx = Tx {
            tx: self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(begin)?,
            path: self.path.clone(),
            events: Vec::new(),
        };
        if !tx.remember_message_id(id, now)? {
            return Ok(None);
        }
        crate::failpoint::hit("bridge::before-hand-over");
        let handed = hand_over();
        // A failed hand-over drops the transaction, which rolls the id back.
        if handed.is_ok() {
            crate::failpoint::hit("bridge::after-hand-over");
            tx.tx.commit().map_err(commit)?;
        }
        Ok(Some(handed))
    }

    /// Run `f` in a transaction that is always rolled back: a look at the state that can
    /// change nothing (`clawdbot-broker interpret`).
    pub fn read<T>(
        &mut self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        let begin = self.err("cannot begin transaction");
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(begin)?;
        let mut wrapped = Tx {
            tx,
            path,
            events: Vec::new(),
        };
        f(&mut wrapped)
    }

    /// A request by id.
    pub fn request(&self, id: &RequestId) -> Result<Option<RequestRow>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE id = ?1"),
                [id.as_str()],
                request_row,
            )
            .optional()
            .map_err(self.err(format!("cannot read request {id}")))
    }

    /// Requests in any of these states, oldest first.
    pub fn requests_in(&self, states: &[State]) -> Result<Vec<RequestRow>, StoreError> {
        let names: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM requests WHERE state IN ({}) ORDER BY created_at, id",
            names.join(",")
        );
        let mut stmt = self
            .conn
            .prepare(&sql)
            .map_err(self.err("cannot list requests"))?;
        let rows = stmt
            .query_map([], request_row)
            .map_err(self.err("cannot list requests"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("cannot list requests"))
    }

    /// Every request that is not final, oldest first.
    pub fn open_requests(&self) -> Result<Vec<RequestRow>, StoreError> {
        let open: Vec<State> = State::ALL.into_iter().filter(|s| !s.is_final()).collect();
        self.requests_in(&open)
    }

    /// Every session file remembered by the watchdog, with its state when last read.
    pub fn sessions_seen(&self) -> Result<HashMap<Vec<u8>, (Fingerprint, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT path, dev, ino, size, mtime_ns, verdict FROM watchdog_files")
            .map_err(self.err("cannot read session files"))?;
        let rows = stmt
            .query_map([], |r| {
                let seen = Fingerprint {
                    dev: r.get(1)?,
                    ino: r.get(2)?,
                    size: r.get(3)?,
                    mtime_ns: r.get(4)?,
                };
                Ok((r.get(0)?, (seen, r.get(5)?)))
            })
            .map_err(self.err("cannot read session files"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("cannot read session files"))
    }

    /// A request's audit trail, in order.
    pub fn audit(&self, id: &str) -> Result<Vec<AuditRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, request_id, at, from_state, to_state, actor, event, detail FROM audit WHERE request_id = ?1 ORDER BY seq")
            .map_err(self.err("cannot read audit"))?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(AuditRow {
                    seq: r.get(0)?,
                    request_id: r.get(1)?,
                    at: r.get(2)?,
                    from: r.get(3)?,
                    to: r.get(4)?,
                    actor: r.get(5)?,
                    event: r.get(6)?,
                    detail: r.get(7)?,
                })
            })
            .map_err(self.err("cannot read audit"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("cannot read audit"))
    }

    /// Mails not yet sent whose next attempt is due.
    pub fn due_mails(&self, now: UnixTime) -> Result<Vec<OutboxMail>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, kind, message_id, sender, recipients, message, attempts FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= ?1 ORDER BY id")
            .map_err(self.err("cannot read outbox"))?;
        let rows = stmt
            .query_map([now], |r| {
                let recipients: String = r.get(4)?;
                Ok(OutboxMail {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    message_id: r.get(2)?,
                    sender: r.get(3)?,
                    recipients: serde_json::from_str(&recipients).unwrap_or_default(),
                    message: r.get(5)?,
                    attempts: r.get(6)?,
                })
            })
            .map_err(self.err("cannot read outbox"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("cannot read outbox"))
    }

    /// How many mails of `kind` were queued since `since`.
    pub fn mails_queued_since(&self, kind: &str, since: UnixTime) -> Result<i64, StoreError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM outbox WHERE kind = ?1 AND created_at >= ?2",
                params![kind, since],
                |r| r.get(0),
            )
            .map_err(self.err("cannot read outbox"))
    }

    /// Bridge messages not yet delivered: (id, request, body), oldest first.
    pub fn undelivered_bridge_messages(&self) -> Result<Vec<BridgeRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, request_id, body, state, attempts, last_error FROM bridge_messages WHERE state != 'delivered' ORDER BY created_at, id")
            .map_err(self.err("cannot read bridge messages"))?;
        let rows = stmt
            .query_map([], bridge_record)
            .map_err(self.err("cannot read bridge messages"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("cannot read bridge messages"))
    }
}

/// One reply mail as recorded.
#[derive(Debug, Clone)]
pub struct ReplyRecord<'a> {
    /// The Message-ID it claims: only a reply that counted claims one.
    pub message_id: Option<&'a str>,
    /// The Message-ID the mail carried, whoever sent it.
    pub mail_message_id: Option<&'a str>,
    /// SHA-256 of its bytes.
    pub content_hash: &'a str,
    /// Its Maildir file name.
    pub file: &'a str,
    /// The sender address.
    pub sender: Option<&'a str>,
    /// The request it answers.
    pub request_id: Option<&'a str>,
    /// `unreadable`, `refused` or `accepted`.
    pub outcome: &'a str,
    /// Why.
    pub reason: &'a str,
    /// The interpreted intent.
    pub intent: Option<&'a str>,
    /// The trimmed text.
    pub text: Option<&'a str>,
    /// When.
    pub now: UnixTime,
}

/// A bridge message as recorded by the sender.
#[derive(Debug, Clone, Serialize)]
pub struct BridgeRecord {
    /// The message id (`msg_…`).
    pub id: String,
    /// The request it is about.
    pub request_id: Option<String>,
    /// The exact body.
    #[serde(skip)]
    pub body: Vec<u8>,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// The last failure.
    pub last_error: Option<String>,
}

fn bridge_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<BridgeRecord> {
    Ok(BridgeRecord {
        id: r.get(0)?,
        request_id: r.get(1)?,
        body: r.get(2)?,
        state: r.get(3)?,
        attempts: r.get(4)?,
        last_error: r.get(5)?,
    })
}

fn request_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RequestRow> {
    let bad = |i: usize, what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            what.to_string().into(),
        )
    };
    let id: String = r.get(0)?;
    let state: String = r.get(1)?;
    let reasons: String = r.get(9)?;
    let argv: Option<String> = r.get(10)?;
    Ok(RequestRow {
        id: RequestId::parse(&id).ok_or_else(|| bad(0, "malformed request id"))?,
        state: State::parse(&state).ok_or_else(|| bad(1, "unknown state"))?,
        kind: r.get(2)?,
        summary: r.get(3)?,
        reason: r.get(4)?,
        details: r.get(5)?,
        client_ref: r.get(6)?,
        reply_session: r.get(16)?,
        decided_by: r.get(17)?,
        decision_note: r.get(18)?,
        approved_hash: r.get(19)?,
        exec_exit: r.get(20)?,
        exec_output: r.get(21)?,
        exec_finished_at: r.get(22)?,
        reminded: r.get(23)?,
        canonical: r.get(24)?,
        preview: r.get(25)?,
        hash: r.get(7)?,
        risk: r.get(8)?,
        risk_reasons: serde_json::from_str(&reasons).map_err(|_| bad(9, "bad risk reasons"))?,
        argv: argv
            .map(|a| serde_json::from_str(&a))
            .transpose()
            .map_err(|_| bad(10, "bad argv"))?,
        reply_key: r.get(11)?,
        mails: r.get(12)?,
        created_at: r.get(13)?,
        deadline_at: r.get(14)?,
        updated_at: r.get(15)?,
    })
}

/// An open write transaction.
pub struct Tx<'a> {
    tx: rusqlite::Transaction<'a>,
    path: PathBuf,
    events: Vec<Event>,
}

impl Tx<'_> {
    fn err<C: Into<String>>(
        &self,
        context: C,
    ) -> impl FnOnce(rusqlite::Error) -> StoreError + use<C> {
        let path = self.path.clone();
        let context = context.into();
        move |source| StoreError::sqlite(path, context, source)
    }

    /// The open request with this client_ref, or with this hash (any request with the
    /// client_ref; only open ones by hash).
    pub fn find_same(
        &self,
        client_ref: Option<&str>,
        hash: &str,
    ) -> Result<Option<(RequestId, String)>, StoreError> {
        let open: Vec<String> = State::ALL
            .into_iter()
            .filter(|s| !s.is_final())
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        let sql = format!(
            "SELECT id, hash FROM requests WHERE client_ref = ?1 \
             UNION ALL SELECT id, hash FROM requests WHERE hash = ?2 AND state IN ({}) LIMIT 1",
            open.join(",")
        );
        let found: Option<(String, String)> = self
            .tx
            .query_row(&sql, params![client_ref, hash], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(self.err("cannot look for duplicates"))?;
        Ok(found.and_then(|(id, hash)| RequestId::parse(&id).map(|id| (id, hash))))
    }

    /// A fresh id not used by any request or rejection.
    pub fn new_id(&self, now: UnixTime) -> Result<RequestId, StoreError> {
        let date = crate::time::utc_date(now);
        loop {
            let id = RequestId::generate(&date)?;
            let taken: bool = self
                .tx
                .query_row(
                    "SELECT EXISTS(SELECT 1 FROM requests WHERE id = ?1) OR EXISTS(SELECT 1 FROM rejections WHERE id = ?1)",
                    [id.as_str()],
                    |r| r.get(0),
                )
                .map_err(self.err("cannot check id"))?;
            if !taken {
                return Ok(id);
            }
        }
    }

    /// Record a new request as `Detected`.
    pub fn insert_request(&mut self, new: &NewRequest<'_>) -> Result<RequestId, StoreError> {
        let id = self.new_id(new.now)?;
        let reasons = serde_json::to_string(new.risk_reasons).unwrap_or_else(|_| "[]".into());
        let argv = new
            .argv
            .map(|a| serde_json::to_string(a).unwrap_or_else(|_| "[]".into()));
        self.tx
            .execute(
                "INSERT INTO requests (id, state, kind, summary, reason, details, client_ref, reply_session, hash, canonical, raw, source, risk, risk_reasons, argv, reply_key, created_at, deadline_at, updated_at, preview) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?17, ?19)",
                params![
                    id.as_str(), State::Detected.as_str(), new.kind, new.summary, new.reason, new.details,
                    new.client_ref, new.reply_session, new.hash, new.canonical, new.raw, new.source,
                    new.risk, reasons, argv, new.reply_key, new.now, new.deadline, new.preview
                ],
            )
            .map_err(self.err(format!("cannot record request from {}", new.source)))?;
        self.audit(
            &id,
            [None, Some(State::Detected)],
            "agent",
            "received",
            &format!("from spool file {}", new.source),
            new.now,
        )?;
        self.events.push(Event {
            kind: Kind::Received,
            request: id.to_string(),
            state: Some(State::Detected),
            message: format!("Request {id} received from {}: {}", new.source, new.summary),
            warning: false,
        });
        Ok(id)
    }

    /// Record a rejected request file.
    pub fn insert_rejection(&mut self, r: &Rejection<'_>) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO rejections (id, source, quarantined, problems, excerpt, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![r.id.as_str(), r.source, r.quarantined, r.problems, r.excerpt, r.now],
            )
            .map_err(self.err(format!("cannot record rejection of {}", r.source)))?;
        self.audit(
            r.id,
            [None, None],
            "broker",
            "rejected",
            &format!(
                "{} quarantined as {}: {}",
                r.source, r.quarantined, r.problems
            ),
            r.now,
        )?;
        self.events.push(Event {
            kind: Kind::Rejected,
            request: r.id.to_string(),
            state: None,
            message: format!(
                "Request file {} rejected and quarantined as {}",
                r.source, r.quarantined
            ),
            warning: true,
        });
        Ok(())
    }

    /// Append an audit row without a state change (a note on the request's history).
    pub fn note(
        &mut self,
        id: &RequestId,
        kind: Kind,
        actor: &str,
        detail: &str,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.audit(id, [None, None], actor, kind.name(), detail, now)?;
        self.events.push(Event {
            kind,
            request: id.to_string(),
            state: None,
            message: format!("Request {id}: {detail}"),
            warning: matches!(kind, Kind::ReplyRefused | Kind::ApprovalRefused),
        });
        Ok(())
    }

    /// Move a request `from → to`, with its audit row, refusing transitions the machine lacks
    /// and requests that are no longer in `from`.
    pub fn transition(
        &mut self,
        id: &RequestId,
        from: State,
        to: State,
        actor: &str,
        detail: &str,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        if !from.can_become(to) {
            return Err(StoreError::InvalidTransition {
                id: id.to_string(),
                from,
                to,
            });
        }
        let changed = self
            .tx
            .execute(
                "UPDATE requests SET state = ?1, updated_at = ?2 WHERE id = ?3 AND state = ?4",
                params![to.as_str(), now, id.as_str(), from.as_str()],
            )
            .map_err(self.err(format!("cannot move request {id} to {to}")))?;
        if changed != 1 {
            return Err(StoreError::Conflict {
                id: id.to_string(),
                expected: from,
            });
        }
        self.audit(id, [Some(from), Some(to)], actor, "transition", detail, now)?;
        let message = if detail.is_empty() {
            format!("Request {id} is {to}")
        } else {
            format!("Request {id} is {to}: {detail}")
        };
        self.events.push(Event {
            kind: Kind::Transition,
            request: id.to_string(),
            state: Some(to),
            message,
            warning: to == State::Failed,
        });
        Ok(())
    }

    /// `change` is the state before and after, when the state changed.
    fn audit(
        &self,
        id: &RequestId,
        [from, to]: [Option<State>; 2],
        actor: &str,
        event: &str,
        detail: &str,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO audit (request_id, at, from_state, to_state, actor, event, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![id.as_str(), now, from.map(State::as_str), to.map(State::as_str), actor, event, detail],
            )
            .map_err(self.err(format!("cannot audit request {id}")))?;
        Ok(())
    }

    /// Count one more mail about a request and return its number (for the Message-ID).
    pub fn next_mail_number(&self, id: &RequestId) -> Result<i64, StoreError> {
        self.tx
            .query_row(
                "UPDATE requests SET mails = mails + 1 WHERE id = ?1 RETURNING mails",
                [id.as_str()],
                |r| r.get(0),
            )
            .map_err(self.err(format!("cannot count mails of {id}")))
    }

    /// Put a mail in the outbox, linked to the requests it is about.
    #[allow(clippy::too_many_arguments)]
    pub fn enqueue_mail(
        &self,
        kind: &str,
        message_id: &str,
        sender: &str,
        recipients: &[String],
        message: &[u8],
        about: &[RequestId],
        now: UnixTime,
    ) -> Result<i64, StoreError> {
        let recipients = serde_json::to_string(recipients).unwrap_or_else(|_| "[]".into());
        let outbox_id: i64 = self
            .tx
            .query_row(
                "INSERT INTO outbox (kind, message_id, sender, recipients, message, created_at, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) RETURNING id",
                params![kind, message_id, sender, recipients, message, now],
                |r| r.get(0),
            )
            .map_err(self.err(format!("cannot queue mail {message_id}")))?;
        for id in about {
            self.tx
                .execute(
                    "INSERT INTO outbox_requests (outbox_id, request_id) VALUES (?1, ?2)",
                    params![outbox_id, id.as_str()],
                )
                .map_err(self.err(format!("cannot link mail {message_id} to {id}")))?;
        }
        Ok(outbox_id)
    }

    /// Mark a mail sent; returns the requests it was about.
    pub fn mark_sent(&self, outbox_id: i64, now: UnixTime) -> Result<Vec<RequestId>, StoreError> {
        self.tx
            .execute("UPDATE outbox SET sent_at = ?1, attempts = attempts + 1, last_error = NULL WHERE id = ?2 AND sent_at IS NULL", params![now, outbox_id])
            .map_err(self.err("cannot mark mail sent"))?;
        let mut stmt = self
            .tx
            .prepare(
                "SELECT request_id FROM outbox_requests WHERE outbox_id = ?1 ORDER BY request_id",
            )
            .map_err(self.err("cannot read mail links"))?;
        let ids = stmt
            .query_map([outbox_id], |r| r.get::<_, String>(0))
            .map_err(self.err("cannot read mail links"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err("cannot read mail links"))?;
        Ok(ids.iter().filter_map(|id| RequestId::parse(id)).collect())
    }

    /// Record a bridge message before its first delivery attempt.
    pub fn insert_bridge_message(
        &self,
        id: &str,
        request: Option<&str>,
        mode: &str,
        body: &[u8],
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO bridge_messages (id, request_id, mode, body, created_at, state) VALUES (?1, ?2, ?3, ?4, ?5, 'pending')",
                params![id, request, mode, body, now],
            )
            .map_err(self.err(format!("cannot record bridge message {id}")))?;
        Ok(())
    }

    /// Record the outcome of one delivery attempt.
    pub fn bridge_attempt(
        &self,
        id: &str,
        outcome: Result<(), &str>,
        final_failure: bool,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let (state, error, delivered) = match outcome {
            Ok(()) => ("delivered", None, Some(now)),
            Err(e) if final_failure => ("failed", Some(e), None),
            Err(e) => ("pending", Some(e), None),
        };
        self.tx
            .execute(
                "UPDATE bridge_messages SET state = ?1, attempts = attempts + 1, last_error = ?2, delivered_at = ?3 WHERE id = ?4",
                params![state, error, delivered, id],
            )
            .map_err(self.err(format!("cannot record delivery of {id}")))?;
        Ok(())
    }

    /// Remember a verified message id; false when it was seen before (a replay). Ids are
    /// kept an hour, well over the 600 s the replay window needs.
    pub fn remember_message_id(&self, id: &str, now: UnixTime) -> Result<bool, StoreError> {
        self.tx
            .execute("DELETE FROM bridge_seen WHERE seen_at < ?1", [now - 3600])
            .map_err(self.err("cannot expire seen message ids"))?;
        let inserted = self
            .tx
            .execute(
                "INSERT OR IGNORE INTO bridge_seen (id, seen_at) VALUES (?1, ?2)",
                params![id, now],
            )
            .map_err(self.err(format!("cannot remember message id {id}")))?;
        Ok(inserted == 1)
    }

    /// Whether a reply with this Message-ID or content hash was recorded before.
    pub fn reply_seen(
        &self,
        message_id: Option<&str>,
        content_hash: &str,
    ) -> Result<bool, StoreError> {
        self.tx
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM replies WHERE content_hash = ?1 OR (?2 IS NOT NULL AND message_id = ?2))",
                params![content_hash, message_id],
                |r| r.get(0),
            )
            .map_err(self.err("cannot look up replies"))
    }

    /// Record one reply mail and what became of it.
    pub fn insert_reply(&self, r: &ReplyRecord<'_>) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO replies (message_id, content_hash, file, received_at, sender, request_id, outcome, reason, intent, text, mail_message_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![r.message_id, r.content_hash, r.file, r.now, r.sender, r.request_id, r.outcome, r.reason, r.intent, r.text, r.mail_message_id],
            )
            .map_err(self.err(format!("cannot record reply {}", r.file)))?;
        Ok(())
    }

    /// The request a mail we sent was about, by that mail's Message-ID.
    pub fn request_of_mail(&self, message_id: &str) -> Result<Vec<RequestId>, StoreError> {
        let mut stmt = self
            .tx
            .prepare("SELECT r.request_id FROM outbox o JOIN outbox_requests r ON r.outbox_id = o.id WHERE o.message_id = ?1")
            .map_err(self.err("cannot look up sent mail"))?;
        let ids = stmt
            .query_map([message_id], |r| r.get::<_, String>(0))
            .map_err(self.err("cannot look up sent mail"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err("cannot look up sent mail"))?;
        Ok(ids.iter().filter_map(|id| RequestId::parse(id)).collect())
    }

    /// The request whose reply key this is.
    pub fn request_of_key(&self, key: &str) -> Result<Option<RequestId>, StoreError> {
        let id: Option<String> = self
            .tx
            .query_row("SELECT id FROM requests WHERE reply_key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.err("cannot look up reply key"))?;
        Ok(id.and_then(|id| RequestId::parse(&id)))
    }

    /// A request by id, read within this transaction.
    pub fn request(&self, id: &RequestId) -> Result<Option<RequestRow>, StoreError> {
        self.tx
            .query_row(
                &format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE id = ?1"),
                [id.as_str()],
                request_row,
            )
            .optional()
            .map_err(self.err(format!("cannot read request {id}")))
    }

    /// Record who decided, with their words, and (for an approval) the hash approved.
    pub fn set_decision(
        &self,
        id: &RequestId,
        by: &str,
        note: &str,
        approved_hash: Option<&str>,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "UPDATE requests SET decided_by = ?1, decision_note = ?2, approved_hash = ?3 WHERE id = ?4",
                params![by, note, approved_hash, id.as_str()],
            )
            .map_err(self.err(format!("cannot record the decision on {id}")))?;
        Ok(())
    }

    /// Record the result of running a request's action.
    pub fn set_execution(
        &self,
        id: &RequestId,
        exit: i64,
        output: &str,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "UPDATE requests SET exec_exit = ?1, exec_output = ?2, exec_finished_at = ?3 WHERE id = ?4",
                params![exit, output, now, id.as_str()],
            )
            .map_err(self.err(format!("cannot record the run of {id}")))?;
        Ok(())
    }

    /// Raise a request's risk (the admin agent's assessment).
    pub fn update_risk(
        &self,
        id: &RequestId,
        risk: &str,
        reasons: &[String],
    ) -> Result<(), StoreError> {
        let reasons = serde_json::to_string(reasons).unwrap_or_else(|_| "[]".into());
        self.tx
            .execute(
                "UPDATE requests SET risk = ?1, risk_reasons = ?2 WHERE id = ?3",
                params![risk, reasons, id.as_str()],
            )
            .map_err(self.err(format!("cannot update the risk of {id}")))?;
        Ok(())
    }

    /// Mark the half-time reminder sent.
    pub fn set_reminded(&self, id: &RequestId) -> Result<(), StoreError> {
        self.tx
            .execute(
                "UPDATE requests SET reminded = 1 WHERE id = ?1",
                [id.as_str()],
            )
            .map_err(self.err(format!("cannot mark {id} reminded")))?;
        Ok(())
    }

    /// Queue a Telegram message; `markup` is the `reply_markup` JSON (inline buttons).
    pub fn enqueue_telegram(
        &self,
        chat_id: i64,
        text: &str,
        markup: Option<&str>,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.enqueue_telegram_kind("bot", chat_id, text, markup, now)
    }

    /// Queue a Telegram message of a kind (`bot`, `notify`), counted by [`Tx::telegram_queued_since`].
    pub fn enqueue_telegram_kind(
        &self,
        kind: &str,
        chat_id: i64,
        text: &str,
        markup: Option<&str>,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO telegram_outbox (kind, chat_id, text, markup, next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![kind, chat_id, text, markup, now],
            )
            .map(drop)
            .map_err(self.err(format!("cannot queue a Telegram message to {chat_id}")))
    }

    /// Telegram messages due to be sent, oldest first.
    pub fn due_telegram(&self, now: UnixTime) -> Result<Vec<TelegramOut>, StoreError> {
        let mut stmt = self
            .tx
            .prepare("SELECT id, chat_id, text, markup, attempts FROM telegram_outbox WHERE state = 'pending' AND next_attempt_at <= ?1 ORDER BY id LIMIT 100")
            .map_err(self.err("cannot read the Telegram outbox"))?;
        let rows = stmt
            .query_map([now], |r| {
                Ok(TelegramOut {
                    id: r.get(0)?,
                    chat_id: r.get(1)?,
                    text: r.get(2)?,
                    markup: r.get(3)?,
                    attempts: r.get(4)?,
                })
            })
            .and_then(Iterator::collect)
            .map_err(self.err("cannot read the Telegram outbox"))?;
        Ok(rows)
    }

    /// Record an attempt at sending a Telegram message: sent, to be retried at `retry_at`, or
    /// failed for good (`retry_at` None).
    pub fn telegram_attempt(
        &self,
        id: i64,
        outcome: Result<(), (&str, Option<UnixTime>)>,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let result = match outcome {
            Ok(()) => self.tx.execute(
                "UPDATE telegram_outbox SET state = 'sent', attempts = attempts + 1, sent_at = ?2, last_error = NULL WHERE id = ?1",
                params![id, now],
            ),
            Err((error, Some(at))) => self.tx.execute(
                "UPDATE telegram_outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3 WHERE id = ?1",
                params![id, error, at],
            ),
            Err((error, None)) => self.tx.execute(
                "UPDATE telegram_outbox SET state = 'failed', attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
                params![id, error],
            ),
        };
        result
            .map(drop)
            .map_err(self.err(format!("cannot record Telegram message {id}")))
    }

    /// Remember a handled update; false when it was handled before (delivered again because
    /// the offset was not stored).
    pub fn telegram_update_new(&self, update_id: i64, now: UnixTime) -> Result<bool, StoreError> {
        // Telegram keeps an update for 24 hours at most: older ids cannot come again.
        self.tx
            .execute(
                "DELETE FROM telegram_updates WHERE handled_at < ?1",
                [now.saturating_sub(2 * 86_400)],
            )
            .map_err(self.err("cannot prune Telegram updates"))?;
        self.tx
            .execute(
                "INSERT OR IGNORE INTO telegram_updates (update_id, handled_at) VALUES (?1, ?2)",
                params![update_id, now],
            )
            .map(|n| n == 1)
            .map_err(self.err(format!("cannot record Telegram update {update_id}")))
    }

    /// Telegram messages of `kind` queued since `since` (to one chat: each counts once).
    pub fn telegram_queued_since(
        &self,
        kind: &str,
        chat_id: i64,
        since: UnixTime,
    ) -> Result<i64, StoreError> {
        self.tx
            .query_row(
                "SELECT COUNT(*) FROM telegram_outbox WHERE kind = ?1 AND chat_id = ?2 AND created_at >= ?3",
                params![kind, chat_id, since],
                |r| r.get(0),
            )
            .map_err(self.err("cannot count Telegram messages"))
    }

    /// Record a mail to notify the operator of; false when it was recorded before.
    pub fn add_notification(&self, n: &Notification, now: UnixTime) -> Result<bool, StoreError> {
        self.tx
            .execute(
                "INSERT OR IGNORE INTO notifications (gmail_id, sender, subject, excerpt, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![n.gmail_id, n.sender, n.subject, n.excerpt, now],
            )
            .map(|n| n == 1)
            .map_err(self.err(format!("cannot record notification of {}", n.gmail_id)))
    }

    /// Notifications not yet queued for Telegram, oldest first.
    pub fn pending_notifications(&self) -> Result<Vec<Notification>, StoreError> {
        let mut stmt = self
            .tx
            .prepare("SELECT id, gmail_id, sender, subject, excerpt, created_at, held FROM notifications WHERE queued_at IS NULL ORDER BY id")
            .map_err(self.err("cannot read notifications"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Notification {
                    id: r.get(0)?,
                    gmail_id: r.get(1)?,
                    sender: r.get(2)?,
                    subject: r.get(3)?,
                    excerpt: r.get(4)?,
                    created_at: r.get(5)?,
                    held: r.get(6)?,
                })
            })
            .and_then(Iterator::collect)
            .map_err(self.err("cannot read notifications"))?;
        Ok(rows)
    }

    /// Hold every pending notification (quiet hours): they go out as one summary after.
    pub fn hold_notifications(&self) -> Result<(), StoreError> {
        self.tx
            .execute(
                "UPDATE notifications SET held = 1 WHERE queued_at IS NULL AND held = 0",
                [],
            )
            .map(drop)
            .map_err(self.err("cannot hold notifications"))
    }

    /// Mark notifications queued for Telegram.
    pub fn notifications_queued(&self, ids: &[i64], now: UnixTime) -> Result<(), StoreError> {
        for id in ids {
            self.tx
                .execute(
                    "UPDATE notifications SET queued_at = ?2 WHERE id = ?1",
                    params![id, now],
                )
                .map_err(self.err(format!("cannot mark notification {id}")))?;
        }
        Ok(())
    }

    /// Whether an update was handled before.
    pub fn telegram_update_handled(&self, update_id: i64) -> Result<bool, StoreError> {
        self.tx
            .query_row(
                "SELECT 1 FROM telegram_updates WHERE update_id = ?1",
                [update_id],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(self.err(format!("cannot read Telegram update {update_id}")))
    }

    /// Count a message from someone who is not an operator; true when it should be logged
    /// (the first from this sender in `quiet` seconds).
    pub fn telegram_refusal(
        &self,
        sender: i64,
        quiet: i64,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        // Anyone can write to the bot: a sender quiet for longer than `quiet` is forgotten
        // (it would be logged again either way), so strangers do not grow the table.
        self.tx
            .execute(
                "DELETE FROM telegram_refusals WHERE last_logged_at < ?1",
                [now.saturating_sub(quiet)],
            )
            .map_err(self.err("cannot prune Telegram refusals"))?;
        let last: Option<i64> = self
            .tx
            .query_row(
                "SELECT last_logged_at FROM telegram_refusals WHERE sender = ?1",
                [sender],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("cannot read Telegram refusals"))?;
        let log = last.is_none_or(|at| now - at >= quiet);
        self.tx
            .execute(
                "INSERT INTO telegram_refusals (sender, count, last_logged_at) VALUES (?1, 1, ?2) ON CONFLICT(sender) DO UPDATE SET count = count + 1, last_logged_at = CASE WHEN ?3 THEN ?2 ELSE last_logged_at END",
                params![sender, now, log],
            )
            .map_err(self.err("cannot record a Telegram refusal"))?;
        Ok(log)
    }

    /// Every calendar's last fetch, by account and calendar.
    pub fn calendar_sources(&self) -> Result<Vec<CalendarSource>, StoreError> {
        let err = self.err("cannot read calendar sources");
        let mut stmt = self
            .tx
            .prepare("SELECT account, calendar, name, events, fetched_at, attempted_at, error, needs_person FROM calendar_sources ORDER BY account, calendar")
            .map_err(self.err("cannot read calendar sources"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(CalendarSource {
                    account: r.get(0)?,
                    calendar: r.get(1)?,
                    name: r.get(2)?,
                    events: r.get(3)?,
                    fetched_at: r.get(4)?,
                    attempted_at: r.get(5)?,
                    error: r.get(6)?,
                    needs_person: r.get(7)?,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>());
        rows.map_err(err)
    }

    /// Replace the calendar sources with `sources`: calendars and accounts not in it are
    /// forgotten.
    pub fn set_calendar_sources(&self, sources: &[CalendarSource]) -> Result<(), StoreError> {
        self.tx
            .execute("DELETE FROM calendar_sources", [])
            .map_err(self.err("cannot replace calendar sources"))?;
        for s in sources {
            self.tx
                .execute(
                    "INSERT INTO calendar_sources (account, calendar, name, events, fetched_at, attempted_at, error, needs_person) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![s.account, s.calendar, s.name, s.events, s.fetched_at, s.attempted_at, s.error, s.needs_person],
                )
                .map_err(self.err(format!("cannot store calendar {} of {}", s.calendar, s.account)))?;
        }
        Ok(())
    }

    /// A stored setting (poller state: history id, cached token, backoff).
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.tx
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.err(format!("cannot read setting {key}")))
    }

    /// Store a setting; `None` removes it.
    pub fn set_setting(&self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        let result = match value {
            Some(value) => self.tx.execute("INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2", params![key, value]),
            None => self.tx.execute("DELETE FROM settings WHERE key = ?1", [key]),
        };
        result
            .map(drop)
            .map_err(self.err(format!("cannot store setting {key}")))
    }

    /// Remember that a session file was found in this state (`healthy`, or `reported` for a
    /// problem a person must fix), so that it is not read again while it stays the same.
    pub fn remember_session(
        &self,
        path: &[u8],
        seen: &Fingerprint,
        verdict: &str,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO watchdog_files (path, dev, ino, size, mtime_ns, verdict, checked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(path) DO UPDATE SET dev = ?2, ino = ?3, size = ?4, mtime_ns = ?5, verdict = ?6, checked_at = ?7",
                params![path, seen.dev, seen.ino, seen.size, seen.mtime_ns, verdict, now],
            )
            .map(drop)
            .map_err(self.err("cannot remember a session file"))
    }

    /// Forget a session file (gone, or no longer known good).
    pub fn forget_session(&self, path: &[u8]) -> Result<(), StoreError> {
        self.tx
            .execute("DELETE FROM watchdog_files WHERE path = ?1", [path])
            .map(drop)
            .map_err(self.err("cannot forget a session file"))
    }

    /// Record a repair: the file, its backup, the bytes removed and the problems (JSON).
    pub fn record_repair(
        &self,
        path: &[u8],
        backup: &[u8],
        removed: u64,
        problems: &str,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO watchdog_repairs (path, backup, repaired_at, removed, problems) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![path, backup, now, i64::try_from(removed).unwrap_or(i64::MAX), problems],
            )
            .map(drop)
            .map_err(self.err("cannot record a repair"))
    }

    /// The last recorded rotation of a secret (`YYYY-MM-DD`).
    pub fn last_rotation(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.tx
            .query_row(
                "SELECT max(rotated_on) FROM secret_rotations WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .map_err(self.err(format!("cannot read rotations of {name}")))
    }

    /// Record a rotation.
    pub fn record_rotation(
        &self,
        name: &str,
        on: &str,
        actor: &str,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO secret_rotations (name, rotated_on, recorded_at, actor) VALUES (?1, ?2, ?3, ?4)",
                params![name, on, now, actor],
            )
            .map(drop)
            .map_err(self.err(format!("cannot record a rotation of {name}")))
    }

    /// The day the suite started tracking a secret, set to `today` the first time.
    pub fn tracked_since(&self, name: &str, today: &str) -> Result<String, StoreError> {
        self.tx
            .execute(
                "INSERT INTO secret_tracking (name, since) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
                params![name, today],
            )
            .map_err(self.err(format!("cannot track {name}")))?;
        self.tx
            .query_row(
                "SELECT since FROM secret_tracking WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .map_err(self.err(format!("cannot track {name}")))
    }

    /// The most urgent reminder already sent for a secret's due date.
    pub fn reminder_rank(&self, name: &str, due: &str) -> Result<Option<i64>, StoreError> {
        self.tx
            .query_row(
                "SELECT rank FROM secret_reminders WHERE name = ?1 AND due = ?2",
                [name, due],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err(format!("cannot read reminders of {name}")))
    }

    /// Record that a reminder of this urgency was sent.
    pub fn set_reminder_rank(
        &self,
        name: &str,
        due: &str,
        rank: i64,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO secret_reminders (name, due, rank, sent_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT(name, due) DO UPDATE SET rank = ?3, sent_at = ?4",
                params![name, due, rank, now],
            )
            .map(drop)
            .map_err(self.err(format!("cannot record a reminder of {name}")))
    }

    /// Stored samples since `since`, by key, oldest first.
    pub fn samples(
        &self,
        since: UnixTime,
    ) -> Result<std::collections::BTreeMap<String, Vec<(UnixTime, f64)>>, StoreError> {
        let mut stmt = self
            .tx
            .prepare("SELECT key, at, value FROM maint_samples WHERE at >= ?1 ORDER BY key, at")
            .map_err(self.err("cannot read samples"))?;
        let rows = stmt
            .query_map([since], |r| {
                Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(self.err("cannot read samples"))?;
        let mut out: std::collections::BTreeMap<String, Vec<(UnixTime, f64)>> = Default::default();
        for row in rows {
            let (key, at, value) = row.map_err(self.err("cannot read samples"))?;
            out.entry(key).or_default().push((at, value));
        }
        Ok(out)
    }

    /// Store a sample.
    pub fn add_sample(&self, key: &str, value: f64, now: UnixTime) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO maint_samples (at, key, value) VALUES (?1, ?2, ?3)",
                params![now, key, value],
            )
            .map(drop)
            .map_err(self.err("cannot store a sample"))
    }

    /// Drop samples older than `before`.
    pub fn prune_samples(&self, before: UnixTime) -> Result<(), StoreError> {
        self.tx
            .execute("DELETE FROM maint_samples WHERE at < ?1", [before])
            .map(drop)
            .map_err(self.err("cannot prune samples"))
    }

    /// Mails still unsent after three attempts or more, and the last error among them.
    pub fn failing_mails(&self) -> Result<(i64, Option<String>), StoreError> {
        self.tx
            .query_row(
                "SELECT count(*), max(last_error) FROM outbox WHERE sent_at IS NULL AND attempts >= 3",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.err("cannot read the outbox"))
    }

    /// Whether a Gmail message was handled before.
    pub fn gmail_seen(&self, id: &str) -> Result<bool, StoreError> {
        self.tx
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM gmail_messages WHERE id = ?1)",
                [id],
                |r| r.get(0),
            )
            .map_err(self.err("cannot look up Gmail messages"))
    }

    /// Record a Gmail message as handled, once.
    pub fn gmail_record(
        &self,
        id: &str,
        fetched: bool,
        reason: &str,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.tx
            .execute("INSERT OR IGNORE INTO gmail_messages (id, seen_at, fetched, reason) VALUES (?1, ?2, ?3, ?4)", params![id, now, fetched, reason])
            .map_err(self.err(format!("cannot record Gmail message {id}")))?;
        Ok(())
    }

    /// Record a failed attempt and when to try again.
    pub fn mark_failed(
        &self,
        outbox_id: i64,
        error: &str,
        retry_at: UnixTime,
    ) -> Result<(), StoreError> {
        self.tx
            .execute("UPDATE outbox SET attempts = attempts + 1, last_error = ?1, next_attempt_at = ?2 WHERE id = ?3", params![error, retry_at, outbox_id])
            .map_err(self.err("cannot record mail failure"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(name: &str) -> Store {
        let dir =
            std::env::temp_dir().join(format!("clawdbot-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Store::open(&dir.join("state.db")).unwrap()
    }

    fn new_request<'a>(hash: &'a str, client_ref: Option<&'a str>) -> NewRequest<'a> {
        NewRequest {
            kind: "restart_container",
            summary: "s",
            reason: "r",
            details: None,
            client_ref,
            reply_session: None,
            hash,
            canonical: "{}",
            raw: b"{}",
            source: "a.json",
            risk: "medium",
            risk_reasons: &[],
            argv: None,
            reply_key: "K",
            now: 1000,
            deadline: 2000,
            preview: None,
        }
    }

    #[test]
    fn transitions_are_audited_and_guarded() {
        let mut store = store("transition");
        let id = store
            .write(|tx| tx.insert_request(&new_request("h", None)))
            .unwrap();
        store
            .write(|tx| tx.transition(&id, State::Detected, State::Evaluating, "broker", "", 1001))
            .unwrap();
        let err = store
            .write(|tx| tx.transition(&id, State::Detected, State::Evaluating, "broker", "", 1002))
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
        let err = store
            .write(|tx| tx.transition(&id, State::Evaluating, State::Approved, "broker", "", 1002))
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidTransition { .. }), "{err}");
        let row = store.request(&id).unwrap().unwrap();
        assert_eq!(row.state, State::Evaluating);
        let audit = store.audit(id.as_str()).unwrap();
        assert_eq!(audit.len(), 2);
        assert_eq!(audit[1].from.as_deref(), Some("Detected"));
        assert_eq!(audit[1].to.as_deref(), Some("Evaluating"));
    }

    #[test]
    fn a_failed_transaction_leaves_nothing() {
        let mut store = store("rollback");
        let id = store
            .write(|tx| tx.insert_request(&new_request("h", None)))
            .unwrap();
        let _ = store.write(|tx| {
            tx.transition(&id, State::Detected, State::Evaluating, "broker", "", 1001)?;
            tx.transition(&id, State::Evaluating, State::Done, "broker", "", 1001)
        });
        assert_eq!(store.request(&id).unwrap().unwrap().state, State::Detected);
        assert_eq!(store.audit(id.as_str()).unwrap().len(), 1);
    }

    #[test]
    fn the_audit_log_is_append_only() {
        let mut store = store("append");
        store
            .write(|tx| tx.insert_request(&new_request("h", None)))
            .unwrap();
        let err = store
            .conn
            .execute("UPDATE audit SET detail = 'forged'", [])
            .unwrap_err();
        assert!(err.to_string().contains("append-only"));
        let err = store.conn.execute("DELETE FROM audit", []).unwrap_err();
        assert!(err.to_string().contains("append-only"));
    }

    #[test]
    fn duplicates_are_found_by_client_ref_or_open_hash() {
        let mut store = store("dup");
        let a = store
            .write(|tx| tx.insert_request(&new_request("h1", Some("ref-1"))))
            .unwrap();
        let found = store
            .write(|tx| tx.find_same(Some("ref-1"), "other"))
            .unwrap();
        assert_eq!(found.map(|(id, _)| id), Some(a.clone()));
        let found = store.write(|tx| tx.find_same(None, "h1")).unwrap();
        assert_eq!(found.map(|(id, _)| id), Some(a));
        assert!(
            store
                .write(|tx| tx.find_same(None, "h2"))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn strangers_and_old_updates_do_not_grow_the_telegram_tables() {
        let mut s = store("telegram-prune");
        let count = |s: &mut Store, table: &str| -> i64 {
            s.read(|tx| {
                Ok(tx
                    .tx
                    .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
                    .unwrap())
            })
            .unwrap()
        };
        s.write(|tx| {
            for sender in 1..=100 {
                assert!(tx.telegram_refusal(sender, 600, 1_000)?);
            }
            assert!(!tx.telegram_refusal(7, 600, 1_100)?, "quiet: logged once");
            assert!(tx.telegram_update_new(1, 1_000)?);
            Ok(())
        })
        .unwrap();
        assert_eq!(count(&mut s, "telegram_refusals"), 100);
        s.write(|tx| {
            assert!(
                tx.telegram_refusal(7, 600, 1_700)?,
                "logged again after the quiet time"
            );
            assert!(tx.telegram_update_new(2, 1_000 + 3 * 86_400)?);
            Ok(())
        })
        .unwrap();
        assert_eq!(count(&mut s, "telegram_refusals"), 1);
        assert_eq!(count(&mut s, "telegram_updates"), 1);
    }

    #[test]
    fn reopening_keeps_the_schema_version() {
        let dir =
            std::env::temp_dir().join(format!("clawdbot-store-reopen-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.db");
        drop(Store::open(&path).unwrap());
        let store = Store::open(&path).unwrap();
        let v: i64 = store
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
        store.conn.pragma_update(None, "user_version", 99).unwrap();
        drop(store);
        assert!(matches!(
            Store::open(&path).unwrap_err(),
            StoreError::TooNew { found: 99, .. }
        ));
    }
}
