//! `clawdbot-mailpoll`: brings the operator's replies from a Gmail mailbox into the reply
//! Maildir, cheaply (an idle poll is one `history.list` call) and without ever losing or
//! doubling a message (docs/architecture.md, docs/wire-formats.md).

pub mod api;
pub mod authorize;
pub mod poll;
pub mod send;

use crate::core::store::StoreError;
use crate::platform::credentials::CredentialError;
use crate::platform::exit::{Exit, ExitStatus};

/// Why a poll stopped.
#[derive(Debug, thiserror::Error)]
pub enum GmailError {
    /// The OAuth credential is missing or unreadable.
    #[error(transparent)]
    CredentialFile(#[from] CredentialError),
    /// The OAuth credential is not what `authorize` writes.
    #[error("{0}")]
    Credential(String),
    /// Google refused the refresh token.
    #[error(
        "Google refused the refresh token (invalid_grant): it was revoked or has expired; run clawdbot-mailpoll authorize to authorise again"
    )]
    InvalidGrant,
    /// The network failed.
    #[error("network: {0}")]
    Network(String),
    /// Gmail asked to slow down, or failed on its side.
    #[error("{url} answered {status}; backing off")]
    Busy {
        /// The URL.
        url: String,
        /// 429 or 5xx.
        status: u16,
        /// Its `Retry-After`, in seconds.
        retry_after: Option<u64>,
    },
    /// Not found (an expired history id, a deleted message).
    #[error("{0} was not found")]
    NotFound(String),
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
    /// The answer is not the JSON Gmail documents.
    #[error("malformed answer: {0}")]
    Malformed(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The Maildir could not be written.
    #[error(transparent)]
    File(#[from] crate::platform::atomic::FileError),
}

impl GmailError {
    /// Whether the error concerns one message alone (gone, refused or malformed), not the
    /// account, the credential or the network: that message is set aside and the rest read.
    pub fn is_about_one_message(&self) -> bool {
        match self {
            GmailError::NotFound(_) | GmailError::Malformed(_) => true,
            GmailError::Http { status, .. } => *status == 400,
            _ => false,
        }
    }
}

impl ExitStatus for GmailError {
    fn exit(&self) -> Exit {
        match self {
            GmailError::CredentialFile(_)
            | GmailError::Credential(_)
            | GmailError::InvalidGrant => Exit::Config,
            GmailError::Network(_) | GmailError::Busy { .. } | GmailError::Malformed(_) => {
                Exit::TempFail
            }
            GmailError::NotFound(_) | GmailError::Http { .. } => Exit::Unavailable,
            GmailError::Store(e) => e.exit(),
            GmailError::File(e) => e.exit_or(Exit::IoErr),
        }
    }
}
