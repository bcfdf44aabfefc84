//! `clawdbot-mailpoll`: one Gmail poll, or the one-time authorisation.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use clawdbot::config::Config;
use clawdbot::exit::{self, Exit};
use clawdbot::gmail::{authorize, poll};
use clawdbot::journal;

const PROGRAM: &str = "clawdbot-mailpoll";

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
struct Cli {
    /// Configuration file (drop-ins are read from FILE.d/).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print what the poll did as JSON.
    #[arg(long)]
    json: bool,
    /// Log debug messages.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
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

fn main() -> ExitCode {
    let cli = match exit::parse_args::<Cli>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    journal::init(cli.verbose, false);
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => return exit::report(PROGRAM, &e),
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
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
            }
        }),
    };
    match result {
        Ok(()) => Exit::Ok.into(),
        Err(e) => exit::report(PROGRAM, &e),
    }
}
