//! `[requests]`, `[exec]`, `[agent]` and `[actions.NAME]`: what a request may ask and how it runs.

use std::collections::BTreeMap;

use regex_lite::Regex;
use serde::{Deserialize, Deserializer};

use crate::platform::duration::ConfigDuration;

use super::{MaxBytes, Risk};

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

/// What the admin agent may be asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentUse {
    /// Add its own risk assessment (can only raise).
    Assess,
    /// Answer the operator's question.
    Answer,
    /// Read a reply the rules found unclear.
    Interpret,
    /// Carry out an approved freeform request.
    Execute,
    /// Do what an operator asked by mail or `/task` (`clawdbot-task`); not on by default.
    Task,
}

impl AgentUse {
    /// The name, as in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentUse::Assess => "assess",
            AgentUse::Answer => "answer",
            AgentUse::Interpret => "interpret",
            AgentUse::Execute => "execute",
            AgentUse::Task => "task",
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
    pub uses: Vec<AgentUse>,
    /// How long one task (`clawdbot-task`) may run.
    pub task_timeout: ConfigDuration,
}

impl Default for Agent {
    fn default() -> Self {
        Agent {
            command: Vec::new(),
            // Well inside the broker unit's TimeoutStartSec, with room for several calls.
            timeout: ConfigDuration::from_secs(120),
            uses: vec![
                AgentUse::Assess,
                AgentUse::Answer,
                AgentUse::Interpret,
                AgentUse::Execute,
            ],
            task_timeout: ConfigDuration::from_secs(30 * 60),
        }
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
    /// `apt-get -s` (see [`crate::platform::apt`]).
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
        if raw.preview == Some(Preview::Apt)
            && crate::platform::apt::simulation(&raw.command).is_none()
        {
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

pub(super) fn is_param_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 64
}

/// How one parameter is checked: a regex that must match the whole value, or a list of values.
///
/// Patterns are compiled by `regex-lite`: the syntax of `regex`, with ASCII-only classes
/// (`\w`, `\d`, `\s`, `(?i)`) and no `\p{..}`, so that the request writer stays small
/// (docs/benchmarks.md). An allow-list for a word root runs wants no Unicode letters anyway.
/// The negated escapes (`\S`, `\W`, `\D`) and the word boundaries (`\b`, `\B`) would
/// match or border every non-ASCII character, so they are refused: a pattern names the
/// characters it allows.
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

/// Compile a parameter pattern, anchored at both ends whatever the operator wrote: a pattern
/// missing its `^…$` must not let `searxng; rm -rf /` through because it contains a valid
/// name. It is compiled alone first, so that an unbalanced `)` cannot close the anchoring
/// group early (`a)|(b` would match anything starting with `a`).
fn pattern(p: &str) -> Result<Regex, String> {
    let build = |p: &str| {
        regex_lite::RegexBuilder::new(p)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| e.to_string())
    };
    build(p)?;
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(escape @ ('S' | 'W' | 'D' | 'b' | 'B')) = chars.next()
        {
            return Err(format!(
                "\\{escape} would match every character outside ASCII here (classes are \
                 ASCII-only): write the characters allowed, e.g. [!-~]"
            ));
        }
    }
    build(&format!("^(?:{p})$"))
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
            Raw::Pattern(p) => pattern(&p)
                .map(ParamRule::Pattern)
                .map_err(|e| serde::de::Error::custom(format!("invalid pattern {p:?}: {e}"))),
            Raw::OneOf(values) if values.is_empty() => Err(serde::de::Error::custom(
                "an empty list of values accepts nothing",
            )),
            Raw::OneOf(values) => Ok(ParamRule::OneOf(values)),
        }
    }
}
