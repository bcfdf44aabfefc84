//! An operator's reply mail: parsed once, then judged by pure functions — is it authenticated,
//! is it an auto-reply or our own mail, which request does it answer (docs/wire-formats.md).
//! Its submodules read the rest: the Maildir the replies arrive in ([`maildir`]), the
//! authentication results ([`authres`]), the text without quotes ([`trim`], [`html`]), and what
//! the operator meant ([`intent`], [`interpret`]).

pub mod authres;
pub mod html;
pub mod intent;
pub mod interpret;
pub mod maildir;
pub mod trim;

use std::borrow::Cow;

use mail_parser::{HeaderName, HeaderValue, MessageParser, PartType};

use crate::reply::intent::Body;

/// The line above which the operator writes; the reply trimmer cuts everything below it.
pub const REPLY_MARKER: &str = "-- reply above this line --";

/// The parts of a mail the broker looks at.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// `Message-ID`, without angle brackets.
    pub message_id: Option<String>,
    /// The `From` address, lower case.
    pub from: Option<String>,
    /// Whether the mail has exactly one `From` header holding one mailbox (a mail with more
    /// could pass DMARC for one address and show another).
    pub single_from: bool,
    /// `Subject`.
    pub subject: String,
    /// Message-IDs from `In-Reply-To` and `References`, without angle brackets.
    pub refers_to: Vec<String>,
    /// Addresses from `To`, `Cc` and `Delivered-To`, lower case (for plus-address keys).
    pub recipients: Vec<String>,
    /// Addresses from `To` and `Cc` alone, lower case: whom the sender wrote to (the one who
    /// delivers a mail chooses its `Delivered-To`).
    pub addressed_to: Vec<String>,
    /// `Date`, as Unix seconds.
    pub date: Option<i64>,
    /// Whether `To`, `Cc`, `Date`, `Message-ID` and `Subject` each appear at most once (a copy
    /// added above a signed mail would be read instead of the signed one).
    pub single_headers: bool,
    /// Raw header (name, value) pairs, top first, for authentication and auto-reply checks.
    pub headers: Vec<(String, String)>,
    /// The text body; HTML converted to text with its quoted blocks left out.
    pub text: String,
    /// Every text and HTML body part, as the reply reader reads them.
    pub bodies: Vec<Body>,
    /// The display name of `From`, the operator's own name if it is an operator.
    pub from_name: Option<String>,
}

/// Parse a mail. `None` when it is not a mail at all.
pub fn parse(raw: &[u8]) -> Option<Reply> {
    let message = MessageParser::default().parse(raw)?;
    if message.headers().is_empty() {
        return None;
    }
    let mut refers_to = Vec::new();
    for value in [message.in_reply_to(), message.references()] {
        refers_to.extend(ids(value));
    }
    let mut recipients = Vec::new();
    for name in [HeaderName::To, HeaderName::Cc] {
        for value in message.header_values(name) {
            if let Some(list) = value.as_address() {
                recipients.extend(
                    list.iter()
                        .filter_map(|a| a.address())
                        .map(str::to_lowercase),
                );
            }
        }
    }
    // The last copy of each, as DKIM signs it: a To added above a signed mail is not it.
    let addressed_to: Vec<String> = [message.to(), message.cc()]
        .into_iter()
        .flatten()
        .flat_map(|list| {
            list.iter()
                .filter_map(|a| a.address())
                .map(str::to_lowercase)
        })
        .collect();
    let headers: Vec<(String, String)> = message
        .headers_raw()
        .map(|(n, v)| (n.to_string(), unfold(v)))
        .collect();
    for (_, v) in headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Delivered-To"))
    {
        recipients.push(v.trim().trim_matches(['<', '>']).to_lowercase());
    }
    let from_headers = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("From"))
        .count();
    let mailboxes = message.from().map_or(0, |a| a.iter().count());
    let single_headers = ["To", "Cc", "Date", "Message-ID", "Subject"]
        .iter()
        .all(|name| {
            headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .count()
                <= 1
        });
    Some(Reply {
        single_from: from_headers == 1 && mailboxes == 1,
        message_id: message.message_id().map(str::to_string),
        from: message
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .map(str::to_lowercase),
        subject: message.subject().unwrap_or("").to_string(),
        refers_to,
        recipients,
        addressed_to,
        date: message.date().map(|d| d.to_timestamp()),
        single_headers,
        headers,
        text: body_text(&message),
        bodies: bodies(&message),
        from_name: message
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.name())
            .map(str::to_string),
    })
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(id) => vec![id.to_string()],
        HeaderValue::TextList(list) => list.iter().map(|id| id.to_string()).collect(),
        _ => Vec::new(),
    }
}

fn unfold(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first text part, or the first HTML part as text without its `<blockquote>`s and
/// Gmail/Outlook quote containers: quoted text must never reach the interpreter.
fn body_text(message: &mail_parser::Message<'_>) -> String {
    let plain = message.text_part(0).and_then(|part| match &part.body {
        mail_parser::PartType::Text(text) => Some(text.to_string()),
        _ => None,
    });
    if let Some(text) = plain {
        return text;
    }
    match message.body_html(0) {
        Some(html) => mail_parser::decoders::html::html_to_text(&strip_quoted_html(&html)),
        None => String::new(),
    }
}

/// Every body part in the mail's order, text and HTML alike: both are read, and must agree.
/// A text attachment (which many clients show inline) and an attached message are read too,
/// for vetoes only: their text joins the first body's hidden text.
fn bodies(message: &mail_parser::Message<'_>) -> Vec<Body> {
    let mut indexes: Vec<u32> = message
        .text_body
        .iter()
        .chain(message.html_body.iter())
        .copied()
        .collect();
    indexes.sort_unstable();
    indexes.dedup();
    let part = |index: &u32| message.parts.get(usize::try_from(*index).ok()?);
    let mut bodies: Vec<Body> = indexes
        .iter()
        .filter_map(part)
        .filter_map(|part| match &part.body {
            PartType::Text(text) => Some(Body {
                html: false,
                visible: text.to_string(),
                hidden: String::new(),
            }),
            PartType::Html(markup) => {
                let text = html::to_text(markup);
                Some(Body {
                    html: true,
                    visible: text.visible,
                    hidden: text.hidden,
                })
            }
            _ => None,
        })
        .collect();
    let attached: Vec<String> = message
        .attachments
        .iter()
        .filter(|index| !indexes.contains(index))
        .filter_map(part)
        .filter_map(|part| match &part.body {
            PartType::Text(text) => Some(text.to_string()),
            PartType::Html(markup) => {
                let text = html::to_text(markup);
                Some(format!("{}\n{}", text.visible, text.hidden))
            }
            // A message inside the reply may claim to be the operator's: read it for vetoes.
            PartType::Message(inner) => inner.body_text(0).map(|t| t.to_string()),
            _ => None,
        })
        .collect();
    if let Some(first) = bodies.first_mut() {
        for text in attached {
            first.hidden.push_str(&text);
            first.hidden.push('\n');
        }
    }
    bodies
}

/// Remove `<blockquote>…</blockquote>` (nested too) and everything from a quote container
/// (`gmail_quote`, Outlook's `divRplyFwdMsg`, Apple's `type="cite"`) on.
pub fn strip_quoted_html(html: &str) -> Cow<'_, str> {
    let lower = html.to_ascii_lowercase();
    let cut = [
        "class=\"gmail_quote",
        "id=\"divrplyfwdmsg",
        "id=\"appendonsend",
        "class=\"moz-cite-prefix",
    ]
    .iter()
    .filter_map(|marker| lower.find(marker))
    .filter_map(|at| lower[..at].rfind('<'))
    .min();
    let html = match cut {
        Some(at) => &html[..at],
        None => html,
    };
    let lower = &lower[..html.len()];
    if !lower.contains("<blockquote") {
        return Cow::Borrowed(html);
    }
    let mut out = String::with_capacity(html.len());
    let mut depth = 0usize;
    let mut i = 0;
    while i < html.len() {
        let rest = &lower[i..];
        if rest.starts_with("<blockquote") {
            depth += 1;
        } else if rest.starts_with("</blockquote") {
            depth = depth.saturating_sub(1);
            i += rest.find('>').map_or(rest.len(), |p| p + 1);
            continue;
        }
        let len = html[i..].chars().next().map_or(1, char::len_utf8);
        if depth == 0 {
            out.push_str(&html[i..i + len]);
        }
        i += len;
    }
    Cow::Owned(out)
}

impl Reply {
    fn header(&self, name: &str) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Why this looks like an auto-reply, if it does (RFC 3834 and common practice).
    pub fn auto_reply(&self) -> Option<String> {
        if let Some(v) = self
            .header("Auto-Submitted")
            .find(|v| !v.trim().eq_ignore_ascii_case("no"))
        {
            return Some(format!("Auto-Submitted: {v}"));
        }
        if let Some(v) = self.header("Precedence").find(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "bulk" | "junk" | "list" | "auto_reply"
            )
        }) {
            return Some(format!("Precedence: {v}"));
        }
        for name in ["X-Autoreply", "X-Autorespond"] {
            if self.header(name).next().is_some() {
                return Some(format!("{name} header"));
            }
        }
        let subject = self.subject.to_lowercase();
        const OUT_OF_OFFICE: &[&str] = &[
            "out of office",
            "out of the office",
            "automatic reply",
            "auto reply",
            "autoreply",
            "auto:",
            "away from",
            "on vacation",
            "afwezig",
            "automatisch antwoord",
            "niet aanwezig",
            "abwesenheit",
        ];
        OUT_OF_OFFICE
            .iter()
            .find(|p| subject.contains(*p))
            .map(|p| format!("out-of-office subject ({p:?})"))
    }

    /// Whether the `From` address is one of `addresses`.
    pub fn from_one_of(&self, addresses: &[String]) -> bool {
        self.from
            .as_ref()
            .is_some_and(|f| addresses.iter().any(|a| a.eq_ignore_ascii_case(f)))
    }
}

/// The outcome of the authentication check.
pub type AuthCheck = Result<String, String>;

/// The topmost `Authentication-Results` header of `trusted` must say `dmarc=pass` for the
/// From domain, or `dkim=pass` for a domain aligned with it while no DMARC result says
/// anything but `none`. Lower copies, other authserv-ids and
/// `X-Original-Authentication-Results` are ignored: anyone can write those. The header is
/// parsed by RFC 8601's grammar (quoted strings, quoted-pairs, nested comments), and one that
/// cannot be parsed authenticates nothing.
pub fn authenticate(reply: &Reply, trusted: &str) -> AuthCheck {
    let Some(value) = reply
        .header("Authentication-Results")
        .find(|v| claimed_authserv_id(v).eq_ignore_ascii_case(trusted))
    else {
        return Err(format!("no Authentication-Results from {trusted}"));
    };
    let results = authres::parse(value)
        .map_err(|e| format!("the Authentication-Results of {trusted} cannot be read: {e}"))?;
    if !results.authserv_id.eq_ignore_ascii_case(trusted) {
        return Err(format!("no Authentication-Results from {trusted}"));
    }
    let from_domain = reply
        .from
        .as_deref()
        .and_then(|f| f.rsplit_once('@'))
        .map(|(_, d)| d)
        .unwrap_or("");
    let seen: Vec<String> = results
        .results
        .iter()
        .map(|r| format!("{}={}", r.method, r.result))
        .collect();
    let dmarc: Vec<&authres::MethodResult> = results
        .results
        .iter()
        .filter(|r| r.method == "dmarc")
        .collect();
    let dmarc_for_from = |r: &&authres::MethodResult| {
        r.property("header.from")
            .is_some_and(|d| d.eq_ignore_ascii_case(from_domain))
    };
    // Every DMARC verdict must agree: a header that says both pass and fail says nothing.
    if !dmarc.is_empty()
        && dmarc.iter().all(|r| r.result == "pass")
        && dmarc.iter().any(dmarc_for_from)
    {
        return Ok(format!("{trusted}: dmarc=pass for {from_domain}"));
    }
    if dmarc.iter().all(|r| r.result == "none") {
        let signer = results
            .results
            .iter()
            .filter(|r| r.method == "dkim" && r.result == "pass")
            .filter_map(|r| r.property("header.d").or_else(|| r.property("header.i")))
            .map(|v| v.rsplit('@').next().unwrap_or("").to_ascii_lowercase())
            .find(|signer| aligned(signer, from_domain));
        if let Some(signer) = signer {
            return Ok(format!(
                "{trusted}: dkim=pass for {signer}, aligned with From"
            ));
        }
    }
    Err(format!(
        "{trusted} says {}: neither dmarc=pass nor an aligned dkim=pass",
        if seen.is_empty() {
            "nothing".into()
        } else {
            seen.join(", ")
        }
    ))
}

/// The authserv-id a header value starts with, read loosely (up to the first `;`, space or
/// comment), only to find the trusted server's header; the header itself is then parsed
/// strictly.
fn claimed_authserv_id(value: &str) -> &str {
    value
        .trim_start()
        .split([';', ' ', '\t', '\r', '\n', '('])
        .next()
        .unwrap_or("")
}

/// Relaxed DKIM alignment: the same domain, or one a subdomain of the other.
fn aligned(signer: &str, from: &str) -> bool {
    !signer.is_empty()
        && !from.is_empty()
        && (signer == from
            || from.ends_with(&format!(".{signer}"))
            || signer.ends_with(&format!(".{from}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(auth: &[&str], from: &str) -> Reply {
        let mut raw = String::new();
        for a in auth {
            raw.push_str(&format!("Authentication-Results: {a}\r\n"));
        }
        raw.push_str(&format!("From: Op <{from}>\r\nSubject: Re: x\r\nMessage-ID: <a@b>\r\nIn-Reply-To: <R-20261126-7Q2M.1@example.org>\r\n\r\nyes\r\n"));
        parse(raw.as_bytes()).unwrap()
    }

    #[test]
    fn the_topmost_trusted_results_decide() {
        let ok = mail(
            &[
                "mx.google.com; dkim=pass header.i=@example.org; dmarc=pass (p=NONE) header.from=example.org",
            ],
            "ops@example.org",
        );
        assert!(authenticate(&ok, "mx.google.com").is_ok());
        let forged_below = mail(
            &[
                "mx.google.com; dmarc=fail header.from=example.org",
                "mx.google.com; dmarc=pass",
            ],
            "ops@example.org",
        );
        assert!(authenticate(&forged_below, "mx.google.com").is_err());
        let other_id = mail(&["evil.example; dmarc=pass"], "ops@example.org");
        assert_eq!(
            authenticate(&other_id, "mx.google.com"),
            Err("no Authentication-Results from mx.google.com".into())
        );
        let none = mail(&[], "ops@example.org");
        assert!(authenticate(&none, "mx.google.com").is_err());
    }

    #[test]
    fn dkim_counts_only_when_aligned() {
        let aligned = mail(
            &["mx.google.com; dkim=pass header.d=example.org; dmarc=none"],
            "ops@example.org",
        );
        assert!(authenticate(&aligned, "mx.google.com").is_ok());
        let foreign = mail(
            &["mx.google.com; dkim=pass header.d=mailer.example.net; dmarc=none"],
            "ops@example.org",
        );
        assert!(authenticate(&foreign, "mx.google.com").is_err());
        let commented = mail(
            &["mx.google.com; dmarc=fail (dmarc=pass would be nice)"],
            "ops@example.org",
        );
        assert!(authenticate(&commented, "mx.google.com").is_err());
    }

    #[test]
    fn quoted_pairs_and_nested_comments_hide_no_verdict() {
        let quoted = mail(
            &[
                r#"mx.google.com; spf=pass smtp.mailfrom="a\"b; dmarc=pass header.from=example.org"@evil.example; dmarc=fail header.from=example.org"#,
            ],
            "ops@example.org",
        );
        assert!(authenticate(&quoted, "mx.google.com").is_err());
        let escaped_paren = mail(
            &[
                r#"mx.google.com; spf=pass smtp.mailfrom="x\)"@example.org; dmarc=fail (p=REJECT (a \) b) dmarc=pass) header.from=example.org"#,
            ],
            "ops@example.org",
        );
        assert!(authenticate(&escaped_paren, "mx.google.com").is_err());
        let both = mail(
            &[
                "mx.google.com; dmarc=pass header.from=example.org; dmarc=fail header.from=example.org",
            ],
            "ops@example.org",
        );
        assert!(authenticate(&both, "mx.google.com").is_err());
        let unterminated = mail(
            &[r#"mx.google.com; dmarc=pass header.from=example.org; spf=pass smtp.mailfrom="x"#],
            "ops@example.org",
        );
        assert!(authenticate(&unterminated, "mx.google.com").is_err());
        let fine = mail(
            &[
                r#"mx.google.com; spf=pass smtp.mailfrom="a\"b"@example.org; dmarc=pass (p=NONE (nested)) header.from=example.org"#,
            ],
            "ops@example.org",
        );
        assert!(authenticate(&fine, "mx.google.com").is_ok());
    }

    #[test]
    fn references_and_addresses_are_read() {
        let r = mail(&[], "OPS@Example.org");
        assert_eq!(r.from.as_deref(), Some("ops@example.org"));
        assert_eq!(r.refers_to, ["R-20261126-7Q2M.1@example.org"]);
        assert_eq!(r.message_id.as_deref(), Some("a@b"));
    }

    #[test]
    fn auto_replies_are_recognised() {
        let raw = b"From: ops@example.org\r\nSubject: Out of Office: Re: [clawdbot R-1]\r\n\r\nyes I am away\r\n";
        assert!(parse(raw).unwrap().auto_reply().is_some());
        let raw = b"From: ops@example.org\r\nAuto-Submitted: auto-replied\r\nSubject: Re: x\r\n\r\nyes\r\n";
        assert!(parse(raw).unwrap().auto_reply().is_some());
        let raw = b"From: ops@example.org\r\nAuto-Submitted: no\r\nSubject: Re: x\r\n\r\nyes\r\n";
        assert!(parse(raw).unwrap().auto_reply().is_none());
    }

    #[test]
    fn html_quotes_are_left_out() {
        let html = "<div>Yes, go ahead</div><div class=\"gmail_quote\">On Thu wrote:<blockquote>reply APPROVE or DENY</blockquote></div>";
        assert_eq!(strip_quoted_html(html), "<div>Yes, go ahead</div>");
        let nested =
            "<p>no</p><blockquote>a<blockquote>b</blockquote>APPROVE</blockquote><p>thanks</p>";
        assert_eq!(strip_quoted_html(nested), "<p>no</p><p>thanks</p>");
    }
}
