//! `clawdbot-telegram`: the operator's bot (docs/wire-formats.md). One run sends what is
//! queued, long-polls `getUpdates` from the stored offset, obeys operators only (checked
//! before anything else reads an update), and stores the new offset.

pub mod api;
pub mod format;
pub mod run;
pub mod speaker;

use crate::core::store::StoreError;
use crate::platform::credentials::CredentialError;
use crate::platform::exit::{Exit, ExitStatus};

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    /// The bot token is missing or unreadable.
    #[error(transparent)]
    Credential(#[from] CredentialError),
    /// The bot token is not one Telegram issues.
    #[error(
        "credential {0:?} does not hold a bot token (digits, \":\", then letters, digits, - and _)"
    )]
    BadToken(String),
    /// No operator is configured: the bot obeys nobody.
    #[error("no operator: set operators = [USER_ID] under [telegram]")]
    NoOperator,
    /// The Bot API call failed.
    #[error(transparent)]
    Api(#[from] api::ApiError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ExitStatus for TelegramError {
    fn exit(&self) -> Exit {
        match self {
            TelegramError::Credential(_)
            | TelegramError::BadToken(_)
            | TelegramError::NoOperator => Exit::Config,
            TelegramError::Api(e) => e.exit(),
            TelegramError::Store(e) => e.exit(),
        }
    }
}
