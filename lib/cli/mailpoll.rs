//! The command line of `clawdbot-mailpoll` (kept here so man pages and completions are made from it).

use std::path::PathBuf;

use super::Common;
use crate::channels::gmail::{authorize, poll};
use crate::platform::exit::{self, Exit};
use clap::{Parser, Subcommand};
use std::process::ExitCode;

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
    #[command(flatten)]
    pub common: Common,
    /// Print what the poll did as JSON.
    #[arg(long)]
    pub json: bool,
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

impl super::Program for Cli {
    const NAME: &'static str = PROGRAM;

    fn common(&self) -> &Common {
        &self.common
    }
}

/// The program: parse the command line, start logging, run, and exit with a sysexits
/// status.
pub fn main() -> ExitCode {
    let (cli, config) = match super::start_with_config::<Cli>() {
        Ok(started) => started,
        Err(code) => return code,
    };
    let result = match cli.command {
        Some(Command::Authorize {
            client_id,
            client_secret,
            output,
        }) => {
            let stdin = std::io::stdin();
            authorize::run(
                &config,
                &client_id,
                &client_secret,
                &output,
                &mut stdin.lock(),
                &mut std::io::stdout(),
            )
        }
        None => poll::run(&config).map(|report| {
            if cli.json {
                super::print_json(&report);
            }
        }),
    };
    match result {
        Ok(()) => Exit::Ok.into(),
        Err(e) => exit::report(PROGRAM, &e),
    }
}
