//! Reply trimming (placeholder until the port of email_reply_trimmer lands).

/// The reply's own text, without quotes, signatures and forwarded blocks.
pub fn trim_reply(text: &str) -> String {
    text.to_string()
}
