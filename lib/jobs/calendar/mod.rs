//! `clawdbot-calendar`: the operator's calendars (Microsoft Graph and Google Calendar) merged
//! into one `availability.json` the agent reads (docs/wire-formats.md). Every time keeps its
//! zone: the output is RFC 3339 with explicit offsets in the operator's zone, whatever the
//! machine's `TZ`.

pub mod authorize;
pub mod client;
pub mod event;
pub mod google;
pub mod graph;
pub mod merge;
pub mod output;
pub mod run;
pub mod zones;

use crate::channels::oauth::TokenError;
use crate::core::store::StoreError;
use crate::platform::atomic::FileError;
use crate::platform::credentials::CredentialError;
use crate::platform::exit::{Exit, ExitStatus};

/// Why an account, a calendar or the whole run failed.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    /// The credential is missing or unreadable.
    #[error(transparent)]
    CredentialFile(#[from] CredentialError),
    /// The credential is not what `authorize` writes.
    #[error("credential {name:?} is not the JSON clawdbot-calendar authorize writes: {why}")]
    Credential {
        /// The credential's name.
        name: String,
        /// What is wrong.
        why: String,
    },
    /// The service refused the refresh token or the client.
    #[error(
        "{why}; authorise account {account} again: remove its old credential, then run clawdbot-calendar authorize {account} --client-id ID --output FILE"
    )]
    Authorization {
        /// The account.
        account: String,
        /// The refusal.
        why: Box<TokenError>,
    },
    /// The network failed.
    #[error("network: {0}")]
    Network(String),
    /// 429 or 5xx, after the waits a run allows.
    #[error("{url} answered {status}{}", retry_after.map(|s| format!(" (Retry-After {s}s)")).unwrap_or_default())]
    Busy {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
        /// Its `Retry-After`, in seconds.
        retry_after: Option<u64>,
    },
    /// Any other HTTP answer.
    #[error("{url} answered {status}: {detail}")]
    Http {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
        /// The start of the body.
        detail: String,
    },
    /// The answer is not the JSON the service documents.
    #[error("malformed answer: {0}")]
    Malformed(String),
    /// The account waits out an earlier `Retry-After`.
    #[error("backing off until {0} after the service asked to slow down")]
    BackingOff(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The output could not be written.
    #[error(transparent)]
    File(#[from] FileError),
}

impl ExitStatus for CalendarError {
    fn exit(&self) -> Exit {
        match self {
            CalendarError::CredentialFile(_)
            | CalendarError::Credential { .. }
            | CalendarError::Authorization { .. } => Exit::Config,
            CalendarError::Network(_)
            | CalendarError::Busy { .. }
            | CalendarError::Malformed(_)
            | CalendarError::BackingOff(_) => Exit::TempFail,
            CalendarError::Http { .. } => Exit::Unavailable,
            CalendarError::Store(e) => e.exit(),
            CalendarError::File(e) => e.exit_or(Exit::CantCreat),
        }
    }
}
