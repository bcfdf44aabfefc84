//! `clawdbot doctor`: checks the configuration, the directories and their modes, the
//! credentials and the mail transport, and says how to fix each problem.

use std::fmt::Write as _;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::Serialize;

use crate::channels::mail::Sender;
use crate::platform::config::{Config, Transport};
use crate::platform::credentials;

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was found.
    pub message: String,
    /// How to fix it (empty when it passed).
    pub fix: String,
}

fn pass(name: impl Into<String>, message: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        ok: true,
        message: message.into(),
        fix: String::new(),
    }
}

fn fail(name: impl Into<String>, message: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        ok: false,
        message: message.into(),
        fix: fix.into(),
    }
}

/// Run every check on a loaded configuration.
pub fn run(config: &Config) -> Vec<Check> {
    let mut checks = vec![config_check(config)];
    for (dir, what) in crate::broker::directories(config) {
        checks.push(directory(&dir, what));
    }
    checks.push(operators(config));
    checks.extend(smtp_credential(config));
    checks.push(transport(config));
    checks.push(bridge(config));
    checks.extend(bridge_deliveries(config));
    checks.extend(calendars(config));
    checks.push(reset_action(config));
    checks
}

/// The action the watchdog files a session reset under: configured, with parameters it fills.
fn reset_action(config: &Config) -> Check {
    let check = "watchdog reset_action";
    match crate::jobs::watchdog::reset_action(config) {
        Ok(None) => pass(
            check,
            "off: a stuck OpenClaw session is only reported, with the command to run",
        ),
        Ok(Some((name, _))) => pass(
            check,
            format!("{name}: a stuck OpenClaw session is proposed for a reset by mail"),
        ),
        Err(problem) => fail(
            check,
            problem,
            "configure [actions.openclaw_session_reset] as in /usr/share/doc/clawdbot/docs/agent.md, or set [watchdog] reset_action = \"\"",
        ),
    }
}

/// Each calendar account's credential, and the directory `availability.json` goes into.
fn calendars(config: &Config) -> Vec<Check> {
    let accounts = &config.calendar.accounts;
    let mut checks: Vec<Check> = accounts.iter().map(calendar_account).collect();
    if let Some(dir) = config.calendar.output.path().parent()
        && !accounts.is_empty()
    {
        checks.push(directory(dir, "calendar output"));
    }
    checks
}

fn calendar_account(account: &crate::platform::config::CalendarAccount) -> Check {
    let name = format!("calendar account {}", account.name);
    let credential = account.credential();
    let file = crate::jobs::calendar::authorize::place(&credential);
    // Google's desktop clients have a secret; Microsoft's public clients none.
    let secret = match account.kind {
        crate::platform::config::CalendarKind::Google => " --client-secret SECRET",
        crate::platform::config::CalendarKind::Graph => "",
    };
    let authorize = format!(
        "clawdbot-calendar authorize {} --client-id ID{secret} --output {file}",
        account.name
    );
    // The unit loads /etc/credstore/clawdbot.calendar/ only: other names work by hand, not
    // under systemd.
    if !credential.starts_with('/') && !credential.starts_with("calendar_") {
        return fail(
            name,
            format!(
                "credential {credential:?} is not in /etc/credstore/clawdbot.calendar/, the only place clawdbot-calendar.service reads"
            ),
            "leave credential unset (calendar_NAME.json: /etc/credstore/clawdbot.calendar/NAME.json), or add its LoadCredential= in a drop-in",
        );
    }
    match credentials::read_configured(&credential) {
        Err(e @ credentials::CredentialError::Missing { .. }) => {
            fail(name, e.to_string(), authorize)
        }
        Err(e @ credentials::CredentialError::TooOpen { .. }) => {
            fail(name, e.to_string(), format!("chmod 600 {file}"))
        }
        Err(e) => fail(name, e.to_string(), format!("check {file}")),
        Ok(secret) => {
            match serde_json::from_str::<crate::channels::oauth::Credential>(secret.expose()) {
                Ok(_) => pass(name, format!("credential {credential} present and private")),
                Err(e) => fail(
                    name,
                    format!("{file} is not what authorize writes: {e}"),
                    format!("rm {file}; then {authorize}"),
                ),
            }
        }
    }
}

fn bridge(config: &Config) -> Check {
    let name = format!("bridge ({} mode)", config.bridge.mode);
    match crate::channels::bridge::keys(config) {
        Ok(keys) => pass(name, format!("{} signing secret(s) load", keys.len())),
        Err(e) => fail(
            name,
            e.to_string(),
            "clawdbot-bridge keygen --output FILE; name it in [bridge] secrets",
        ),
    }
}

/// Messages the gateway keeps refusing because of one of its settings (none before the state
/// database exists).
fn bridge_deliveries(config: &Config) -> Option<Check> {
    let name = "bridge deliveries";
    let store = match crate::core::inspect::open(config) {
        Err(crate::core::inspect::InspectError::NoDatabase(_)) => return None,
        Err(e) => return Some(fail(name, e.to_string(), "see the error")),
        Ok(store) => store,
    };
    let pending = match store.undelivered_bridge_messages() {
        Ok(messages) => messages,
        Err(e) => return Some(fail(name, e.to_string(), "see the error")),
    };
    let held: Vec<_> = pending
        .iter()
        .filter(|m| m.state == "pending")
        .filter_map(|m| Some((m, m.last_error.as_deref()?)))
        .filter(|(_, error)| error.contains(crate::channels::bridge::GATEWAY_HOLDS))
        .collect();
    Some(match held.last() {
        None => pass(
            name,
            format!("{} message(s) waiting for delivery", pending.len()),
        ),
        Some((last, error)) => fail(
            name,
            format!(
                "{} message(s) held by the gateway's configuration; the last, {}: {error}",
                held.len(),
                last.id
            ),
            "change the OpenClaw setting named, then run clawdbot-bridge resend",
        ),
    })
}

fn config_check(config: &Config) -> Check {
    let sources = if config.sources.is_empty() {
        "built-in defaults (no configuration file)".to_string()
    } else {
        config
            .sources
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let actions = config
        .actions
        .keys()
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if config.actions.is_empty() {
        return fail(
            "config",
            format!("loaded from {sources}; no actions configured"),
            "add [actions.NAME] tables; `clawdbot init DIR` writes examples",
        );
    }
    pass(
        "config",
        format!("loaded from {sources}; actions: {actions}"),
    )
}

fn directory(dir: &Path, what: &str) -> Check {
    let name = format!("{what} {}", dir.display());
    match std::fs::metadata(dir) {
        Err(e) => fail(
            name,
            e.to_string(),
            format!(
                "mkdir -p {} (the package's tmpfiles.d creates it)",
                dir.display()
            ),
        ),
        Ok(m) if !m.is_dir() => fail(
            name,
            "is not a directory",
            "move the file away and create the directory",
        ),
        Ok(m) if m.mode() & 0o002 != 0 => fail(
            name,
            format!("mode {:04o}: anyone can write here", m.mode() & 0o7777),
            format!("chmod o-w {}", dir.display()),
        ),
        Ok(m) => {
            let probe = dir.join(".clawdbot-doctor");
            match std::fs::write(&probe, b"") {
                Ok(()) => {
                    let _ = std::fs::remove_file(&probe);
                    pass(name, format!("mode {:04o}, writable", m.mode() & 0o7777))
                }
                Err(e) => fail(
                    name,
                    format!("not writable: {e}"),
                    format!("chown clawdbot {}", dir.display()),
                ),
            }
        }
    }
}

fn operators(config: &Config) -> Check {
    if config.operator.emails.is_empty() {
        return fail(
            "operators",
            "no operator address",
            "set emails = [\"you@example.org\"] under [operator]",
        );
    }
    let list = config
        .operator
        .emails
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    pass(
        "operators",
        format!("{list}; time zone {}", config.operator.timezone.name),
    )
}

fn smtp_credential(config: &Config) -> Option<Check> {
    let smtp = &config.mail.smtp;
    if config.mail.transport != Transport::Smtp || smtp.username.is_none() {
        return None;
    }
    let name = format!("credential {}", smtp.password_credential);
    Some(
        match credentials::read_configured(&smtp.password_credential) {
            Ok(_) => pass(name, "present and private"),
            Err(e) => fail(
                name,
                e.to_string(),
                format!(
                    "install -m 600 /dev/stdin {}/clawdbot.{}",
                    credentials::CREDSTORE,
                    smtp.password_credential
                ),
            ),
        },
    )
}

fn transport(config: &Config) -> Check {
    let name = format!("mail transport {}", config.mail.transport);
    match Sender::new(config)
        .map_err(|e| e.to_string())
        .and_then(|s| s.probe())
    {
        Ok(message) => pass(name, message),
        Err(message) => fail(
            name,
            message,
            "check [mail] in the configuration and that the relay or command is reachable",
        ),
    }
}

/// Render checks for a person: one line each, fixes indented below failures.
pub fn render(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        let _ = writeln!(
            out,
            "{} {}: {}",
            if c.ok { "ok  " } else { "FAIL" },
            c.name,
            c.message
        );
        if !c.ok {
            let _ = writeln!(out, "     fix: {}", c.fix);
        }
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    let _ = writeln!(out, "\n{} checks, {failed} problem(s).", checks.len());
    out
}
