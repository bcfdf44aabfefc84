//! The Telegram Bot API over blocking HTTPS: every call is a POST of JSON to
//! `{api_base}/bot{token}/{method}`, answered `{"ok": true, "result": …}` or
//! `{"ok": false, "error_code": …, "description": …, "parameters": {"retry_after": …}}`.
//! The token is part of the URL, so no URL ever reaches an error message or the log.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::platform::config::Config;
use crate::platform::exit::{Exit, ExitStatus};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No answer (network, timeout).
    #[error("Telegram {method}: network: {detail}")]
    Network {
        /// The Bot API method.
        method: &'static str,
        /// What failed.
        detail: String,
    },
    /// 401: the token was refused.
    #[error("Telegram refused the bot token (401 Unauthorized); check the credential")]
    Unauthorized,
    /// 409: another client polls with the same token (or a webhook is set).
    #[error("Telegram {method}: 409 Conflict: {description}")]
    Conflict {
        /// The Bot API method.
        method: &'static str,
        /// Telegram's description.
        description: String,
    },
    /// 429 or 5xx: try again later.
    #[error("Telegram {method}: {code} {description}; retry after {retry_after} s")]
    Busy {
        /// The Bot API method.
        method: &'static str,
        /// 429 or 5xx.
        code: u16,
        /// Telegram's description.
        description: String,
        /// Seconds to wait (`parameters.retry_after`, else a default).
        retry_after: u64,
    },
    /// Any other refusal (400 chat not found, 403 bot blocked…): retrying will not help.
    #[error("Telegram {method}: {code} {description}")]
    Refused {
        /// The Bot API method.
        method: &'static str,
        /// The error code.
        code: u16,
        /// Telegram's description.
        description: String,
    },
    /// The answer is not the documented JSON.
    #[error("Telegram {method}: malformed answer: {detail}")]
    Malformed {
        /// The Bot API method.
        method: &'static str,
        /// What was wrong.
        detail: String,
    },
}

impl ExitStatus for ApiError {
    fn exit(&self) -> Exit {
        match self {
            ApiError::Unauthorized => Exit::Config,
            ApiError::Refused { .. } => Exit::Unavailable,
            _ => Exit::TempFail,
        }
    }
}

/// Telegram's answer envelope.
#[derive(Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    result: Value,
    error_code: Option<u16>,
    description: Option<String>,
    parameters: Option<Parameters>,
}

#[derive(Deserialize)]
struct Parameters {
    retry_after: Option<u64>,
}

/// One update, with the fields the bot reads; everything else is ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct Update {
    /// The update's id; the next `getUpdates` asks from the highest plus one.
    pub update_id: i64,
    /// A new message.
    pub message: Option<Message>,
    /// A button pressed.
    pub callback_query: Option<CallbackQuery>,
}

/// A message.
#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    /// Its id within the chat.
    pub message_id: i64,
    /// The sender (absent in channels).
    pub from: Option<User>,
    /// Set when sent on behalf of a chat (anonymous group admins, channels).
    pub sender_chat: Option<Value>,
    /// Where it was sent.
    pub chat: Chat,
    /// When it was sent, Unix seconds (0 when Telegram gives none).
    #[serde(default)]
    pub date: i64,
    /// Its text.
    pub text: Option<String>,
    /// Set on forwarded messages (Bot API 7.0 and later).
    pub forward_origin: Option<Value>,
    /// Set on forwarded messages (older Bot API versions).
    pub forward_date: Option<i64>,
    /// Set when sent through an inline bot.
    pub via_bot: Option<Value>,
}

/// A user or bot.
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    /// The numeric id.
    pub id: i64,
    /// Whether it is a bot.
    #[serde(default)]
    pub is_bot: bool,
}

/// A chat.
#[derive(Debug, Clone, Deserialize)]
pub struct Chat {
    /// The numeric id (negative for groups).
    pub id: i64,
    /// `private`, `group`, `supergroup` or `channel`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// An inline button pressed.
#[derive(Debug, Clone, Deserialize)]
pub struct CallbackQuery {
    /// Answered with `answerCallbackQuery`.
    pub id: String,
    /// Who pressed it.
    pub from: User,
    /// The message carrying the button.
    pub message: Option<Message>,
    /// The button's data.
    pub data: Option<String>,
}

/// A Bot API client for one run.
pub struct Bot {
    http: ureq::Agent,
    /// `{api_base}/bot{token}`: secret, never shown.
    root: String,
    timeout: Duration,
}

impl Bot {
    /// A client for `token`, already checked to be a bot token.
    pub fn new(config: &Config, token: &str) -> Bot {
        let http = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build(),
        );
        Bot {
            http,
            root: format!(
                "{}/bot{token}",
                config.telegram.api_base.as_str().trim_end_matches('/')
            ),
            timeout: config.telegram.timeout.get().max(Duration::from_secs(1)),
        }
    }

    /// `getUpdates` from `offset`, waiting up to `wait` for the first one.
    pub fn get_updates(&self, offset: i64, wait: Duration) -> Result<Vec<Update>, ApiError> {
        let body = json!({
            "offset": offset,
            "timeout": wait.as_secs(),
            "allowed_updates": ["message", "callback_query"],
        });
        let result = self.call("getUpdates", &body, wait + self.timeout)?;
        // One update the bot cannot read must not stop the others: it is skipped by id.
        let list = result.as_array().ok_or_else(|| ApiError::Malformed {
            method: "getUpdates",
            detail: "result is not a list".into(),
        })?;
        Ok(list
            .iter()
            .map(|u| {
                serde_json::from_value(u.clone()).unwrap_or_else(|e| {
                    let update_id = u["update_id"].as_i64().unwrap_or(0);
                    log::warn!("Telegram update {update_id} not understood ({e}); skipped");
                    Update {
                        update_id,
                        message: None,
                        callback_query: None,
                    }
                })
            })
            .collect())
    }

    /// `getMe`: the bot's own username, which commands in a group may be addressed to.
    pub fn username(&self) -> Result<String, ApiError> {
        let result = self.call("getMe", &json!({}), self.timeout)?;
        result["username"]
            .as_str()
            .filter(|u| !u.is_empty())
            .map(str::to_string)
            .ok_or_else(|| ApiError::Malformed {
                method: "getMe",
                detail: "no username in the result".into(),
            })
    }

    /// `sendMessage` with HTML parse mode; returns the message id.
    pub fn send_message(
        &self,
        chat_id: i64,
        text: &str,
        markup: Option<&Value>,
    ) -> Result<i64, ApiError> {
        let mut body = json!({
            "chat_id": chat_id,
            "text": text,
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": true},
        });
        if let Some(markup) = markup {
            body["reply_markup"] = markup.clone();
        }
        let result = self.call("sendMessage", &body, self.timeout)?;
        result["message_id"]
            .as_i64()
            .ok_or_else(|| ApiError::Malformed {
                method: "sendMessage",
                detail: "no message_id in the result".into(),
            })
    }

    /// `answerCallbackQuery`: stops the button's spinner, with a short notice.
    pub fn answer_callback(&self, id: &str, text: &str) -> Result<(), ApiError> {
        let body = json!({"callback_query_id": id, "text": text});
        self.call("answerCallbackQuery", &body, self.timeout)
            .map(drop)
    }

    fn call(
        &self,
        method: &'static str,
        body: &Value,
        timeout: Duration,
    ) -> Result<Value, ApiError> {
        let url = format!("{}/{method}", self.root);
        let mut response = self
            .http
            .post(&url)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .header("content-type", "application/json")
            .send(body.to_string().as_bytes())
            .map_err(|e| ApiError::Network {
                method,
                // ureq's error may quote the URL, and with it the token.
                detail: redact(&e.to_string(), &self.root),
            })?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(16 * 1_048_576)
            .read_to_string()
            .unwrap_or_default();
        interpret(method, status, &text)
    }
}

/// An error text without the URL root or the token in it.
fn redact(text: &str, root: &str) -> String {
    let token = root.rsplit_once("/bot").map_or("", |(_, token)| token);
    let text = text.replace(root, "{api_base}/bot…");
    if token.is_empty() {
        text
    } else {
        text.replace(token, "…")
    }
}

/// Telegram's answer, or the error it stands for.
fn interpret(method: &'static str, status: u16, text: &str) -> Result<Value, ApiError> {
    let answer: Answer = match serde_json::from_str(text) {
        Ok(answer) => answer,
        Err(_) if status >= 500 => {
            return Err(ApiError::Busy {
                method,
                code: status,
                description: "no JSON answer".into(),
                retry_after: 5,
            });
        }
        Err(e) => {
            return Err(ApiError::Malformed {
                method,
                detail: e.to_string(),
            });
        }
    };
    if answer.ok {
        return Ok(answer.result);
    }
    let code = answer.error_code.unwrap_or(status);
    let description = answer
        .description
        .map(|d| crate::core::request::excerpt(&d))
        .unwrap_or_default();
    let retry_after = answer.parameters.and_then(|p| p.retry_after);
    Err(match code {
        401 => ApiError::Unauthorized,
        409 => ApiError::Conflict {
            method,
            description,
        },
        429 | 500..=599 => ApiError::Busy {
            method,
            code,
            description,
            retry_after: retry_after.unwrap_or(5),
        },
        _ => ApiError::Refused {
            method,
            code,
            description,
        },
    })
}

/// Whether `token` looks like a bot token (`123456:AA…`), so that it is safe in a URL path.
pub fn valid_token(token: &str) -> bool {
    let Some((id, secret)) = token.split_once(':') else {
        return false;
    };
    !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_digit())
        && (20..=100).contains(&secret.len())
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_follow_the_documented_json() {
        let busy = r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}"#;
        assert!(matches!(
            interpret("sendMessage", 429, busy),
            Err(ApiError::Busy { retry_after: 7, .. })
        ));
        let bad = r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#;
        assert!(matches!(
            interpret("getUpdates", 401, bad),
            Err(ApiError::Unauthorized)
        ));
        let conflict = r#"{"ok":false,"error_code":409,"description":"Conflict: terminated by other getUpdates request"}"#;
        assert!(matches!(
            interpret("getUpdates", 409, conflict),
            Err(ApiError::Conflict { .. })
        ));
        let blocked = r#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#;
        assert!(matches!(
            interpret("sendMessage", 403, blocked),
            Err(ApiError::Refused { code: 403, .. })
        ));
        assert!(matches!(
            interpret("sendMessage", 502, "<html>"),
            Err(ApiError::Busy { code: 502, .. })
        ));
        assert!(matches!(
            interpret("sendMessage", 200, "{\"ok\":"),
            Err(ApiError::Malformed { .. })
        ));
        assert_eq!(
            interpret("getMe", 200, r#"{"ok":true,"result":{"id":1}}"#).unwrap()["id"],
            1
        );
    }

    #[test]
    fn only_a_bot_token_shape_is_accepted() {
        assert!(valid_token("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"));
        for bad in [
            "",
            "123456789",
            ":AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
            "12a:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
            "1:short",
            "1:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/../x",
        ] {
            assert!(!valid_token(bad), "{bad}");
        }
    }
}
