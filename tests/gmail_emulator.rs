//! Self-checks of the Gmail API emulator (tests/emulator/gmail.rs), over raw HTTP/1.1.

#[path = "emulator/gmail.rs"]
mod gmail;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use gmail::Gmail;
use serde_json::{Value, json};

const API: &str = "/gmail/v1/users/me";

/// A response read to EOF.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Write one HTTP/1.1 request and read the response to EOF.
fn request(
    gmail: &Gmail,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let address = gmail.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    parse_reply(&raw)
}

fn parse_reply(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "Content-Length")
        .unwrap()
        .1
        .parse()
        .unwrap();
    assert_eq!(length, body.len(), "Content-Length matches");
    assert!(
        headers
            .iter()
            .any(|(n, v)| n == "Connection" && v == "close")
    );
    Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

fn get(gmail: &Gmail, target: &str, token: &str) -> Reply {
    let auth = format!("Bearer {token}");
    request(gmail, "GET", target, &[("Authorization", &auth)], b"")
}

fn post(gmail: &Gmail, target: &str, token: &str, body: &Value) -> Reply {
    let auth = format!("Bearer {token}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    request(gmail, "POST", target, &headers, body.to_string().as_bytes())
}

fn token_request(gmail: &Gmail, form: &str) -> Reply {
    request(
        gmail,
        "POST",
        "/token",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    )
}

/// A fresh access token.
fn token(gmail: &Gmail) -> String {
    let reply = token_request(
        gmail,
        "grant_type=refresh_token&refresh_token=rtok&client_id=cid&client_secret=csecret",
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["access_token"].as_str().unwrap().to_string()
}

fn mail(n: usize, extra: &str) -> Vec<u8> {
    format!("From: a{n}@example.com\r\nTo: ops@example.org\r\nSubject: Mail {n}\r\nMessage-ID: <m{n}@example.com>\r\n{extra}\r\nBody {n}.\r\n").into_bytes()
}

#[test]
fn the_token_endpoint_issues_and_refuses() {
    let gmail = Gmail::start();
    let reply = token_request(
        &gmail,
        "grant_type=refresh_token&refresh_token=rtok&client_id=cid&client_secret=c%73ecret",
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json(),
        json!({"access_token": "ya29.1", "expires_in": 3599, "scope": "https://www.googleapis.com/auth/gmail.modify", "token_type": "Bearer"})
    );
    assert_eq!(token(&gmail), "ya29.2");

    let invalid_grant = json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."});
    let wrong = token_request(
        &gmail,
        "grant_type=refresh_token&refresh_token=rtok&client_id=cid&client_secret=nope",
    );
    assert_eq!((wrong.status, wrong.json()), (400, invalid_grant.clone()));
    gmail.revoke_refresh_token();
    let revoked = token_request(
        &gmail,
        "grant_type=refresh_token&refresh_token=rtok&client_id=cid&client_secret=csecret",
    );
    assert_eq!((revoked.status, revoked.json()), (400, invalid_grant));
    assert_eq!(gmail.calls().len(), 4);
    assert!(gmail.calls().iter().all(|c| c == "POST /token"));
    assert_eq!(
        gmail.credential_json(),
        r#"{"client_id":"cid","client_secret":"csecret","refresh_token":"rtok"}"#
    );
}

#[test]
fn the_api_wants_a_live_access_token() {
    let gmail = Gmail::start();
    let profile = format!("{API}/profile");
    let bare = request(&gmail, "GET", &profile, &[], b"");
    assert_eq!(bare.status, 401);
    let error = &bare.json()["error"];
    assert_eq!(error["status"], "UNAUTHENTICATED");
    assert_eq!(error["errors"][0]["reason"], "authError");
    assert_eq!(get(&gmail, &profile, "ya29.999").status, 401);

    let access = token(&gmail);
    gmail.add(&mail(1, ""), &["INBOX"]);
    let reply = get(&gmail, &profile, &access);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let history_id = gmail.history_id().to_string();
    assert_eq!(
        reply.json(),
        json!({"emailAddress": "ops@example.org", "messagesTotal": 1, "threadsTotal": 1, "historyId": history_id})
    );

    gmail.expire_access_tokens();
    assert_eq!(get(&gmail, &profile, &access).status, 401);
    assert_eq!(get(&gmail, &profile, &token(&gmail)).status, 200);
    assert_eq!(get(&gmail, &format!("{API}/nothing"), &access).status, 404);
}

#[test]
fn history_pages_through_250_added_messages() {
    let gmail = Gmail::start();
    let access = token(&gmail);
    let start = gmail.history_id();
    let mut inbox = Vec::new();
    for n in 0..250 {
        inbox.push(gmail.add(&mail(n, ""), &["INBOX", "UNREAD"]));
        if n % 50 == 0 {
            gmail.add(&mail(1000 + n, ""), &["SENT"]);
        }
    }
    let first = format!(
        "{API}/history?startHistoryId={start}&historyTypes=messageAdded&labelId=INBOX&maxResults=100"
    );
    let mut target = first.clone();
    let (mut pages, mut seen, mut last_id) = (Vec::new(), Vec::new(), start);
    loop {
        let reply = get(&gmail, &target, &access);
        assert_eq!(reply.status, 200, "{}", reply.body);
        let page = reply.json();
        assert_eq!(page["historyId"], gmail.history_id().to_string());
        let records = page["history"].as_array().unwrap();
        pages.push(records.len());
        for record in records {
            let id: u64 = record["id"].as_str().unwrap().parse().unwrap();
            assert!(id > last_id, "increasing history ids");
            last_id = id;
            let added = &record["messagesAdded"][0]["message"];
            assert_eq!(record["messages"][0]["id"], added["id"]);
            assert_eq!(added["labelIds"], json!(["INBOX", "UNREAD"]));
            seen.push(added["id"].as_str().unwrap().to_string());
        }
        match page["nextPageToken"].as_str() {
            Some(next) => target = format!("{first}&pageToken={next}"),
            None => break,
        }
    }
    assert_eq!(pages, [100, 100, 50]);
    assert_eq!(seen, inbox);

    let default_page = get(
        &gmail,
        &format!("{API}/history?startHistoryId={start}"),
        &access,
    )
    .json();
    assert_eq!(
        default_page["history"].as_array().unwrap().len(),
        100,
        "maxResults defaults to 100"
    );
    let current = gmail.history_id();
    let idle = get(
        &gmail,
        &format!("{API}/history?startHistoryId={current}&historyTypes=messageAdded&labelId=INBOX"),
        &access,
    );
    assert_eq!(
        idle.json(),
        json!({"historyId": current.to_string()}),
        "no history key when empty"
    );
}

#[test]
fn expired_history_is_404_and_a_bad_start_400() {
    let gmail = Gmail::start();
    let access = token(&gmail);
    let start = gmail.history_id();
    gmail.add(&mail(1, ""), &["INBOX"]);
    gmail.expire_history();
    let now = gmail.history_id();
    let old = get(
        &gmail,
        &format!("{API}/history?startHistoryId={start}"),
        &access,
    );
    assert_eq!(old.status, 404);
    assert_eq!(
        old.json(),
        json!({"error": {"code": 404, "message": "Requested entity was not found.", "errors": [{"message": "Requested entity was not found.", "domain": "global", "reason": "notFound"}], "status": "NOT_FOUND"}})
    );
    assert_eq!(
        get(
            &gmail,
            &format!("{API}/history?startHistoryId={now}"),
            &access
        )
        .status,
        200
    );
    assert_eq!(get(&gmail, &format!("{API}/history"), &access).status, 400);
    assert_eq!(
        get(
            &gmail,
            &format!("{API}/history?startHistoryId=abc"),
            &access
        )
        .status,
        400
    );
}

#[test]
fn injected_failures_carry_retry_after_and_run_out() {
    let gmail = Gmail::start();
    let access = token(&gmail);
    let history = format!("{API}/history?startHistoryId={}", gmail.history_id());
    gmail.fail_next("/gmail/v1/users/me/history", 429, Some(7), 2);
    gmail.fail_next("/gmail/v1/users/me/profile", 503, None, 1);
    for _ in 0..2 {
        let reply = get(&gmail, &history, &access);
        assert_eq!(
            (reply.status, reply.header("Retry-After")),
            (429, Some("7"))
        );
        assert_eq!(reply.json()["error"]["status"], "RESOURCE_EXHAUSTED");
    }
    assert_eq!(get(&gmail, &history, &access).status, 200);
    let busy = get(&gmail, &format!("{API}/profile"), &access);
    assert_eq!((busy.status, busy.header("Retry-After")), (503, None));
    assert_eq!(busy.json()["error"]["code"], 503);
    assert_eq!(
        gmail
            .calls()
            .iter()
            .filter(|c| c.starts_with("GET /gmail/v1/users/me/history?"))
            .count(),
        3
    );

    gmail.malform_next("/gmail/v1/users/me/history");
    let mangled = get(&gmail, &history, &access);
    assert_eq!(mangled.status, 200);
    assert!(
        serde_json::from_str::<Value>(&mangled.body).is_err(),
        "{}",
        mangled.body
    );
    assert_eq!(
        get(&gmail, &history, &access).json()["historyId"],
        gmail.history_id().to_string()
    );
}

#[test]
fn metadata_gives_the_wanted_headers_in_message_order() {
    let gmail = Gmail::start();
    let access = token(&gmail);
    let raw = b"Received: from x\r\nSubject: =?UTF-8?Q?Caf=C3=A9?= =?UTF-8?B?IG9r?=\r\nFrom: Ann <ann@example.com>\r\nTo: ops@example.org\r\n\r\nIt's <fine> & done.\r\n";
    let id = gmail.add(raw, &["INBOX", "UNREAD"]);
    let target =
        format!("{API}/messages/{id}?format=metadata&metadataHeaders=From&metadataHeaders=subject");
    let message = get(&gmail, &target, &access).json();
    assert_eq!(message["id"], id);
    assert_eq!(message["threadId"], id);
    assert_eq!(message["labelIds"], json!(["INBOX", "UNREAD"]));
    assert_eq!(message["snippet"], "It&#39;s &lt;fine&gt; &amp; done.");
    assert_eq!(message["historyId"], gmail.history_id().to_string());
    assert_eq!(message["sizeEstimate"], raw.len());
    assert!(
        message["internalDate"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );
    assert_eq!(message["payload"]["mimeType"], "text/plain");
    assert_eq!(
        message["payload"]["headers"],
        json!([{"name": "Subject", "value": "Café ok"}, {"name": "From", "value": "Ann <ann@example.com>"}])
    );
    assert_eq!(
        get(
            &gmail,
            &format!("{API}/messages/ffff0000ffff0000?format=metadata"),
            &access
        )
        .status,
        404
    );
}

#[test]
fn raw_is_padded_base64url_of_the_whole_message() {
    let gmail = Gmail::start();
    let access = token(&gmail);
    let mut raw = b"From: a@example.com\r\nTo: ops@example.org\r\nSubject: bytes\r\n\r\n".to_vec();
    raw.extend([0xfb, 0xff, 0xbf, 0xfe, b'\r', b'\n']);
    raw.push(b'x');
    assert_ne!(raw.len() % 3, 0, "so that padding shows");
    let id = gmail.add(&raw, &["INBOX"]);
    let message = get(&gmail, &format!("{API}/messages/{id}?format=raw"), &access).json();
    let encoded = message["raw"].as_str().unwrap();
    assert!(
        encoded.ends_with('=') && !encoded.contains(['+', '/']),
        "{encoded}"
    );
    assert!(encoded.contains(['-', '_']), "{encoded}");
    assert_eq!(URL_SAFE.decode(encoded).unwrap(), raw);
    assert!(
        message.get("payload").is_none(),
        "raw has no payload, as Gmail"
    );
}

#[test]
fn labels_are_created_once_and_applied() {
    let gmail = Gmail::start();
    let access = token(&gmail);
    let create = json!({"name": "clawdbot", "labelListVisibility": "labelShow", "messageListVisibility": "show"});
    let reply = post(&gmail, &format!("{API}/labels"), &access, &create);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["id"], "Label_1");
    assert_eq!(reply.json()["name"], "clawdbot");
    let again = post(
        &gmail,
        &format!("{API}/labels"),
        &access,
        &json!({"name": "ClawdBot"}),
    );
    assert_eq!(again.status, 409);
    assert_eq!(again.json()["error"]["status"], "ALREADY_EXISTS");
    let labels = get(&gmail, &format!("{API}/labels"), &access).json();
    let ids: Vec<&str> = labels["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert!(
        ["INBOX", "SENT", "DRAFT", "UNREAD", "Label_1"]
            .iter()
            .all(|l| ids.contains(l)),
        "{ids:?}"
    );
    assert_eq!(gmail.label_id("clawdbot").as_deref(), Some("Label_1"));

    let id = gmail.add(&mail(1, ""), &["INBOX", "UNREAD"]);
    let before = gmail.history_id();
    let change = json!({"addLabelIds": ["Label_1"], "removeLabelIds": ["UNREAD"]});
    let modified = post(
        &gmail,
        &format!("{API}/messages/{id}/modify"),
        &access,
        &change,
    );
    assert_eq!(
        modified.json(),
        json!({"id": id, "threadId": id, "labelIds": ["INBOX", "Label_1"]})
    );
    assert_eq!(gmail.labels_of(&id), ["INBOX", "Label_1"]);
    assert!(
        gmail.history_id() > before,
        "a change moves the historyId on"
    );
    let only_added = get(
        &gmail,
        &format!("{API}/history?startHistoryId={before}&historyTypes=messageAdded"),
        &access,
    );
    assert!(
        only_added.json().get("history").is_none(),
        "label changes are not messageAdded"
    );
    let bad = post(
        &gmail,
        &format!("{API}/messages/{id}/modify"),
        &access,
        &json!({"addLabelIds": ["Label_9"]}),
    );
    assert_eq!(bad.status, 400);
}

#[test]
fn sent_mail_threads_and_lists_newest_first() {
    let gmail = Gmail::start();
    let access = token(&gmail);
    let original = gmail.add(&mail(1, ""), &["INBOX"]);
    let reply_mail = gmail.add(&mail(2, "In-Reply-To: <m1@example.com>\r\n"), &["INBOX"]);
    let listed = get(&gmail, &format!("{API}/messages"), &access).json();
    assert_eq!(
        listed["messages"][0],
        json!({"id": reply_mail, "threadId": original})
    );

    let start = gmail.history_id();
    let raw = b"To: a1@example.com\r\nSubject: Re: Mail 1\r\nIn-Reply-To: <m1@example.com>\r\n\r\nDone.\r\n";
    let send = json!({"raw": URL_SAFE_NO_PAD.encode(raw), "threadId": original});
    let answer = post(&gmail, &format!("{API}/messages/send"), &access, &send);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let sent_id = answer.json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        answer.json(),
        json!({"id": sent_id, "threadId": original, "labelIds": ["SENT"]})
    );
    assert_eq!(gmail.sent(), [(raw.to_vec(), Some(original.clone()))]);
    let inbox_only = get(
        &gmail,
        &format!("{API}/history?startHistoryId={start}&historyTypes=messageAdded&labelId=INBOX"),
        &access,
    );
    assert!(inbox_only.json().get("history").is_none());
    let any = get(
        &gmail,
        &format!("{API}/history?startHistoryId={start}&historyTypes=messageAdded"),
        &access,
    )
    .json();
    assert_eq!(
        any["history"][0]["messagesAdded"][0]["message"]["id"],
        sent_id
    );

    let page = get(
        &gmail,
        &format!("{API}/messages?labelIds=INBOX&maxResults=1&q=newer_than%3A7d"),
        &access,
    )
    .json();
    assert_eq!(
        (
            page["resultSizeEstimate"].as_u64(),
            page["messages"][0]["id"].as_str()
        ),
        (Some(2), Some(reply_mail.as_str()))
    );
    let token = page["nextPageToken"].as_str().unwrap();
    let next = get(
        &gmail,
        &format!("{API}/messages?labelIds=INBOX&maxResults=1&pageToken={token}"),
        &access,
    )
    .json();
    assert_eq!(next["messages"][0]["id"], original);
    assert!(next.get("nextPageToken").is_none());
    assert!(
        gmail
            .calls()
            .iter()
            .any(|c| c.ends_with("q=newer_than%3A7d"))
    );
    let no_recipient = post(
        &gmail,
        &format!("{API}/messages/send"),
        &access,
        &json!({"raw": URL_SAFE.encode(b"Subject: x\r\n\r\n")}),
    );
    assert_eq!(no_recipient.status, 400);
}
