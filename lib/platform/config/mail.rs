//! `[operator]`, `[mail]` and its transports, `[replies]` and `[gmail]`: the operator and the mail both ways.

use std::fmt;

use lettre::Address;
use lettre::message::Mailbox;
use serde::Deserialize;

use crate::platform::duration::ConfigDuration;

use super::{AbsPath, HttpUrl, MaxBytes, Zone};

/// What to say when no operator address is configured.
pub const NO_OPERATOR: &str =
    "no operator address: set emails = [\"you@example.org\"] under [operator]";

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
    /// An operator's own command (`/run`) of this risk or more is first shown with its hash
    /// and runs only once confirmed; below it, the command is its own approval.
    pub confirm_from: super::Risk,
}

impl Default for Operator {
    fn default() -> Self {
        Operator {
            emails: Vec::new(),
            timezone: Zone::system(),
            names: Vec::new(),
            boilerplate: Vec::new(),
            confirm_from: super::Risk::High,
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
