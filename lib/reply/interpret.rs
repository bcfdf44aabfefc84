//! `clawdbot-broker interpret FILE.eml`: the verdict on one reply, changing nothing.

use std::path::Path;

use serde::Serialize;

use crate::core::store::{Store, StoreError};
use crate::platform::atomic::{self, FileError, Untrusted};
use crate::platform::config::{Config, ConfigError};
use crate::platform::exit::{Exit, ExitStatus};
use crate::reply::intent::{self, Intent, Veto};
use crate::reply::maildir::{self, Judgement};
use crate::reply::{self, trim};

/// The largest mail interpreted.
const MAX_BYTES: u64 = 10 * 1_048_576;

/// Why a mail could not be interpreted.
#[derive(Debug, thiserror::Error)]
pub enum InterpretError {
    /// The file could not be read.
    #[error(transparent)]
    File(#[from] FileError),
    /// It is not a mail, or too large.
    #[error("{0}")]
    NotMail(String),
    /// The configuration did not load.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The state database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ExitStatus for InterpretError {
    fn exit(&self) -> Exit {
        match self {
            InterpretError::File(_) => Exit::NoInput,
            InterpretError::NotMail(_) => Exit::DataErr,
            InterpretError::Config(e) => e.exit(),
            InterpretError::Store(e) => e.exit(),
        }
    }
}

/// The verdict, and with a configuration, whether the reply would count.
#[derive(Debug, Serialize)]
pub struct Reading {
    /// What the operator meant.
    pub intent: Intent,
    /// The reply's own words, after trimming.
    pub text: String,
    /// The rule that decided.
    pub rule: String,
    /// The approval phrases of the decisive text.
    pub approvals: Vec<String>,
    /// The words that kept it from approving, and where they stand.
    pub vetoes: Vec<Veto>,
    /// Words of the decisive text outside the approval grammar.
    pub unknown: Vec<String>,
    /// Why that intent.
    pub reasons: Vec<String>,
    /// Whether the sender and thread would be accepted (with `--config`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<bool>,
    /// Why, or why not (with `--config`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// The request it answers (with `--config`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
}

/// Interpret one mail file; with `config`, judge it against the state too (rolled back).
pub fn file(path: &Path, config: Option<&Path>) -> Result<Reading, InterpretError> {
    let raw = match atomic::read_untrusted(path, MAX_BYTES)? {
        Untrusted::File(raw) => raw,
        Untrusted::TooLarge(size) => {
            return Err(InterpretError::NotMail(format!(
                "{}: {size} bytes is too large for a reply",
                path.display()
            )));
        }
        Untrusted::NotRegular(what) => {
            return Err(InterpretError::NotMail(format!(
                "{} is {what}",
                path.display()
            )));
        }
    };
    let reply = reply::parse(&raw).ok_or_else(|| {
        InterpretError::NotMail(format!("{} is not a mail message", path.display()))
    })?;
    let text = trim::trim_reply(&reply.text);
    // Without a configuration the request is not known: the first id named stands for it.
    let context = intent::Context {
        names: reply.from_name.iter().cloned().collect(),
        subject: reply.subject.clone(),
        ..intent::Context::default()
    };
    let mut verdict = intent::read(&reply.bodies, &context);
    let mut judged = None;
    if let Some(config_path) = config {
        let config = Config::load(Some(config_path))?;
        let mut store = Store::open(&config.paths.database())?;
        let judgement = store.read(|tx| maildir::judge(tx, &config, &reply))?;
        judged = Some(match judgement {
            Judgement::Accepted {
                row, verdict: v, ..
            } => {
                verdict = v;
                (
                    true,
                    format!("counts as {} for {}", verdict.intent.as_str(), row.id),
                    Some(row.id.to_string()),
                )
            }
            Judgement::Late { row, .. } => (
                false,
                format!(
                    "too late: the deadline {} has passed",
                    crate::platform::time::rfc3339(row.deadline_at)
                ),
                Some(row.id.to_string()),
            ),
            Judgement::Command { args } => (
                true,
                format!(
                    "the operator's own command, run {args}: whether it runs depends on the action's rules, checked when it arrives"
                ),
                None,
            ),
            Judgement::Task { words } => (
                true,
                format!(
                    "a task for the admin agent, queued for clawdbot-task: {}",
                    crate::core::request::excerpt(&words)
                ),
                None,
            ),
            Judgement::Refused { request, reason } => {
                (false, reason, request.map(|r| r.to_string()))
            }
        });
    }
    let (accepted, why, request) = match judged {
        Some((accepted, why, request)) => (Some(accepted), Some(why), request),
        None => (None, None, None),
    };
    Ok(Reading {
        intent: verdict.intent,
        text,
        rule: verdict.rule,
        approvals: verdict.approvals,
        vetoes: verdict.vetoes,
        unknown: verdict.unknown,
        reasons: verdict.reasons,
        accepted,
        why,
        request,
    })
}
