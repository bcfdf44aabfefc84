//! `[bridge]`: how messages reach the agent.

use std::fmt;

use serde::Deserialize;

use crate::platform::duration::ConfigDuration;

use super::{HttpUrl, MaxBytes};

/// `[bridge]`: signed one-way messages to the agent (Standard Webhooks).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Bridge {
    /// How messages reach the agent.
    pub mode: BridgeMode,
    /// Signing secrets: credential names, or absolute paths of files readable by their owner
    /// only. Every one signs; verification accepts any (for rotation).
    pub secrets: Vec<String>,
    /// The gateway's hook URL (`http` mode), e.g. `http://127.0.0.1:18789/hooks/agent`.
    pub url: Option<HttpUrl>,
    /// The gateway's bearer token (`http` mode): a credential name, or the absolute path of a
    /// file with mode 0600.
    pub token_credential: String,
    /// How long one HTTP attempt may take.
    pub timeout: ConfigDuration,
    /// Attempts after the first on 429, 5xx and connection errors.
    pub retries: u32,
    /// The largest body sent or accepted (default OpenClaw's hook limit, 256 KiB: a larger
    /// body would be refused there with 413).
    pub max_body_bytes: MaxBytes,
}

impl Default for Bridge {
    fn default() -> Self {
        Bridge {
            mode: BridgeMode::Drop,
            secrets: vec!["bridge-secret".into()],
            url: None,
            token_credential: "gateway-token".into(),
            timeout: ConfigDuration::from_secs(10),
            retries: 3,
            max_body_bytes: MaxBytes(262_144),
        }
    }
}

/// Bridge delivery modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BridgeMode {
    /// An envelope file in the agent's inbox directory.
    Drop,
    /// POST to the gateway's hook URL.
    Http,
}

impl fmt::Display for BridgeMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            BridgeMode::Drop => "drop",
            BridgeMode::Http => "http",
        })
    }
}
