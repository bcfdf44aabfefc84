//! An emulator of the Telegram Bot API for the integration tests, on 127.0.0.1.
//!
//! It follows the documented JSON: every answer is `{"ok": true, "result": …}` or
//! `{"ok": false, "error_code": …, "description": …}` with `parameters.retry_after` on 429.
//! Calls are `POST /bot<TOKEN>/<method>` with a JSON body; a wrong token is 401 and an unknown
//! method 404, as Telegram answers them. `getUpdates` keeps Telegram's offset rule (asking from
//! `offset` confirms, and forgets, every update below it) and long-polls up to `timeout`
//! seconds for the first new update. `sendMessage` parses `parse_mode: HTML` strictly, as
//! Telegram does: a `<` or `&` that is not part of an allowed tag or entity is 400 "can't
//! parse entities", and more than 4,096 characters after parsing is 400 "message is too
//! long". Tests act as the users ([`Telegram::say`], [`Telegram::press`]) and inject faults
//! ([`Telegram::fail_next`], [`Telegram::conflict_next`]).
#![allow(dead_code)]

#[path = "http.rs"]
mod http;

use std::net::TcpListener;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use http::{Request, Response};
use serde_json::{Value, json};

/// The token the emulator accepts.
pub const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
/// The bot's username, as `getMe` tells it.
pub const USERNAME: &str = "clawdbot_bot";
/// Tags Telegram's HTML parse mode knows.
const TAGS: [&str; 16] = [
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
];

/// A message the bot sent.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The chat.
    pub chat_id: i64,
    /// The text as sent (HTML).
    pub html: String,
    /// The text as the user sees it (tags gone, entities decoded).
    pub text: String,
    /// `reply_markup`, if any.
    pub markup: Option<Value>,
}

#[derive(Default)]
struct State {
    next_update: i64,
    /// Updates not yet confirmed by an offset above them.
    pending: Vec<Value>,
    /// Every update ever made, for [`Telegram::redeliver`].
    all: Vec<Value>,
    sent: Vec<Sent>,
    next_message: i64,
    queries: Vec<String>,
    answered: Vec<(String, String)>,
    calls: Vec<String>,
    failures: Vec<(String, u16, u64)>,
    conflicts: usize,
}

/// A running emulator; clones share it.
#[derive(Clone)]
pub struct Telegram {
    /// `http://127.0.0.1:PORT`: the `[telegram] api_base`.
    pub base: String,
    shared: Arc<(Mutex<State>, Condvar)>,
}

impl Telegram {
    /// Start on a free port; the server thread lives as long as the process.
    pub fn start() -> Telegram {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        let shared = Arc::new((
            Mutex::new(State {
                next_update: 700_000_001,
                next_message: 1,
                ..State::default()
            }),
            Condvar::new(),
        ));
        let server = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("telegram-emulator".into())
            .spawn(move || {
                http::serve(&listener, |request| match request {
                    Ok(request) => answer(&server, &request),
                    Err(problem) => error(400, &format!("Bad Request: {problem}")),
                })
            })
            .expect("spawn the emulator");
        Telegram { base, shared }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, make: impl FnOnce(i64) -> Value) -> i64 {
        let mut state = self.lock();
        let id = state.next_update;
        state.next_update += 1;
        let update = make(id);
        state.pending.push(update.clone());
        state.all.push(update);
        self.shared.1.notify_all();
        id
    }

    /// User `from` writes `text` in a private chat with the bot.
    pub fn say(&self, from: i64, text: &str) -> i64 {
        self.say_in(from, from, "private", text, None)
    }

    /// User `from` writes `text` in chat `chat` of `kind`; `extra` is merged into the
    /// message (e.g. `forward_origin`).
    pub fn say_in(
        &self,
        from: i64,
        chat: i64,
        kind: &str,
        text: &str,
        extra: Option<Value>,
    ) -> i64 {
        self.push(|id| {
            let mut message = json!({
                "message_id": id % 100_000,
                "from": {"id": from, "is_bot": false, "first_name": "User", "language_code": "en"},
                "chat": {"id": chat, "type": kind, "first_name": "User"},
                // Telegram stamps a message when it receives it.
                "date": now(),
                "text": text,
            });
            if text.starts_with('/') {
                let length = text
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .encode_utf16()
                    .count();
                message["entities"] =
                    json!([{"offset": 0, "length": length, "type": "bot_command"}]);
            }
            if let Some(Value::Object(fields)) = extra {
                for (k, v) in fields {
                    message[k] = v;
                }
            }
            json!({"update_id": id, "message": message})
        })
    }

    /// User `from` presses the inline button carrying `data` under a message in `chat`;
    /// returns the callback query id.
    pub fn press(&self, from: i64, chat: i64, data: &str) -> String {
        let query = format!("{}", 4_000_000_000_u64 + self.lock().queries.len() as u64);
        self.lock().queries.push(query.clone());
        self.push(|id| {
            json!({"update_id": id, "callback_query": {
                "id": query,
                "from": {"id": from, "is_bot": false, "first_name": "User"},
                "chat_instance": "-1234567890",
                "data": data,
                "message": {"message_id": 1, "from": {"id": 123456789, "is_bot": true, "first_name": "bot"},
                            "chat": {"id": chat, "type": if chat > 0 { "private" } else { "supergroup" }},
                            "date": 1_795_000_000, "text": "alert"},
            }})
        });
        query
    }

    /// Deliver again every update ever made, as Telegram does for a client that lost its
    /// offset.
    pub fn redeliver(&self) {
        let mut state = self.lock();
        state.pending = state.all.clone();
    }

    /// What the bot sent, in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.lock().sent.clone()
    }

    /// Callback queries answered: (id, text).
    pub fn answered(&self) -> Vec<(String, String)> {
        self.lock().answered.clone()
    }

    /// Every call, as `method`.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// The next `count` calls of `method` fail with `code` (429 with `retry_after`, or 5xx).
    pub fn fail_next(&self, method: &str, code: u16, retry_after: u64, count: usize) {
        let mut state = self.lock();
        for _ in 0..count {
            state.failures.push((method.to_string(), code, retry_after));
        }
    }

    /// The next `getUpdates` is 409, as when another instance polls with the same token.
    pub fn conflict_next(&self) {
        self.lock().conflicts += 1;
    }
}

fn error(code: u16, description: &str) -> Response {
    Response::json(
        code,
        json!({"ok": false, "error_code": code, "description": description}),
    )
}

fn ok(result: Value) -> Response {
    Response::json(200, json!({"ok": true, "result": result}))
}

fn answer(shared: &(Mutex<State>, Condvar), request: &Request) -> Response {
    let Some(rest) = request.path.strip_prefix("/bot") else {
        return error(404, "Not Found");
    };
    let Some((token, method)) = rest.split_once('/') else {
        return error(404, "Not Found");
    };
    if token != TOKEN {
        return error(401, "Unauthorized");
    }
    let body: Value = if request.body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&request.body) {
            Ok(body) => body,
            Err(_) => return error(400, "Bad Request: can't parse JSON object"),
        }
    };
    let mut state = shared.0.lock().unwrap_or_else(|e| e.into_inner());
    state.calls.push(method.to_string());
    if let Some(at) = state.failures.iter().position(|(m, _, _)| m == method) {
        let (_, code, retry_after) = state.failures.remove(at);
        return if code == 429 {
            Response::json(
                429,
                json!({"ok": false, "error_code": 429, "description": format!("Too Many Requests: retry after {retry_after}"), "parameters": {"retry_after": retry_after}}),
            )
        } else {
            error(code, "Internal Server Error")
        };
    }
    match method {
        "getMe" => Response::json(
            200,
            json!({"ok": true, "result": {"id": 123456789, "is_bot": true, "first_name": "clawdbot", "username": USERNAME, "can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false}}),
        ),
        "getUpdates" => get_updates(shared, state, &body),
        "sendMessage" => send_message(&mut state, &body),
        "answerCallbackQuery" => answer_callback(&mut state, &body),
        _ => error(404, "Not Found"),
    }
}

fn get_updates(
    shared: &(Mutex<State>, Condvar),
    mut state: MutexGuard<'_, State>,
    body: &Value,
) -> Response {
    if state.conflicts > 0 {
        state.conflicts -= 1;
        return error(
            409,
            "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
        );
    }
    let offset = body["offset"].as_i64().unwrap_or(0);
    let wait = Duration::from_secs(body["timeout"].as_u64().unwrap_or(0).min(50));
    // Asking from an offset confirms every update below it.
    state
        .pending
        .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
    let deadline = Instant::now() + wait;
    while state.pending.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        state = shared
            .1
            .wait_timeout(state, left)
            .map(|(s, _)| s)
            .unwrap_or_else(|e| e.into_inner().0);
        state
            .pending
            .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
    }
    let limit = body["limit"].as_u64().unwrap_or(100).clamp(1, 100) as usize;
    ok(Value::Array(
        state.pending.iter().take(limit).cloned().collect(),
    ))
}

fn send_message(state: &mut State, body: &Value) -> Response {
    let Some(chat_id) = body["chat_id"].as_i64() else {
        return error(400, "Bad Request: chat_id is empty");
    };
    let html = body["text"].as_str().unwrap_or("");
    let text = if body["parse_mode"] == "HTML" {
        match parse_html(html) {
            Ok(text) => text,
            Err(why) => return error(400, &format!("Bad Request: can't parse entities: {why}")),
        }
    } else {
        html.to_string()
    };
    if text.trim().is_empty() {
        return error(400, "Bad Request: message text is empty");
    }
    if text.encode_utf16().count() > 4096 {
        return error(400, "Bad Request: message is too long");
    }
    let markup = body.get("reply_markup").cloned();
    if let Some(Value::Array(rows)) = markup.as_ref().map(|m| m["inline_keyboard"].clone()) {
        for button in rows
            .iter()
            .flat_map(|r| r.as_array().cloned().unwrap_or_default())
        {
            let data = button["callback_data"].as_str().unwrap_or("");
            if data.is_empty() || data.len() > 64 {
                return error(400, "Bad Request: BUTTON_DATA_INVALID");
            }
        }
    }
    let message_id = state.next_message;
    state.next_message += 1;
    state.sent.push(Sent {
        chat_id,
        html: html.to_string(),
        text: text.clone(),
        markup,
    });
    ok(
        json!({"message_id": message_id, "chat": {"id": chat_id, "type": "private"}, "date": 1_795_000_000, "text": text}),
    )
}

fn answer_callback(state: &mut State, body: &Value) -> Response {
    let id = body["callback_query_id"].as_str().unwrap_or("");
    if !state.queries.iter().any(|q| q == id) || state.answered.iter().any(|(q, _)| q == id) {
        return error(
            400,
            "Bad Request: query is too old and response timeout expired or query ID is invalid",
        );
    }
    let text = body["text"].as_str().unwrap_or("").to_string();
    if text.chars().count() > 200 {
        return error(400, "Bad Request: MESSAGE_TOO_LONG");
    }
    state.answered.push((id.to_string(), text));
    ok(json!(true))
}

/// Telegram's HTML: the visible text, or why it does not parse.
fn parse_html(html: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut open: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                let end = rest.find('>').ok_or("unclosed start tag")?;
                let inner = &rest[1..end];
                if let Some(name) = inner.strip_prefix('/') {
                    if open.pop().as_deref() != Some(name.trim()) {
                        return Err(format!("unmatched end tag \"{name}\""));
                    }
                } else {
                    let name = inner.split_whitespace().next().unwrap_or("");
                    if !TAGS.contains(&name) {
                        return Err(format!("unsupported start tag \"{name}\""));
                    }
                    open.push(name.to_string());
                }
                rest = &rest[end + 1..];
            }
            '&' => {
                let end = rest
                    .find(';')
                    .filter(|&e| e <= 10)
                    .ok_or("unclosed entity")?;
                let entity = &rest[1..end];
                let decoded = match entity {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "quot" => '"',
                    _ => entity
                        .strip_prefix('#')
                        .and_then(|n| n.parse::<u32>().ok())
                        .and_then(char::from_u32)
                        .ok_or_else(|| format!("unsupported entity \"&{entity};\""))?,
                };
                out.push(decoded);
                rest = &rest[end + 1..];
            }
            c => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    match open.pop() {
        Some(tag) => Err(format!(
            "can't find end tag corresponding to start tag \"{tag}\""
        )),
        None => Ok(out),
    }
}

/// Unix seconds now.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
