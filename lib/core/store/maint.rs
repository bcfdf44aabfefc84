//! Maintenance: samples of figures over time, for trends and hysteresis.

use rusqlite::params;

use crate::platform::time::UnixTime;

use super::{StoreError, Tx};

impl Tx<'_> {
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
}
