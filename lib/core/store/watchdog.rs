//! The watchdog's memory: session files found healthy, and repairs made.

use std::collections::HashMap;

use rusqlite::params;

use crate::platform::dir::Fingerprint;
use crate::platform::time::UnixTime;

use super::{Store, StoreError, Tx};

impl Store {
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
}

impl Tx<'_> {
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
}
