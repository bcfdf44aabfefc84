//! Messages that OpenClaw keeps in a session but cannot send to the model again: a context
//! holding one fails on every turn, and the agent is stuck until the session is reset.
//!
//! Found by writing each shape through OpenClaw 2026.9.6's own append and running one real
//! turn (`openclaw agent --local`) against a stand-in provider on each of its Anthropic, OpenAI
//! Responses and OpenAI Chat Completions routes (see docs/openclaw.md). OpenClaw drops a failed
//! assistant turn (`stopReason` `error` or `aborted`) whole before replay, pairs tool calls
//! with results itself (whatever the result's id is spelled), and drops messages without a
//! role or with content it cannot read; none of that is a finding here. What it passes on, and
//! what then breaks:
//! - a text block whose `text` is not text: a user's makes OpenClaw throw before anything is
//!   sent (every route), an assistant's on the Anthropic and Chat Completions routes;
//! - a `thinking` block whose `thinking` is not text: OpenClaw throws (Anthropic, Responses);
//! - a tool call block spelled `toolUse` or `functionCall`: no route sends it, so its result
//!   is refused as answering no call (every route);
//! - tool call `arguments` that are not an object: a string is refused by Chat Completions, an
//!   array or a number by both OpenAI routes;
//! - a tool call with `input` and no `arguments`: Chat Completions sends no arguments;
//! - the same tool call id twice in the context: refused by the OpenAI routes.

use std::collections::HashSet;

use serde_json::Value;

/// Tool call block types other than `toolCall`, which OpenClaw pairs but never sends.
const UNSENT_CALLS: [&str; 2] = ["toolUse", "functionCall"];

/// Which storage era's OpenClaw replays the context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// 2026.7 (JSONL transcripts): only what was seen to break there too (a tool call spelled
    /// `toolUse` or `functionCall`, arguments that are a string or an array, an assistant's
    /// text block without text); its on-disk repair may rewrite the rest.
    Jsonl,
    /// 2026.8.1 on (SQLite stores): every shape above.
    Sqlite,
}

/// Judges a context's messages in order (a tool call id is judged against those before it).
#[derive(Debug)]
pub struct Replay {
    release: Release,
    calls: HashSet<String>,
}

impl Replay {
    /// A judge for this release.
    pub fn new(release: Release) -> Replay {
        Replay {
            release,
            calls: HashSet::new(),
        }
    }

    /// Why this message (the `message` member of a `message` entry) cannot be sent, or `None`.
    pub fn message(&mut self, message: &Value) -> Option<String> {
        let content = message.get("content")?;
        match message.get("role").and_then(Value::as_str)? {
            "user" if self.release == Release::Sqlite => content.as_array()?.iter().find_map(|b| {
                text_block(b).map(|why| format!("{why}, on which OpenClaw throws before sending"))
            }),
            "assistant" => {
                let stop = message.get("stopReason").and_then(Value::as_str);
                if matches!(stop, Some("error" | "aborted")) {
                    return None;
                }
                content
                    .as_array()?
                    .iter()
                    .find_map(|b| self.assistant_block(b))
            }
            _ => None,
        }
    }

    fn assistant_block(&mut self, block: &Value) -> Option<String> {
        let kind_of = block.get("type").and_then(Value::as_str);
        if let Some(spelled) = kind_of.filter(|t| UNSENT_CALLS.contains(t)) {
            return Some(format!(
                "a tool call spelled {spelled:?}, which no provider route sends, so its result is refused"
            ));
        }
        let sqlite = self.release == Release::Sqlite;
        if sqlite
            && kind_of == Some("thinking")
            && !block.get("thinking").is_some_and(Value::is_string)
        {
            return Some(
                "a thinking block without its text, on which OpenClaw throws (Anthropic and OpenAI Responses routes)"
                    .into(),
            );
        }
        if kind_of != Some("toolCall") {
            return text_block(block).map(|why| {
                format!(
                    "{why}, on which OpenClaw throws (Anthropic and OpenAI Chat Completions routes)"
                )
            });
        }
        if block.get("partialJson").is_some() {
            // A call cut off mid-stream: OpenClaw drops the block before replay.
            return None;
        }
        match block.get("arguments") {
            None | Some(Value::Null | Value::Object(_)) => {}
            Some(Value::Number(_)) if !sqlite => {}
            Some(args @ Value::String(_)) => {
                return Some(format!(
                    "tool call arguments that are {}, not an object (refused on the OpenAI Chat Completions route)",
                    kind(args)
                ));
            }
            Some(args) => {
                return Some(format!(
                    "tool call arguments that are {}, not an object (refused on the OpenAI routes)",
                    kind(args)
                ));
            }
        }
        if !sqlite {
            return None;
        }
        if block.get("arguments").is_none() && block.get("input").is_some() {
            return Some(
                "a tool call with input and no arguments (sent without arguments on the OpenAI Chat Completions route)"
                    .into(),
            );
        }
        let id = block.get("id").and_then(Value::as_str)?;
        if !self.calls.insert(id.to_string()) {
            return Some(format!(
                "a tool call id used twice ({}), which the OpenAI routes refuse",
                excerpt(id)
            ));
        }
        None
    }
}

fn text_block(block: &Value) -> Option<String> {
    if block.get("type").and_then(Value::as_str) != Some("text") {
        return None;
    }
    match block.get("text") {
        Some(Value::String(_)) => None,
        other => Some(format!(
            "a text block whose text is {}",
            other.map_or("missing", kind)
        )),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// At most 64 characters of an id the agent chose, for a report.
fn excerpt(id: &str) -> String {
    let mut short: String = id.chars().take(64).collect();
    if short.len() < id.len() {
        short.push('…');
    }
    format!("{short:?}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn judge(messages: &[Value]) -> Vec<Option<String>> {
        let mut replay = Replay::new(Release::Sqlite);
        messages.iter().map(|m| replay.message(m)).collect()
    }

    #[test]
    fn what_openclaw_replays_or_drops_is_not_a_finding() {
        let fine = [
            json!({ "role": "user", "content": "hello" }),
            json!({ "role": "user", "content": [{ "type": "text", "text": "hi" }] }),
            json!({ "role": "user", "content": null }),
            json!({ "role": "user", "content": { "text": "x" } }),
            json!({ "role": "assistant", "content": [{ "type": "toolCall", "id": "t1", "name": "read", "arguments": { "p": 1 } }], "stopReason": "toolUse" }),
            json!({ "role": "assistant", "content": [{ "type": "toolCall", "id": "t2", "name": "read", "arguments": null }] }),
            json!({ "role": "assistant", "content": [{ "type": "toolCall", "id": "t2", "arguments": "{\"p", "partialJson": "{\"p" }] }),
            json!({ "role": "assistant", "content": [{ "type": "tool_use", "id": "t3", "input": {} }] }),
            json!({ "role": "assistant", "content": null }),
            json!({ "role": "assistant", "content": "text" }),
            // Failed turns are dropped before replay, whatever they hold.
            json!({ "role": "assistant", "content": [{ "type": "toolUse", "id": "t1" }], "stopReason": "error" }),
            json!({ "role": "assistant", "content": [{ "type": "text", "text": null }], "stopReason": "aborted" }),
            json!({ "role": "toolResult", "call_id": "t1", "content": null }),
            json!({ "role": null, "content": [] }),
            json!({ "role": "bashExecution", "command": "ls" }),
            json!("not an object"),
        ];
        assert!(
            judge(&fine).iter().all(Option::is_none),
            "{:?}",
            judge(&fine)
        );
    }

    #[test]
    fn each_shape_a_provider_refuses_is_named() {
        let cases = [
            (
                json!({ "role": "assistant", "content": [{ "type": "toolUse", "id": "t1", "input": {} }], "stopReason": "toolUse" }),
                "spelled \"toolUse\"",
            ),
            (
                json!({ "role": "assistant", "content": [{ "type": "functionCall", "id": "t1" }] }),
                "spelled \"functionCall\"",
            ),
            (
                json!({ "role": "assistant", "content": [{ "type": "toolCall", "id": "t1", "arguments": "{\"p\":1}" }] }),
                "arguments that are a string",
            ),
            (
                json!({ "role": "assistant", "content": [{ "type": "toolCall", "id": "t1", "arguments": [1] }] }),
                "arguments that are an array",
            ),
            (
                json!({ "role": "assistant", "content": [{ "type": "toolCall", "id": "t1", "arguments": 5 }] }),
                "arguments that are a number",
            ),
            (
                json!({ "role": "assistant", "content": [{ "type": "toolCall", "id": "t1", "input": {} }] }),
                "input and no arguments",
            ),
            (
                json!({ "role": "assistant", "content": [{ "type": "text", "text": null }] }),
                "text is null",
            ),
            (
                json!({ "role": "user", "content": [{ "type": "text" }] }),
                "text is missing",
            ),
            (
                json!({ "role": "user", "content": [{ "type": "text", "text": 5 }] }),
                "text is a number",
            ),
            (
                json!({ "role": "assistant", "content": [{ "type": "thinking", "thinking": null }] }),
                "thinking block without its text",
            ),
        ];
        for (m, want) in cases {
            let got = judge(std::slice::from_ref(&m))
                .remove(0)
                .unwrap_or_default();
            assert!(got.contains(want), "{m}: {got:?} lacks {want:?}");
        }
    }

    #[test]
    fn a_tool_call_id_is_judged_against_the_calls_before_it() {
        let call = |id: &str| json!({ "role": "assistant", "content": [{ "type": "toolCall", "id": id, "arguments": {} }] });
        let found = judge(&[call("a"), call("b"), call("a")]);
        assert_eq!(found[..2], [None, None]);
        assert!(
            found[2]
                .as_deref()
                .unwrap_or_default()
                .contains("used twice")
        );
    }
}
