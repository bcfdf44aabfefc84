//! Configuration: `/etc/clawdbot/clawdbot.toml` and its drop-ins, merged, validated into checked types.
//!
//! Each file is parsed and validated on its own first, so that an error names the file, the line
//! and the key; the files are then merged in order (tables key by key, but an `[actions.NAME]`
//! table is replaced whole, so a drop-in can never half-change what an action runs).
//!
//! This file loads, merges and validates; each section's types are in a file of their own,
//! and the checked values several sections share in `values.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::platform::exit::{Exit, ExitStatus};

mod alerts;
mod bridge;
mod calendar;
mod mail;
mod maint;
mod paths;
mod requests;
mod telegram;
mod values;
mod watchdog;

pub use alerts::Alerts;
pub use bridge::{Bridge, BridgeMode};
pub use calendar::{Calendar, CalendarAccount, CalendarKind};
pub use mail::{Gmail, Mail, NO_OPERATOR, Operator, Replies, Security, Sendmail, Smtp, Transport};
pub use maint::{Cadence, Maint, Secret, StaleDir};
pub use paths::{Paths, SpoolPath};
pub use requests::{Action, Agent, AgentUse, Exec, ParamRule, Preview, Requests};
pub use telegram::{Notify, NotifyRule, Telegram, in_quiet_hours, quiet_window};
pub use values::{AbsPath, HttpUrl, MaxBytes, Risk, Zone};
pub use watchdog::{Watchdog, valid_compose_name};

/// Where the configuration is read from when neither `--config` nor `CLAWDBOT_CONFIG` says.
pub const DEFAULT_PATH: &str = "/etc/clawdbot/clawdbot.toml";
/// The environment variable that overrides [`DEFAULT_PATH`].
pub const ENV_VAR: &str = "CLAWDBOT_CONFIG";
/// The request kind carried out by the admin agent instead of an argv template.
pub const FREEFORM: &str = "freeform";

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file or directory could not be read.
    #[error("cannot read configuration {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not valid TOML or has a bad value.
    #[error("{}:{line}: {key}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// The key or table on that line.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The merged configuration is inconsistent.
    #[error("configuration key {key}: {message} (files: {files})")]
    Invalid {
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
        /// The files that were merged.
        files: String,
    },
}

impl ExitStatus for ConfigError {
    fn exit(&self) -> Exit {
        Exit::Config
    }
}

/// The whole configuration, after merging and validation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directories.
    pub paths: Paths,
    /// Who approves.
    pub operator: Operator,
    /// How mail goes out.
    pub mail: Mail,
    /// Limits on agent requests.
    pub requests: Requests,
    /// Signed messages to the agent.
    pub bridge: Bridge,
    /// Which replies count.
    pub replies: Replies,
    /// How approved actions are carried out.
    pub exec: Exec,
    /// The optional admin agent command.
    pub agent: Agent,
    /// The Gmail mailbox the operator's replies arrive in.
    pub gmail: Gmail,
    /// The operator's Telegram bot.
    pub telegram: Telegram,
    /// Which mail is pushed to Telegram.
    pub notify: Notify,
    /// Security alerts to the operator.
    pub alerts: Alerts,
    /// The operator's calendars, merged into one availability file.
    pub calendar: Calendar,
    /// The session watchdog.
    pub watchdog: Watchdog,
    /// Secrets to rotate on schedule, by name.
    pub secrets: BTreeMap<String, Secret>,
    /// Maintenance checks and their thresholds.
    pub maint: Maint,
    /// The actions an agent may request, by kind.
    pub actions: BTreeMap<String, Action>,
    /// The files this was read from, in merge order (empty: built-in defaults).
    #[serde(skip)]
    pub sources: Vec<PathBuf>,
}

/// The sections a request is checked against, borrowed from a [`Config`] or a
/// [`RequestConfig`].
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// `[requests]`.
    pub requests: &'a Requests,
    /// `[actions.NAME]`.
    pub actions: &'a BTreeMap<String, Action>,
}

/// The configuration as the request writer reads it: `[paths] spool`, `[requests]` and the
/// actions, from the same files, merged and checked as [`Config`] does. It reads no other
/// section, so it links none of their code (the request writer stays small,
/// docs/benchmarks.md); the broker checks the whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RequestConfig {
    /// `[paths]`, the spool alone.
    pub paths: SpoolPath,
    /// Limits on agent requests.
    pub requests: Requests,
    /// The actions an agent may request, by kind.
    pub actions: BTreeMap<String, Action>,
}

impl RequestConfig {
    /// Read the configuration as [`Config::load`] does, keeping the request writer's sections.
    pub fn load(explicit: Option<&Path>) -> Result<RequestConfig, ConfigError> {
        let files = files(explicit)?;
        let config: RequestConfig = merged(&files)?;
        check_rules(&config.requests, &config.actions).map_err(|(key, message)| {
            ConfigError::Invalid {
                key,
                message,
                files: display_files(&files),
            }
        })?;
        Ok(config)
    }

    /// What a request is checked against.
    pub fn rules(&self) -> Rules<'_> {
        Rules {
            requests: &self.requests,
            actions: &self.actions,
        }
    }
}

/// What the request writer and the broker both check: the actions, and the sessions a
/// request may name.
fn check_rules(
    requests: &Requests,
    actions: &BTreeMap<String, Action>,
) -> Result<(), (String, String)> {
    // A prefix is a whole leading part of a session key: an empty one, one that stops
    // mid-word ("agent:ma") or one that names no agent ("agent:") would let a request name
    // another agent's sessions.
    let names_one_agent = |p: &str| {
        p.strip_prefix("agent:").is_none_or(|rest| {
            rest.split_once(':').is_some_and(|(agent, _)| {
                !agent.is_empty()
                    && agent.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'
                    })
            })
        })
    };
    if let Some(bad) = requests.reply_session_prefixes.iter().find(|p| {
        !p.ends_with(':')
            || p.len() < 2
            || !names_one_agent(p)
            || !p.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-' | '/' | '@')
            })
    }) {
        return Err((
            "requests.reply_session_prefixes".into(),
            format!(
                "{bad:?} is not a session key prefix: a whole leading part of a session key, ending in \":\", and for an agent's sessions naming the agent (\"agent:main:\")"
            ),
        ));
    }
    check_actions(actions)
}

/// Action names are what an agent writes as a request's kind.
fn check_actions(actions: &BTreeMap<String, Action>) -> Result<(), (String, String)> {
    match actions
        .keys()
        .find(|name| *name == FREEFORM || !requests::is_param_name(name))
    {
        Some(name) => Err((
            format!("actions.{name}"),
            "an action name is lower-case letters, digits and _, and not \"freeform\"".into(),
        )),
        None => Ok(()),
    }
}

fn is_secret_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl Config {
    fn check_alerts(&self) -> Result<(), (String, String)> {
        let alerts = &self.alerts;
        let bad = |key: &str, message: String| Err((format!("alerts.{key}"), message));
        if !alerts.quiet_hours.is_empty() && quiet_window(&alerts.quiet_hours).is_none() {
            return bad(
                "quiet_hours",
                format!("{:?} is not HH:MM-HH:MM", alerts.quiet_hours),
            );
        }
        if alerts.min_level > 16 || alerts.critical_level > 16 {
            return bad(
                "min_level",
                "levels are Wazuh's, 0 to 16 (min_level and critical_level)".into(),
            );
        }
        if alerts.max_per_hour == 0 {
            return bad("max_per_hour", "must be at least 1".into());
        }
        if alerts.max_bytes < 1024 {
            return bad("max_bytes", "at least 1024 bytes".into());
        }
        Ok(())
    }

    fn check_calendar(&self) -> Result<(), (String, String)> {
        let calendar = &self.calendar;
        if !(1..=366).contains(&calendar.horizon_days) {
            return Err((
                "calendar.horizon_days".into(),
                "between 1 and 366 days".into(),
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for account in &calendar.accounts {
            let key = format!("calendar.accounts {:?}", account.name);
            if !is_secret_name(&account.name) {
                return Err((
                    key,
                    "an account name is letters, digits, - and _ (at most 64)".into(),
                ));
            }
            if !names.insert(account.name.as_str()) {
                return Err((key, "two accounts have this name".into()));
            }
            let mut ids = std::collections::BTreeSet::new();
            if let Some(twice) = account.calendars.iter().find(|c| !ids.insert(c.as_str())) {
                return Err((key, format!("{twice:?} is named twice")));
            }
            if account.calendars.is_empty() {
                return Err((key, "name its calendars, or calendars = [\"all\"]".into()));
            }
            if let Some(bad) = account
                .calendars
                .iter()
                .find(|c| c.is_empty() || c.len() > 1024 || c.chars().any(char::is_control))
            {
                return Err((key, format!("{bad:?} is not a calendar id")));
            }
        }
        Ok(())
    }
}

impl Config {
    /// Whether an operator is configured; if not, log one line saying so and what the job
    /// does meanwhile (a fresh install runs every job without failing any).
    pub fn has_operator(&self, meanwhile: &str) -> bool {
        if !self.operator.emails.is_empty() {
            return true;
        }
        // A drop-in, not the packaged file: dpkg keeps that one up to date.
        log::warn!(
            "no operator is configured: set emails = [\"you@example.org\"] under [operator] in a drop-in such as {}.d/10-operator.toml (docs/setup.md); {meanwhile}",
            self.file()
        );
        false
    }

    /// The file a person edits to change this configuration (the first one read).
    pub fn file(&self) -> String {
        self.sources
            .first()
            .map_or_else(|| DEFAULT_PATH.to_string(), |p| p.display().to_string())
    }

    /// Read the configuration: `explicit` (from `--config`), else `$CLAWDBOT_CONFIG`, else
    /// [`DEFAULT_PATH`]; plus the drop-ins in `FILE.d/*.toml`. A missing default file means
    /// built-in defaults; a missing file that was asked for is an error.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        Config::from_files(&files(explicit)?)
    }

    /// Merge and validate these files, in order.
    pub fn from_files(files: &[PathBuf]) -> Result<Config, ConfigError> {
        let mut config: Config = merged(files)?;
        config.sources = files.to_vec();
        config.check(files)?;
        Ok(config)
    }

    /// Parse one configuration text alone (for tests and `init`).
    pub fn from_text(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let table = parse_file::<Config>(path, text)?;
        let mut config: Config =
            table
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Invalid {
                    key: "(file)".into(),
                    message: e.message().to_string(),
                    files: path.display().to_string(),
                })?;
        config.sources = vec![path.to_path_buf()];
        config.check(&config.sources.clone())?;
        Ok(config)
    }

    fn check(&self, files: &[PathBuf]) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            key: key.into(),
            message,
            files: display_files(files),
        };
        if self.bridge.secrets.is_empty() {
            return Err(invalid("bridge.secrets", "name at least one secret".into()));
        }
        if self.bridge.mode == BridgeMode::Http && self.bridge.url.is_none() {
            return Err(invalid(
                "bridge.url",
                "mode = \"http\" needs the gateway's hook URL".into(),
            ));
        }
        for (key, patterns) in [
            ("watchdog.sessions", &self.watchdog.sessions),
            ("watchdog.databases", &self.watchdog.databases),
        ] {
            if let Some(bad) = patterns.iter().find(|p| !p.starts_with('/')) {
                return Err(invalid(key, format!("{bad:?} is not an absolute pattern")));
            }
        }
        for (key, command) in [
            ("watchdog.stop", &self.watchdog.stop),
            ("watchdog.start", &self.watchdog.start),
        ] {
            if command.first().is_some_and(String::is_empty) {
                return Err(invalid(key, "the command's program is empty".into()));
            }
        }
        let w = &self.watchdog;
        for (key, name) in [
            ("watchdog.gateway_service", &w.gateway_service),
            ("watchdog.gateway_project", &w.gateway_project),
        ] {
            let optional = key.ends_with("project") && name.is_empty();
            if !optional && !valid_compose_name(name) {
                return Err(invalid(
                    key,
                    format!("{name:?} is not a Compose name (letters, digits, - _ .)"),
                ));
            }
        }
        if let Some(key) = self.watchdog.retired.keys().next() {
            let message = match key.as_str() {
                "restart" => "replaced by stop and start: the gateway is stopped before a repair \
                    and started after it"
                    .to_string(),
                "restart_timeout" => "replaced by gateway_timeout".to_string(),
                "window" => "no longer used: the whole file is read; remove it".to_string(),
                "tool_grace" => "no longer used: unanswered tool calls are left to OpenClaw, \
                    which answers them itself; remove it"
                    .to_string(),
                other => format!("unknown key {other:?}"),
            };
            return Err(invalid(&format!("watchdog.{key}"), message));
        }
        if let Some(name) = self.secrets.keys().find(|n| !is_secret_name(n)) {
            return Err(invalid(
                &format!("secrets.{name}"),
                "a secret's name is letters, digits, - and _ (at most 64)".into(),
            ));
        }
        if self.telegram.poll_timeout.get() > Duration::from_secs(50) {
            return Err(invalid(
                "telegram.poll_timeout",
                "at most 50s (Telegram's own limit on a long poll)".into(),
            ));
        }
        if let Some(bad) = self.telegram.chats.iter().find(|id| **id >= 0) {
            return Err(invalid(
                "telegram.chats",
                format!("{bad} is not a group chat id (group ids are negative numbers)"),
            ));
        }
        if let Some(bad) = self.telegram.operators.iter().find(|id| **id <= 0) {
            return Err(invalid(
                "telegram.operators",
                format!("{bad} is not a user id (user ids are positive numbers)"),
            ));
        }
        self.check_calendar()
            .map_err(|(key, message)| invalid(&key, message))?;
        if !self.notify.quiet_hours.is_empty() && quiet_window(&self.notify.quiet_hours).is_none() {
            return Err(invalid(
                "notify.quiet_hours",
                format!("{:?} is not HH:MM-HH:MM", self.notify.quiet_hours),
            ));
        }
        if self.notify.max_per_hour == 0 || self.notify.lines == 0 {
            return Err(invalid(
                "notify",
                "max_per_hour and lines must be at least 1".into(),
            ));
        }
        if self.mail.max_per_hour == 0 {
            return Err(invalid("mail.max_per_hour", "must be at least 1".into()));
        }
        self.check_alerts()
            .map_err(|(key, message)| invalid(&key, message))?;
        check_rules(&self.requests, &self.actions).map_err(|(key, message)| invalid(&key, message))
    }

    /// What a request is checked against.
    pub fn rules(&self) -> Rules<'_> {
        Rules {
            requests: &self.requests,
            actions: &self.actions,
        }
    }
}

fn display_files(files: &[PathBuf]) -> String {
    if files.is_empty() {
        return "built-in defaults".into();
    }
    files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The files to read: `explicit` (from `--config`), else `$CLAWDBOT_CONFIG`, else
/// [`DEFAULT_PATH`], then its drop-ins. A missing default file means built-in defaults; a
/// missing file that was asked for is an error.
fn files(explicit: Option<&Path>) -> Result<Vec<PathBuf>, ConfigError> {
    let env = std::env::var_os(ENV_VAR).filter(|v| !v.is_empty());
    let (path, required) = match (explicit, env) {
        (Some(path), _) => (path.to_path_buf(), true),
        (None, Some(env)) => (PathBuf::from(env), true),
        (None, None) => (PathBuf::from(DEFAULT_PATH), false),
    };
    let mut files = Vec::new();
    match std::fs::metadata(&path) {
        Ok(_) => files.push(path.clone()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {}
        Err(source) => return Err(ConfigError::Read { path, source }),
    }
    files.extend(drop_ins(&path)?);
    Ok(files)
}

/// Read, check one by one as `T`, and merge these files in order, into a `T`.
fn merged<T: DeserializeOwned>(files: &[PathBuf]) -> Result<T, ConfigError> {
    let mut whole = toml::Table::new();
    for path in files {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let table = parse_file::<T>(path, &text)?;
        merge(&mut whole, table);
    }
    whole
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Invalid {
            key: "(merged)".into(),
            message: e.message().to_string(),
            files: display_files(files),
        })
}

/// `FILE.d/*.toml`, in name order.
fn drop_ins(path: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let mut dir = path.as_os_str().to_owned();
    dir.push(".d");
    let dir = PathBuf::from(dir);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(ConfigError::Read { path: dir, source }),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| ConfigError::Read {
            path: dir.clone(),
            source,
        })?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".toml") && !name.starts_with('.') {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Parse one file and validate it alone as a `T`, so that errors carry its name and line.
fn parse_file<T: DeserializeOwned>(path: &Path, text: &str) -> Result<toml::Table, ConfigError> {
    let located = |e: toml::de::Error| {
        let offset = e.span().map(|s| s.start).unwrap_or(0);
        let line = text[..offset.min(text.len())].matches('\n').count() + 1;
        let key = text
            .lines()
            .nth(line - 1)
            .map(key_on_line)
            .unwrap_or_default();
        ConfigError::Parse {
            path: path.to_path_buf(),
            line,
            key,
            message: e.message().trim().to_string(),
        }
    };
    let table: toml::Table = toml::from_str(text).map_err(located)?;
    toml::from_str::<T>(text).map_err(located)?;
    Ok(table)
}

/// The key (or `[table]`) written on a line, to name it in an error.
fn key_on_line(line: &str) -> String {
    let line = line.trim();
    if line.starts_with('[') {
        return line
            .split(']')
            .next()
            .unwrap_or(line)
            .trim_start_matches('[')
            .to_string();
    }
    line.split('=').next().unwrap_or(line).trim().to_string()
}

/// Merge `over` into `base`: tables key by key, except that each `actions.NAME` is replaced whole.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(base_actions)), toml::Value::Table(actions))
                if key == "actions" =>
            {
                for (name, action) in actions {
                    base_actions.insert(name, action);
                }
            }
            (Some(toml::Value::Table(base_table)), toml::Value::Table(table)) => {
                merge(base_table, table)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn the_shipped_example_is_valid_and_matches_the_defaults() {
        let text = include_str!("../../../packaging/clawdbot.toml");
        let config = Config::from_text(Path::new("packaging/clawdbot.toml"), text).unwrap();
        let defaults = Watchdog::default();
        let w = &config.watchdog;
        assert_eq!(w.sessions, defaults.sessions);
        assert_eq!((&w.stop, &w.start), (&defaults.stop, &defaults.start));
        assert_eq!(
            (w.settle, w.lock_stale, w.gateway_timeout, w.backup_days),
            (
                defaults.settle,
                defaults.lock_stale,
                defaults.gateway_timeout,
                defaults.backup_days
            )
        );
    }

    /// The keys the reference file names in each section, subsections and arrays of tables
    /// counting as keys of their parent (`# [[notify.rules]]` is `rules` in `notify`).
    fn reference_keys() -> BTreeMap<String, std::collections::BTreeSet<String>> {
        let text = include_str!("../../../packaging/clawdbot.toml.example");
        let mut keys: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
        let mut section = String::new();
        for line in text.lines() {
            let line = line.trim_start_matches('#').trim();
            if let Some(header) = line.strip_prefix('[') {
                let name = header.trim_matches(|c| c == '[' || c == ']');
                let (parent, child) = name.rsplit_once('.').unwrap_or(("", name));
                // [secrets.NAME] and [actions.NAME] are tables of a name the admin chooses.
                let generic = matches!(parent, "secrets" | "actions");
                let (parent, child) = if generic {
                    ("", parent)
                } else {
                    (parent, child)
                };
                keys.entry(parent.to_string())
                    .or_default()
                    .insert(child.to_string());
                section = if generic {
                    format!("{child}.*")
                } else {
                    name.to_string()
                };
            } else if let Some((key, _)) = line.split_once(" = ")
                && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            {
                keys.entry(section.clone())
                    .or_default()
                    .insert(key.to_string());
            }
        }
        keys
    }

    /// The keys a section accepts, as the configuration's own error for an unknown key lists
    /// them.
    fn accepted_keys(probe: &str) -> Vec<String> {
        let err = Config::from_text(Path::new("probe.toml"), &format!("{probe}\n__probe = 1\n"))
            .unwrap_err()
            .to_string();
        let expected = err.split_once("expected").map(|(_, e)| e).unwrap_or("");
        expected
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn the_reference_file_names_every_key_of_every_section_and_parses() {
        let text = include_str!("../../../packaging/clawdbot.toml.example");
        Config::from_text(Path::new("clawdbot.toml.example"), text).unwrap();
        let named = reference_keys();
        for (section, probe) in [
            ("", ""),
            ("paths", "[paths]"),
            ("operator", "[operator]"),
            ("mail", "[mail]"),
            ("mail.smtp", "[mail.smtp]"),
            ("mail.sendmail", "[mail.sendmail]"),
            ("requests", "[requests]"),
            ("replies", "[replies]"),
            ("exec", "[exec]"),
            ("agent", "[agent]"),
            ("bridge", "[bridge]"),
            ("gmail", "[gmail]"),
            ("telegram", "[telegram]"),
            ("notify", "[notify]"),
            ("notify.rules", "[[notify.rules]]"),
            ("alerts", "[alerts]"),
            ("calendar", "[calendar]"),
            (
                "calendar.accounts",
                "[[calendar.accounts]]\nname = \"a\"\nkind = \"google\"",
            ),
            ("maint", "[maint]"),
            ("maint.stale", "[[maint.stale]]"),
            ("secrets.*", "[secrets.x]"),
            (
                "actions.*",
                "[actions.x]\ncommand = [\"true\"]\nrisk = \"low\"",
            ),
        ] {
            let accepted = accepted_keys(probe);
            assert!(!accepted.is_empty(), "{section}: no key list in the error");
            let missing: Vec<_> = accepted
                .iter()
                .filter(|k| !named.get(section).is_some_and(|n| n.contains(*k)))
                .collect();
            assert!(
                missing.is_empty(),
                "the reference file's [{section}] lacks {missing:?}"
            );
        }
        // [watchdog] keeps retired keys to explain them, so its error lists none: its fields.
        for key in [
            "sessions",
            "roots",
            "databases",
            "settle",
            "lock_stale",
            "backup_days",
            "stop",
            "start",
            "gateway_service",
            "gateway_project",
            "gateway_timeout",
            "reset_action",
        ] {
            assert!(
                named["watchdog"].contains(key),
                "the reference file's [watchdog] lacks {key}"
            );
        }
    }

    #[test]
    fn the_reference_file_shows_the_defaults() {
        // Uncomment every key outside the example tables, except the lines marked (example) or
        // (follows state_dir): the result is the built-in configuration, so every value shown
        // is its default.
        let mut example_table = false;
        let mut text = String::new();
        for line in include_str!("../../../packaging/clawdbot.toml.example").lines() {
            if line.starts_with('[') {
                example_table = false;
            } else if line.starts_with("# [") {
                example_table = true;
            }
            let key = line
                .strip_prefix("# ")
                .and_then(|l| l.split_once(" = "))
                .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            let shown = !line.contains("(example)") && !line.contains("(follows state_dir)");
            if key && !example_table && shown {
                text.push_str(&line[2..]);
            } else {
                text.push_str(line);
            }
            text.push('\n');
        }
        let mut shown = Config::from_text(Path::new("uncommented.toml"), &text).unwrap();
        let built_in = Config::from_text(Path::new("empty.toml"), "").unwrap();
        shown.sources.clone_from(&built_in.sources);
        assert_eq!(format!("{shown:?}"), format!("{built_in:?}"));
    }

    #[test]
    fn retired_watchdog_keys_say_what_replaced_them() {
        let err = Config::from_text(
            Path::new("t.toml"),
            "[watchdog]\nrestart = [\"docker\", \"restart\", \"gw\"]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("watchdog.restart") && err.contains("stop and start"),
            "{err}"
        );
        let err = Config::from_text(Path::new("t.toml"), "[watchdog]\nsettel = \"1m\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("watchdog.settel"), "{err}");
    }

    #[test]
    fn watchdog_patterns_must_be_absolute() {
        let err = Config::from_text(
            Path::new("t.toml"),
            "[watchdog]\nsessions = [\"home/*/x.jsonl\"]\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("watchdog.sessions"), "{err}");
    }

    fn tempdir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("clawdbot-config-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    const ACTION: &str = r#"
[actions.restart_container]
command = ["docker", "restart", "{container}"]
risk = "medium"
timeout = "2m"
params = { container = "^[a-z0-9][a-z0-9_.-]{0,62}$" }
"#;

    #[test]
    fn defaults_suit_the_reference_host() {
        let config = Config::from_files(&[]).unwrap();
        assert_eq!(
            config.paths.database(),
            Path::new("/var/lib/clawdbot/state.db")
        );
        assert_eq!(
            config.paths.quarantine(),
            Path::new("/var/lib/clawdbot/quarantine")
        );
        assert_eq!(config.mail.transport, Transport::File);
        assert_eq!(config.mail.max_per_hour, 20);
        assert_eq!(config.requests.ttl.get().as_secs(), 86_400);
        assert_eq!(config.requests.max_bytes.get(), 65_536);
    }

    #[test]
    fn an_error_names_file_line_and_key() {
        let dir = tempdir("err");
        let path = write(
            &dir,
            "c.toml",
            "[mail]\nfrom = \"a <a@b.c>\"\nmax_per_hour = \"many\"\n",
        );
        let err = Config::from_files(std::slice::from_ref(&path)).unwrap_err();
        match &err {
            ConfigError::Parse {
                path: p, line, key, ..
            } => {
                assert_eq!(p, &path);
                assert_eq!(*line, 3);
                assert_eq!(key, "max_per_hour");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            err.to_string()
                .starts_with(&format!("{}:3: max_per_hour:", path.display()))
        );
    }

    #[test]
    fn bad_values_are_refused_with_their_reason() {
        let dir = tempdir("bad");
        for (text, needle) in [
            (
                "[paths]\nstate_dir = \"relative/dir\"\n",
                "not an absolute path",
            ),
            (
                "[operator]\ntimezone = \"Mars/Olympus\"\n",
                "unknown time zone",
            ),
            ("[operator]\nemails = [\"not an address\"]\n", "emails"),
            ("[requests]\nttl = \"soon\"\n", "invalid duration"),
            ("[requests]\nmax_bytes = 10\n", "out of range"),
            ("[mail]\ntransport = \"pigeon\"\n", "unknown variant"),
            ("[mail]\nbogus = 1\n", "unknown field"),
            (
                "[actions.x]\ncommand = [\"rm\", \"{path}\"]\nrisk = \"high\"\n",
                "no rule for \"path\"",
            ),
            (
                "[actions.x]\ncommand = [\"ls\"]\nrisk = \"low\"\nparams = { p = \"a\" }\n",
                "never used",
            ),
            (
                "[actions.x]\ncommand = [\"ls\", \"{p}\"]\nrisk = \"low\"\nparams = { p = \"(\" }\n",
                "invalid pattern",
            ),
            (
                "[actions.x]\ncommand = []\nrisk = \"low\"\n",
                "command is empty",
            ),
            (
                "[actions.x]\ncommand = [\"ls\"]\nrisk = \"extreme\"\n",
                "unknown variant",
            ),
            (
                "[actions.freeform]\ncommand = [\"ls\"]\nrisk = \"low\"\n",
                "freeform",
            ),
            ("[mail]\nmax_per_hour = 0\n", "at least 1"),
            (
                "[requests]\nreply_session_prefixes = [\"\"]\n",
                "not a session key prefix",
            ),
            (
                "[requests]\nreply_session_prefixes = [\"agent:ma\"]\n",
                "not a session key prefix",
            ),
            (
                "[requests]\nreply_session_prefixes = [\"agent:main:\", \"hook: \"]\n",
                "not a session key prefix",
            ),
            (
                "[requests]\nreply_session_prefixes = [\"agent:\"]\n",
                "not a session key prefix",
            ),
            (
                "[requests]\nreply_session_prefixes = [\"agent:Main:\"]\n",
                "not a session key prefix",
            ),
        ] {
            let path = write(&dir, "c.toml", text);
            let err = Config::from_files(&[path]).expect_err(text).to_string();
            assert!(err.contains(needle), "{text:?} gave {err:?}");
        }
    }

    #[test]
    fn drop_ins_merge_in_name_order_and_replace_actions_whole() {
        let dir = tempdir("merge");
        let main = write(
            &dir,
            "clawdbot.toml",
            &format!("[mail]\nmax_per_hour = 5\n{ACTION}"),
        );
        write(
            &dir,
            "clawdbot.toml.d/20-b.toml",
            "[mail]\nmax_per_hour = 7\n",
        );
        write(
            &dir,
            "clawdbot.toml.d/10-a.toml",
            "[mail]\nmax_per_hour = 6\nplus_addressing = true\n",
        );
        write(
            &dir,
            "clawdbot.toml.d/30-action.toml",
            "[actions.restart_container]\ncommand = [\"podman\", \"restart\", \"{c}\"]\nrisk = \"high\"\nparams = { c = \"^[a-z]+$\" }\n",
        );
        write(&dir, "clawdbot.toml.d/ignored.conf", "garbage");
        let config = Config::load(Some(&main)).unwrap();
        assert_eq!(config.mail.max_per_hour, 7);
        assert!(config.mail.plus_addressing);
        let action = &config.actions["restart_container"];
        assert_eq!(action.command[0], "podman");
        assert_eq!(
            action.timeout.get().as_secs(),
            120,
            "replaced whole, not merged"
        );
        assert_eq!(config.sources.len(), 4);
    }

    #[test]
    fn patterns_are_anchored_even_when_written_without_anchors() {
        let dir = tempdir("anchor");
        let path = write(
            &dir,
            "c.toml",
            "[actions.x]\ncommand = [\"docker\", \"restart\", \"{c}\"]\nrisk = \"low\"\nparams = { c = \"[a-z]+\" }\n",
        );
        let config = Config::from_files(&[path]).unwrap();
        let rule = &config.actions["x"].params["c"];
        assert!(rule.accepts("searxng"));
        assert!(!rule.accepts("searxng; rm -rf /"));
    }

    #[test]
    fn pattern_classes_are_ascii_only_and_unicode_classes_are_refused() {
        let dir = tempdir("ascii");
        let path = write(
            &dir,
            "c.toml",
            "[actions.x]\ncommand = [\"docker\", \"restart\", \"{c}\"]\nrisk = \"low\"\nparams = { c = '\\w+' }\n",
        );
        let rule = &Config::from_files(&[path]).unwrap().actions["x"].params["c"];
        assert!(rule.accepts("searx_ng2"));
        assert!(
            !rule.accepts("séarxng"),
            "a letter outside ASCII is not \\w"
        );
        let path = write(
            &dir,
            "d.toml",
            "[actions.x]\ncommand = [\"docker\", \"restart\", \"{c}\"]\nrisk = \"low\"\nparams = { c = '\\p{L}+' }\n",
        );
        let err = Config::from_files(&[path]).unwrap_err().to_string();
        assert!(err.contains("invalid pattern"), "{err}");
        // Escapes that would match (or border) every character outside ASCII are refused, and
        // an unbalanced ) cannot close the anchoring group early.
        for (name, pattern) in [
            ("s.toml", r"\S+"),
            ("w.toml", r"[\W]+"),
            ("dd.toml", r"\D+"),
            ("b.toml", r"a\b.+"),
            ("bb.toml", r"\Ba"),
            ("paren.toml", "a)|(b"),
        ] {
            let path = write(
                &dir,
                name,
                &format!(
                    "[actions.x]\ncommand = [\"docker\", \"restart\", \"{{c}}\"]\nrisk = \"low\"\nparams = {{ c = '{pattern}' }}\n"
                ),
            );
            let err = Config::from_files(&[path]).unwrap_err().to_string();
            assert!(err.contains("invalid pattern"), "{pattern}: {err}");
        }
        // An escaped backslash before S is a backslash and an S.
        let path = write(
            &dir,
            "ok.toml",
            "[actions.x]\ncommand = [\"docker\", \"restart\", \"{c}\"]\nrisk = \"low\"\nparams = { c = 'a\\\\S' }\n",
        );
        let rule = &Config::from_files(&[path]).unwrap().actions["x"].params["c"];
        assert!(rule.accepts("a\\S"));
    }

    #[test]
    fn the_request_writer_reads_its_sections_as_the_broker_does() {
        let dir = tempdir("request-view");
        let main = write(
            &dir,
            "clawdbot.toml",
            &format!(
                "[paths]\nspool = \"/srv/agent/requests\"\nstate_dir = \"/var/lib/x\"\n[requests]\nmax_bytes = 2048\n{ACTION}"
            ),
        );
        write(
            &dir,
            "clawdbot.toml.d/30-action.toml",
            "[actions.restart_container]\ncommand = [\"podman\", \"restart\", \"{c}\"]\nrisk = \"high\"\nparams = { c = \"^[a-z]+$\" }\n",
        );
        let view = RequestConfig::load(Some(&main)).unwrap();
        let whole = Config::load(Some(&main)).unwrap();
        assert_eq!(view.paths.spool.path(), whole.paths.spool.path());
        assert_eq!(view.requests.max_bytes.get(), 2048);
        assert_eq!(view.actions["restart_container"].command[0], "podman");
        assert_eq!(
            view.actions.keys().collect::<Vec<_>>(),
            whole.actions.keys().collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_request_writer_checks_its_sections_and_only_those() {
        let dir = tempdir("request-view-checks");
        // A mistake elsewhere is the broker's to report; the request writer still works.
        let main = write(&dir, "a.toml", "[telegram]\npoll_timout = \"5s\"\n");
        assert!(RequestConfig::load(Some(&main)).is_ok());
        assert!(Config::load(Some(&main)).is_err());
        // Its own sections are checked as strictly as the broker checks them.
        for (name, text) in [
            ("b.toml", "[requests]\nmax_byte = 1\n"),
            ("c.toml", "[paths]\nspool = \"relative/dir\"\n"),
            (
                "d.toml",
                "[actions.freeform]\ncommand = [\"true\"]\nrisk = \"low\"\n",
            ),
            (
                "e.toml",
                "[actions.x]\ncommand = [\"rm\", \"{path}\"]\nrisk = \"low\"\n",
            ),
        ] {
            let path = write(&dir, name, text);
            let err = RequestConfig::load(Some(&path)).unwrap_err();
            assert!(
                Config::load(Some(&path)).is_err(),
                "{name}: the broker refuses it too"
            );
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
    }

    #[test]
    fn an_asked_for_file_must_exist() {
        let err = Config::load(Some(Path::new("/nonexistent/clawdbot.toml"))).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }));
        assert!(err.to_string().contains("/nonexistent/clawdbot.toml"));
    }

    #[test]
    fn render_substitutes_inside_words() {
        let dir = tempdir("render");
        let path = write(
            &dir,
            "c.toml",
            "[actions.x]\ncommand = [\"systemctl\", \"restart\", \"{unit}.service\"]\nrisk = \"low\"\nparams = { unit = [\"nginx\", \"ssh\"] }\n",
        );
        let config = Config::from_files(&[path]).unwrap();
        let values = BTreeMap::from([("unit".to_string(), "nginx".to_string())]);
        assert_eq!(
            config.actions["x"].render(&values),
            ["systemctl", "restart", "nginx.service"]
        );
    }
}
