//! Configuration: `/etc/clawdbot/clawdbot.toml` and its drop-ins, merged, validated into checked types.
//!
//! Each file is parsed and validated on its own first, so that an error names the file, the line
//! and the key; the files are then merged in order (tables key by key, but an `[actions.NAME]`
//! table is replaced whole, so a drop-in can never half-change what an action runs).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::Address;
use lettre::message::Mailbox;
use regex::Regex;
use serde::{Deserialize, Deserializer};

use crate::duration::ConfigDuration;
use crate::exit::{Exit, ExitStatus};
use crate::risk::Risk;

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

/// `[paths]`: every directory the suite uses. Paths are absolute.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Paths {
    /// The state directory: database, quarantine, outbox, reply Maildir.
    pub state_dir: AbsPath,
    /// The request spool shared with the agent.
    pub spool: AbsPath,
    /// The agent's inbox for bridge messages.
    pub inbox: AbsPath,
    /// Rejected requests; default `STATE_DIR/quarantine`.
    pub quarantine: Option<AbsPath>,
    /// `.eml` files of the `file` transport; default `STATE_DIR/outbox`.
    pub outbox: Option<AbsPath>,
    /// The reply Maildir; default `STATE_DIR/mail`.
    pub maildir: Option<AbsPath>,
    /// Trigger files for `clawdbot-exec`; default `STATE_DIR/approved`.
    pub approved: Option<AbsPath>,
    /// Copies of session files taken before a repair; default `STATE_DIR/backups`.
    pub backups: Option<AbsPath>,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            state_dir: AbsPath::from_static("/var/lib/clawdbot"),
            spool: AbsPath::from_static("/srv/clawdbot/requests"),
            inbox: AbsPath::from_static("/srv/clawdbot/inbox"),
            quarantine: None,
            outbox: None,
            maildir: None,
            approved: None,
            backups: None,
        }
    }
}

impl Paths {
    fn under_state(&self, set: &Option<AbsPath>, name: &str) -> PathBuf {
        set.as_ref()
            .map(|p| p.0.clone())
            .unwrap_or_else(|| self.state_dir.0.join(name))
    }

    /// The SQLite database.
    pub fn database(&self) -> PathBuf {
        self.state_dir.0.join("state.db")
    }

    /// The lock file that keeps two broker passes apart.
    pub fn broker_lock(&self) -> PathBuf {
        self.state_dir.0.join("broker.lock")
    }

    /// The quarantine directory.
    pub fn quarantine(&self) -> PathBuf {
        self.under_state(&self.quarantine, "quarantine")
    }

    /// The outbox directory of the `file` transport.
    pub fn outbox(&self) -> PathBuf {
        self.under_state(&self.outbox, "outbox")
    }

    /// The reply Maildir.
    pub fn maildir(&self) -> PathBuf {
        self.under_state(&self.maildir, "mail")
    }

    /// The trigger directory of `clawdbot-exec`.
    pub fn approved(&self) -> PathBuf {
        self.under_state(&self.approved, "approved")
    }

    /// The watchdog's backups of session files.
    pub fn backups(&self) -> PathBuf {
        self.under_state(&self.backups, "backups")
    }

    /// The lock file that keeps two watchdog passes apart.
    pub fn watchdog_lock(&self) -> PathBuf {
        self.state_dir.0.join("watchdog.lock")
    }
}

/// `[operator]`: who approves, and in which time zone they read.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Operator {
    /// Operator addresses: the approval mail goes to them and only their replies count.
    pub emails: Vec<Address>,
    /// The time zone deadlines are shown in.
    pub timezone: Zone,
    /// The operators' names as they sign their mail: in a reply they are fillers, never
    /// words of their own ("Approved, Anna"). The From display name counts too.
    pub names: Vec<String>,
    /// Blocks of text the operators' mail clients add to every mail (a legal disclaimer, a
    /// fixed signature): below the reply they neither approve nor veto.
    pub boilerplate: Vec<String>,
}

impl Default for Operator {
    fn default() -> Self {
        Operator {
            emails: Vec::new(),
            timezone: Zone::system(),
            names: Vec::new(),
            boilerplate: Vec::new(),
        }
    }
}

/// `[mail]`: outgoing mail.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mail {
    /// How mail is delivered.
    pub transport: Transport,
    /// The sender, e.g. `clawdbot <clawdbot@example.org>`.
    pub from: Mailbox,
    /// Approval mails per hour before the rest go out as one digest.
    pub max_per_hour: u32,
    /// Put a per-request key in `Reply-To` (`clawdbot+KEY@domain`).
    pub plus_addressing: bool,
    /// The `sendmail` transport.
    pub sendmail: Sendmail,
    /// The `smtp` transport.
    pub smtp: Smtp,
}

impl Default for Mail {
    fn default() -> Self {
        Mail {
            transport: Transport::File,
            from: Mailbox::new(
                Some("clawdbot".into()),
                Address::new_dangerous("clawdbot", "localhost"),
            ),
            max_per_hour: 20,
            plus_addressing: false,
            sendmail: Sendmail::default(),
            smtp: Smtp::default(),
        }
    }
}

/// Mail transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// One `.eml` file per mail in the outbox directory.
    File,
    /// An SMTP relay.
    Smtp,
    /// The local `sendmail` command.
    Sendmail,
    /// The Gmail API (`users.messages.send`), with the poller's credential.
    Gmail,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::File => "file",
            Transport::Smtp => "smtp",
            Transport::Sendmail => "sendmail",
            Transport::Gmail => "gmail",
        })
    }
}

/// `[mail.sendmail]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sendmail {
    /// The sendmail binary.
    pub command: AbsPath,
}

impl Default for Sendmail {
    fn default() -> Self {
        Sendmail {
            command: AbsPath::from_static("/usr/sbin/sendmail"),
        }
    }
}

/// `[mail.smtp]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Smtp {
    /// The relay's host name.
    pub host: String,
    /// The port; default 587 for STARTTLS, 465 for TLS, 25 without.
    pub port: Option<u16>,
    /// Transport security.
    pub security: Security,
    /// The user name; no authentication when unset.
    pub username: Option<String>,
    /// The password: a credential name, or the absolute path of a file with mode 0600.
    pub password_credential: String,
    /// How long one connection attempt may take.
    pub timeout: ConfigDuration,
}

impl Default for Smtp {
    fn default() -> Self {
        Smtp {
            host: "localhost".into(),
            port: None,
            security: Security::Starttls,
            username: None,
            password_credential: "smtp-password".into(),
            timeout: ConfigDuration::from_secs(30),
        }
    }
}

impl Smtp {
    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            Security::Starttls => 587,
            Security::Tls => 465,
            Security::None => 25,
        })
    }
}

/// SMTP transport security.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain connection upgraded with STARTTLS (required).
    Starttls,
    /// TLS from the first byte.
    Tls,
    /// No encryption (a relay on the same host).
    None,
}

/// `[requests]`: limits on what the agent may file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Requests {
    /// How long a request waits for a decision before it expires.
    pub ttl: ConfigDuration,
    /// The largest request file accepted.
    pub max_bytes: MaxBytes,
    /// What a request's `reply_session` must start with: the agent's own sessions, as the
    /// gateway's `hooks.allowedSessionKeyPrefixes` allows them.
    pub reply_session_prefixes: Vec<String>,
}

impl Default for Requests {
    fn default() -> Self {
        Requests {
            ttl: ConfigDuration::from_secs(86_400),
            max_bytes: MaxBytes(65_536),
            reply_session_prefixes: vec!["agent:main:".into()],
        }
    }
}

/// A size limit, between 1 KiB and 16 MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxBytes(u64);

impl MaxBytes {
    /// The limit in bytes.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for MaxBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = u64::deserialize(deserializer)?;
        if !(1024..=16_777_216).contains(&value) {
            return Err(serde::de::Error::custom(format!(
                "{value} is out of range: a size limit is between 1024 and 16777216 bytes"
            )));
        }
        Ok(MaxBytes(value))
    }
}

/// `[replies]`: which reply mails count as the operator's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Replies {
    /// Require `dmarc=pass` or an aligned `dkim=pass` from the trusted authserv-id. Turn off
    /// only for a local MTA that delivers straight from the operator's own machine.
    pub require_authentication_results: bool,
    /// The authserv-id whose `Authentication-Results` header is believed.
    pub trusted_authserv_id: String,
    /// The largest reply mail read; larger ones are recorded as unreadable and kept.
    pub max_bytes: MaxBytes,
}

impl Default for Replies {
    fn default() -> Self {
        Replies {
            require_authentication_results: true,
            trusted_authserv_id: "mx.google.com".into(),
            max_bytes: MaxBytes(10 * 1_048_576),
        }
    }
}

/// `[exec]`: carrying out approved actions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Exec {
    /// Run approved actions within the broker's pass (a self-contained `init` instance)
    /// instead of leaving a trigger for `clawdbot-exec.path` (the privilege-split host).
    pub inline: bool,
    /// The most output kept from a run, in bytes.
    pub output_bytes: usize,
}

impl Default for Exec {
    fn default() -> Self {
        Exec {
            inline: false,
            output_bytes: 16_384,
        }
    }
}

/// `[gmail]`: the mailbox `clawdbot-mailpoll` reads replies from, through the Gmail API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Gmail {
    /// The API's base URL (tests point it at an emulator).
    pub api_base: HttpUrl,
    /// The OAuth token endpoint.
    pub token_url: HttpUrl,
    /// The OAuth consent page (`clawdbot-mailpoll authorize`).
    pub auth_url: HttpUrl,
    /// The OAuth credential (client id, secret, refresh token): a credential name, or the
    /// absolute path of a 0600 file.
    pub credential: String,
    /// The label given to every message handed to the broker (created if missing).
    pub label: String,
    /// The search used when the history is too old to follow.
    pub full_sync_query: String,
    /// The most messages a full sync looks at.
    pub full_sync_max: u32,
    /// How long one HTTP call may take.
    pub timeout: ConfigDuration,
}

impl Default for Gmail {
    fn default() -> Self {
        Gmail {
            api_base: HttpUrl("https://gmail.googleapis.com/gmail/v1".into()),
            token_url: HttpUrl("https://oauth2.googleapis.com/token".into()),
            auth_url: HttpUrl("https://accounts.google.com/o/oauth2/v2/auth".into()),
            credential: "gmail-oauth.json".into(),
            label: "clawdbot".into(),
            full_sync_query: "newer_than:7d".into(),
            full_sync_max: 500,
            timeout: ConfigDuration::from_secs(20),
        }
    }
}

/// `[telegram]`: the operator's bot (`clawdbot-telegram`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Telegram {
    /// The Bot API's base URL (tests point it at an emulator).
    pub api_base: HttpUrl,
    /// The bot token: a credential name, or the absolute path of a 0600 file.
    pub token_credential: String,
    /// Numeric Telegram user ids whose messages are obeyed; everyone else is ignored.
    pub operators: Vec<i64>,
    /// Group chats the bot listens in (only with `allow_groups`), and where alerts go besides
    /// the operators' private chats.
    pub chats: Vec<i64>,
    /// Whether an operator's message in one of `chats` counts (private chats always do).
    pub allow_groups: bool,
    /// Send an alert with Approve / Deny buttons when a request waits for a decision.
    pub alerts: bool,
    /// How long one run waits for updates (`getUpdates` long poll), at most 50 s.
    pub poll_timeout: ConfigDuration,
    /// How long any other call may take.
    pub timeout: ConfigDuration,
}

impl Default for Telegram {
    fn default() -> Self {
        Telegram {
            api_base: HttpUrl("https://api.telegram.org".into()),
            token_credential: "telegram-token".into(),
            operators: Vec::new(),
            chats: Vec::new(),
            allow_groups: false,
            alerts: true,
            poll_timeout: ConfigDuration::from_secs(25),
            timeout: ConfigDuration::from_secs(10),
        }
    }
}

/// `[calendar]`: the calendars `clawdbot-calendar` merges into `availability.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Calendar {
    /// The file the agent reads (written atomically, mode 0644).
    pub output: AbsPath,
    /// How many days after today the window reaches, in the operator's zone.
    pub horizon_days: u32,
    /// How long one HTTP call may take.
    pub timeout: ConfigDuration,
    /// The longest `Retry-After` waited out within a run; a longer one skips the account
    /// until then.
    pub max_wait: ConfigDuration,
    /// The accounts, each with its calendars.
    pub accounts: Vec<CalendarAccount>,
}

impl Default for Calendar {
    fn default() -> Self {
        Calendar {
            output: AbsPath::from_static("/srv/clawdbot/shared/availability.json"),
            horizon_days: 14,
            timeout: ConfigDuration::from_secs(20),
            max_wait: ConfigDuration::from_secs(30),
            accounts: Vec::new(),
        }
    }
}

/// `[[calendar.accounts]]`: one Microsoft or Google account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarAccount {
    /// A short name (letters, digits, - and _), shown in the output and in errors.
    pub name: String,
    /// Which service.
    pub kind: CalendarKind,
    /// The OAuth credential (client id, secret, refresh token) `clawdbot-calendar authorize`
    /// writes: a credential name, or the absolute path of a 0600 file. Default
    /// `calendar_NAME.json`: the file `NAME.json` of the credential directory
    /// `/etc/credstore/clawdbot.calendar/`, which the unit loads whole.
    #[serde(default)]
    pub credential: String,
    /// Calendar ids, or `["all"]` for every calendar the account lists.
    #[serde(default = "all_calendars")]
    pub calendars: Vec<String>,
    /// The API's base URL; default the service's own (tests point it at an emulator).
    pub api_base: Option<HttpUrl>,
    /// The OAuth token endpoint; default the service's own.
    pub token_url: Option<HttpUrl>,
    /// The OAuth consent page (`clawdbot-calendar authorize`); default the service's own.
    pub auth_url: Option<HttpUrl>,
}

fn all_calendars() -> Vec<String> {
    vec!["all".into()]
}

/// A calendar service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CalendarKind {
    /// Microsoft 365 or Outlook.com, through Microsoft Graph.
    Graph,
    /// Google Calendar.
    Google,
}

impl CalendarAccount {
    /// The credential's name (or path).
    pub fn credential(&self) -> String {
        if self.credential.is_empty() {
            format!("calendar_{}.json", self.name)
        } else {
            self.credential.clone()
        }
    }

    /// Whether every calendar the account lists is wanted.
    pub fn all_calendars(&self) -> bool {
        self.calendars.iter().any(|c| c == "all")
    }

    /// The API's base URL.
    pub fn api_base(&self) -> &str {
        self.api_base.as_ref().map_or(
            match self.kind {
                CalendarKind::Graph => "https://graph.microsoft.com/v1.0",
                CalendarKind::Google => "https://www.googleapis.com/calendar/v3",
            },
            HttpUrl::as_str,
        )
    }

    /// The OAuth token endpoint.
    pub fn token_url(&self) -> &str {
        self.token_url.as_ref().map_or(
            match self.kind {
                CalendarKind::Graph => "https://login.microsoftonline.com/common/oauth2/v2.0/token",
                CalendarKind::Google => "https://oauth2.googleapis.com/token",
            },
            HttpUrl::as_str,
        )
    }

    /// The OAuth consent page.
    pub fn auth_url(&self) -> &str {
        self.auth_url.as_ref().map_or(
            match self.kind {
                CalendarKind::Graph => {
                    "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
                }
                CalendarKind::Google => "https://accounts.google.com/o/oauth2/v2/auth",
            },
            HttpUrl::as_str,
        )
    }
}

/// `[notify]`: mail that is not a reply to the broker, pushed to the operators' Telegram
/// chats by `[[notify.rules]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Notify {
    /// Rules, first match wins; mail no rule matches is not notified.
    pub rules: Vec<NotifyRule>,
    /// Notifications per hour (per chat) before the rest go out together as one digest.
    pub max_per_hour: u32,
    /// `HH:MM-HH:MM` in the operator's time zone, without notifications: they are held and
    /// summarised in one message after. Empty: none.
    pub quiet_hours: String,
    /// Lines of each mail's trimmed text shown.
    pub lines: usize,
}

impl Default for Notify {
    fn default() -> Self {
        Notify {
            rules: Vec::new(),
            max_per_hour: 10,
            quiet_hours: String::new(),
            lines: 6,
        }
    }
}

/// One `[[notify.rules]]`: every condition given must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyRule {
    /// Sender addresses, or domains (`example.org`, also matching its subdomains).
    pub from: Vec<String>,
    /// Gmail label ids, any of which the mail carries (`IMPORTANT`, `Label_12`).
    pub label: Vec<String>,
    /// Words, any of which the subject contains (case-insensitive).
    pub subject: Vec<String>,
    /// Matching mail is not notified (a rule to silence what a later rule would catch).
    pub drop: bool,
}

/// `[watchdog]`: finding and repairing corrupted agent session files.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Watchdog {
    /// Absolute glob patterns of session files (`*` and `?` within one path component).
    pub sessions: Vec<String>,
    /// OpenClaw state directories (holding `agents/`) outside the usual homes.
    pub roots: Vec<AbsPath>,
    /// Absolute glob patterns of the newer per-agent SQLite stores, checked read-only.
    pub databases: Vec<String>,
    /// A file modified more recently than this is being written: left alone.
    pub settle: ConfigDuration,
    /// A gateway lock older than this whose process is gone is stale.
    pub lock_stale: ConfigDuration,
    /// How many days backups are kept.
    pub backup_days: u32,
    /// The command that stops the gateway before a repair (no shell); empty: repair beside a
    /// running gateway, only files no lock covers. `{gateway}` stands for the container of
    /// `gateway_service`.
    pub stop: Vec<String>,
    /// The command that starts the gateway again after a repair; empty: none.
    pub start: Vec<String>,
    /// The Compose service `{gateway}` finds the container of (by its labels).
    pub gateway_service: String,
    /// The Compose project it belongs to; empty: any, as long as only one has the service.
    pub gateway_project: String,
    /// How long stopping or starting the gateway may take.
    pub gateway_timeout: ConfigDuration,
    /// The action (`[actions.NAME]`) a request to reset a session that can no longer be
    /// sent to the model is filed for; empty: none is filed, the incident mail says what to run.
    pub reset_action: String,
    /// Keys of earlier releases, refused with a word on what replaced them.
    #[serde(flatten)]
    pub retired: BTreeMap<String, toml::Value>,
}

impl Default for Watchdog {
    fn default() -> Self {
        let homes = ["/home/*", "/root"];
        let layouts = [".openclaw", ".clawdbot"];
        let mut sessions = Vec::new();
        let mut databases = Vec::new();
        for home in homes {
            for layout in layouts {
                sessions.push(format!("{home}/{layout}/agents/*/sessions/*.jsonl"));
            }
            databases.push(format!(
                "{home}/.openclaw/agents/*/agent/openclaw-agent.sqlite"
            ));
        }
        Watchdog {
            sessions,
            roots: Vec::new(),
            databases,
            settle: ConfigDuration::from_secs(60),
            lock_stale: ConfigDuration::from_secs(30 * 60),
            backup_days: 30,
            stop: ["docker", "stop", "{gateway}"].map(String::from).to_vec(),
            start: ["docker", "start", "{gateway}"].map(String::from).to_vec(),
            gateway_service: "openclaw-gateway".into(),
            gateway_project: String::new(),
            gateway_timeout: ConfigDuration::from_secs(120),
            reset_action: "openclaw_session_reset".into(),
            retired: BTreeMap::new(),
        }
    }
}

impl Watchdog {
    /// Every session pattern: the configured ones and those of each root.
    pub fn session_patterns(&self) -> Vec<String> {
        let mut patterns = self.sessions.clone();
        for root in &self.roots {
            patterns.push(format!("{}/agents/*/sessions/*.jsonl", root.0.display()));
        }
        patterns
    }

    /// Every database pattern: the configured ones and those of each root.
    pub fn database_patterns(&self) -> Vec<String> {
        let mut patterns = self.databases.clone();
        for root in &self.roots {
            patterns.push(format!(
                "{}/agents/*/agent/openclaw-agent.sqlite",
                root.0.display()
            ));
        }
        patterns
    }
}

/// `[maint]`: the maintenance tiers' thresholds, allow-lists and limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Maint {
    /// How long one check may take.
    pub check_timeout: ConfigDuration,
    /// Disk or inode use (percent) that warns.
    pub disk_warn: f64,
    /// Use (percent) that is critical, when also less than `disk_crit_free_gib` is free.
    pub disk_crit: f64,
    /// Free space (GiB) under which `disk_crit` applies.
    pub disk_crit_free_gib: f64,
    /// A warning clears only below this use (percent): no mail every day from a disk
    /// hovering at the threshold.
    pub disk_clear: f64,
    /// Mount points not checked (besides pseudo file systems, always skipped).
    pub disk_ignore: Vec<String>,
    /// Available memory (percent of total) under which it warns; half of it is critical.
    pub memory_warn: f64,
    /// Swap use (percent) that warns.
    pub swap_warn: f64,
    /// Load per core that warns; twice it is critical.
    pub load_warn: f64,
    /// Listening sockets that are expected: `PROTO:ADDRESS:PORT`, `*` for any address,
    /// e.g. `tcp:*:22`, `tcp:127.0.0.1:25`, `udp:*:68`.
    pub ports_allow: Vec<String>,
    /// The docker CLI.
    pub docker: String,
    /// The Wazuh agent's state file (checked only where it exists).
    pub wazuh_state: AbsPath,
    /// A Wazuh keepalive older than this warns.
    pub wazuh_keepalive: ConfigDuration,
    /// A request in one open state for longer than this is stuck.
    pub stuck_after: ConfigDuration,
    /// The last successful mail poll older than this warns (when Gmail is configured).
    pub mailpoll_stale: ConfigDuration,
    /// The last watchdog pass older than this warns (once it has run).
    pub watchdog_stale: ConfigDuration,
    /// A calendar whose last good fetch is older than this warns.
    pub calendar_stale: ConfigDuration,
    /// Images, volumes and containers with one of these labels are never cleaned up.
    pub keep_labels: Vec<String>,
    /// Nor those whose name matches one of these patterns (`*` and `?`).
    pub keep_names: Vec<String>,
    /// The name prefix of the agent's sandbox containers.
    pub sandbox_prefix: String,
    /// A sandbox container stopped for longer than this is an orphan, removed weekly.
    pub sandbox_age: ConfigDuration,
    /// Images older than this are listed weekly.
    pub image_max_age: ConfigDuration,
    /// Journal use (GiB) that warns.
    pub journal_max_gib: f64,
    /// Directories whose old files are listed weekly (and removed where `remove = true`).
    pub stale: Vec<StaleDir>,
    /// apt's package lists (read for pending updates; no network).
    pub apt_lists: AbsPath,
    /// dpkg's status file (installed packages).
    pub dpkg_status: AbsPath,
    /// Databases checked and compacted monthly besides the suite's own.
    pub databases: Vec<AbsPath>,
    /// Roots whose largest directories the monthly report lists.
    pub breakdown: Vec<AbsPath>,
    /// A container using more of its memory limit than this (percent) warns.
    pub container_memory_warn: f64,
}

/// `[[maint.stale]]`: a directory whose old files are reported, and removed if asked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaleDir {
    /// The directory.
    pub path: AbsPath,
    /// Files not modified for this long are stale.
    pub age: ConfigDuration,
    /// Remove them in the weekly run (default: only report).
    #[serde(default)]
    pub remove: bool,
}

impl Default for Maint {
    fn default() -> Self {
        Maint {
            check_timeout: ConfigDuration::from_secs(30),
            disk_warn: 90.0,
            disk_crit: 98.0,
            disk_crit_free_gib: 5.0,
            disk_clear: 80.0,
            disk_ignore: Vec::new(),
            memory_warn: 10.0,
            swap_warn: 50.0,
            load_warn: 2.0,
            ports_allow: [
                "tcp:*:22",
                "tcp:127.0.0.1:25",
                "tcp:[::1]:25",
                "udp:*:68",
                "udp:127.0.0.53:53",
                "tcp:127.0.0.53:53",
            ]
            .map(String::from)
            .to_vec(),
            docker: "docker".into(),
            wazuh_state: AbsPath::from_static("/var/ossec/var/run/wazuh-agentd.state"),
            wazuh_keepalive: ConfigDuration::from_secs(300),
            stuck_after: ConfigDuration::from_secs(6 * 3600),
            mailpoll_stale: ConfigDuration::from_secs(600),
            watchdog_stale: ConfigDuration::from_secs(1800),
            calendar_stale: ConfigDuration::from_secs(3600),
            keep_labels: vec!["clawdbot.keep".into()],
            keep_names: Vec::new(),
            sandbox_prefix: "openclaw-sbx-".into(),
            sandbox_age: ConfigDuration::from_secs(86_400),
            image_max_age: ConfigDuration::from_secs(180 * 86_400),
            journal_max_gib: 4.0,
            stale: Vec::new(),
            apt_lists: AbsPath::from_static("/var/lib/apt/lists"),
            dpkg_status: AbsPath::from_static("/var/lib/dpkg/status"),
            databases: Vec::new(),
            breakdown: ["/var", "/srv", "/home"].map(AbsPath::from_static).to_vec(),
            container_memory_warn: 90.0,
        }
    }
}

/// `[secrets.NAME]`: a secret to rotate on schedule (`clawdbot-secrets`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    /// How often it is rotated.
    pub cadence: Cadence,
    /// Where it lives (a file, a console), for the person who rotates it.
    #[serde(rename = "where")]
    pub location: String,
    /// Who rotates it.
    #[serde(default)]
    pub owner: Option<String>,
    /// When it was last rotated before the suite knew of it (`YYYY-MM-DD`).
    #[serde(default, deserialize_with = "date")]
    pub rotated: Option<jiff::civil::Date>,
}

fn date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<jiff::civil::Date>, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse().map(Some).map_err(|_| {
        serde::de::Error::custom(format!("{text:?} is not a date: write it as YYYY-MM-DD"))
    })
}

/// How often a secret is rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    /// Every so many calendar months (a day past the month's end is its last day).
    Months(i32),
    /// Every so many days.
    Days(i32),
}

impl fmt::Display for Cadence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cadence::Months(3) => f.write_str("quarterly"),
            Cadence::Months(6) => f.write_str("semiannual"),
            Cadence::Months(12) => f.write_str("annual"),
            Cadence::Months(n) => write!(f, "every {n} months"),
            Cadence::Days(n) => write!(f, "{n}d"),
        }
    }
}

impl<'de> Deserialize<'de> for Cadence {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let days = text
            .strip_suffix('d')
            .and_then(|n| n.parse::<i32>().ok())
            .filter(|n| (1..=3660).contains(n));
        match (text.as_str(), days) {
            ("monthly", _) => Ok(Cadence::Months(1)),
            ("quarterly", _) => Ok(Cadence::Months(3)),
            ("semiannual", _) => Ok(Cadence::Months(6)),
            ("annual", _) => Ok(Cadence::Months(12)),
            (_, Some(n)) => Ok(Cadence::Days(n)),
            _ => Err(serde::de::Error::custom(format!(
                "unknown cadence {text:?}: use monthly, quarterly, semiannual, annual or a number of days such as \"90d\""
            ))),
        }
    }
}

/// `[agent]`: the optional admin agent command (prompt on stdin, JSON on stdout).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Agent {
    /// The argv, e.g. `["claude", "-p", "--output-format", "json"]`; empty: no agent.
    pub command: Vec<String>,
    /// How long one call may take.
    pub timeout: ConfigDuration,
    /// What it may be asked to do.
    pub uses: Vec<crate::agent::Use>,
}

impl Default for Agent {
    fn default() -> Self {
        use crate::agent::Use;
        Agent {
            command: Vec::new(),
            // Well inside the broker unit's TimeoutStartSec, with room for several calls.
            timeout: ConfigDuration::from_secs(120),
            uses: vec![Use::Assess, Use::Answer, Use::Interpret, Use::Execute],
        }
    }
}

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

/// An `http://` or `https://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl(String);

impl HttpUrl {
    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let url = String::deserialize(deserializer)?;
        let ok = (url.starts_with("http://") || url.starts_with("https://"))
            && !url.chars().any(|c| c.is_control() || c.is_whitespace());
        if !ok {
            return Err(serde::de::Error::custom(format!(
                "{url:?} is not an http:// or https:// URL"
            )));
        }
        Ok(HttpUrl(url))
    }
}

/// `[actions.NAME]`: an argv template with typed parameters, run without a shell.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawAction")]
pub struct Action {
    /// The argv; `{name}` stands for a parameter.
    pub command: Vec<String>,
    /// The configured risk, before rules raise it.
    pub risk: Risk,
    /// How long the command may run.
    pub timeout: ConfigDuration,
    /// The rule for each parameter.
    pub params: BTreeMap<String, ParamRule>,
    /// How the action is simulated for the operator before it is approved, and again
    /// before it runs (`preview = "apt"`).
    pub preview: Option<Preview>,
}

/// A simulation of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preview {
    /// `apt-get -s` (see [`crate::apt`]).
    Apt,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    command: Vec<String>,
    risk: Risk,
    #[serde(default = "default_action_timeout")]
    timeout: ConfigDuration,
    #[serde(default)]
    params: BTreeMap<String, ParamRule>,
    #[serde(default)]
    preview: Option<Preview>,
}

fn default_action_timeout() -> ConfigDuration {
    ConfigDuration::from_secs(120)
}

impl TryFrom<RawAction> for Action {
    type Error = String;

    fn try_from(raw: RawAction) -> Result<Self, String> {
        let Some(program) = raw.command.first() else {
            return Err("command is empty: give the program and its arguments".into());
        };
        if program.contains('{') {
            return Err("the program (first word of command) cannot be a parameter".into());
        }
        let mut used = Vec::new();
        for word in &raw.command {
            for name in placeholders(word)? {
                if !raw.params.contains_key(name) {
                    return Err(format!(
                        "command uses {{{name}}} but params has no rule for {name:?}"
                    ));
                }
                used.push(name.to_string());
            }
        }
        if let Some(unused) = raw.params.keys().find(|k| !used.contains(k)) {
            return Err(format!("parameter {unused:?} is never used in command"));
        }
        if raw.preview == Some(Preview::Apt) && crate::apt::simulation(&raw.command).is_none() {
            return Err(
                "preview = \"apt\" simulates apt-get only: the command must start with apt-get"
                    .into(),
            );
        }
        Ok(Action {
            command: raw.command,
            risk: raw.risk,
            timeout: raw.timeout,
            params: raw.params,
            preview: raw.preview,
        })
    }
}

impl Action {
    /// The argv with every `{name}` replaced by its (already validated) value.
    /// Each placeholder is replaced once, left to right, so a value that itself contains
    /// `{other}` is never expanded again.
    pub fn render(&self, values: &BTreeMap<String, String>) -> Vec<String> {
        self.command
            .iter()
            .map(|word| {
                let mut out = String::with_capacity(word.len());
                let mut rest = word.as_str();
                while let Some(open) = rest.find('{') {
                    let after = &rest[open + 1..];
                    let close = after.find('}').unwrap_or(after.len());
                    out.push_str(&rest[..open]);
                    out.push_str(values.get(&after[..close]).map_or("", String::as_str));
                    rest = after.get(close + 1..).unwrap_or("");
                }
                out.push_str(rest);
                out
            })
            .collect()
    }
}

/// The `{name}` placeholders in one argv word.
fn placeholders(word: &str) -> Result<Vec<&str>, String> {
    let mut found = Vec::new();
    let mut rest = word;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(format!("unclosed {{ in command word {word:?}"));
        };
        let name = &after[..close];
        if !is_param_name(name) {
            return Err(format!(
                "bad parameter name {name:?} in command word {word:?}"
            ));
        }
        found.push(name);
        rest = &after[close + 1..];
    }
    Ok(found)
}

fn is_secret_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn is_param_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 64
}

/// How one parameter is checked: a regex that must match the whole value, or a list of values.
#[derive(Debug, Clone)]
pub enum ParamRule {
    /// The value must match this pattern entirely.
    Pattern(Regex),
    /// The value must be one of these.
    OneOf(Vec<String>),
}

impl ParamRule {
    /// Whether `value` passes.
    pub fn accepts(&self, value: &str) -> bool {
        match self {
            ParamRule::Pattern(re) => re.is_match(value),
            ParamRule::OneOf(values) => values.iter().any(|v| v == value),
        }
    }

    /// The rule as the operator wrote it, for error messages.
    pub fn describe(&self) -> String {
        match self {
            ParamRule::Pattern(re) => format!("must match {}", re.as_str()),
            ParamRule::OneOf(values) => format!("must be one of {}", values.join(", ")),
        }
    }
}

impl<'de> Deserialize<'de> for ParamRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Pattern(String),
            OneOf(Vec<String>),
        }
        match Raw::deserialize(deserializer)? {
            // Anchored whatever the operator wrote: a pattern missing its ^…$ must not let
            // `searxng; rm -rf /` through because it contains a valid name.
            Raw::Pattern(p) => regex::RegexBuilder::new(&format!("^(?:{p})$"))
                .size_limit(1 << 20)
                .build()
                .map(ParamRule::Pattern)
                .map_err(|e| serde::de::Error::custom(format!("invalid pattern {p:?}: {e}"))),
            Raw::OneOf(values) if values.is_empty() => Err(serde::de::Error::custom(
                "an empty list of values accepts nothing",
            )),
            Raw::OneOf(values) => Ok(ParamRule::OneOf(values)),
        }
    }
}

/// An absolute path from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbsPath(PathBuf);

impl AbsPath {
    fn from_static(path: &str) -> Self {
        AbsPath(PathBuf::from(path))
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl<'de> Deserialize<'de> for AbsPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let path = PathBuf::from(String::deserialize(deserializer)?);
        if !path.is_absolute() {
            return Err(serde::de::Error::custom(format!(
                "{} is not an absolute path",
                path.display()
            )));
        }
        Ok(AbsPath(path))
    }
}

/// A time zone by its IANA name.
#[derive(Debug, Clone)]
pub struct Zone {
    /// The IANA name, e.g. `Europe/Amsterdam`.
    pub name: String,
    /// The zone.
    pub tz: jiff::tz::TimeZone,
}

impl Zone {
    fn system() -> Self {
        // A zone without an IANA name (TZ=CET-1CEST) would be written as one thing and named
        // another: UTC then, as named.
        match jiff::tz::TimeZone::try_system()
            .ok()
            .and_then(|tz| Some((tz.iana_name()?.to_string(), tz)))
        {
            Some((name, tz)) => Zone { name, tz },
            None => Zone {
                name: "UTC".into(),
                tz: jiff::tz::TimeZone::UTC,
            },
        }
    }
}

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        let tz = jiff::tz::TimeZone::get(&name).map_err(|_| {
            serde::de::Error::custom(format!(
                "unknown time zone {name:?}: use an IANA name such as Europe/Amsterdam"
            ))
        })?;
        Ok(Zone { name, tz })
    }
}

impl Config {
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
        log::warn!(
            "no operator is configured: set emails = [\"you@example.org\"] under [operator] in {}; {meanwhile}",
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
        Config::from_files(&files)
    }

    /// Merge and validate these files, in order.
    pub fn from_files(files: &[PathBuf]) -> Result<Config, ConfigError> {
        let mut merged = toml::Table::new();
        for path in files {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            let table = parse_file(path, &text)?;
            merge(&mut merged, table);
        }
        let mut config: Config =
            merged
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Invalid {
                    key: "(merged)".into(),
                    message: e.message().to_string(),
                    files: display_files(files),
                })?;
        config.sources = files.to_vec();
        config.check(files)?;
        Ok(config)
    }

    /// Parse one configuration text alone (for tests and `init`).
    pub fn from_text(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let table = parse_file(path, text)?;
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
            if !optional && !crate::watchdog::gateway::valid_name(name) {
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
        if !self.notify.quiet_hours.is_empty()
            && crate::notify::quiet_window(&self.notify.quiet_hours).is_none()
        {
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
        for name in self.actions.keys() {
            if name == FREEFORM || !is_param_name(name) {
                return Err(invalid(
                    &format!("actions.{name}"),
                    "an action name is lower-case letters, digits and _, and not \"freeform\""
                        .into(),
                ));
            }
        }
        Ok(())
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

/// Parse one file and validate it alone, so that errors carry its name and line.
fn parse_file(path: &Path, text: &str) -> Result<toml::Table, ConfigError> {
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
    toml::from_str::<Config>(text).map_err(located)?;
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
        let text = include_str!("../packaging/clawdbot.toml");
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
