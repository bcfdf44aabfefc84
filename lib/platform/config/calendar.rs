//! `[calendar]`: the operator's accounts and where availability goes.

use serde::Deserialize;

use crate::platform::duration::ConfigDuration;

use super::{AbsPath, HttpUrl};

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
