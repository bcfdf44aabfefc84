//! The state store: one SQLite database in WAL mode. Every state change happens in one
//! `BEGIN IMMEDIATE` transaction together with its audit row; events are logged only after the
//! transaction commits, so the journal never tells of a change the database does not hold.
//!
//! This file opens the database, runs the migrations (one ordered list, `migrations.rs`) and
//! holds the transaction; each feature's tables have their functions in a file of their own.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use crate::core::journal::{self, Event};
use crate::core::state::State;
use crate::platform::exit::{Exit, ExitStatus};
use crate::platform::ids::RandomError;

mod alerts;
mod bridge;
mod calendar;
mod drafts;
mod mail;
mod maint;
mod migrations;
mod replies;
mod requests;
mod secrets;
mod tasks;
mod telegram;
mod watchdog;

pub use crate::platform::dir::Fingerprint;
pub use alerts::{Alert, PendingAlert};
pub use bridge::BridgeRecord;
pub use calendar::CalendarSource;
pub use drafts::{Channel, Draft};
pub use mail::OutboxMail;
use migrations::MIGRATIONS;
pub use replies::ReplyRecord;
pub use requests::{AuditRow, NewRequest, Rejection, RequestRow};
pub use tasks::{Task, TaskOrigin};
pub use telegram::{Notification, TelegramOut};

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
                crate::platform::atomic::available_bytes(&path).is_some_and(|free| free < 64 * 1024)
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
        crate::platform::dir::check_database(&real).map_err(|source| StoreError::NotAFile {
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
        crate::platform::failpoint::hit("store::after-commit");
        events.iter().for_each(journal::emit);
        Ok(value)
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
            filed_by: None,
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
        // Even with a decision recorded, an agent's request never skips its approval.
        let err = store
            .write(|tx| {
                tx.set_decision(&id, "telegram:1", "run", Some("h"))?;
                tx.transition(&id, State::Evaluating, State::Approved, "broker", "", 1003)
            })
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidTransition { .. }), "{err}");
    }

    #[test]
    fn only_an_operators_command_with_its_decision_skips_the_approval() {
        let mut store = store("command");
        let id = store
            .write(|tx| {
                tx.insert_request(&NewRequest {
                    filed_by: Some("telegram:42"),
                    ..new_request("h", None)
                })
            })
            .unwrap();
        let skip = |tx: &mut Tx<'_>| {
            tx.transition(&id, State::Detected, State::Evaluating, "broker", "", 1001)?;
            tx.transition(
                &id,
                State::Evaluating,
                State::Approved,
                "telegram:42",
                "",
                1001,
            )
        };
        // No decision recorded: refused, and nothing of the transaction stays.
        let err = store.write(skip).unwrap_err();
        assert!(matches!(err, StoreError::InvalidTransition { .. }), "{err}");
        assert_eq!(store.request(&id).unwrap().unwrap().state, State::Detected);
        store
            .write(|tx| {
                tx.set_decision(&id, "telegram:42", "/run x", Some("h"))?;
                skip(tx)
            })
            .unwrap();
        let row = store.request(&id).unwrap().unwrap();
        assert_eq!(row.state, State::Approved);
        assert_eq!(row.filed_by.as_deref(), Some("telegram:42"));
        let audit = store.audit(id.as_str()).unwrap();
        assert_eq!(audit[0].actor, "telegram:42");
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
