//! Bridge verification: `Name: value` header lines, then the body, checked against a key.
#![no_main]

use clawdbot::channels::bridge::signature::{self, Key, Received};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = Key::parse("fuzz", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("a valid key");
    let text = String::from_utf8_lossy(data);
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let lines: Vec<String> = head.lines().map(str::to_string).collect();
    let Ok(headers) = clawdbot::channels::bridge::parse_header_lines(&lines) else {
        return;
    };
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let received = Received {
        id: find("webhook-id"),
        timestamp: find("webhook-timestamp"),
        signature: find("webhook-signature"),
    };
    let _ = signature::verify(&[key], &received, body.as_bytes(), 1_795_000_000);
    let _ = Key::parse("fuzz", head);
});
