//! An emulator of the two calendar APIs `clawdbot-calendar` reads, with their OAuth token
//! endpoints, on 127.0.0.1, for the integration tests and the benchmark.
//!
//! Microsoft Graph (v1.0), under `/graph/v1.0`: `GET /me/calendars` and
//! `GET /me/calendars/{id}/calendarView?startDateTime=…&endDateTime=…`, answering
//! `{"value": [...], "@odata.nextLink": "…"}` pages (`$top`, else 10 per page, as Graph's
//! default; the link carries `$skip`). Events are stored as their organiser wrote them
//! (`dateTime` without offset beside a `timeZone`, Windows or IANA name); with
//! `Prefer: outlook.timezone="UTC"` timed events come back converted to UTC, unless a test
//! marks one as answered in its own zone anyway (`"_ownZone": true`, which Graph does for
//! some clients and mailboxes). All-day events keep their dates. Errors are
//! `{"error": {"code", "message"}}`. The token endpoint (`/graph/token`) rotates refresh
//! tokens as Microsoft's does.
//!
//! Google Calendar (v3), under `/calendar/v3`: `GET /users/me/calendarList` and
//! `GET /calendars/{id}/events?singleEvents=true&timeMin=…&timeMax=…`, pages of `items` with
//! `nextPageToken` (`maxResults`, else 250), the calendar's `timeZone` on each page, empty
//! `items` left out. Errors are `{"error": {"code", "message", "status"}}`. Token endpoint
//! `/google/token`.
//!
//! Faults: [`Calendars::fail`] answers N requests whose path contains a string with a status
//! (and `Retry-After`); [`Calendars::expire_access_tokens`] makes the next call 401;
//! [`Calendars::revoke`] makes a service's refresh token `invalid_grant`.
#![allow(dead_code)]

#[path = "http.rs"]
mod http;

use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard};

use http::{Request, Response, parse_query, percent_decode};
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use serde_json::{Value, json};

/// The OAuth clients the token endpoints accept.
pub const GRAPH_CLIENT: &str = "graph-client";
pub const GOOGLE_CLIENT: &str = "google-client";
pub const GOOGLE_SECRET: &str = "google-secret";
/// The refresh tokens a fresh emulator accepts.
pub const GRAPH_REFRESH: &str = "M.R3_BAY.first";
pub const GOOGLE_REFRESH: &str = "1//google-refresh";
/// The code a person pastes back after consent.
pub const AUTH_CODE: &str = "4/0AcalendarConsent";

/// Which API.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Service {
    Graph,
    Google,
}

struct Calendar {
    service: Service,
    id: String,
    name: String,
    /// Google only: the calendar's zone.
    zone: String,
    events: Vec<Value>,
}

struct Fault {
    path: String,
    status: u16,
    retry_after: Option<u64>,
    left: usize,
}

#[derive(Default)]
struct State {
    calendars: Vec<Calendar>,
    access_tokens: Vec<(Service, String)>,
    graph_refresh: Vec<String>,
    google_revoked: bool,
    issued: usize,
    faults: Vec<Fault>,
    /// Every request target, in order.
    log: Vec<String>,
    /// Graph refresh requests that carried a scope with Calendars.Read.
    graph_scopes_ok: bool,
    /// The most items on one page, whatever the client asks for.
    page_limit: Option<usize>,
    /// Where Graph's next links point instead of this emulator (a hostile answer).
    foreign_links: Option<String>,
}

/// A running emulator; its thread lives for the process.
pub struct Calendars {
    pub base: String,
    state: Arc<Mutex<State>>,
}

impl Calendars {
    pub fn start() -> Calendars {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let state = Arc::new(Mutex::new(State {
            graph_refresh: vec![GRAPH_REFRESH.into()],
            graph_scopes_ok: true,
            ..State::default()
        }));
        let shared = Arc::clone(&state);
        let origin = base.clone();
        std::thread::Builder::new()
            .name("calendar-emulator".into())
            .spawn(move || {
                http::serve(&listener, |request| match request {
                    Ok(request) => answer(&mut lock(&shared), &origin, &request),
                    Err(problem) => {
                        Response::json(400, json!({"error": {"code": 400, "message": problem}}))
                    }
                })
            })
            .expect("spawn the emulator thread");
        Calendars { base, state }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// A `[[calendar.accounts]]` entry for this emulator.
    pub fn account(
        &self,
        name: &str,
        service: Service,
        credential: &str,
        calendars: &str,
    ) -> String {
        let (kind, api, token) = match service {
            Service::Graph => ("graph", "graph/v1.0", "graph/token"),
            Service::Google => ("google", "calendar/v3", "google/token"),
        };
        format!(
            "[[calendar.accounts]]\nname = {name:?}\nkind = \"{kind}\"\ncredential = {credential:?}\ncalendars = {calendars}\napi_base = \"{b}/{api}\"\ntoken_url = \"{b}/{token}\"\nauth_url = \"{b}/consent\"\n",
            b = self.base
        )
    }

    /// The credential JSON `authorize` would write for `service`.
    pub fn credential(service: Service) -> String {
        match service {
            Service::Graph => json!({"client_id": GRAPH_CLIENT, "client_secret": "", "refresh_token": GRAPH_REFRESH}),
            Service::Google => json!({"client_id": GOOGLE_CLIENT, "client_secret": GOOGLE_SECRET, "refresh_token": GOOGLE_REFRESH}),
        }
        .to_string()
    }

    pub fn add_calendar(&self, service: Service, id: &str, name: &str, zone: &str) {
        self.state().calendars.push(Calendar {
            service,
            id: id.into(),
            name: name.into(),
            zone: zone.into(),
            events: Vec::new(),
        });
    }

    /// Add an event to a calendar, in the service's own JSON.
    pub fn add_event(&self, calendar: &str, event: Value) {
        let mut state = self.state();
        let cal = state
            .calendars
            .iter_mut()
            .find(|c| c.id == calendar)
            .expect("no such calendar");
        cal.events.push(event);
    }

    /// Answer the next `times` requests whose path contains `path` with `status`.
    pub fn fail(&self, path: &str, status: u16, retry_after: Option<u64>, times: usize) {
        self.state().faults.push(Fault {
            path: path.into(),
            status,
            retry_after,
            left: times,
        });
    }

    /// Answer at most `n` items per page, to make clients page.
    pub fn limit_pages(&self, n: usize) {
        self.state().page_limit = Some(n);
    }

    /// Make Graph's `@odata.nextLink` point at `origin` (what a hostile or broken service
    /// could answer, to have the client send its token elsewhere).
    pub fn foreign_links(&self, origin: &str) {
        self.state().foreign_links = Some(origin.into());
    }

    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    pub fn expire_access_tokens(&self) {
        self.state().access_tokens.clear();
    }

    /// Revoke every refresh token of `service`.
    pub fn revoke(&self, service: Service) {
        let mut state = self.state();
        match service {
            Service::Graph => state.graph_refresh.clear(),
            Service::Google => state.google_revoked = true,
        }
    }

    /// Make Microsoft forget the first refresh token, so only a rotated one works.
    pub fn retire_first_graph_refresh(&self) {
        self.state().graph_refresh.retain(|t| t != GRAPH_REFRESH);
    }

    pub fn requests(&self) -> Vec<String> {
        self.state().log.clone()
    }

    pub fn clear_log(&self) {
        self.state().log.clear();
    }

    /// Whether every Graph refresh asked for Calendars.Read.
    pub fn graph_scopes_ok(&self) -> bool {
        self.state().graph_scopes_ok
    }
}

fn lock(state: &Arc<Mutex<State>>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn answer(state: &mut State, origin: &str, request: &Request) -> Response {
    state
        .log
        .push(format!("{} {}", request.method, request.target));
    if let Some(fault) = state
        .faults
        .iter_mut()
        .find(|f| f.left > 0 && request.path.contains(&f.path))
    {
        fault.left -= 1;
        // Google's rate limit may also come as 403 with the reason in errors[].
        let body = match fault.status {
            403 => {
                json!({"error": {"code": 403, "message": "Rate Limit Exceeded", "status": "PERMISSION_DENIED",
                                    "errors": [{"domain": "usageLimits", "reason": "rateLimitExceeded", "message": "Rate Limit Exceeded"}]}})
            }
            status => {
                json!({"error": {"code": status, "message": "emulated failure", "status": "UNAVAILABLE"}})
            }
        };
        let mut response = Response::json(fault.status, body);
        if let Some(secs) = fault.retry_after {
            response
                .headers
                .push(("Retry-After".into(), secs.to_string()));
        }
        return response;
    }
    let path = request.path.as_str();
    match (request.method.as_str(), path) {
        ("POST", "/graph/token") => graph_token(state, request),
        ("POST", "/google/token") => google_token(state, request),
        ("GET", _) if path.starts_with("/graph/v1.0/") => {
            match authorised(state, Service::Graph, request) {
                Some(denied) => denied,
                None => graph(state, origin, request),
            }
        }
        ("GET", _) if path.starts_with("/calendar/v3/") => {
            match authorised(state, Service::Google, request) {
                Some(denied) => denied,
                None => google(state, request),
            }
        }
        _ => Response::json(404, json!({"error": {"code": 404, "message": "Not Found"}})),
    }
}

fn authorised(state: &State, service: Service, request: &Request) -> Option<Response> {
    let token = request
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("");
    if state
        .access_tokens
        .iter()
        .any(|(s, t)| *s == service && t == token)
    {
        return None;
    }
    Some(match service {
        Service::Graph => Response::json(
            401,
            json!({"error": {"code": "InvalidAuthenticationToken", "message": "Access token has expired or is not yet valid."}}),
        ),
        Service::Google => Response::json(
            401,
            json!({"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}}),
        ),
    })
}

fn form(request: &Request) -> Vec<(String, String)> {
    parse_query(&String::from_utf8_lossy(&request.body))
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn oauth_error(error: &str, description: &str) -> Response {
    Response::json(
        400,
        json!({"error": error, "error_description": description}),
    )
}

fn graph_token(state: &mut State, request: &Request) -> Response {
    let form = form(request);
    if field(&form, "grant_type") != Some("refresh_token")
        || field(&form, "client_id") != Some(GRAPH_CLIENT)
    {
        return oauth_error("invalid_client", "AADSTS700016: Application not found.");
    }
    if !field(&form, "scope").is_some_and(|s| s.split(' ').any(|p| p == "Calendars.Read")) {
        state.graph_scopes_ok = false;
    }
    let refresh = field(&form, "refresh_token").unwrap_or("");
    if !state.graph_refresh.iter().any(|t| t == refresh) {
        return oauth_error(
            "invalid_grant",
            "AADSTS70008: The provided authorization code or refresh token has expired due to inactivity.",
        );
    }
    state.issued += 1;
    let access = format!("EwB{}", state.issued);
    let rotated = format!("M.R3_BAY.{}", state.issued);
    state.access_tokens.push((Service::Graph, access.clone()));
    state.graph_refresh.push(rotated.clone());
    Response::json(
        200,
        json!({"token_type": "Bearer", "scope": "Calendars.Read", "expires_in": 3600, "ext_expires_in": 3600,
               "access_token": access, "refresh_token": rotated}),
    )
}

fn google_token(state: &mut State, request: &Request) -> Response {
    let form = form(request);
    let client_ok = field(&form, "client_id") == Some(GOOGLE_CLIENT)
        && field(&form, "client_secret") == Some(GOOGLE_SECRET);
    if !client_ok {
        return oauth_error("invalid_client", "The OAuth client was not found.");
    }
    if field(&form, "grant_type") == Some("authorization_code") {
        if field(&form, "code") != Some(AUTH_CODE) || field(&form, "redirect_uri").is_none() {
            return oauth_error("invalid_grant", "Malformed auth code.");
        }
        return Response::json(
            200,
            json!({"access_token": "ya29.consent", "expires_in": 3599, "refresh_token": GOOGLE_REFRESH, "token_type": "Bearer"}),
        );
    }
    if field(&form, "refresh_token") != Some(GOOGLE_REFRESH) || state.google_revoked {
        return oauth_error("invalid_grant", "Token has been expired or revoked.");
    }
    state.issued += 1;
    let access = format!("ya29.{}", state.issued);
    state.access_tokens.push((Service::Google, access.clone()));
    Response::json(
        200,
        json!({"access_token": access, "expires_in": 3599, "scope": "https://www.googleapis.com/auth/calendar.readonly", "token_type": "Bearer"}),
    )
}

/// A page of `items` starting at `skip`, and whether more follow.
fn page(
    items: &[Value],
    skip: usize,
    size: usize,
    limit: Option<usize>,
) -> (Vec<Value>, Option<usize>) {
    let size = size.min(limit.unwrap_or(usize::MAX)).max(1);
    let part: Vec<Value> = items.iter().skip(skip).take(size).cloned().collect();
    let next = (skip + size < items.len()).then_some(skip + size);
    (part, next)
}

fn graph(state: &State, origin: &str, request: &Request) -> Response {
    let rest = &request.path["/graph/v1.0".len()..];
    let skip: usize = request
        .param("$skip")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let size: usize = request
        .param("$top")
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
        .min(1000);
    let mine = state
        .calendars
        .iter()
        .filter(|c| c.service == Service::Graph);
    let (items, context): (Vec<Value>, &str) = if rest == "/me/calendars" {
        (
            mine.map(|c| json!({"id": c.id, "name": c.name, "canEdit": true, "isDefaultCalendar": false})).collect(),
            "calendars",
        )
    } else if let Some(id) = rest
        .strip_prefix("/me/calendars/")
        .and_then(|r| r.strip_suffix("/calendarView"))
    {
        let id = percent_decode(id, false);
        let Some(cal) = state
            .calendars
            .iter()
            .find(|c| c.service == Service::Graph && c.id == id)
        else {
            return Response::json(
                404,
                json!({"error": {"code": "ErrorItemNotFound", "message": "The specified object was not found in the store."}}),
            );
        };
        let (Some(from), Some(to)) = (
            request
                .param("startDateTime")
                .and_then(|t| t.parse::<Timestamp>().ok()),
            request
                .param("endDateTime")
                .and_then(|t| t.parse::<Timestamp>().ok()),
        ) else {
            return Response::json(
                400,
                json!({"error": {"code": "ErrorInvalidParameter", "message": "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime."}}),
            );
        };
        let utc = request
            .header("prefer")
            .is_some_and(|p| p.contains("outlook.timezone=\"UTC\""));
        let items = cal
            .events
            .iter()
            .filter(|e| graph_instants(e).is_none_or(|span| overlaps(span, from, to)))
            .map(|e| graph_answer(e, utc))
            .collect();
        (items, "events")
    } else {
        return Response::json(
            400,
            json!({"error": {"code": "BadRequest", "message": "Unsupported segment"}}),
        );
    };
    let (part, next) = page(&items, skip, size, state.page_limit);
    let mut body = json!({"@odata.context": format!("{origin}/graph/v1.0/$metadata#users('me')/{context}"), "value": part});
    if let Some(next) = next {
        let kept: Vec<String> = request
            .query
            .iter()
            .filter(|(k, _)| k != "$skip")
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        let origin = state.foreign_links.as_deref().unwrap_or(origin);
        body["@odata.nextLink"] = json!(format!(
            "{origin}{}?{}&$skip={next}",
            request.path,
            kept.join("&")
        ));
    }
    Response::json(200, body)
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'$' | b',' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The emulator's own reading of Graph's zone names (a few, written out here so the test does
/// not check the client's table against itself).
fn graph_zone(name: &str) -> TimeZone {
    let iana = match name {
        "W. Europe Standard Time" => "Europe/Berlin",
        "Eastern Standard Time" => "America/New_York",
        "Pacific Standard Time" => "America/Los_Angeles",
        "New Zealand Standard Time" => "Pacific/Auckland",
        "GMT Standard Time" => "Europe/London",
        other => other,
    };
    // A zone nobody knows (Graph's custom zones): the emulator files it under UTC.
    TimeZone::get(iana).unwrap_or(TimeZone::UTC)
}

fn graph_instant(value: &Value) -> Option<Timestamp> {
    let civil: DateTime = value["dateTime"].as_str()?.parse().ok()?;
    graph_zone(value["timeZone"].as_str()?)
        .to_timestamp(civil)
        .ok()
}

/// An event's span; `None` for junk a test planted, which is always answered.
fn graph_instants(event: &Value) -> Option<(Timestamp, Timestamp)> {
    if event["isAllDay"].as_bool() == Some(true) {
        // An all-day event covers its dates in the mailbox's zone; UTC is close enough here.
        let day = |v: &Value| {
            let civil: DateTime = v["dateTime"].as_str()?.parse().ok()?;
            TimeZone::UTC.to_timestamp(civil).ok()
        };
        return Some((day(&event["start"])?, day(&event["end"])?));
    }
    Some((
        graph_instant(&event["start"])?,
        graph_instant(&event["end"])?,
    ))
}

fn graph_answer(event: &Value, utc: bool) -> Value {
    let mut out = event.clone();
    let own_zone = out
        .as_object_mut()
        .and_then(|o| o.remove("_ownZone"))
        .is_some_and(|v| v == json!(true));
    if utc && !own_zone && event["isAllDay"].as_bool() != Some(true) {
        for key in ["start", "end"] {
            let Some(at) = graph_instant(&event[key]) else {
                continue;
            };
            out[key] = json!({"dateTime": at.strftime("%Y-%m-%dT%H:%M:%S.0000000").to_string(), "timeZone": "UTC"});
        }
    }
    out
}

fn overlaps((start, end): (Timestamp, Timestamp), from: Timestamp, to: Timestamp) -> bool {
    end > from && start < to
}

fn google(state: &State, request: &Request) -> Response {
    let rest = &request.path["/calendar/v3".len()..];
    let skip: usize = request
        .param("pageToken")
        .and_then(|t| t.strip_prefix("page-"))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let size: usize = request
        .param("maxResults")
        .and_then(|s| s.parse().ok())
        .unwrap_or(250);
    let mine = state
        .calendars
        .iter()
        .filter(|c| c.service == Service::Google);
    let mut body = if rest == "/users/me/calendarList" {
        let items: Vec<Value> = mine
            .map(|c| json!({"kind": "calendar#calendarListEntry", "id": c.id, "summary": c.name, "timeZone": c.zone, "accessRole": "owner"}))
            .collect();
        paged(
            json!({"kind": "calendar#calendarList", "etag": "\"p33\""}),
            &items,
            skip,
            size.min(250),
            state.page_limit,
        )
    } else if let Some(id) = rest
        .strip_prefix("/calendars/")
        .and_then(|r| r.strip_suffix("/events"))
    {
        let id = percent_decode(id, false);
        let Some(cal) = state
            .calendars
            .iter()
            .find(|c| c.service == Service::Google && c.id == id)
        else {
            return Response::json(
                404,
                json!({"error": {"code": 404, "message": "Not Found", "status": "NOT_FOUND"}}),
            );
        };
        if request.param("singleEvents") != Some("true") {
            return Response::json(
                400,
                json!({"error": {"code": 400, "message": "the emulator only expands with singleEvents=true", "status": "INVALID_ARGUMENT"}}),
            );
        }
        let (Some(from), Some(to)) = (
            request
                .param("timeMin")
                .and_then(|t| t.parse::<Timestamp>().ok()),
            request
                .param("timeMax")
                .and_then(|t| t.parse::<Timestamp>().ok()),
        ) else {
            return Response::json(
                400,
                json!({"error": {"code": 400, "message": "Bad Request", "status": "INVALID_ARGUMENT"}}),
            );
        };
        let zone = TimeZone::get(&cal.zone).unwrap();
        let items: Vec<Value> = cal
            .events
            .iter()
            .filter(|e| google_instants(e, &zone).is_none_or(|span| overlaps(span, from, to)))
            .cloned()
            .collect();
        paged(
            json!({"kind": "calendar#events", "summary": cal.name, "timeZone": cal.zone, "accessRole": "owner", "updated": "2026-11-20T10:00:00.000Z"}),
            &items,
            skip,
            size.min(2500),
            state.page_limit,
        )
    } else {
        return Response::json(
            404,
            json!({"error": {"code": 404, "message": "Not Found", "status": "NOT_FOUND"}}),
        );
    };
    body["nextSyncToken"] = json!("sync-1");
    Response::json(200, body)
}

fn paged(
    mut body: Value,
    items: &[Value],
    skip: usize,
    size: usize,
    limit: Option<usize>,
) -> Value {
    let (part, next) = page(items, skip, size, limit);
    if !part.is_empty() {
        body["items"] = json!(part);
    }
    if let Some(next) = next {
        body["nextPageToken"] = json!(format!("page-{next}"));
    }
    body
}

/// An event's span; `None` for junk a test planted, which is always answered.
fn google_instants(event: &Value, calendar: &TimeZone) -> Option<(Timestamp, Timestamp)> {
    let one = |v: &Value| -> Option<Timestamp> {
        if let Some(date) = v["date"].as_str() {
            let civil: DateTime = format!("{date}T00:00:00").parse().ok()?;
            return calendar.to_timestamp(civil).ok();
        }
        let text = v["dateTime"].as_str()?;
        if let Ok(exact) = text.parse::<Timestamp>() {
            return Some(exact);
        }
        let civil: DateTime = text.parse().ok()?;
        let zone = match v["timeZone"].as_str() {
            Some(z) => TimeZone::get(z).ok()?,
            None => calendar.clone(),
        };
        zone.to_timestamp(civil).ok()
    };
    Some((one(&event["start"])?, one(&event["end"])?))
}
