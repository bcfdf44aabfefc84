//! `[telegram]` and `[notify]`: the operator's phone and the mail told there.

use serde::Deserialize;

use crate::platform::duration::ConfigDuration;

use super::HttpUrl;

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

/// Whether `at` falls in the daily window `HH:MM-HH:MM` (see [`quiet_window`]) in `tz`; an
/// empty or malformed window holds nothing.
pub fn in_quiet_hours(
    window: &str,
    tz: &jiff::tz::TimeZone,
    at: crate::platform::time::UnixTime,
) -> bool {
    let Some((start, end)) = quiet_window(window) else {
        return false;
    };
    let Ok(stamp) = jiff::Timestamp::from_second(at) else {
        return false;
    };
    let local = stamp.to_zoned(tz.clone());
    let now =
        u32::from(local.hour().unsigned_abs()) * 60 + u32::from(local.minute().unsigned_abs());
    if start < end {
        (start..end).contains(&now)
    } else {
        now >= start || now < end
    }
}

/// `HH:MM-HH:MM` as minutes of the day (start, end); the window may wrap midnight.
pub fn quiet_window(text: &str) -> Option<(u32, u32)> {
    let minutes = |hm: &str| -> Option<u32> {
        let (h, m) = hm.trim().split_once(':')?;
        let (h, m) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
        (h < 24 && m < 60 && hm.trim().len() == 5).then_some(h * 60 + m)
    };
    let (start, end) = text.split_once('-')?;
    let window = (minutes(start)?, minutes(end)?);
    (window.0 != window.1).then_some(window)
}
