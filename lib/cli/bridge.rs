//! The command line of `clawdbot-bridge` (kept here so man pages and completions are made from it).

use std::path::PathBuf;

use super::Common;
use crate::channels::bridge::signature::Key;
use crate::channels::bridge::{self, BridgeError};
use crate::core::store::Store;
use crate::intake::submit;
use crate::platform::atomic::FileError;
use crate::platform::config::Config;
use crate::platform::exit::{self, Exit};
use crate::platform::time;
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// The program's name, in messages and usage.
pub const PROGRAM: &str = "clawdbot-bridge";

/// Sign and deliver messages to the agent, or verify one on the receiving side.
#[derive(Parser)]
#[command(name = PROGRAM, version, after_help = "\
Messages are signed in the Standard Webhooks format (headers webhook-id, webhook-timestamp,
webhook-signature; HMAC-SHA256 over \"id.timestamp.body\") with every secret in
[bridge] secrets, so any standardwebhooks library verifies them. A timestamp more than 300 s
off, or an id seen before, is refused.

Examples:
  clawdbot-bridge keygen --output /etc/credstore/clawdbot.bridge-secret   (0600, never overwrites)
  clawdbot-bridge send --message \"Done: searxng restarted\" --request R-20261126-7Q2M
  clawdbot-bridge verify --envelope /srv/clawdbot/inbox/msg_….json

Exit status: 0 done, 65 refused (bad body or failed verification), 69 the gateway refused
the message for good, 75 not delivered yet (kept, and resent under the same id), 78
configuration: ours, or a gateway setting that refuses the message (kept; resend after the fix).")]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Print a new secret: whsec_ and 32 random bytes in base64.
    Keygen {
        /// Write it to FILE (mode 0600, never over an existing file) instead of printing it.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Sign and deliver one message by the configured mode (drop or http).
    Send {
        /// Text for the agent, wrapped as {"type":"message","text":…,"message":…,"sent_at":…}.
        #[arg(long, required_unless_present = "json", conflicts_with = "json")]
        message: Option<String>,
        /// A JSON object to send ("-" reads stdin), in canonical form: compact, keys sorted.
        /// Numbers must be integers within 2^53 and no key an array index, so that a verifier
        /// that re-serializes it (OpenClaw's hook transform) sees the bytes that were signed.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// The request the message is about.
        #[arg(long, value_name = "ID")]
        request: Option<String>,
        /// The OpenClaw session it should join (sessionKey, sessionMode "persistent"), such as
        /// agent:main:main. With --json, put those fields in the body.
        #[arg(long, value_name = "KEY", conflicts_with = "json")]
        session: Option<String>,
    },
    /// Deliver again every recorded message not yet delivered, under its own id.
    Resend,
    /// Verify a message as the receiver; print its body, or the reason it is refused.
    Verify {
        /// A drop-mode envelope file.
        #[arg(long, value_name = "FILE", required_unless_present = "body", conflicts_with_all = ["body", "header"])]
        envelope: Option<PathBuf>,
        /// The body, byte for byte ("-" reads stdin).
        #[arg(long, value_name = "FILE")]
        body: Option<PathBuf>,
        /// A header, "Name: value"; give webhook-id, webhook-timestamp and webhook-signature.
        #[arg(long, value_name = "HEADER")]
        header: Vec<String>,
    },
}

impl super::Program for Cli {
    const NAME: &'static str = PROGRAM;

    fn common(&self) -> &Common {
        &self.common
    }
}

/// The program: parse the command line, start logging, run, and exit with a sysexits
/// status.
pub fn main() -> ExitCode {
    let cli = match super::start::<Cli>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match run(cli.common.config.as_deref(), cli.command) {
        Ok(()) => Exit::Ok.into(),
        Err(e) => exit::report(PROGRAM, &e),
    }
}

/// The configuration, keys and store every command but keygen needs.
fn open(config: Option<&Path>) -> Result<(Config, Vec<Key>, Store), BridgeError> {
    let config = Config::load(config)?;
    let keys = bridge::keys(&config)?;
    let store = Store::open(&config.paths.database())?;
    Ok((config, keys, store))
}

fn run(config_path: Option<&Path>, command: Command) -> Result<(), BridgeError> {
    match command {
        // keygen needs no configuration: it must work before there is one.
        Command::Keygen { output: None } => {
            println!("{}", bridge::signature::keygen()?);
            Ok(())
        }
        Command::Keygen { output: Some(path) } => {
            bridge::write_new_secret(&path)?;
            println!("{}", path.display());
            Ok(())
        }
        Command::Send {
            message,
            json,
            request,
            session,
        } => {
            let (config, keys, mut store) = open(config_path)?;
            let body = match (message, json) {
                (Some(text), _) => crate::core::message::message_body(
                    &text,
                    request.as_deref(),
                    session.as_deref(),
                    time::now(),
                ),
                (None, Some(path)) => read(&path, &config)?,
                (None, None) => return Err(BridgeError::Body("give --message or --json".into())),
            };
            let sent = bridge::send(&config, &mut store, &keys, &body, request.as_deref())?;
            println!("{} {}", sent.id, sent.to);
            Ok(())
        }
        Command::Resend => {
            let (config, keys, mut store) = open(config_path)?;
            let mut last = Ok(());
            for result in bridge::resend(&config, &mut store, &keys)? {
                match result {
                    Ok(sent) => println!("{} {}", sent.id, sent.to),
                    Err(e) => {
                        eprintln!("{PROGRAM}: {e}");
                        last = Err(e);
                    }
                }
            }
            last
        }
        Command::Verify {
            envelope,
            body,
            header,
        } => {
            let (config, keys, mut store) = open(config_path)?;
            let now = time::now();
            match (envelope, body) {
                (Some(path), _) => {
                    let envelope = read_envelope(&path, &config)?;
                    bridge::verify_envelope(&keys, &mut store, &envelope, &config, now, print)
                }
                (None, Some(path)) => {
                    let body = read(&path, &config)?;
                    let headers = bridge::parse_header_lines(&header)?;
                    bridge::verify_message(&keys, &mut store, &headers, &body, &config, now, print)
                }
                (None, None) => Err(BridgeError::Envelope("give --envelope or --body".into())),
            }
        }
    }
}

/// Hand a verified body to the caller: it counts as received once it is flushed to stdout.
fn print(body: &[u8]) -> Result<(), BridgeError> {
    let mut out = std::io::stdout().lock();
    out.write_all(body)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(|e| BridgeError::File(FileError::new("cannot write", Path::new("stdout"), e)))
}

/// A body given on the command line, of at most `[bridge] max_body_bytes`.
fn read(path: &Path, config: &Config) -> Result<Vec<u8>, BridgeError> {
    let limit = config.bridge.max_body_bytes.get();
    submit::read_document(path, limit, "[bridge] max_body_bytes")
        .map_err(|e| BridgeError::Body(e.to_string()))
}

/// An envelope given on the command line: the body as an escaped JSON string (up to six
/// bytes for one) beside its headers.
fn read_envelope(path: &Path, config: &Config) -> Result<Vec<u8>, BridgeError> {
    let limit = config.bridge.max_body_bytes.get().saturating_mul(8);
    submit::read_document(path, limit, "8 × [bridge] max_body_bytes, for an envelope")
        .map_err(|e| BridgeError::Body(e.to_string()))
}
