//! `clawdbot-broker`: one pass of the approval loop's broker.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use clawdbot::config::Config;
use clawdbot::exit::{self, Exit};
use clawdbot::{broker, journal};

const PROGRAM: &str = "clawdbot-broker";

/// The broker: takes the agent's requests from the spool, records and assesses them, and mails
/// the operator.
#[derive(Parser)]
#[command(name = PROGRAM, version, after_help = "\
Started by clawdbot-broker.path when a request file or reply mail arrives, and every
5 minutes by clawdbot-broker.timer for retries and expiry. Safe to run by hand at any time:
passes never overlap, and a pass that was killed is finished by the next.

Exit status: 0 done (failed mails wait in the outbox for a retry), 74 I/O error,
75 retry later, 78 configuration error.")]
struct Cli {
    /// Configuration file (drop-ins are read from FILE.d/).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log debug messages.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one pass: intake, risk, mail, expiry, outbox.
    Run {
        /// Print what the pass did as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    journal::init(cli.verbose, false);
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => return exit::report(PROGRAM, &e),
    };
    match cli.command {
        Command::Run { json } => match broker::run(&config) {
            Ok(report) => {
                if json {
                    println!("{}", serde_json::to_string(&report).unwrap_or_default());
                }
                Exit::Ok.into()
            }
            Err(e) => exit::report(PROGRAM, &e),
        },
    }
}
