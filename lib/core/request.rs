//! The agent's request: parsed and validated strictly, the same way by `clawdbot-request` (before
//! it writes) and by the broker (when it reads). Every problem is reported, not just the first.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::core::risk::{self, Assessment};
use crate::core::store::NewRequest;
use crate::platform::config::{FREEFORM, Rules};
use crate::platform::time::UnixTime;

/// The only request format version.
pub const VERSION: u64 = 1;
/// The longest summary, in characters.
pub const SUMMARY_MAX: usize = 200;
const REASON_MAX: usize = 2000;
const DETAILS_MAX: usize = 16_384;
const PARAM_MAX: usize = 1024;
const REF_MAX: usize = 128;
const FIELDS: &[&str] = &[
    "version",
    "kind",
    "summary",
    "reason",
    "params",
    "details",
    "client_ref",
    "reply_session",
];

/// One thing wrong with a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The field, e.g. `params.container`, or `(file)` for the document as a whole.
    pub field: String,
    /// The rule broken, a short stable name such as `pattern` or `control-character`.
    pub rule: &'static str,
    /// A sentence for a person.
    pub message: String,
}

impl Problem {
    fn new(field: impl Into<String>, rule: &'static str, message: impl Into<String>) -> Self {
        Problem {
            field: field.into(),
            rule,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} [{}]", self.field, self.message, self.rule)
    }
}

/// What an accepted request will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Run this argv (no shell) with this timeout.
    Run {
        /// The argv after substitution.
        argv: Vec<String>,
        /// Seconds the command may run.
        timeout_secs: u64,
    },
    /// Hand the text to the admin agent.
    Freeform,
}

/// A request that passed every rule.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The action name, or `freeform`.
    pub kind: String,
    /// One line for the operator.
    pub summary: String,
    /// Why the agent wants it.
    pub reason: String,
    /// The parameter values.
    pub params: BTreeMap<String, String>,
    /// Free text (freeform requests).
    pub details: Option<String>,
    /// The agent's idempotency key.
    pub client_ref: Option<String>,
    /// The agent session the outcome should go to.
    pub reply_session: Option<String>,
    /// What will run.
    pub plan: Plan,
    /// The risk, with reasons.
    pub assessment: Assessment,
    /// The canonical JSON (keys sorted, no white space).
    pub canonical: String,
    /// SHA-256 of the canonical JSON, hex: what an approval is bound to.
    pub hash: String,
}

/// Where a request came from and what is kept beside it, for [`Accepted::to_record`].
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The bytes as received.
    pub raw: &'a [u8],
    /// The spool file name, or the channel of an operator's command.
    pub source: &'a str,
    /// The operator who filed it as a command; `None`: the agent.
    pub filed_by: Option<&'a str>,
    /// What a simulation showed (JSON).
    pub preview: Option<&'a str>,
    /// The key in the per-request reply address.
    pub reply_key: &'a str,
    /// When it was received.
    pub now: UnixTime,
    /// When it expires.
    pub deadline: UnixTime,
}

impl Accepted {
    /// The row that records this request as `Detected`.
    pub fn to_record<'a>(&'a self, origin: Origin<'a>) -> NewRequest<'a> {
        NewRequest {
            kind: &self.kind,
            summary: &self.summary,
            reason: &self.reason,
            details: self.details.as_deref(),
            client_ref: self.client_ref.as_deref(),
            reply_session: self.reply_session.as_deref(),
            hash: &self.hash,
            canonical: &self.canonical,
            raw: origin.raw,
            source: origin.source,
            risk: self.assessment.risk.as_str(),
            risk_reasons: &self.assessment.reasons,
            argv: match &self.plan {
                Plan::Run { argv, .. } => Some(argv.as_slice()),
                Plan::Freeform => None,
            },
            reply_key: origin.reply_key,
            now: origin.now,
            deadline: origin.deadline,
            preview: origin.preview,
            filed_by: origin.filed_by,
        }
    }
}

/// Validate raw request bytes against the configuration's rules.
pub fn validate(raw: &[u8], rules: Rules<'_>) -> Result<Accepted, Vec<Problem>> {
    let limit = rules.requests.max_bytes.get();
    if raw.len() as u64 > limit {
        return Err(vec![Problem::new(
            "(file)",
            "size",
            format!("{} bytes, at most {limit}", raw.len()),
        )]);
    }
    let text = std::str::from_utf8(raw).map_err(|e| {
        vec![Problem::new(
            "(file)",
            "utf-8",
            format!("not valid UTF-8 (at byte {})", e.valid_up_to()),
        )]
    })?;
    let value: Value = serde_json::from_str(text).map_err(|e| {
        vec![Problem::new(
            "(file)",
            "json",
            format!("not valid JSON: {e}"),
        )]
    })?;
    let Value::Object(object) = value else {
        return Err(vec![Problem::new("(file)", "json", "not a JSON object")]);
    };
    check(&object, rules)
}

fn check(object: &Map<String, Value>, rules: Rules<'_>) -> Result<Accepted, Vec<Problem>> {
    let mut problems = Vec::new();
    for key in object.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
        problems.push(Problem::new(
            printable(key),
            "unknown-field",
            format!("unknown field; the fields are {}", FIELDS.join(", ")),
        ));
    }
    match object.get("version") {
        Some(v) if v.as_u64() == Some(VERSION) => {}
        Some(v) => problems.push(Problem::new(
            "version",
            "version",
            format!(
                "version {} is not supported; write 1",
                excerpt(&v.to_string())
            ),
        )),
        None => problems.push(Problem::new("version", "required", "missing; write 1")),
    }
    let kind = required_text(object, "kind", 64, &mut problems);
    let summary = required_text(object, "summary", SUMMARY_MAX, &mut problems);
    let reason = required_text(object, "reason", REASON_MAX, &mut problems);
    let details = optional_string(object, "details", &mut problems).inspect(|d| {
        check_length("details", d, DETAILS_MAX, &mut problems);
        check_characters("details", d, true, &mut problems);
    });
    let client_ref = optional_string(object, "client_ref", &mut problems).inspect(|r| {
        check_token("client_ref", r, &mut problems);
    });
    let reply_session = optional_string(object, "reply_session", &mut problems).inspect(|r| {
        check_token("reply_session", r, &mut problems);
        let prefixes = &rules.requests.reply_session_prefixes;
        if !prefixes.iter().any(|p| r.starts_with(p.as_str()) && r.len() > p.len()) {
            problems.push(Problem::new(
                "reply_session",
                "session",
                format!(
                    "not one of the agent's sessions ([requests] reply_session_prefixes = {prefixes:?})"
                ),
            ));
        }
    });
    let params = params(object, &mut problems);
    let plan = kind
        .as_deref()
        .and_then(|kind| plan(kind, &params, details.as_deref(), rules, &mut problems));

    match (kind, summary, reason, plan) {
        (Some(kind), Some(summary), Some(reason), Some(plan)) if problems.is_empty() => {
            let assessment = match (&plan, rules.actions.get(&kind)) {
                (Plan::Run { argv, .. }, Some(action)) => {
                    risk::assess_action(&kind, action.risk, argv)
                }
                _ => risk::assess_freeform(&format!(
                    "{summary}\n{reason}\n{}",
                    details.as_deref().unwrap_or("")
                )),
            };
            let canonical = Value::Object(object.clone()).to_string();
            let hash = hex(&Sha256::digest(canonical.as_bytes()));
            Ok(Accepted {
                kind,
                summary,
                reason,
                params,
                details,
                client_ref,
                reply_session,
                plan,
                assessment,
                canonical,
                hash,
            })
        }
        _ => Err(problems),
    }
}

/// What the request will do, or the problems that stop it.
fn plan(
    kind: &str,
    params: &BTreeMap<String, String>,
    details: Option<&str>,
    rules: Rules<'_>,
    problems: &mut Vec<Problem>,
) -> Option<Plan> {
    if kind == FREEFORM {
        if !params.is_empty() {
            problems.push(Problem::new(
                "params",
                "freeform-params",
                "a freeform request takes no params; describe it in details",
            ));
        }
        if details.is_none_or(|d| d.trim().is_empty()) {
            problems.push(Problem::new(
                "details",
                "required",
                "a freeform request says what to do in details",
            ));
        }
        return Some(Plan::Freeform);
    }
    let Some(action) = rules.actions.get(kind) else {
        let known: Vec<&str> = rules
            .actions
            .keys()
            .map(String::as_str)
            .chain([FREEFORM])
            .collect();
        problems.push(Problem::new(
            "kind",
            "unknown-kind",
            format!(
                "{} is not a configured action; known: {}",
                excerpt(kind),
                known.join(", ")
            ),
        ));
        return None;
    };
    for (name, rule) in &action.params {
        let field = format!("params.{name}");
        match params.get(name) {
            None => problems.push(Problem::new(
                field,
                "required",
                format!("missing; it {}", rule.describe()),
            )),
            Some(value) if value.starts_with('-') => problems.push(Problem::new(
                field,
                "option-like",
                format!(
                    "{} starts with '-', which a command could take for an option",
                    excerpt(value)
                ),
            )),
            Some(value) if !rule.accepts(value) => problems.push(Problem::new(
                field,
                "pattern",
                format!("{} is not allowed: it {}", excerpt(value), rule.describe()),
            )),
            Some(_) => {}
        }
    }
    for name in params.keys().filter(|n| !action.params.contains_key(*n)) {
        problems.push(Problem::new(
            format!("params.{}", printable(name)),
            "unknown-param",
            format!("action {kind} has no such parameter"),
        ));
    }
    Some(Plan::Run {
        argv: action.render(params),
        timeout_secs: action.timeout.get().as_secs(),
    })
}

fn params(object: &Map<String, Value>, problems: &mut Vec<Problem>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match object.get("params") {
        None => {}
        Some(Value::Object(map)) => {
            for (name, value) in map {
                let field = format!("params.{}", printable(name));
                match value {
                    Value::String(s) => {
                        check_length(&field, s, PARAM_MAX, problems);
                        check_characters(&field, s, false, problems);
                        check_spaces(&field, s, problems);
                        out.insert(name.clone(), s.clone());
                    }
                    _ => problems.push(Problem::new(field, "type", "must be a string")),
                }
            }
        }
        Some(_) => problems.push(Problem::new(
            "params",
            "type",
            "must be an object of strings",
        )),
    }
    out
}

fn optional_string(
    object: &Map<String, Value>,
    field: &str,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    match object.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            problems.push(Problem::new(field, "type", "must be a string"));
            None
        }
    }
}

fn required_text(
    object: &Map<String, Value>,
    field: &str,
    max: usize,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    let Some(value) = object.get(field) else {
        problems.push(Problem::new(field, "required", "missing"));
        return None;
    };
    let Value::String(text) = value else {
        problems.push(Problem::new(field, "type", "must be a string"));
        return None;
    };
    let before = problems.len();
    if text.trim().is_empty() {
        problems.push(Problem::new(field, "required", "is empty"));
    }
    check_length(field, text, max, problems);
    check_characters(field, text, false, problems);
    (problems.len() == before).then(|| text.clone())
}

fn check_length(field: &str, text: &str, max: usize, problems: &mut Vec<Problem>) {
    let len = text.chars().count();
    if len > max {
        problems.push(Problem::new(
            field,
            "length",
            format!("{len} characters, at most {max}"),
        ));
    }
}

/// Control characters could forge mail headers or terminal output; invisible and bidirectional
/// formatting characters could make the operator read something other than what will run.
fn check_characters(field: &str, text: &str, multiline: bool, problems: &mut Vec<Problem>) {
    if let Some(c) = text.chars().find(|&c| !allowed_char(c, multiline)) {
        problems.push(Problem::new(
            field,
            "control-character",
            format!(
                "contains the character U+{:04X}, which is not allowed here",
                u32::from(c)
            ),
        ));
    }
}

/// A parameter becomes one word of a command: a space other than the ASCII one (U+00A0,
/// U+3000, …) would read as two words in the approval mail while being one.
fn check_spaces(field: &str, text: &str, problems: &mut Vec<Problem>) {
    if let Some(c) = text.chars().find(|c| c.is_whitespace() && !c.is_ascii()) {
        problems.push(Problem::new(
            field,
            "space",
            format!(
                "contains U+{:04X}, a space that is not the ASCII one",
                u32::from(c)
            ),
        ));
    }
}

fn allowed_char(c: char, multiline: bool) -> bool {
    if multiline && (c == '\n' || c == '\t') {
        return true;
    }
    !(c.is_control() || is_invisible_format(c))
}

fn is_invisible_format(c: char) -> bool {
    matches!(u32::from(c),
        0x00AD | 0x061C | 0x180E | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB)
}

/// client_ref and reply_session are identifiers: a small alphabet, no spaces.
fn check_token(field: &str, text: &str, problems: &mut Vec<Problem>) {
    let ok = !text.is_empty()
        && text.len() <= REF_MAX
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-' | '/' | '@'));
    if !ok {
        problems.push(Problem::new(
            field,
            "token",
            format!("1 to {REF_MAX} characters of A-Z a-z 0-9 . _ : - / @"),
        ));
    }
}

/// A short, printable rendering of untrusted text for messages and logs.
pub fn excerpt(text: &str) -> String {
    let mut out: String = text.chars().take(60).collect();
    if text.chars().count() > 60 {
        out.push('…');
    }
    format!("{:?}", out)
}

fn printable(text: &str) -> String {
    text.chars()
        .take(64)
        .map(|c| {
            if c.is_control() || is_invisible_format(c) {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Text for a header: control characters become spaces, whatever validation let through.
pub fn header_safe(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::config::Config;
    use std::path::Path;

    fn config() -> Config {
        Config::from_text(
            Path::new("test.toml"),
            r#"
[actions.restart_container]
command = ["docker", "restart", "{container}"]
risk = "medium"
params = { container = "^[a-z0-9][a-z0-9_.-]{0,62}$" }
"#,
        )
        .unwrap()
    }

    fn good() -> Value {
        serde_json::json!({
            "version": 1,
            "kind": "restart_container",
            "summary": "Restart the searxng container",
            "reason": "Searches time out",
            "params": {"container": "searxng"},
        })
    }

    fn problems_of(value: Value) -> Vec<Problem> {
        validate(value.to_string().as_bytes(), config().rules()).expect_err("should be refused")
    }

    #[test]
    fn a_good_request_is_accepted_with_its_argv_and_hash() {
        let accepted = validate(good().to_string().as_bytes(), config().rules()).unwrap();
        assert_eq!(
            accepted.plan,
            Plan::Run {
                argv: vec!["docker".into(), "restart".into(), "searxng".into()],
                timeout_secs: 120
            }
        );
        assert_eq!(accepted.hash.len(), 64);
        assert_eq!(accepted.assessment.risk, crate::core::risk::Risk::Medium);
    }

    #[test]
    fn a_reply_session_must_be_one_of_the_agents_own() {
        for (session, ok) in [
            ("agent:main:main", true),
            ("agent:main:telegram:direct:7", true),
            ("agent:main:", false),
            ("agent:ops:main", false),
            ("hook:main", false),
            ("agent:mainframe:x", false),
        ] {
            let mut v = good();
            v["reply_session"] = session.into();
            let result = validate(v.to_string().as_bytes(), config().rules());
            assert_eq!(result.is_ok(), ok, "{session}: {result:?}");
            if let Err(problems) = result {
                assert_eq!(problems[0].field, "reply_session", "{problems:?}");
            }
        }
    }

    #[test]
    fn the_hash_ignores_key_order_and_white_space_but_not_content() {
        let a = validate(br#"{"version":1,"kind":"restart_container","summary":"s","reason":"r","params":{"container":"a"}}"#, config().rules()).unwrap();
        let b = validate(b"{ \"params\": {\"container\": \"a\"}, \"reason\": \"r\",\n \"summary\": \"s\", \"kind\": \"restart_container\", \"version\": 1 }", config().rules()).unwrap();
        let c = validate(br#"{"version":1,"kind":"restart_container","summary":"s","reason":"r","params":{"container":"b"}}"#, config().rules()).unwrap();
        assert_eq!(a.hash, b.hash);
        assert_ne!(a.hash, c.hash);
    }

    #[test]
    fn every_problem_is_reported_with_its_field_and_rule() {
        let mut v = good();
        v["version"] = 2.into();
        v["summary"] = "x".repeat(201).into();
        v["params"]["container"] = "a; rm -rf /".into();
        v["colour"] = "red".into();
        let problems = problems_of(v);
        let found: Vec<(&str, &str)> = problems
            .iter()
            .map(|p| (p.field.as_str(), p.rule))
            .collect();
        for expected in [
            ("version", "version"),
            ("summary", "length"),
            ("params.container", "pattern"),
            ("colour", "unknown-field"),
        ] {
            assert!(found.contains(&expected), "{expected:?} not in {found:?}");
        }
    }

    #[test]
    fn hostile_text_is_refused() {
        for (field, text, rule) in [
            (
                "summary",
                "Restart\r\nBcc: someone@example.com",
                "control-character",
            ),
            ("summary", "Restart \u{202E}gnxraes", "control-character"),
            ("summary", "   ", "required"),
            ("reason", "zero\u{200B}width", "control-character"),
            ("client_ref", "has space", "token"),
        ] {
            let mut v = good();
            v[field] = text.into();
            let problems = problems_of(v);
            assert!(
                problems.iter().any(|p| p.field == field && p.rule == rule),
                "{field}={text:?}: {problems:?}"
            );
        }
    }

    #[test]
    fn params_are_checked_against_the_action() {
        for (params, field, rule) in [
            (serde_json::json!({}), "params.container", "required"),
            (
                serde_json::json!({"container": "--help"}),
                "params.container",
                "option-like",
            ),
            (
                serde_json::json!({"container": "a", "extra": "b"}),
                "params.extra",
                "unknown-param",
            ),
            (
                serde_json::json!({"container": 5}),
                "params.container",
                "type",
            ),
            (
                serde_json::json!({"container": "nginx\u{00A0}ssh"}),
                "params.container",
                "space",
            ),
            (
                serde_json::json!({"container": "nginx\u{3000}ssh"}),
                "params.container",
                "space",
            ),
        ] {
            let mut v = good();
            v["params"] = params.clone();
            let problems = problems_of(v);
            assert!(
                problems.iter().any(|p| p.field == field && p.rule == rule),
                "{params}: {problems:?}"
            );
        }
    }

    #[test]
    fn unknown_kinds_and_freeform_rules() {
        let mut v = good();
        v["kind"] = "format_disk".into();
        assert!(problems_of(v).iter().any(|p| p.rule == "unknown-kind"));

        let mut v = good();
        v["kind"] = "freeform".into();
        let problems = problems_of(v);
        assert!(
            problems
                .iter()
                .any(|p| p.field == "params" && p.rule == "freeform-params")
        );
        assert!(
            problems
                .iter()
                .any(|p| p.field == "details" && p.rule == "required")
        );

        let v = serde_json::json!({"version": 1, "kind": "freeform", "summary": "Tidy the dashboard", "reason": "It is messy", "details": "Move the\n\tweather widget"});
        let accepted = validate(v.to_string().as_bytes(), config().rules()).unwrap();
        assert_eq!(accepted.plan, Plan::Freeform);
        assert_eq!(accepted.assessment.risk, crate::core::risk::Risk::High);
    }

    #[test]
    fn broken_documents_are_refused_without_panicking() {
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        for (raw, rule) in [
            (&b"\xff\xfe{}"[..], "utf-8"),
            (b"{", "json"),
            (b"[]", "json"),
            (deep.as_bytes(), "json"),
            (b"", "json"),
        ] {
            let problems = validate(raw, config().rules()).unwrap_err();
            assert_eq!(
                problems[0].rule,
                rule,
                "{:?}",
                String::from_utf8_lossy(&raw[..raw.len().min(20)])
            );
        }
        let big = vec![b' '; 70_000];
        assert_eq!(
            validate(&big, config().rules()).unwrap_err()[0].rule,
            "size"
        );
    }
}
