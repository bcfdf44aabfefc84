//! Outgoing mail: the approval mail and the digest (docs/wire-formats.md), built with lettre and
//! delivered by the configured transport. Mails are composed once, stored in the outbox, and
//! the stored bytes are what is sent, however many attempts it takes.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::message::header::{
    ContentTransferEncoding, ContentType, Header, HeaderName, HeaderValue,
};
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, Message, SendmailTransport, SmtpTransport, Transport as _};

use crate::core::request::header_safe;
use crate::core::store::{Channel, Draft, OutboxMail, RequestRow, Store, StoreError};
use crate::platform::atomic;
use crate::platform::config::{Config, Security, Transport};
use crate::platform::credentials::{self, CredentialError};
use crate::platform::exit::{Exit, ExitStatus};
use crate::platform::ids::RequestId;
use crate::platform::time;
use crate::reply::REPLY_MARKER;

/// Why a mail could not be built or sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// No operator address is configured.
    #[error("{}", crate::platform::config::NO_OPERATOR)]
    NoOperator,
    /// lettre refused to build the message.
    #[error("cannot build mail {message_id}: {source}")]
    Build {
        /// The Message-ID.
        message_id: String,
        /// The cause.
        source: lettre::error::Error,
    },
    /// An address in the outbox is not valid.
    #[error("mail {message_id}: bad address {address:?}")]
    Address {
        /// The Message-ID.
        message_id: String,
        /// The address.
        address: String,
    },
    /// The SMTP relay failed.
    #[error("SMTP relay {host}:{port}: {source}")]
    Smtp {
        /// Relay host.
        host: String,
        /// Relay port.
        port: u16,
        /// The cause.
        source: lettre::transport::smtp::Error,
    },
    /// sendmail failed.
    #[error("sendmail {}: {source}", command.display())]
    Sendmail {
        /// The command.
        command: PathBuf,
        /// The cause.
        source: lettre::transport::sendmail::Error,
    },
    /// The outbox directory could not be written.
    #[error(transparent)]
    File(#[from] atomic::FileError),
    /// The SMTP password is missing or unsafe.
    #[error(transparent)]
    Credential(#[from] CredentialError),
    /// The Gmail API refused or failed.
    #[error("Gmail: {0}")]
    Gmail(String),
}

impl ExitStatus for MailError {
    fn exit(&self) -> Exit {
        match self {
            MailError::NoOperator | MailError::Credential(_) => Exit::Config,
            MailError::Build { .. } | MailError::Address { .. } => Exit::DataErr,
            MailError::Smtp { .. } | MailError::Sendmail { .. } | MailError::Gmail(_) => {
                Exit::TempFail
            }
            MailError::File(e) => e.exit_or(Exit::CantCreat),
        }
    }
}

/// A composed mail, ready for the outbox.
#[derive(Debug, Clone)]
pub struct Composed {
    /// The Message-ID, without angle brackets.
    pub message_id: String,
    /// Envelope sender.
    pub sender: String,
    /// Envelope recipients.
    pub recipients: Vec<String>,
    /// The RFC 5322 bytes.
    pub bytes: Vec<u8>,
}

/// `X-Clawdbot-Request: R-…`, so filters and the reply matcher can find the request.
#[derive(Debug, Clone)]
struct XClawdbotRequest(String);

impl Header for XClawdbotRequest {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Clawdbot-Request")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(XClawdbotRequest(s.to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `Auto-Submitted: auto-generated` (RFC 3834): vacation responders stay quiet, and the
/// broker can tell its own mail from a person's.
#[derive(Debug, Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".into())
    }
}

fn domain(config: &Config) -> &str {
    config.mail.from.email.domain()
}

/// The approval mail for one request; `n` counts the mails of that request.
pub fn approval(config: &Config, row: &RequestRow, n: i64) -> Result<Composed, MailError> {
    let message_id = format!("{}.{n}@{}", row.id, domain(config));
    let subject = format!(
        "[clawdbot {}] Approve? {} (risk: {})",
        row.id,
        header_safe(&row.summary),
        row.risk
    );
    let mut body = format!("{REPLY_MARKER}\n\n");
    let _ = writeln!(body, "The agent asks for approval of request {}.\n", row.id);
    write_request(&mut body, config, row);
    let _ = write!(
        body,
        "\nHow to answer: reply APPROVE or DENY; ask anything, and you will get an answer.\n\
         Only a reply from an operator address counts, and only for this request and hash.\n"
    );
    build(config, &message_id, &subject, Some(row), body, None)
}

/// A mail in a request's thread: an answer, a follow-up, a confirmation, a reminder.
/// `in_reply_to` is the operator's mail being answered, if any; `with_request` repeats the
/// request and how to answer, for mails that still ask for a decision.
fn thread(
    config: &Config,
    row: &RequestRow,
    n: i64,
    subject: &str,
    text: &str,
    in_reply_to: Option<&str>,
    with_request: bool,
) -> Result<Composed, MailError> {
    let message_id = format!("{}.{n}@{}", row.id, domain(config));
    let first = format!("<{}.1@{}>", row.id, domain(config));
    let subject = format!("Re: [clawdbot {}] {subject}", row.id);
    let mut body = format!("{REPLY_MARKER}\n\n{text}\n");
    if with_request {
        body.push('\n');
        write_request(&mut body, config, row);
        body.push_str(
            "\nHow to answer: reply APPROVE or DENY; ask anything, and you will get an answer.\n",
        );
    }
    let references = match in_reply_to {
        Some(theirs) => (format!("<{theirs}>"), format!("{first} <{theirs}>")),
        None => (first.clone(), first),
    };
    build(
        config,
        &message_id,
        &subject,
        Some(row),
        body,
        Some(references),
    )
}

/// A notice to the operator that is about no request (a watchdog incident, a report, a
/// task's answer); `tag` names the job in the subject, e.g. `watchdog` or `maint daily`;
/// `draft` (the draft's row id) and `now` make its Message-ID unique. With `in_reply_to` (the
/// operator's own mail) it answers in that mail's thread, under `Re:` and its subject.
fn notice(
    config: &Config,
    tag: &str,
    subject: &str,
    text: &str,
    in_reply_to: Option<&str>,
    (draft, now): (i64, time::UnixTime),
) -> Result<Composed, MailError> {
    let local: String = tag
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let message_id = format!("{local}.{now}.{draft}@{}", domain(config));
    let (subject, thread) = match in_reply_to {
        Some(theirs) => {
            let theirs = format!("<{theirs}>");
            (subject.to_string(), Some((theirs.clone(), theirs)))
        }
        None => (format!("[clawdbot {tag}] {subject}"), None),
    };
    build(
        config,
        &message_id,
        &subject,
        None,
        format!("{text}\n"),
        thread,
    )
}

/// Compose every mail the core left as a draft ([`crate::core::outbox`]) and put it in the
/// outbox, each in one transaction with the draft's removal. A draft that cannot be composed
/// (no operator address, its request unknown) is logged and dropped: the change it reports
/// stands, as it would had the mail been composed when it was recorded. One the store cannot
/// take now is logged and kept for the next pass; it never stops the mails and messages
/// behind it.
pub fn compose_drafts(config: &Config, store: &mut Store) -> Result<(), StoreError> {
    for draft in store.read(|tx| tx.drafts(Channel::Mail))? {
        let result = store.write(|tx| {
            if !tx.take_draft(draft.id)? {
                return Ok(());
            }
            let row = match &draft.request {
                Some(id) => tx.request(id)?,
                None => None,
            };
            let about: Vec<RequestId> = row.iter().map(|row| row.id.clone()).collect();
            match compose_draft(config, &draft, row.as_ref()) {
                Ok(Some(m)) => {
                    tx.enqueue_mail(
                        &draft.kind,
                        &m.message_id,
                        &m.sender,
                        &m.recipients,
                        &m.bytes,
                        &about,
                        draft.created_at,
                    )?;
                }
                Ok(None) => log::error!(
                    "mail draft {} ({}): its request is not in the database; dropped",
                    draft.id,
                    draft.kind
                ),
                Err(e) => log::error!(
                    "cannot compose the mail {:?} ({}): {e}; dropped",
                    draft.subject,
                    draft
                        .request
                        .as_ref()
                        .map_or(draft.kind.as_str(), RequestId::as_str)
                ),
            }
            Ok(())
        });
        if let Err(e) = result {
            log::warn!("mail draft {} waits for the next pass: {e}", draft.id);
        }
    }
    Ok(())
}

/// A draft as a mail: in its request's thread, or a notice about no request. `None` for a
/// thread mail whose request is unknown: it is never sent outside its thread.
fn compose_draft(
    config: &Config,
    draft: &Draft,
    row: Option<&RequestRow>,
) -> Result<Option<Composed>, MailError> {
    if draft.request.is_none() && draft.number.is_none() {
        return notice(
            config,
            &draft.kind,
            &draft.subject,
            &draft.text,
            draft.in_reply_to.as_deref(),
            (draft.id, draft.created_at),
        )
        .map(Some);
    }
    let (Some(row), Some(n)) = (row, draft.number) else {
        return Ok(None);
    };
    thread(
        config,
        row,
        n,
        &draft.subject,
        &draft.text,
        draft.in_reply_to.as_deref(),
        draft.with_request,
    )
    .map(Some)
}

/// One mail listing requests held back by the hourly limit.
pub fn digest(
    config: &Config,
    rows: &[RequestRow],
    digest_id: &str,
) -> Result<Composed, MailError> {
    let message_id = format!("digest-{digest_id}@{}", domain(config));
    let subject = format!(
        "[clawdbot] Digest: {} requests wait for approval",
        rows.len()
    );
    let mut body = format!("{REPLY_MARKER}\n\n");
    let _ = writeln!(
        body,
        "More than {} requests arrived within an hour, so these come together in one mail.\n\
         An unusual burst may mean the agent is misbehaving.\n",
        config.mail.max_per_hour
    );
    for row in rows {
        let _ = writeln!(body, "==== {} ====", row.id);
        write_request(&mut body, config, row);
        body.push('\n');
    }
    let _ = write!(
        body,
        "How to answer: one request per reply: write its id and APPROVE or DENY\n\
         (\"APPROVE R-…\"); a reply naming several ids does not count.\n\
         `clawdbot status` on the host lists them too.\n"
    );
    build(config, &message_id, &subject, None, body, None)
}

fn write_request(body: &mut String, config: &Config, row: &RequestRow) {
    let _ = writeln!(body, "Summary: {}", row.summary);
    let _ = writeln!(body, "Reason (the agent's words): {}", row.reason);
    match &row.argv {
        Some(argv) => {
            let exact = serde_json::to_string(argv).unwrap_or_default();
            let _ = writeln!(body, "Will run, exactly (argv, no shell): {exact}");
        }
        None => {
            let _ = writeln!(
                body,
                "Will run: a freeform task for the admin agent, described as:\n{}",
                indent(row.details.as_deref().unwrap_or(""))
            );
            if !crate::core::agent::enabled(config, crate::core::agent::Use::Execute) {
                let _ = writeln!(
                    body,
                    "No admin agent is configured: approved or not, this cannot be carried out."
                );
            }
        }
    }
    if let Some(preview) = row.preview.as_deref() {
        let shown = crate::platform::apt::Stored::describe_json(preview);
        let _ = writeln!(body, "Simulated: {shown}");
    }
    let _ = writeln!(body, "Risk: {}", row.risk);
    for reason in &row.risk_reasons {
        let _ = writeln!(body, "  - {reason}");
    }
    let _ = writeln!(body, "Hash: sha256:{}", row.hash);
    let _ = writeln!(
        body,
        "Deadline: {}",
        time::local(row.deadline_at, &config.operator.timezone.tz)
    );
    let _ = writeln!(body, "Reply key: {}", row.reply_key);
}

/// 8bit text with CRLF line ends, so the hash and argv stay on one line each as the operator
/// reads them (lettre would fold any line of 76 or more with quoted-printable). RFC 5322 allows
/// 998 octets a line; a body with a longer line (long freeform details) is left to lettre.
fn encode_body(text: &str) -> Body {
    let crlf = text.replace('\r', "").replace('\n', "\r\n");
    if crlf.split("\r\n").all(|line| line.len() <= 998) && !crlf.contains('\0') {
        let encoding = if crlf.is_ascii() {
            ContentTransferEncoding::SevenBit
        } else {
            ContentTransferEncoding::EightBit
        };
        Body::dangerous_pre_encoded(crlf.into_bytes(), encoding)
    } else {
        Body::new(crlf)
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

/// `thread` is (In-Reply-To, References) for a mail in an existing thread.
fn build(
    config: &Config,
    message_id: &str,
    subject: &str,
    row: Option<&RequestRow>,
    body: String,
    thread: Option<(String, String)>,
) -> Result<Composed, MailError> {
    if config.operator.emails.is_empty() {
        return Err(MailError::NoOperator);
    }
    let from = config.mail.from.clone();
    let mut builder = Message::builder()
        .from(from.clone())
        .subject(header_safe(subject))
        .message_id(Some(format!("<{message_id}>")))
        .header(AutoSubmitted)
        .header(ContentType::TEXT_PLAIN);
    if let Some((in_reply_to, references)) = thread {
        builder = builder.in_reply_to(in_reply_to).references(references);
    }
    let body = encode_body(&body);
    for to in &config.operator.emails {
        builder = builder.to(Mailbox::new(None, to.clone()));
    }
    if let Some(row) = row {
        builder = builder.header(XClawdbotRequest(row.id.to_string()));
        if config.mail.plus_addressing {
            let user = format!("{}+{}", from.email.user(), row.reply_key);
            if let Ok(reply_to) = Address::new(user, from.email.domain()) {
                builder = builder.reply_to(Mailbox::new(from.name.clone(), reply_to));
            }
        }
    }
    let message = builder.body(body).map_err(|source| MailError::Build {
        message_id: message_id.to_string(),
        source,
    })?;
    Ok(Composed {
        message_id: message_id.to_string(),
        sender: from.email.to_string(),
        recipients: config
            .operator
            .emails
            .iter()
            .map(Address::to_string)
            .collect(),
        bytes: message.formatted(),
    })
}

/// A configured transport, ready to send.
pub enum Sender {
    /// `.eml` files into this directory.
    File(PathBuf),
    /// An SMTP relay.
    Smtp(Box<SmtpTransport>, String, u16),
    /// The sendmail command.
    Sendmail(SendmailTransport, PathBuf),
    /// The Gmail API.
    Gmail(Box<Config>),
}

impl Sender {
    /// Set up the configured transport (reads the SMTP password if one is needed).
    pub fn new(config: &Config) -> Result<Sender, MailError> {
        match config.mail.transport {
            Transport::File => Ok(Sender::File(config.paths.outbox())),
            Transport::Sendmail => {
                let command = config.mail.sendmail.command.path().to_path_buf();
                Ok(Sender::Sendmail(
                    SendmailTransport::new_with_command(&command),
                    command,
                ))
            }
            Transport::Smtp => smtp(config),
            Transport::Gmail => Ok(Sender::Gmail(Box::new(config.clone()))),
        }
    }

    /// Deliver one mail from the outbox (`store` keeps the Gmail token and thread ids).
    pub fn send(&self, mail: &OutboxMail, store: &mut Store) -> Result<(), MailError> {
        match self {
            Sender::Gmail(config) => crate::channels::gmail::send::send(config, store, mail)
                .map_err(|e| MailError::Gmail(e.to_string())),
            Sender::File(dir) => {
                let name = mail.message_id.replace(['/', '\\'], "_");
                atomic::write(&dir.join(format!("{name}.eml")), &mail.message, 0o640)?;
                Ok(())
            }
            Sender::Smtp(transport, host, port) => transport
                .send_raw(&envelope(mail)?, &mail.message)
                .map(drop)
                .map_err(|source| MailError::Smtp {
                    host: host.clone(),
                    port: *port,
                    source,
                }),
            Sender::Sendmail(transport, command) => transport
                .send_raw(&envelope(mail)?, &mail.message)
                .map_err(|source| MailError::Sendmail {
                    command: command.clone(),
                    source,
                }),
        }
    }

    /// Check that the transport answers (for `clawdbot doctor`).
    pub fn probe(&self) -> Result<String, String> {
        match self {
            Sender::Gmail(config) => crate::channels::gmail::api::Api::new(config)
                .map(|_| format!("Gmail credential {:?} loads", config.gmail.credential))
                .map_err(|e| e.to_string()),
            Sender::File(dir) => {
                let probe = dir.join(".doctor-probe");
                atomic::write(&probe, b"", 0o600).map_err(|e| e.to_string())?;
                let _ = std::fs::remove_file(&probe);
                Ok(format!("outbox {} is writable", dir.display()))
            }
            Sender::Smtp(transport, host, port) => match transport.test_connection() {
                Ok(true) => Ok(format!("SMTP relay {host}:{port} answers")),
                Ok(false) => Err(format!(
                    "SMTP relay {host}:{port} did not accept a connection"
                )),
                Err(e) => Err(format!("SMTP relay {host}:{port}: {e}")),
            },
            Sender::Sendmail(_, command) => {
                use std::os::unix::fs::PermissionsExt;
                match std::fs::metadata(command) {
                    Ok(m) if m.permissions().mode() & 0o111 != 0 => {
                        Ok(format!("{} is executable", command.display()))
                    }
                    Ok(_) => Err(format!("{} is not executable", command.display())),
                    Err(e) => Err(format!("{}: {e}", command.display())),
                }
            }
        }
    }
}

fn smtp(config: &Config) -> Result<Sender, MailError> {
    let smtp = &config.mail.smtp;
    let port = smtp.port();
    let fail = |source| MailError::Smtp {
        host: smtp.host.clone(),
        port,
        source,
    };
    let tls = || TlsParameters::new(smtp.host.clone()).map_err(fail);
    let tls = match smtp.security {
        Security::Starttls => Tls::Required(tls()?),
        Security::Tls => Tls::Wrapper(tls()?),
        Security::None => Tls::None,
    };
    let mut builder = SmtpTransport::builder_dangerous(smtp.host.as_str())
        .port(port)
        .tls(tls)
        .timeout(Some(smtp.timeout.get().max(Duration::from_secs(1))));
    if let Some(user) = &smtp.username {
        let password = credentials::read_configured(&smtp.password_credential)?;
        builder = builder.credentials(Credentials::new(
            user.clone(),
            password.expose().to_string(),
        ));
    }
    Ok(Sender::Smtp(
        Box::new(builder.build()),
        smtp.host.clone(),
        port,
    ))
}

fn envelope(mail: &OutboxMail) -> Result<Envelope, MailError> {
    let parse = |a: &str| {
        a.parse::<Address>().map_err(|_| MailError::Address {
            message_id: mail.message_id.clone(),
            address: a.to_string(),
        })
    };
    let to = mail
        .recipients
        .iter()
        .map(|a| parse(a))
        .collect::<Result<Vec<_>, _>>()?;
    Envelope::new(Some(parse(&mail.sender)?), to).map_err(|_| MailError::Address {
        message_id: mail.message_id.clone(),
        address: "(no recipient)".into(),
    })
}

/// When to try a failed mail again: one minute, doubling, at most an hour.
pub fn backoff(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.clamp(0, 6)).unwrap_or(6);
    (60i64 << exp).min(3600)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::state::State;
    use crate::platform::ids::RequestId;
    use std::path::Path;

    fn config() -> Config {
        Config::from_text(
            Path::new("t.toml"),
            "[operator]\nemails = [\"ops@example.org\"]\ntimezone = \"Europe/Amsterdam\"\n[mail]\nfrom = \"clawdbot <clawdbot@example.org>\"\nplus_addressing = true\n",
        )
        .unwrap()
    }

    fn row(summary: &str) -> RequestRow {
        RequestRow {
            id: RequestId::parse("R-20261126-7Q2M").unwrap(),
            state: State::Evaluating,
            kind: "restart_container".into(),
            summary: summary.into(),
            reason: "Searches time out".into(),
            details: None,
            client_ref: None,
            reply_session: None,
            hash: "ab".repeat(32),
            risk: "medium".into(),
            risk_reasons: vec!["action restart_container is configured as medium".into()],
            argv: Some(vec!["docker".into(), "restart".into(), "searxng".into()]),
            reply_key: "K3Y".into(),
            mails: 0,
            created_at: 1_795_684_500,
            deadline_at: 1_795_770_900,
            updated_at: 1_795_684_500,
            decided_by: None,
            decision_note: None,
            approved_hash: None,
            exec_exit: None,
            exec_output: None,
            exec_finished_at: None,
            reminded: false,
            canonical: String::new(),
            preview: None,
            filed_by: None,
        }
    }

    #[test]
    fn the_approval_mail_says_exactly_what_will_run() {
        let mail = approval(&config(), &row("Restart the searxng container"), 1).unwrap();
        // Unfold long headers (RFC 5322 section 2.2.3) before looking at them.
        let text = String::from_utf8(mail.bytes).unwrap().replace("\r\n ", " ");
        assert!(text.contains("Subject: [clawdbot R-20261126-7Q2M] Approve? Restart the searxng container (risk: medium)\r\n"), "{text}");
        assert!(text.contains("Message-ID: <R-20261126-7Q2M.1@example.org>\r\n"));
        assert!(text.contains("X-Clawdbot-Request: R-20261126-7Q2M\r\n"));
        assert!(text.contains("Reply-To: clawdbot <clawdbot+K3Y@example.org>\r\n"));
        assert!(text.contains("Auto-Submitted: auto-generated\r\n"));
        assert!(
            text.contains(r#"Will run, exactly (argv, no shell): ["docker","restart","searxng"]"#)
        );
        assert!(text.contains(&format!("Hash: sha256:{}", "ab".repeat(32))));
        assert!(text.contains("Deadline: 2026-11-27 10:15 CET (+01:00)"));
        assert!(text.contains("reply APPROVE or DENY"));
        assert_eq!(mail.recipients, ["ops@example.org"]);
    }

    #[test]
    fn no_request_text_can_add_a_header() {
        let mail = approval(&config(), &row("Restart\r\nBcc: someone@example.com"), 1).unwrap();
        let text = String::from_utf8(mail.bytes).unwrap();
        let headers = text.split("\r\n\r\n").next().unwrap();
        assert!(!headers.lines().any(|l| l.starts_with("Bcc:")), "{headers}");
        assert_eq!(mail.recipients, ["ops@example.org"]);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(0), 60);
        assert_eq!(backoff(1), 120);
        assert_eq!(backoff(10), 3600);
    }
}
