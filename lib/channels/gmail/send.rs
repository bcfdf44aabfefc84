//! `mail.transport = "gmail"`: the lettre-built message sent raw through
//! `users.messages.send`, in the thread of the request's first mail.

use base64::Engine;
use serde_json::json;

use super::GmailError;
use super::api::Api;
use crate::core::store::{OutboxMail, Store};
use crate::platform::config::Config;

/// Send one outbox mail. The first mail of a request starts a Gmail thread; its id is kept so
/// that every later mail of the request joins it.
pub fn send(config: &Config, store: &mut Store, mail: &OutboxMail) -> Result<(), GmailError> {
    let mut api = Api::new(config)?;
    let key = mail
        .message_id
        .split('.')
        .next()
        .filter(|id| id.starts_with("R-"))
        .map(|id| format!("gmail.thread.{id}"));
    let thread = match &key {
        Some(key) => store.read(|tx| tx.setting(key))?,
        None => None,
    };
    let mut body =
        json!({ "raw": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&mail.message) });
    if let Some(thread) = &thread {
        body["threadId"] = thread.as_str().into();
    }
    let answer = api.post(store, "messages/send", &body)?;
    if let (Some(key), None, Some(started)) = (key, thread, answer["threadId"].as_str()) {
        store.write(|tx| tx.set_setting(&key, Some(started)))?;
    }
    Ok(())
}
