//! `clawdbot-broker`: one pass of the approval loop's broker.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use clawdbot::config::Config;
use clawdbot::exit::{self, Exit};
use clawdbot::{broker, interpret as reading, journal};

const PROGRAM: &str = "clawdbot-broker";

/// The broker: takes the agent's requests from the spool, records and assesses them, mails the
/// operator, reads the replies, has approved actions carried out, and tells the agent.
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
    /// Run one pass: requests, replies, execution, expiry, outbox, messages to the agent.
    Run {
        /// Print what the pass did as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the verdict for one reply mail as JSON, changing nothing. With a configuration,
    /// also whether its sender and thread would be accepted, and why.
    Interpret {
        /// The mail, as a .eml file.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = match exit::parse_args::<Cli>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    journal::init(cli.verbose, false);
    match cli.command {
        Command::Run { json } => run(cli.config.as_deref(), json),
        Command::Interpret { file } => interpret(&file, cli.config.as_deref()),
    }
}

fn run(config: Option<&std::path::Path>, json: bool) -> ExitCode {
    let config = match Config::load(config) {
        Ok(config) => config,
        Err(e) => return exit::report(PROGRAM, &e),
    };
    match broker::run(&config) {
        Ok(report) => {
            if json {
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
            }
            Exit::Ok.into()
        }
        Err(e) => exit::report(PROGRAM, &e),
    }
}

fn interpret(file: &std::path::Path, config: Option<&std::path::Path>) -> ExitCode {
    match reading::file(file, config) {
        Ok(verdict) => {
            println!("{}", serde_json::to_string(&verdict).unwrap_or_default());
            Exit::Ok.into()
        }
        Err(e) => exit::report(PROGRAM, &e),
    }
}
