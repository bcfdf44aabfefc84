//! Who may speak to the bot. This is the first look at every update: nothing else reads an
//! update before it has passed, and the only thing done with one that fails is to log it.

use super::api::{Chat, Message, Update, User};
use crate::platform::config::Telegram;

/// What an update amounts to.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict<'a> {
    /// An operator wrote `text` in `chat`.
    Said {
        /// The operator's user id.
        user: i64,
        /// The chat to answer in.
        chat: i64,
        /// The message text.
        text: &'a str,
    },
    /// An operator pressed a button carrying `data`.
    Pressed {
        /// The operator's user id.
        user: i64,
        /// The chat to answer in.
        chat: i64,
        /// The callback query to answer.
        query: &'a str,
        /// The button's data.
        data: &'a str,
    },
    /// Not obeyed, and why (logged with the sender id, rate-limited).
    Refused {
        /// The sender's user id, when there is one.
        sender: Option<i64>,
        /// Why.
        why: &'static str,
    },
    /// From an operator but nothing to act on (a sticker, an empty button).
    Nothing,
}

/// Judge one update against `[telegram] operators`, `chats` and `allow_groups`.
pub fn judge<'a>(config: &Telegram, update: &'a Update) -> Verdict<'a> {
    if let Some(message) = &update.message {
        return judge_message(config, message);
    }
    if let Some(query) = &update.callback_query {
        if let Err(why) = operator(config, Some(&query.from)) {
            return Verdict::Refused {
                sender: Some(query.from.id),
                why,
            };
        }
        let Some(message) = &query.message else {
            return Verdict::Refused {
                sender: Some(query.from.id),
                why: "a button without its message",
            };
        };
        if let Err(why) = chat_allowed(config, &message.chat, query.from.id) {
            return Verdict::Refused {
                sender: Some(query.from.id),
                why,
            };
        }
        return match &query.data {
            Some(data) => Verdict::Pressed {
                user: query.from.id,
                chat: message.chat.id,
                query: &query.id,
                data,
            },
            None => Verdict::Nothing,
        };
    }
    Verdict::Nothing
}

fn judge_message<'a>(config: &Telegram, message: &'a Message) -> Verdict<'a> {
    let sender = message.from.as_ref().map(|u| u.id);
    let refuse = |why| Verdict::Refused { sender, why };
    if let Err(why) = operator(config, message.from.as_ref()) {
        return refuse(why);
    }
    // The operator's account did not write these words: someone else did, or a chat did.
    if message.forward_origin.is_some() || message.forward_date.is_some() {
        return refuse("a forwarded message");
    }
    if message.sender_chat.is_some() {
        return refuse("sent on behalf of a chat");
    }
    if message.via_bot.is_some() {
        return refuse("sent through an inline bot");
    }
    let user = sender.unwrap_or_default();
    if let Err(why) = chat_allowed(config, &message.chat, user) {
        return refuse(why);
    }
    match &message.text {
        Some(text) => Verdict::Said {
            user,
            chat: message.chat.id,
            text,
        },
        None => Verdict::Nothing,
    }
}

fn operator(config: &Telegram, from: Option<&User>) -> Result<(), &'static str> {
    match from {
        None => Err("no sender"),
        Some(user) if user.is_bot => Err("a bot"),
        Some(user) if !config.operators.contains(&user.id) => Err("not an operator"),
        Some(_) => Ok(()),
    }
}

fn chat_allowed(config: &Telegram, chat: &Chat, user: i64) -> Result<(), &'static str> {
    match chat.kind.as_str() {
        "private" if chat.id == user => Ok(()),
        "private" => Err("a private chat that is not the operator's own"),
        "group" | "supergroup" if config.allow_groups && config.chats.contains(&chat.id) => Ok(()),
        "group" | "supergroup" => Err("a group chat that is not allowed"),
        _ => Err("a channel"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> Telegram {
        Telegram {
            operators: vec![111],
            chats: vec![-500],
            ..Telegram::default()
        }
    }

    fn update(value: serde_json::Value) -> Update {
        serde_json::from_value(value).unwrap()
    }

    fn message(from: i64, chat: i64, kind: &str) -> serde_json::Value {
        json!({"update_id": 1, "message": {"message_id": 5, "from": {"id": from, "is_bot": false, "first_name": "A"}, "chat": {"id": chat, "type": kind}, "date": 1, "text": "/status"}})
    }

    #[test]
    fn only_an_operator_in_their_own_chat_is_obeyed() {
        let config = config();
        let said = update(message(111, 111, "private"));
        assert_eq!(
            judge(&config, &said),
            Verdict::Said {
                user: 111,
                chat: 111,
                text: "/status"
            }
        );
        let stranger = update(message(222, 222, "private"));
        assert_eq!(
            judge(&config, &stranger),
            Verdict::Refused {
                sender: Some(222),
                why: "not an operator"
            }
        );
        // Groups count only when allowed and listed.
        let group = update(message(111, -500, "supergroup"));
        assert!(matches!(judge(&config, &group), Verdict::Refused { .. }));
        let allowed = Telegram {
            allow_groups: true,
            ..config.clone()
        };
        assert!(matches!(
            judge(&allowed, &group),
            Verdict::Said { chat: -500, .. }
        ));
        let other_group = update(message(111, -501, "group"));
        assert!(matches!(
            judge(&allowed, &other_group),
            Verdict::Refused { .. }
        ));
    }

    #[test]
    fn forwarded_anonymous_and_bot_messages_do_not_count() {
        let config = config();
        let mut forwarded = message(111, 111, "private");
        forwarded["message"]["forward_origin"] = json!({"type": "user", "date": 1, "sender_user": {"id": 111, "is_bot": false, "first_name": "A"}});
        assert_eq!(
            judge(&config, &update(forwarded)),
            Verdict::Refused {
                sender: Some(111),
                why: "a forwarded message"
            }
        );
        let mut old_forward = message(111, 111, "private");
        old_forward["message"]["forward_date"] = json!(1);
        assert!(matches!(
            judge(&config, &update(old_forward)),
            Verdict::Refused { .. }
        ));
        let mut on_behalf = message(111, -500, "supergroup");
        on_behalf["message"]["sender_chat"] = json!({"id": -500, "type": "supergroup"});
        assert!(matches!(
            judge(&config, &update(on_behalf)),
            Verdict::Refused { .. }
        ));
        let mut bot = message(111, 111, "private");
        bot["message"]["from"]["is_bot"] = json!(true);
        assert!(matches!(
            judge(&config, &update(bot)),
            Verdict::Refused { why: "a bot", .. }
        ));
        let mut no_sender = message(111, 111, "private");
        no_sender["message"].as_object_mut().unwrap().remove("from");
        assert_eq!(
            judge(&config, &update(no_sender)),
            Verdict::Refused {
                sender: None,
                why: "no sender"
            }
        );
    }

    #[test]
    fn buttons_are_judged_by_who_pressed_them() {
        let config = config();
        let pressed = |from: i64| {
            update(
                json!({"update_id": 2, "callback_query": {"id": "q1", "from": {"id": from, "is_bot": false, "first_name": "A"}, "chat_instance": "x", "data": "approve:R-20261126-AAAA:k", "message": {"message_id": 9, "chat": {"id": 111, "type": "private"}, "date": 1}}}),
            )
        };
        assert_eq!(
            judge(&config, &pressed(111)),
            Verdict::Pressed {
                user: 111,
                chat: 111,
                query: "q1",
                data: "approve:R-20261126-AAAA:k"
            }
        );
        assert!(matches!(
            judge(&config, &pressed(222)),
            Verdict::Refused {
                sender: Some(222),
                ..
            }
        ));
    }
}
