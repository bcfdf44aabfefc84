//! `clawdbot demo`: runs the loop as far as it exists on a fresh instance and shows a newcomer
//! each step: the request the agent files, the broker's pass, the mail the operator gets, and
//! the audit trail.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::broker::{self, BrokerError};
use crate::config::{Config, ConfigError};
use crate::exit::{Exit, ExitStatus};
use crate::init::{self, InitError};
use crate::inspect::{self, InspectError};
use crate::submit::{self, Fields, SubmitError};

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Making the instance failed.
    #[error(transparent)]
    Init(#[from] InitError),
    /// Its configuration did not load.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Filing the request failed.
    #[error(transparent)]
    Submit(#[from] SubmitError),
    /// The broker failed.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// Reading the result failed.
    #[error(transparent)]
    Inspect(#[from] InspectError),
    /// The outbox could not be read.
    #[error("cannot read the outbox {}: {source}", path.display())]
    Outbox {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl ExitStatus for DemoError {
    fn exit(&self) -> Exit {
        match self {
            DemoError::Init(e) => e.exit(),
            DemoError::Config(e) => e.exit(),
            DemoError::Submit(e) => e.exit(),
            DemoError::Broker(e) => e.exit(),
            DemoError::Inspect(e) => e.exit(),
            DemoError::Outbox { .. } => Exit::IoErr,
        }
    }
}

/// Run the demo in `dir` (which must not hold an instance yet) and return the narration.
pub fn run(dir: &Path) -> Result<String, DemoError> {
    let mut out = String::new();
    let config_path = init::init(dir)?;
    let config = Config::from_files(std::slice::from_ref(&config_path))?;
    let _ = writeln!(
        out,
        "1. A fresh instance: clawdbot init {}\n   configuration: {}\n",
        dir.display(),
        config_path.display()
    );

    let fields = Fields {
        kind: Some("restart_container".into()),
        summary: Some("Restart the searxng container, it stopped answering".into()),
        reason: Some("Web searches time out since 09:12".into()),
        params: vec!["container=searxng".into()],
        client_ref: Some("demo-1".into()),
        ..Fields::default()
    };
    let raw = submit::from_fields(&fields)?;
    let written = submit::submit(&config, config.paths.spool.path(), &raw)?;
    let _ = writeln!(
        out,
        "2. The agent files a request:\n   clawdbot-request --kind restart_container --summary \"…\" --param container=searxng\n   wrote {}:\n   {}\n",
        written.display(),
        String::from_utf8_lossy(&raw)
    );

    let report = broker::run(&config)?;
    let _ = writeln!(
        out,
        "3. systemd starts the broker (clawdbot-broker run): {} accepted, {} rejected, {} mail(s) sent.\n",
        report.accepted, report.rejected, report.sent
    );

    let outbox = config.paths.outbox();
    let mail = first_eml(&outbox)?;
    let _ = writeln!(
        out,
        "4. The operator's mail ({}):\n",
        mail.as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "none".into())
    );
    if let Some(mail) = mail {
        let text = std::fs::read_to_string(&mail).map_err(|source| DemoError::Outbox {
            path: mail.clone(),
            source,
        })?;
        for line in text.lines() {
            let _ = writeln!(out, "   | {line}");
        }
        out.push('\n');
    }

    let store = inspect::open(&config)?;
    let rows = inspect::status(&store)?;
    let _ = writeln!(out, "5. What the operator sees with clawdbot status:\n");
    out.push_str(&indent(&inspect::status_table(&rows, crate::time::now())));
    if let Some(row) = rows.first() {
        let shown = inspect::show(&store, row.id.as_str())?;
        let _ = writeln!(out, "\n6. And with clawdbot show {}:\n", row.id);
        out.push_str(&indent(&inspect::show_text(&shown, &config)));
    }
    let _ = writeln!(
        out,
        "\nNext: the operator answers the mail; replies, execution and the bridge to the agent come in later releases.\nTry it yourself: clawdbot --config {} status",
        config_path.display()
    );
    Ok(out)
}

fn first_eml(dir: &Path) -> Result<Option<PathBuf>, DemoError> {
    let read = std::fs::read_dir(dir).map_err(|source| DemoError::Outbox {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = read
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    Ok(files.into_iter().next())
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("   {l}\n")).collect()
}
