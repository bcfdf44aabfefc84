//! A small emulator of the Gmail API (v1) and of Google's OAuth 2.0 token endpoint, for the
//! integration tests.
//!
//! It is a plain-std HTTP/1.1 server on 127.0.0.1: one thread accepts connections and handles
//! them one at a time, answering every request with `Connection: close`. It speaks Google's
//! documented JSON, errors included, for the calls a mail poller makes: `users.getProfile`,
//! `users.history.list`, `users.messages.list/get/modify/send`, `users.labels.list/create`, and
//! the refresh-token grant. Tests drive the mailbox directly ([`Gmail::add`]) and inject faults:
//! expired history, expired access tokens, a revoked grant, 429/5xx answers, malformed JSON.
//!
//! Behaviour worth knowing:
//! - Ids are strings; message ids are 16 hex digits, thread ids are the id of the thread's first
//!   message, history ids are decimal strings of u64 values starting above 2^53 (so a client
//!   that reads them through an f64 shows it) and growing by gaps of 1 to 5.
//! - Every change bumps the mailbox historyId: a message added (by [`Gmail::add`] or
//!   `messages.send`) records `messagesAdded`, `messages.modify` records `labelsAdded` and/or
//!   `labelsRemoved` (filtered out by `historyTypes=messageAdded`).
//! - Empty lists are omitted from responses, as Google's JSON mapping does (`history`,
//!   `messages`, and `labelIds` of a message without labels).
//! - `format=full` is simplified: all headers plus the undecoded body as one part.
//! - A request [`Gmail::malform_next`] hits is still carried out; only its answer is mangled.
//! - Requests [`Gmail::fail_next`] hits are not carried out.
#![allow(dead_code)]

use std::net::TcpListener;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard};

#[path = "http.rs"]
mod http;

use http::{Request, Response, hex_byte, parse_query, percent_decode};

use base64::Engine;
use base64::alphabet;
use base64::engine::general_purpose::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Value, json};

/// The mailbox owner, as `users.getProfile` reports it.
pub const EMAIL: &str = "ops@example.org";
/// The OAuth client and refresh token the token endpoint accepts.
pub const CLIENT_ID: &str = "cid";
pub const CLIENT_SECRET: &str = "csecret";
pub const REFRESH_TOKEN: &str = "rtok";
/// The scope access tokens are issued for.
pub const SCOPE: &str = "https://www.googleapis.com/auth/gmail.modify";
/// The historyId of the empty mailbox: 2^53 + 1, which an f64 cannot hold.
pub const FIRST_HISTORY_ID: u64 = 9_007_199_254_740_993;

/// The gaps between successive history ids, cycled.
const HISTORY_GAPS: [u64; 5] = [3, 1, 5, 2, 4];
/// internalDate of the first message (2026-01-01T00:00:00Z); each next one is a minute later.
const FIRST_INTERNAL_DATE_MS: u64 = 1_767_225_600_000;
/// Message ids count up from here, printed as 16 hex digits like Gmail's.
const FIRST_MESSAGE_ID: u64 = 0x19b0_0000_0000_0000;
/// System labels: id (= name) and whether Gmail gives it list visibilities.
const SYSTEM_LABELS: [(&str, bool); 8] = [
    ("INBOX", true),
    ("SENT", true),
    ("DRAFT", true),
    ("UNREAD", false),
    ("STARRED", false),
    ("IMPORTANT", false),
    ("SPAM", true),
    ("TRASH", true),
];
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 500;

/// A running emulator. Cloning shares the mailbox.
#[derive(Clone)]
pub struct Gmail {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    state: Arc<Mutex<State>>,
}

impl Gmail {
    /// Start a server with an empty mailbox on a free port; its thread lives for the process.
    pub fn start() -> Gmail {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let base = format!(
            "http://{}",
            listener.local_addr().expect("the listener's address")
        );
        let state = Arc::new(Mutex::new(State::new()));
        let shared = Arc::clone(&state);
        std::thread::Builder::new()
            .name("gmail-emulator".into())
            .spawn(move || {
                http::serve(&listener, |request| match request {
                    Ok(request) => answer(&shared, &request),
                    Err(problem) => Response::bad_request(&problem),
                })
            })
            .expect("spawn the emulator thread");
        Gmail { base, state }
    }

    /// The API root clients call `{api_base}/users/me/...` under.
    pub fn api_base(&self) -> String {
        format!("{}/gmail/v1", self.base)
    }

    /// The OAuth token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base)
    }

    /// The OAuth client and refresh token, as JSON.
    pub fn credential_json(&self) -> String {
        json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN})
            .to_string()
    }

    /// Add a message with these label ids and return its id. The historyId moves on and a
    /// `messagesAdded` record is kept. The thread is that of the message the mail's
    /// In-Reply-To (else References, newest first) names by Message-ID, else a new one.
    pub fn add(&self, raw: &[u8], labels: &[&str]) -> String {
        let labels = labels.iter().map(|l| l.to_string()).collect();
        let mut state = self.lock();
        let index = state.insert(raw.to_vec(), labels, None);
        state.messages[index].id.clone()
    }

    /// The mailbox's current historyId.
    pub fn history_id(&self) -> u64 {
        self.lock().history_id
    }

    /// Forget the history so far: any startHistoryId below the current one now gets 404.
    pub fn expire_history(&self) {
        let mut state = self.lock();
        state.history_floor = state.history_id;
    }

    /// Every access token issued so far stops working (401).
    pub fn expire_access_tokens(&self) {
        self.lock().live_tokens.clear();
    }

    /// The refresh token is revoked: the token endpoint answers 400 invalid_grant.
    pub fn revoke_refresh_token(&self) {
        self.lock().refresh_revoked = true;
    }

    /// The next `count` requests whose path starts with `prefix` get `status` (429 or 5xx)
    /// with Google's JSON error body and, if given, `Retry-After: <seconds>`.
    pub fn fail_next(&self, prefix: &str, status: u16, retry_after: Option<u64>, count: usize) {
        let failure = Failure {
            prefix: prefix.to_string(),
            status,
            retry_after,
            remaining: count,
        };
        self.lock().failures.push(failure);
    }

    /// When the next request whose path starts with `prefix` has been answered, a message
    /// arrives: mail that comes in while a poll is running.
    pub fn add_during(&self, prefix: &str, raw: &[u8], labels: &[&str]) {
        let labels = labels.iter().map(|l| l.to_string()).collect();
        self.lock()
            .arrivals
            .push((prefix.to_string(), raw.to_vec(), labels));
    }

    /// The next request whose path starts with `prefix` gets 200 with its JSON answer cut in half.
    pub fn malform_next(&self, prefix: &str) {
        self.lock().malformed.push(prefix.to_string());
    }

    /// Every request whose path starts with `prefix` gets 200 with its JSON answer cut in
    /// half, for good: a message Gmail cannot serve whole.
    pub fn malform_always(&self, prefix: &str) {
        self.lock().malformed_always.push(prefix.to_string());
    }

    /// The requests received, in order, as "METHOD target" (target with its query string).
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// Forget the requests received so far.
    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }

    /// The label ids of a message; empty for an unknown id.
    pub fn labels_of(&self, id: &str) -> Vec<String> {
        let state = self.lock();
        state
            .find(id)
            .map(|i| state.messages[i].labels.clone())
            .unwrap_or_default()
    }

    /// What `messages.send` was given: the decoded raw bytes and the threadId, if any.
    pub fn sent(&self) -> Vec<(Vec<u8>, Option<String>)> {
        self.lock().sent.clone()
    }

    /// The id of the label with exactly this name.
    pub fn label_id(&self, name: &str) -> Option<String> {
        self.lock()
            .labels
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.id.clone())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

/// Lock the state, carrying on past a panic in another holder.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ---------------------------------------------------------------------------------------------
// The mailbox

/// Everything the emulator knows.
struct State {
    history_id: u64,
    /// The oldest startHistoryId still answered.
    history_floor: u64,
    gaps_used: usize,
    messages: Vec<Message>,
    history: Vec<Record>,
    labels: Vec<Label>,
    user_labels_made: u64,
    tokens_issued: u64,
    live_tokens: Vec<String>,
    refresh_revoked: bool,
    failures: Vec<Failure>,
    malformed: Vec<String>,
    malformed_always: Vec<String>,
    /// Messages that arrive once a request under a path prefix has been answered.
    arrivals: Vec<(String, Vec<u8>, Vec<String>)>,
    calls: Vec<String>,
    sent: Vec<(Vec<u8>, Option<String>)>,
}

/// A message in the mailbox.
struct Message {
    id: String,
    thread_id: String,
    /// Its Message-ID, angle brackets included.
    message_id: Option<String>,
    raw: Vec<u8>,
    labels: Vec<String>,
    snippet: String,
    /// The historyId of its last change.
    history_id: u64,
    internal_date: u64,
}

/// One history record: a change to one message.
struct Record {
    id: u64,
    /// Index into `State::messages`.
    message: usize,
    change: Change,
}

enum Change {
    MessageAdded,
    LabelsAdded(Vec<String>),
    LabelsRemoved(Vec<String>),
}

impl Change {
    /// The `historyTypes` value selecting this change.
    fn history_type(&self) -> &'static str {
        match self {
            Change::MessageAdded => "messageAdded",
            Change::LabelsAdded(_) => "labelAdded",
            Change::LabelsRemoved(_) => "labelRemoved",
        }
    }
}

struct Label {
    id: String,
    name: String,
    system: bool,
    message_list_visibility: Option<String>,
    label_list_visibility: Option<String>,
}

/// Failures to inject into requests under a path prefix.
struct Failure {
    prefix: String,
    status: u16,
    retry_after: Option<u64>,
    remaining: usize,
}

impl State {
    fn new() -> State {
        State {
            history_id: FIRST_HISTORY_ID,
            history_floor: FIRST_HISTORY_ID,
            gaps_used: 0,
            messages: Vec::new(),
            history: Vec::new(),
            labels: SYSTEM_LABELS
                .iter()
                .map(|&(id, visible)| Label::system(id, visible))
                .collect(),
            user_labels_made: 0,
            tokens_issued: 0,
            live_tokens: Vec::new(),
            refresh_revoked: false,
            failures: Vec::new(),
            malformed: Vec::new(),
            malformed_always: Vec::new(),
            arrivals: Vec::new(),
            calls: Vec::new(),
            sent: Vec::new(),
        }
    }

    /// Move the mailbox historyId on by the next gap and return it.
    fn bump_history(&mut self) -> u64 {
        self.history_id += HISTORY_GAPS[self.gaps_used % HISTORY_GAPS.len()];
        self.gaps_used += 1;
        self.history_id
    }

    /// The id the next message added gets.
    fn next_message_id(&self) -> String {
        format!("{:016x}", FIRST_MESSAGE_ID + self.messages.len() as u64)
    }

    /// Add a message (in `thread`, else the thread it replies to, else a new one); its index.
    fn insert(&mut self, raw: Vec<u8>, labels: Vec<String>, thread: Option<String>) -> usize {
        let index = self.messages.len();
        let id = self.next_message_id();
        let fields = header_fields(&raw);
        let thread_id = thread
            .or_else(|| self.thread_replied_to(&fields))
            .unwrap_or_else(|| id.clone());
        let history_id = self.bump_history();
        let mut unique = Vec::new();
        for label in labels {
            if !unique.contains(&label) {
                unique.push(label);
            }
        }
        self.messages.push(Message {
            id,
            thread_id,
            message_id: field(&fields, "Message-ID").and_then(|v| angle_ids(v).into_iter().next()),
            snippet: snippet(&raw),
            raw,
            labels: unique,
            history_id,
            internal_date: FIRST_INTERNAL_DATE_MS + index as u64 * 60_000,
        });
        self.history.push(Record {
            id: history_id,
            message: index,
            change: Change::MessageAdded,
        });
        index
    }

    /// The thread of the message these headers reply to, if it is in the mailbox.
    fn thread_replied_to(&self, fields: &[(String, String)]) -> Option<String> {
        let mut wanted = field(fields, "In-Reply-To")
            .map(angle_ids)
            .unwrap_or_default();
        let references = field(fields, "References")
            .map(angle_ids)
            .unwrap_or_default();
        wanted.extend(references.into_iter().rev());
        wanted.iter().find_map(|want| {
            let found = self
                .messages
                .iter()
                .find(|m| m.message_id.as_ref() == Some(want));
            found.map(|m| m.thread_id.clone())
        })
    }

    /// Add and remove labels of a message, recording what really changed.
    fn relabel(&mut self, index: usize, add: &[String], remove: &[String]) {
        let current = &self.messages[index].labels;
        let mut added: Vec<String> = Vec::new();
        for label in add {
            if !current.contains(label) && !added.contains(label) && !remove.contains(label) {
                added.push(label.clone());
            }
        }
        let removed: Vec<String> = current
            .iter()
            .filter(|l| remove.contains(l))
            .cloned()
            .collect();
        let message = &mut self.messages[index];
        message.labels.retain(|l| !removed.contains(l));
        message.labels.extend(added.iter().cloned());
        if !added.is_empty() {
            self.record(index, Change::LabelsAdded(added));
        }
        if !removed.is_empty() {
            self.record(index, Change::LabelsRemoved(removed));
        }
    }

    /// Record a change to a message under a new historyId.
    fn record(&mut self, index: usize, change: Change) {
        let id = self.bump_history();
        self.messages[index].history_id = id;
        self.history.push(Record {
            id,
            message: index,
            change,
        });
    }

    fn find(&self, id: &str) -> Option<usize> {
        self.messages.iter().position(|m| m.id == id)
    }

    fn has_label(&self, id: &str) -> bool {
        self.labels.iter().any(|l| l.id == id)
    }

    fn thread_exists(&self, thread_id: &str) -> bool {
        self.messages.iter().any(|m| m.thread_id == thread_id)
    }

    /// Whether the request carries a live access token.
    fn authorized(&self, request: &Request) -> bool {
        let Some(value) = request.header("authorization") else {
            return false;
        };
        let Some((scheme, token)) = value.split_once(' ') else {
            return false;
        };
        scheme.eq_ignore_ascii_case("bearer") && self.live_tokens.iter().any(|t| t == token.trim())
    }

    /// The injected failure this path gets, if any (used up as it is taken).
    fn take_failure(&mut self, path: &str) -> Option<Response> {
        let at = self
            .failures
            .iter()
            .position(|f| f.remaining > 0 && path.starts_with(&f.prefix))?;
        let failure = &mut self.failures[at];
        failure.remaining -= 1;
        let response = injected_failure(failure.status, failure.retry_after);
        if failure.remaining == 0 {
            self.failures.remove(at);
        }
        Some(response)
    }

    /// Whether this path's answer is to be malformed (used up as it is taken).
    fn take_malformed(&mut self, path: &str) -> bool {
        let at = self
            .malformed
            .iter()
            .position(|prefix| path.starts_with(prefix.as_str()));
        at.map(|at| self.malformed.remove(at)).is_some()
            || self
                .malformed_always
                .iter()
                .any(|prefix| path.starts_with(prefix.as_str()))
    }
}

impl Label {
    fn system(id: &str, visible: bool) -> Label {
        Label {
            id: id.to_string(),
            name: id.to_string(),
            system: true,
            message_list_visibility: visible.then(|| "hide".to_string()),
            label_list_visibility: visible.then(|| {
                if id == "SPAM" || id == "TRASH" {
                    "labelHide"
                } else {
                    "labelShow"
                }
                .to_string()
            }),
        }
    }

    /// The Label resource.
    fn json(&self) -> Value {
        let mut out = json!({"id": self.id, "name": self.name, "type": if self.system { "system" } else { "user" }});
        if let Some(v) = &self.message_list_visibility {
            out["messageListVisibility"] = json!(v);
        }
        if let Some(v) = &self.label_list_visibility {
            out["labelListVisibility"] = json!(v);
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Routing and the API methods

/// The API methods served under `/gmail/v1/users/{me|EMAIL}/`.
enum Route<'a> {
    Profile,
    History,
    ListMessages,
    GetMessage(&'a str),
    Modify(&'a str),
    Send,
    ListLabels,
    CreateLabel,
}

fn parse_route<'a>(method: &str, path: &'a str) -> Option<Route<'a>> {
    let rest = path.strip_prefix("/gmail/v1/users/")?;
    let (user, rest) = rest.split_once('/')?;
    let user = percent_decode(user, false);
    if user != "me" && user != EMAIL {
        return None;
    }
    let segments: Vec<&'a str> = rest.split('/').collect();
    Some(match (method, segments.as_slice()) {
        ("GET", ["profile"]) => Route::Profile,
        ("GET", ["history"]) => Route::History,
        ("GET", ["messages"]) => Route::ListMessages,
        ("POST", ["messages", "send"]) => Route::Send,
        ("GET", ["messages", id]) => Route::GetMessage(id),
        ("POST", ["messages", id, "modify"]) => Route::Modify(id),
        ("GET", ["labels"]) => Route::ListLabels,
        ("POST", ["labels"]) => Route::CreateLabel,
        _ => return None,
    })
}

/// Record the call, apply injected faults, and answer.
fn route(state: &mut State, request: &Request) -> Response {
    state
        .calls
        .push(format!("{} {}", request.method, request.target));
    if let Some(failure) = state.take_failure(&request.path) {
        return failure;
    }
    let malform = state.take_malformed(&request.path);
    let response = dispatch(state, request);
    if let Some(at) = state
        .arrivals
        .iter()
        .position(|(prefix, _, _)| request.path.starts_with(prefix.as_str()))
    {
        let (_, raw, labels) = state.arrivals.remove(at);
        state.insert(raw, labels, None);
    }
    if malform {
        response.malformed()
    } else {
        response
    }
}

fn dispatch(state: &mut State, request: &Request) -> Response {
    if request.path == "/token" && request.method == "POST" {
        return token(state, request);
    }
    let Some(route) = parse_route(&request.method, &request.path) else {
        return Response::no_such_url(&request.path);
    };
    if !state.authorized(request) {
        return Response::unauthenticated();
    }
    match route {
        Route::Profile => profile(state),
        Route::History => history(state, request),
        Route::ListMessages => list_messages(state, request),
        Route::GetMessage(id) => get_message(state, id, request),
        Route::Modify(id) => modify(state, id, request),
        Route::Send => send(state, request),
        Route::ListLabels => Response::json(
            200,
            json!({"labels": state.labels.iter().map(Label::json).collect::<Vec<_>>()}),
        ),
        Route::CreateLabel => create_label(state, request),
    }
}

/// POST /token: the refresh-token grant.
fn token(state: &mut State, request: &Request) -> Response {
    let form = parse_query(&String::from_utf8_lossy(&request.body));
    let get = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match get("grant_type") {
        Some("refresh_token") => {}
        Some("authorization_code") => return authorization_code(state, &get),
        Some(other) => {
            return oauth_error(
                "unsupported_grant_type",
                &format!("Invalid grant_type: {other}"),
            );
        }
        None => return oauth_error("invalid_request", "Missing required parameter: grant_type"),
    }
    let Some(refresh) = get("refresh_token") else {
        return oauth_error(
            "invalid_request",
            "Missing required parameter: refresh_token",
        );
    };
    let client_ok =
        get("client_id") == Some(CLIENT_ID) && get("client_secret") == Some(CLIENT_SECRET);
    if !client_ok || refresh != REFRESH_TOKEN || state.refresh_revoked {
        return oauth_error("invalid_grant", "Token has been expired or revoked.");
    }
    state.tokens_issued += 1;
    let access = format!("ya29.{}", state.tokens_issued);
    state.live_tokens.push(access.clone());
    Response::json(
        200,
        json!({"access_token": access, "expires_in": 3599, "scope": SCOPE, "token_type": "Bearer"}),
    )
}

/// The code a person pastes back after consent (`clawdbot-mailpoll authorize`).
pub const AUTH_CODE: &str = "4/0AeanS0a-demo";

/// POST /token with grant_type=authorization_code: the one-time exchange after consent.
fn authorization_code<'a>(state: &mut State, get: &dyn Fn(&str) -> Option<&'a str>) -> Response {
    let client_ok =
        get("client_id") == Some(CLIENT_ID) && get("client_secret") == Some(CLIENT_SECRET);
    if !client_ok || get("code") != Some(AUTH_CODE) || get("redirect_uri").is_none() {
        return oauth_error("invalid_grant", "Malformed auth code.");
    }
    state.tokens_issued += 1;
    let access = format!("ya29.{}", state.tokens_issued);
    state.live_tokens.push(access.clone());
    Response::json(
        200,
        json!({"access_token": access, "expires_in": 3599, "refresh_token": REFRESH_TOKEN, "scope": SCOPE, "token_type": "Bearer"}),
    )
}

fn oauth_error(error: &str, description: &str) -> Response {
    Response::json(
        400,
        json!({"error": error, "error_description": description}),
    )
}

/// GET profile
fn profile(state: &State) -> Response {
    let mut threads: Vec<&str> = state
        .messages
        .iter()
        .map(|m| m.thread_id.as_str())
        .collect();
    threads.sort_unstable();
    threads.dedup();
    Response::json(
        200,
        json!({
            "emailAddress": EMAIL,
            "messagesTotal": state.messages.len(),
            "threadsTotal": threads.len(),
            "historyId": state.history_id.to_string(),
        }),
    )
}

/// GET history: the records after startHistoryId, oldest first, a page at a time.
fn history(state: &State, request: &Request) -> Response {
    let start = match request.param("startHistoryId") {
        None => return Response::bad_request("Missing required parameter: startHistoryId"),
        Some(v) => match v.parse::<u64>() {
            Ok(start) => start,
            Err(_) => return Response::bad_request(&format!("Invalid startHistoryId: {v}")),
        },
    };
    if start < state.history_floor {
        return Response::not_found();
    }
    let page_size = match page_size(request) {
        Ok(n) => n,
        Err(response) => return response,
    };
    let after = match request.param("pageToken").map(str::parse::<u64>) {
        None => start,
        Some(Ok(token)) => token.max(start),
        Some(Err(_)) => return Response::bad_request("Invalid pageToken"),
    };
    let types = request.params("historyTypes");
    let label = request.param("labelId");
    let selected = |r: &&Record| {
        r.id > after
            && (types.is_empty() || types.contains(&r.change.history_type()))
            && label.is_none_or(|l| touches_label(state, r, l))
    };
    let mut page: Vec<&Record> = state
        .history
        .iter()
        .filter(selected)
        .take(page_size + 1)
        .collect();
    let more = page.len() > page_size;
    page.truncate(page_size);
    let mut out = json!({"historyId": state.history_id.to_string()});
    if more && let Some(last) = page.last() {
        out["nextPageToken"] = json!(last.id.to_string());
    }
    if !page.is_empty() {
        out["history"] = page.iter().map(|r| record_json(state, r)).collect();
    }
    Response::json(200, out)
}

/// Whether a history record concerns a label: the message has it, or the change is about it.
fn touches_label(state: &State, record: &Record, label: &str) -> bool {
    let changed = match &record.change {
        Change::MessageAdded => false,
        Change::LabelsAdded(ids) | Change::LabelsRemoved(ids) => ids.iter().any(|l| l == label),
    };
    changed
        || state.messages[record.message]
            .labels
            .iter()
            .any(|l| l == label)
}

/// A History resource.
fn record_json(state: &State, record: &Record) -> Value {
    let message = &state.messages[record.message];
    let mut out = json!({"id": record.id.to_string(), "messages": [message.brief()]});
    let detail = message.with_labels();
    match &record.change {
        Change::MessageAdded => out["messagesAdded"] = json!([{"message": detail}]),
        Change::LabelsAdded(ids) => {
            out["labelsAdded"] = json!([{"message": detail, "labelIds": ids}])
        }
        Change::LabelsRemoved(ids) => {
            out["labelsRemoved"] = json!([{"message": detail, "labelIds": ids}])
        }
    }
    out
}

/// maxResults: 100 unless given, at most 500.
fn page_size(request: &Request) -> Result<usize, Response> {
    match request.param("maxResults") {
        None => Ok(DEFAULT_PAGE),
        Some(v) => v
            .parse::<usize>()
            .map(|n| {
                if n == 0 {
                    DEFAULT_PAGE
                } else {
                    n.min(MAX_PAGE)
                }
            })
            .map_err(|_| Response::bad_request(&format!("Invalid value '{v}' for maxResults"))),
    }
}

/// GET messages: newest first, filtered by every labelIds given; `q` is not interpreted.
fn list_messages(state: &State, request: &Request) -> Response {
    let page_size = match page_size(request) {
        Ok(n) => n,
        Err(response) => return response,
    };
    let before = match request.param("pageToken").map(str::parse::<usize>) {
        None => state.messages.len(),
        Some(Ok(index)) => index,
        Some(Err(_)) => return Response::bad_request("Invalid pageToken"),
    };
    let wanted = request.params("labelIds");
    let spam_and_trash = request.param("includeSpamTrash") == Some("true");
    let listed = |m: &Message| {
        wanted.iter().all(|w| m.labels.iter().any(|l| l == w))
            && (spam_and_trash || !m.labels.iter().any(|l| l == "SPAM" || l == "TRASH"))
    };
    let matching: Vec<usize> = (0..state.messages.len())
        .rev()
        .filter(|&i| listed(&state.messages[i]))
        .collect();
    let mut page: Vec<usize> = matching
        .iter()
        .copied()
        .filter(|&i| i < before)
        .take(page_size + 1)
        .collect();
    let more = page.len() > page_size;
    page.truncate(page_size);
    let mut out = json!({"resultSizeEstimate": matching.len()});
    if more && let Some(last) = page.last() {
        out["nextPageToken"] = json!(last.to_string());
    }
    if !page.is_empty() {
        out["messages"] = page.iter().map(|&i| state.messages[i].brief()).collect();
    }
    Response::json(200, out)
}

/// The formats `messages.get` answers in.
#[derive(Clone, Copy, PartialEq)]
enum Format {
    Minimal,
    Metadata,
    Full,
    Raw,
}

/// GET messages/{id}
fn get_message(state: &State, id: &str, request: &Request) -> Response {
    let format = match request
        .param("format")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("full") => Format::Full,
        Some("metadata") => Format::Metadata,
        Some("minimal") => Format::Minimal,
        Some("raw") => Format::Raw,
        Some(other) => {
            return Response::bad_request(&format!("Invalid value at 'format' ({other})"));
        }
    };
    let Some(index) = state.find(id) else {
        return Response::not_found();
    };
    let wanted = request.params("metadataHeaders");
    Response::json(200, state.messages[index].json(format, &wanted))
}

impl Message {
    /// `{"id","threadId"}`, as lists and history records give messages.
    fn brief(&self) -> Value {
        json!({"id": self.id, "threadId": self.thread_id})
    }

    /// `{"id","threadId","labelIds"}`, labelIds left out when there are none.
    fn with_labels(&self) -> Value {
        let mut out = self.brief();
        if !self.labels.is_empty() {
            out["labelIds"] = json!(self.labels);
        }
        out
    }

    /// The Message resource in a format; `wanted` headers only for metadata, when given.
    fn json(&self, format: Format, wanted: &[&str]) -> Value {
        let mut out = self.with_labels();
        out["snippet"] = json!(self.snippet);
        out["sizeEstimate"] = json!(self.raw.len());
        out["historyId"] = json!(self.history_id.to_string());
        out["internalDate"] = json!(self.internal_date.to_string());
        match format {
            Format::Minimal => {}
            Format::Metadata => out["payload"] = self.payload(wanted, false),
            Format::Full => out["payload"] = self.payload(&[], true),
            Format::Raw => out["raw"] = json!(URL_SAFE.encode(&self.raw)),
        }
        out
    }

    /// The top MessagePart: headers (all, or the wanted ones, in message order, decoded) and,
    /// with `body`, the undecoded body.
    fn payload(&self, wanted: &[&str], body: bool) -> Value {
        let fields = header_fields(&self.raw);
        let mime = field(&fields, "Content-Type")
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "text/plain".to_string());
        let headers: Vec<Value> = fields
            .iter()
            .filter(|(name, _)| {
                wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(name))
            })
            .map(|(name, value)| json!({"name": name, "value": decode_encoded_words(value)}))
            .collect();
        let mut out = json!({"partId": "", "mimeType": mime, "filename": "", "headers": headers});
        if body {
            let content = body_of(&self.raw);
            out["body"] = json!({"size": content.len(), "data": URL_SAFE.encode(content)});
        }
        out
    }
}

/// POST messages/{id}/modify
fn modify(state: &mut State, id: &str, request: &Request) -> Response {
    let Some(index) = state.find(id) else {
        return Response::not_found();
    };
    let body = match json_body(request) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let add = string_list(&body["addLabelIds"]);
    let remove = string_list(&body["removeLabelIds"]);
    if let Some(unknown) = add.iter().chain(&remove).find(|l| !state.has_label(l)) {
        return Response::bad_request(&format!("Invalid label: {unknown}"));
    }
    state.relabel(index, &add, &remove);
    Response::json(200, state.messages[index].with_labels())
}

/// POST messages/send: the message goes into the mailbox labelled SENT.
fn send(state: &mut State, request: &Request) -> Response {
    let body = match json_body(request) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let Some(encoded) = body["raw"].as_str().filter(|r| !r.is_empty()) else {
        return Response::bad_request(
            "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
        );
    };
    let Some(raw) = decode_base64url(encoded) else {
        return Response::bad_request("Invalid value for ByteString");
    };
    let fields = header_fields(&raw);
    let has_recipient = ["To", "Cc", "Bcc"]
        .iter()
        .any(|name| field(&fields, name).is_some_and(|v| !v.trim().is_empty()));
    if !has_recipient {
        return Response::bad_request("Recipient address required");
    }
    let thread = body["threadId"].as_str().map(str::to_string);
    if let Some(thread) = &thread
        && !state.thread_exists(thread)
    {
        return Response::bad_request("Invalid thread_id value");
    }
    state.sent.push((raw.clone(), thread.clone()));
    let stored = with_message_id(raw, &fields, &state.next_message_id());
    let index = state.insert(stored, vec!["SENT".to_string()], thread);
    Response::json(200, state.messages[index].with_labels())
}

/// The mail as Gmail keeps it: with a Message-ID, one made up if the sender gave none.
fn with_message_id(raw: Vec<u8>, fields: &[(String, String)], id: &str) -> Vec<u8> {
    if field(fields, "Message-ID").is_some() {
        return raw;
    }
    let mut stored = format!("Message-ID: <emulator.{id}@mail.gmail.com>\r\n").into_bytes();
    stored.extend_from_slice(&raw);
    stored
}

/// POST labels
fn create_label(state: &mut State, request: &Request) -> Response {
    let body = match json_body(request) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let Some(name) = body["name"]
        .as_str()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    else {
        return Response::bad_request("Invalid label name");
    };
    let message_list = body["messageListVisibility"].as_str().unwrap_or("show");
    let label_list = body["labelListVisibility"].as_str().unwrap_or("labelShow");
    if !["show", "hide"].contains(&message_list) {
        return Response::bad_request(&format!(
            "Invalid value at 'label.message_list_visibility' ({message_list})"
        ));
    }
    if !["labelShow", "labelShowIfUnread", "labelHide"].contains(&label_list) {
        return Response::bad_request(&format!(
            "Invalid value at 'label.label_list_visibility' ({label_list})"
        ));
    }
    if state
        .labels
        .iter()
        .any(|l| l.name.eq_ignore_ascii_case(name))
    {
        return Response::google_error(409, "Label name exists or conflicts", "duplicate");
    }
    state.user_labels_made += 1;
    let label = Label {
        id: format!("Label_{}", state.user_labels_made),
        name: name.to_string(),
        system: false,
        message_list_visibility: Some(message_list.to_string()),
        label_list_visibility: Some(label_list.to_string()),
    };
    let out = label.json();
    state.labels.push(label);
    Response::json(200, out)
}

/// The request body as JSON, or Google's 400.
fn json_body(request: &Request) -> Result<Value, Response> {
    serde_json::from_slice(&request.body).map_err(|e| {
        Response::google_error(
            400,
            &format!("Invalid JSON payload received. {e}"),
            "invalid",
        )
    })
}

/// The strings of a JSON array (nothing for anything else).
fn string_list(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// The answer to a request `fail_next` picked.
fn injected_failure(status: u16, retry_after: Option<u64>) -> Response {
    let (message, reason) = match status {
        429 => ("User-rate limit exceeded.", "rateLimitExceeded"),
        500 => ("Backend Error", "backendError"),
        502 => ("Bad Gateway", "backendError"),
        503 => ("The service is currently unavailable.", "backendError"),
        504 => ("Deadline exceeded", "backendError"),
        _ => ("Injected failure", "backendError"),
    };
    let mut response = Response::google_error(status, message, reason);
    if let Some(seconds) = retry_after {
        response
            .headers
            .push(("Retry-After".to_string(), seconds.to_string()));
    }
    response
}

// ---------------------------------------------------------------------------------------------
// Mail text

/// The header fields of a raw message, in order, unfolded, values undecoded.
fn header_fields(raw: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(raw);
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push_str(line);
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_string(), value.trim_start().to_string()));
        }
    }
    fields
        .into_iter()
        .map(|(name, value)| (name, value.trim_end().to_string()))
        .collect()
}

/// The first value of a header field, by case-insensitive name.
fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The `<...>` message ids in a header value; the whole value if it has none.
fn angle_ids(value: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find('<') {
        let Some(len) = rest[start..].find('>') else {
            break;
        };
        ids.push(rest[start..start + len + 1].to_string());
        rest = &rest[start + len + 1..];
    }
    if ids.is_empty() && !value.trim().is_empty() {
        ids.push(value.trim().to_string());
    }
    ids
}

/// The bytes after the header block.
fn body_of(raw: &[u8]) -> &[u8] {
    let crlf = raw.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = raw.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    let start = match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(raw.len()),
    };
    &raw[start..]
}

/// Gmail's snippet: the start of the text body, whitespace collapsed, HTML-escaped.
fn snippet(raw: &[u8]) -> String {
    let Some(message) = mail_parser::MessageParser::default().parse(raw) else {
        return String::new();
    };
    let text = message
        .body_text(0)
        .map(|t| t.into_owned())
        .unwrap_or_default();
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let short: String = collapsed.chars().take(200).collect();
    short
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Decode RFC 2047 encoded words (UTF-8, US-ASCII and Latin-1), as Gmail shows header values;
/// whitespace between two encoded words goes, anything undecodable stays as written.
fn decode_encoded_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut after_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, from) = rest.split_at(start);
        match decode_encoded_word(from) {
            Some((text, len)) => {
                if !(after_word && before.chars().all(char::is_whitespace)) {
                    out.push_str(before);
                }
                out.push_str(&text);
                rest = &from[len..];
                after_word = true;
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                rest = &from[2..];
                after_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

/// One encoded word at the start of `text` (`=?charset?B|Q?data?=`): its text and length.
fn decode_encoded_word(text: &str) -> Option<(String, usize)> {
    let inner = text.strip_prefix("=?")?;
    let (charset, inner) = inner.split_once('?')?;
    let (encoding, inner) = inner.split_once('?')?;
    let end = inner.find("?=")?;
    let data = &inner[..end];
    if data.contains(char::is_whitespace) {
        return None;
    }
    let bytes = match encoding {
        "B" | "b" => lenient(alphabet::STANDARD).decode(data).ok()?,
        "Q" | "q" => decode_q(data)?,
        _ => return None,
    };
    let len = 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
    let charset = charset.split('*').next().unwrap_or("").to_ascii_lowercase();
    let decoded = match charset.as_str() {
        "utf-8" | "utf8" | "us-ascii" => String::from_utf8(bytes).ok()?,
        "iso-8859-1" | "latin1" | "windows-1252" => bytes.iter().map(|&b| b as char).collect(),
        _ => return None,
    };
    Some((decoded, len))
}

/// RFC 2047 "Q" encoding: `_` is a space, `=XX` a byte.
fn decode_q(data: &str) -> Option<Vec<u8>> {
    let bytes = data.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'_' => out.push(b' '),
            b'=' => {
                out.push(hex_byte(bytes.get(i + 1..i + 3)?)?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Some(out)
}

/// A base64 engine that takes input with or without padding.
fn lenient(alphabet: alphabet::Alphabet) -> GeneralPurpose {
    GeneralPurpose::new(
        &alphabet,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

/// base64url, padded or not, as Gmail accepts `raw`.
fn decode_base64url(text: &str) -> Option<Vec<u8>> {
    lenient(alphabet::URL_SAFE).decode(text.trim()).ok()
}

/// Google's JSON answers.
impl Response {
    /// Google's error body: `{"error":{"code","message","errors":[…],"status"}}`.
    fn google_error(code: u16, message: &str, reason: &str) -> Response {
        let domain = if code == 429 { "usageLimits" } else { "global" };
        let error = json!({"message": message, "domain": domain, "reason": reason});
        Response::json(
            code,
            json!({"error": {"code": code, "message": message, "errors": [error], "status": rpc_status(code)}}),
        )
    }

    fn bad_request(message: &str) -> Response {
        Response::google_error(400, message, "invalidArgument")
    }

    fn not_found() -> Response {
        Response::google_error(404, "Requested entity was not found.", "notFound")
    }

    fn unauthenticated() -> Response {
        let message = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.";
        let error = json!({"message": "Invalid Credentials", "domain": "global", "reason": "authError", "location": "Authorization", "locationType": "header"});
        let mut response = Response::json(
            401,
            json!({"error": {"code": 401, "message": message, "errors": [error], "status": "UNAUTHENTICATED"}}),
        );
        let challenge = "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"";
        response
            .headers
            .push(("WWW-Authenticate".to_string(), challenge.to_string()));
        response
    }

    /// Google's front end answer to a URL no API serves.
    fn no_such_url(path: &str) -> Response {
        let page = format!(
            "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 404 (Not Found)!!1</title>\n  <p><b>404.</b> <ins>That\u{2019}s an error.</ins>\n  <p>The requested URL <code>{}</code> was not found on this server.  <ins>That\u{2019}s all we know.</ins>\n",
            path.replace('<', "&lt;")
        );
        Response {
            status: 404,
            content_type: "text/html; charset=UTF-8",
            headers: Vec::new(),
            body: page.into_bytes(),
        }
    }

    /// This answer as 200 with its body cut in half: JSON that does not parse.
    fn malformed(mut self) -> Response {
        self.status = 200;
        self.content_type = "application/json; charset=UTF-8";
        self.body.truncate(self.body.len() / 2);
        self.headers.retain(|(n, _)| n != "WWW-Authenticate");
        self
    }
}

/// The google.rpc status name Google's JSON errors carry for an HTTP status.
fn rpc_status(code: u16) -> &'static str {
    match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ALREADY_EXISTS",
        429 => "RESOURCE_EXHAUSTED",
        500 => "INTERNAL",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    }
}

fn answer(state: &Mutex<State>, request: &Request) -> Response {
    catch_unwind(AssertUnwindSafe(|| route(&mut lock(state), request))).unwrap_or_else(|_| {
        Response::google_error(
            500,
            "The emulator panicked answering this request.",
            "backendError",
        )
    })
}
