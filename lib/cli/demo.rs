//! `clawdbot demo`: runs the loop as far as it exists on a fresh instance and shows a newcomer
//! each step: the request the agent files, the broker's pass, the mail the operator gets, and
//! the audit trail.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::broker::{self, BrokerError};
use crate::cli::init::{self, InitError};
use crate::core::inspect::{self, InspectError};
use crate::intake::submit::{self, Fields, SubmitError};
use crate::platform::config::{Config, ConfigError};
use crate::platform::exit::{Exit, ExitStatus};

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Making the instance failed.
    #[error(transparent)]
    Init(#[from] InitError),
    /// Its configuration did not load.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Filing the request failed.
    #[error(transparent)]
    Submit(#[from] SubmitError),
    /// The broker failed.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// Reading the result failed.
    #[error(transparent)]
    Inspect(#[from] InspectError),
    /// The outbox could not be read.
    #[error("cannot read the outbox {}: {source}", path.display())]
    Outbox {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl ExitStatus for DemoError {
    fn exit(&self) -> Exit {
        match self {
            DemoError::Init(e) => e.exit(),
            DemoError::Config(e) => e.exit(),
            DemoError::Submit(e) => e.exit(),
            DemoError::Broker(e) => e.exit(),
            DemoError::Inspect(e) => e.exit(),
            DemoError::Outbox { .. } => Exit::IoErr,
        }
    }
}

/// A harmless action for the demo, so that the approved request really runs.
const DEMO_ACTION: &str = r#"# Added by `clawdbot demo`: a harmless action to approve.
[actions.say_hello]
command = ["echo", "hello,", "{name}"]
risk = "low"
timeout = "10s"
params = { name = "^[a-z]{1,20}$" }
"#;

/// Run the demo in `dir` (which must not hold an instance yet) and return the narration.
pub fn run(dir: &Path) -> Result<String, DemoError> {
    let mut out = String::new();
    let config_path = init::init(dir)?;
    let drop_in = dir.join("clawdbot.toml.d/50-demo.toml");
    std::fs::create_dir_all(dir.join("clawdbot.toml.d")).map_err(|source| DemoError::Outbox {
        path: drop_in.clone(),
        source,
    })?;
    std::fs::write(&drop_in, DEMO_ACTION).map_err(|source| DemoError::Outbox {
        path: drop_in.clone(),
        source,
    })?;
    let config = Config::load(Some(&config_path))?;
    let _ = writeln!(
        out,
        "1. A fresh instance: clawdbot init {}\n   configuration: {} (+ {}: a harmless echo action)\n",
        dir.display(),
        config_path.display(),
        drop_in.display()
    );

    let fields = Fields {
        kind: Some("say_hello".into()),
        summary: Some("Say hello to the operator".into()),
        reason: Some("To show how a request travels".into()),
        params: vec!["name=operator".into()],
        client_ref: Some("demo-1".into()),
        ..Fields::default()
    };
    let raw = submit::from_fields(&fields)?;
    let written = submit::submit(config.rules(), config.paths.spool.path(), &raw)?;
    let _ = writeln!(
        out,
        "2. The agent files a request:\n   clawdbot-request --kind say_hello --summary \"Say hello to the operator\" --param name=operator\n   wrote {}:\n   {}\n",
        written.display(),
        String::from_utf8_lossy(&raw)
    );

    let report = broker::run(&config)?;
    let _ = writeln!(
        out,
        "3. systemd starts the broker (clawdbot-broker run): {} accepted, {} mail(s) sent.\n",
        report.accepted, report.sent
    );

    let mails = emls(&config.paths.outbox())?;
    let Some(first) = mails.first() else {
        return Ok(out);
    };
    let text = read(first)?;
    let _ = writeln!(out, "4. The operator's mail ({}):\n", first.display());
    out.push_str(&quote(&text));

    let store = inspect::open(&config)?;
    let Some(row) = inspect::status(&store)?.into_iter().next() else {
        return Ok(out);
    };
    drop(store);
    let reply = operator_reply(&row.id.to_string(), &text);
    let reply_path = config.paths.maildir().join("new").join("demo-reply.eml");
    std::fs::write(&reply_path, &reply).map_err(|source| DemoError::Outbox {
        path: reply_path.clone(),
        source,
    })?;
    let _ = writeln!(
        out,
        "\n5. The operator answers \"Yes, go ahead.\" (quoting the mail, as mail clients do); the reply lands in {}.\n",
        reply_path.display()
    );

    let report = broker::run(&config)?;
    let _ = writeln!(
        out,
        "6. The broker reads it: {} reply accepted; the action runs (inline on this instance, as root-only clawdbot-exec would on a host); {} request finished, {} message(s) to the agent.\n",
        report.replies.accepted, report.finished, report.notified
    );

    let inbox = config.paths.inbox.path();
    if let Some(envelope) = emls_with(inbox, "json")?.last() {
        let _ = writeln!(
            out,
            "7. What the agent finds in its inbox ({}), signed; check it with clawdbot-bridge verify --envelope FILE:\n",
            envelope.display()
        );
        out.push_str(&quote(&pretty_envelope(&read(envelope)?)));
    }
    if let Some(done) = emls(&config.paths.outbox())?.last() {
        let _ = writeln!(
            out,
            "\n8. And the operator's confirmation ({}):\n",
            done.display()
        );
        out.push_str(&quote(&read(done)?));
    }
    let store = inspect::open(&config)?;
    let shown = inspect::show(&store, row.id.as_str())?;
    let _ = writeln!(out, "\n9. The whole story, clawdbot show {}:\n", row.id);
    out.push_str(&indent(&inspect::show_text(&shown, &config)));
    let _ = writeln!(
        out,
        "\nTry it yourself: clawdbot --config {} status",
        config_path.display()
    );
    Ok(out)
}

/// A reply as Gmail would deliver it: authenticated, threaded, quoting the original.
fn operator_reply(id: &str, original: &str) -> String {
    let quoted: String = original
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or("")
        .lines()
        .map(|l| format!("> {l}\r\n"))
        .collect();
    format!(
        "Authentication-Results: mx.google.com;\r\n       dkim=pass header.i=@example.org;\r\n       dmarc=pass (p=NONE) header.from=example.org\r\n\
         From: Operator <ops@example.org>\r\nTo: clawdbot <clawdbot@example.org>\r\n\
         Subject: Re: [clawdbot {id}] Approve? Say hello to the operator (risk: low)\r\n\
         Message-ID: <demo-reply-{id}@example.org>\r\nIn-Reply-To: <{id}.1@example.org>\r\nReferences: <{id}.1@example.org>\r\n\
         Date: Thu, 26 Nov 2026 10:20:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Yes, go ahead.\r\n\r\nOn Thu, 26 Nov 2026 at 10:15, clawdbot <clawdbot@example.org> wrote:\r\n{quoted}"
    )
}

/// The envelope with its body unpacked, for reading (the file holds the exact signed text).
fn pretty_envelope(text: &str) -> String {
    let Ok(envelope) = serde_json::from_str::<serde_json::Value>(text) else {
        return text.to_string();
    };
    let body = envelope["body"]
        .as_str()
        .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
        .and_then(|b| serde_json::to_string_pretty(&b).ok())
        .unwrap_or_default();
    let headers = serde_json::to_string_pretty(&envelope["headers"]).unwrap_or_default();
    format!("headers: {headers}\nbody (signed as one line): {body}")
}

fn read(path: &Path) -> Result<String, DemoError> {
    std::fs::read_to_string(path).map_err(|source| DemoError::Outbox {
        path: path.to_path_buf(),
        source,
    })
}

fn quote(text: &str) -> String {
    text.lines().map(|l| format!("   | {l}\n")).collect()
}

fn emls(dir: &Path) -> Result<Vec<PathBuf>, DemoError> {
    emls_with(dir, "eml")
}

/// Files with this extension, oldest first.
fn emls_with(dir: &Path, extension: &str) -> Result<Vec<PathBuf>, DemoError> {
    let read = std::fs::read_dir(dir).map_err(|source| DemoError::Outbox {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = read
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .map(|p| {
            (
                std::fs::metadata(&p)
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH),
                p,
            )
        })
        .collect();
    files.sort();
    Ok(files.into_iter().map(|(_, p)| p).collect())
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("   {l}\n")).collect()
}
