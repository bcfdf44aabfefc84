//! `clawdbot status` and `clawdbot show ID`: what the operator reads, as a table or as JSON.

use std::fmt::Write as _;

use serde::Serialize;

use crate::core::store::{AuditRow, RequestRow, Store, StoreError};
use crate::platform::config::Config;
use crate::platform::exit::{Exit, ExitStatus};
use crate::platform::ids::RequestId;
use crate::platform::time::{self, UnixTime};

/// Why a view could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The id is malformed.
    #[error("{0:?} is not a request id (they look like R-20261126-7Q2M)")]
    BadId(String),
    /// No such request.
    #[error("no request {0}")]
    NotFound(String),
    /// No database yet.
    #[error("no state database at {0}: the broker has not run yet (clawdbot-broker run)")]
    NoDatabase(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ExitStatus for InspectError {
    fn exit(&self) -> Exit {
        match self {
            InspectError::BadId(_) => Exit::Usage,
            InspectError::NotFound(_) => Exit::DataErr,
            InspectError::NoDatabase(_) => Exit::Unavailable,
            InspectError::Store(e) => e.exit(),
        }
    }
}

/// Open the existing database read-write (never create one from a status command).
pub fn open(config: &Config) -> Result<Store, InspectError> {
    let path = config.paths.database();
    if !path.exists() {
        return Err(InspectError::NoDatabase(path.display().to_string()));
    }
    Ok(Store::open(&path)?)
}

/// The open requests.
pub fn status(store: &Store) -> Result<Vec<RequestRow>, InspectError> {
    Ok(store.open_requests()?)
}

/// Render the open requests as a table.
pub fn status_table(rows: &[RequestRow], now: UnixTime) -> String {
    if rows.is_empty() {
        return "No open requests.\n".into();
    }
    let mut out = format!(
        "{:<16} {:<13} {:>4} {:<8} {}\n",
        "ID", "STATE", "AGE", "RISK", "SUMMARY"
    );
    for r in rows {
        let summary: String = r.summary.chars().take(60).collect();
        let _ = writeln!(
            out,
            "{:<16} {:<13} {:>4} {:<8} {}",
            r.id,
            r.state,
            time::age(now - r.created_at),
            r.risk,
            summary
        );
    }
    let _ = writeln!(out, "\n{} open request(s).", rows.len());
    out
}

/// One request and its audit trail.
#[derive(Debug, Serialize)]
pub struct Shown {
    /// The request.
    pub request: RequestRow,
    /// Its history.
    pub audit: Vec<AuditRow>,
}

/// Look a request up by id.
pub fn show(store: &Store, id: &str) -> Result<Shown, InspectError> {
    let parsed = RequestId::parse(id).ok_or_else(|| InspectError::BadId(id.to_string()))?;
    let request = store
        .request(&parsed)?
        .ok_or_else(|| InspectError::NotFound(parsed.to_string()))?;
    let audit = store.audit(parsed.as_str())?;
    Ok(Shown { request, audit })
}

/// Render one request for a person.
pub fn show_text(shown: &Shown, config: &Config) -> String {
    let r = &shown.request;
    let tz = &config.operator.timezone.tz;
    let mut out = String::new();
    let _ = writeln!(out, "{}  {}", r.id, r.state);
    let _ = writeln!(out, "  Summary:  {}", r.summary);
    let _ = writeln!(out, "  Reason:   {}", r.reason);
    let _ = writeln!(out, "  Kind:     {}", r.kind);
    if let Some(by) = &r.filed_by {
        let _ = writeln!(out, "  Filed by: {by} (the operator's own command)");
    }
    match &r.argv {
        Some(argv) => {
            let _ = writeln!(
                out,
                "  Runs:     {}",
                serde_json::to_string(argv).unwrap_or_default()
            );
        }
        None => {
            let _ = writeln!(out, "  Details:  {}", r.details.as_deref().unwrap_or(""));
        }
    }
    if let Some(preview) = r
        .preview
        .as_deref()
        .and_then(crate::platform::apt::Stored::parse)
    {
        let _ = writeln!(out, "  Simulated: {}", preview.describe());
    }
    let _ = writeln!(
        out,
        "  Risk:     {} ({})",
        r.risk,
        r.risk_reasons.join("; ")
    );
    let _ = writeln!(out, "  Hash:     sha256:{}", r.hash);
    let _ = writeln!(out, "  Received: {}", time::local(r.created_at, tz));
    let _ = writeln!(out, "  Deadline: {}", time::local(r.deadline_at, tz));
    let _ = writeln!(out, "\nAudit trail:");
    for a in &shown.audit {
        let change = match (&a.from, &a.to) {
            (Some(f), Some(t)) => format!("{f} → {t}"),
            (None, Some(t)) => format!("→ {t}"),
            _ => a.event.clone(),
        };
        let _ = writeln!(
            out,
            "  {}  {:<30} {:<8} {}",
            time::local(a.at, tz),
            change,
            a.actor,
            a.detail
        );
    }
    out
}
