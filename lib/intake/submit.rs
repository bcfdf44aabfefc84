//! `clawdbot-request`: build a request from flags or a JSON document, validate it with the
//! broker's own rules, and drop it into the spool atomically.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::core::request::{self, Problem};
use crate::intake::spool;
use crate::platform::atomic::FileError;
use crate::platform::config::Rules;
use crate::platform::exit::{Exit, ExitStatus};
use crate::platform::ids::{self, RandomError};

/// Why a request was not written.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The request breaks rules; one line per problem.
    #[error("the request is not valid:\n{}", .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
    /// `--param` was not `KEY=VALUE`.
    #[error("--param {0:?}: write it as KEY=VALUE")]
    Param(String),
    /// The JSON document could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file (`-` for stdin).
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The document is larger than the limit.
    #[error("{} is larger than {limit} bytes ({setting})", path.display())]
    TooLarge {
        /// The file (`-` for stdin).
        path: PathBuf,
        /// The limit.
        limit: u64,
        /// The setting that gives it.
        setting: &'static str,
    },
    /// The spool could not be written.
    #[error(transparent)]
    File(#[from] FileError),
    /// No random bytes.
    #[error(transparent)]
    Random(#[from] RandomError),
}

impl ExitStatus for SubmitError {
    fn exit(&self) -> Exit {
        match self {
            SubmitError::Invalid(_) | SubmitError::TooLarge { .. } => Exit::DataErr,
            SubmitError::Param(_) => Exit::Usage,
            SubmitError::Read { .. } => Exit::NoInput,
            SubmitError::File(e) => e.exit_or(Exit::CantCreat),
            SubmitError::Random(_) => Exit::TempFail,
        }
    }
}

/// A request described by flags.
#[derive(Debug, Default, Clone)]
pub struct Fields {
    /// `--kind`.
    pub kind: Option<String>,
    /// `--summary`.
    pub summary: Option<String>,
    /// `--reason`.
    pub reason: Option<String>,
    /// `--param KEY=VALUE`, repeated.
    pub params: Vec<String>,
    /// `--details`.
    pub details: Option<String>,
    /// `--client-ref`.
    pub client_ref: Option<String>,
    /// `--reply-session`.
    pub reply_session: Option<String>,
}

/// The request document for these flags.
pub fn from_fields(fields: &Fields) -> Result<Vec<u8>, SubmitError> {
    let mut params = BTreeMap::new();
    for p in &fields.params {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| SubmitError::Param(p.clone()))?;
        params.insert(k.to_string(), Value::String(v.to_string()));
    }
    let mut doc = Map::new();
    doc.insert("version".into(), request::VERSION.into());
    let text = [
        ("kind", &fields.kind),
        ("summary", &fields.summary),
        ("reason", &fields.reason),
        ("details", &fields.details),
        ("client_ref", &fields.client_ref),
        ("reply_session", &fields.reply_session),
    ];
    for (key, value) in text {
        if let Some(value) = value {
            doc.insert(key.into(), Value::String(value.clone()));
        }
    }
    if !params.is_empty() {
        doc.insert("params".into(), Value::Object(params.into_iter().collect()));
    }
    Ok(Value::Object(doc).to_string().into_bytes())
}

/// Read a whole document from a file, or stdin for `-`, of at most `limit` bytes (given by
/// `setting`): a larger one is refused unread past the limit.
pub fn read_document(
    path: &Path,
    limit: u64,
    setting: &'static str,
) -> Result<Vec<u8>, SubmitError> {
    let fail = |source| SubmitError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut buf = Vec::new();
    let reader: Box<dyn std::io::Read> = if path == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(path).map_err(fail)?)
    };
    std::io::Read::read_to_end(
        &mut std::io::Read::take(reader, limit.saturating_add(1)),
        &mut buf,
    )
    .map_err(fail)?;
    if u64::try_from(buf.len()).unwrap_or(u64::MAX) > limit {
        return Err(SubmitError::TooLarge {
            path: path.to_path_buf(),
            limit,
            setting,
        });
    }
    Ok(buf)
}

/// Validate and write; returns the file written.
pub fn submit(rules: Rules<'_>, spool_dir: &Path, raw: &[u8]) -> Result<PathBuf, SubmitError> {
    request::validate(raw, rules).map_err(SubmitError::Invalid)?;
    let random = ids::random_base32(8)?;
    Ok(spool::drop_request(
        spool_dir,
        raw,
        crate::platform::time::now(),
        &random,
    )?)
}
