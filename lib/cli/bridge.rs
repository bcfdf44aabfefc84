//! The command line of `clawdbot-bridge` (kept here so man pages and completions are made from it).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
  clawdbot-bridge keygen > /etc/credstore/clawdbot.bridge-secret   (then chmod 600)
  clawdbot-bridge send --message \"Done: searxng restarted\" --request R-20261126-7Q2M
  clawdbot-bridge verify --envelope /srv/clawdbot/inbox/msg_….json

Exit status: 0 done, 65 refused (bad body or failed verification), 69 the gateway refused
the message for good, 75 not delivered yet (kept, and resent under the same id), 78
configuration: ours, or a gateway setting that refuses the message (kept; resend after the fix).")]
pub struct Cli {
    /// Configuration file (drop-ins are read from FILE.d/).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log debug messages.
    #[arg(short, long, global = true)]
    pub verbose: bool,
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
