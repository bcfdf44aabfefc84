//! `clawdbot init DIR`: a self-contained instance, every path under DIR, mail to `.eml` files,
//! the reference host's actions. Everything works on it with no account anywhere.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::platform::atomic::{self, FileError};
use crate::platform::config::{Config, ConfigError};
use crate::platform::exit::{Exit, ExitStatus};

/// Why an instance could not be made.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The directory already holds a configuration.
    #[error("{} already exists; remove it or choose another directory", path.display())]
    Exists {
        /// The existing config file.
        path: PathBuf,
    },
    /// A directory or file could not be created.
    #[error(transparent)]
    File(#[from] FileError),
    /// The written configuration did not load (a bug).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No random bytes for the bridge secret.
    #[error(transparent)]
    Random(#[from] crate::platform::ids::RandomError),
}

impl ExitStatus for InitError {
    fn exit(&self) -> Exit {
        match self {
            InitError::Exists { .. } => Exit::CantCreat,
            InitError::File(_) => Exit::CantCreat,
            InitError::Config(_) => Exit::Software,
            InitError::Random(_) => Exit::TempFail,
        }
    }
}

/// The reference host's actions, with strict parameter patterns.
pub const REFERENCE_ACTIONS: &str = r#"
# Restart one Docker container by name.
[actions.restart_container]
command = ["docker", "restart", "{container}"]
risk = "medium"
timeout = "2m"
params = { container = "^[a-z0-9][a-z0-9_.-]{0,62}$" }

# Install one Debian package (names as Debian policy allows them).
[actions.install_package]
command = ["apt-get", "install", "-y", "--no-install-recommends", "{package}"]
risk = "high"
timeout = "15m"
preview = "apt"
params = { package = '^[a-z0-9](?:[a-z0-9+.-]{0,61}[a-z0-9]|[a-z0-9+.-]{0,60}\+\+)$' }

# Restart one systemd service.
[actions.restart_service]
command = ["systemctl", "restart", "{unit}.service"]
risk = "medium"
timeout = "2m"
params = { unit = "^[a-zA-Z0-9][a-zA-Z0-9_.@-]{0,63}$" }

# Reset one OpenClaw session with OpenClaw's own command. The watchdog files these requests for
# sessions whose history can no longer be sent to the model ([watchdog] reset_action); {params}
# is the JSON OpenClaw's sessions.reset reads, with the session id it must still have. Run it
# where the gateway runs: gateway-exec runs it inside the gateway's container, found as
# [watchdog] stop finds it.
[actions.openclaw_session_reset]
command = ["clawdbot-watchdog", "gateway-exec", "--", "openclaw", "gateway", "call", "sessions.reset", "--json", "--params", "{params}"]
risk = "medium"
timeout = "2m"
params = { params = '^\{"agentId":"[a-z0-9][a-z0-9_-]{0,63}","expectedSessionId":"[A-Za-z0-9-]{1,64}","key":"[ !#-\[\]-~]+"\}$' }
"#;

/// The configuration text of an instance rooted at `dir` (absolute).
pub fn instance_config(dir: &Path, timezone: &str) -> String {
    let d = dir.display();
    format!(
        r#"# clawdbot instance made by `clawdbot init {d}`.
# Use it with: clawdbot --config {d}/clawdbot.toml status

[paths]
state_dir = "{d}/state"
spool = "{d}/requests"
inbox = "{d}/inbox"

[operator]
emails = ["ops@example.org"]
timezone = "{timezone}"

[mail]
transport = "file"          # each mail becomes a .eml file in {d}/state/outbox
from = "clawdbot <clawdbot@example.org>"
max_per_hour = 20

[requests]
ttl = "24h"
max_bytes = 65536

[bridge]
mode = "drop"               # signed envelopes appear in {d}/inbox
secrets = ["{d}/bridge-secret"]

[replies]
require_authentication_results = true
trusted_authserv_id = "mx.google.com"

[alerts]
spool = "{d}/alerts"        # clawdbot-alert drops Wazuh's alerts here for the broker

[exec]
inline = true               # approved actions run within the broker's pass (no root split here)

[watchdog]
# This instance's agent sessions (a host's default is the OpenClaw layout under /home).
sessions = ["{d}/openclaw/agents/*/sessions/*.jsonl"]
databases = ["{d}/openclaw/agents/*/agent/openclaw-agent.sqlite"]
stop = []                   # a host stops its gateway to repair, e.g. ["docker", "stop", "{{gateway}}"]
start = []                  # and starts it again, e.g. ["docker", "start", "{{gateway}}"]
{REFERENCE_ACTIONS}"#
    )
}

/// Create the instance; returns its configuration file.
pub fn init(dir: &Path) -> Result<PathBuf, InitError> {
    make_dir(dir)?;
    let dir = dir
        .canonicalize()
        .map_err(|e| FileError::new("cannot resolve", dir, e))?;
    let path = dir.join("clawdbot.toml");
    if path.exists() {
        return Err(InitError::Exists { path });
    }
    let zone = jiff::tz::TimeZone::try_system()
        .ok()
        .and_then(|tz| tz.iana_name().map(str::to_string))
        .unwrap_or_else(|| "UTC".into());
    let text = instance_config(&dir, &zone);
    let config = Config::from_text(&path, &text)?;
    for (sub, _) in crate::broker::directories(&config) {
        make_dir(&sub)?;
    }
    make_dir(config.alerts.spool.path())?;
    let secret = crate::channels::bridge::signature::keygen()?;
    atomic::write(
        &dir.join("bridge-secret"),
        format!("{secret}\n").as_bytes(),
        0o600,
    )?;
    atomic::write(&path, text.as_bytes(), 0o640)?;
    Ok(path)
}

fn make_dir(dir: &Path) -> Result<(), FileError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(dir)
        .map_err(|e| FileError::new("cannot create directory", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_loads_and_has_every_directory() {
        let dir = std::env::temp_dir().join(format!("clawdbot-init-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = init(&dir).unwrap();
        let config = Config::from_files(std::slice::from_ref(&path)).unwrap();
        assert!(config.paths.spool.path().starts_with(&dir));
        assert_eq!(config.actions.len(), 4);
        for (sub, what) in crate::broker::directories(&config) {
            assert!(sub.is_dir(), "{what} {}", sub.display());
        }
        assert_eq!(
            crate::channels::bridge::keys(&config).unwrap().len(),
            1,
            "the bridge secret loads"
        );
        assert!(matches!(init(&dir), Err(InitError::Exists { .. })));
    }
}
