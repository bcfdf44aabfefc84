//! The operator's reply: MIME parsing, the Authentication-Results check, trimming and
//! interpretation, as the broker runs them on a mail from the Maildir.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(reply) = clawdbot::reply::parse(data) {
        let _ = clawdbot::reply::authenticate(&reply, "mx.google.com");
        let trimmed = clawdbot::reply::trim::trim_reply(&reply.text);
        let _ = clawdbot::reply::intent::interpret(&trimmed);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = clawdbot::reply::strip_quoted_html(text);
        let _ = clawdbot::reply::intent::interpret(&clawdbot::reply::trim::trim_reply(text));
    }
});
