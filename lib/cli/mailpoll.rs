//! The command line of `clawdbot-mailpoll` (kept here so man pages and completions are made from it).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// The program's name, in messages and usage.
pub const PROGRAM: &str = "clawdbot-mailpoll";

/// Bring the operator's replies from Gmail into the reply Maildir.
#[derive(Parser)]
#[command(name = PROGRAM, version, after_help = "\
Started every 10 seconds by clawdbot-mailpoll.timer. An idle poll is one history.list call;
only mail that may answer the broker (a [clawdbot R-…] subject, a reference to one of its
mails, its reply address) is fetched whole, written to the reply Maildir, and labelled.
After a 429 or 5xx the poller waits (Retry-After, else doubling up to 15 min), and a revoked
grant is reported once.

Examples:
  clawdbot-mailpoll authorize --client-id ID --client-secret SECRET --output /etc/credstore/clawdbot.gmail-oauth.json
  clawdbot-mailpoll --json

Exit status: 0 done, 69 Gmail refused, 75 retry later (network, 429, 5xx), 78 configuration
or authorisation.")]
pub struct Cli {
    /// Configuration file (drop-ins are read from FILE.d/).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print what the poll did as JSON.
    #[arg(long)]
    pub json: bool,
    /// Log debug messages.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Get a refresh token for the gmail.modify scope and store the credential (mode 0600).
    Authorize {
        /// The OAuth client id (a "Desktop app" client in Google Cloud).
        #[arg(long)]
        client_id: String,
        /// The OAuth client secret.
        #[arg(long)]
        client_secret: String,
        /// Where to write the credential; never over an existing file.
        #[arg(long, value_name = "FILE")]
        output: PathBuf,
    },
}
