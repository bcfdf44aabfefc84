//! The command line of `clawdbot-broker` (kept here so man pages and completions are made from it).

use std::path::PathBuf;

use super::Common;
use crate::broker;
use crate::platform::exit::{self, Exit};
use crate::reply::interpret as reading;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// The program's name, in messages and usage.
pub const PROGRAM: &str = "clawdbot-broker";

/// The broker: takes the agent's requests from the spool, records and assesses them, mails the
/// operator, reads the replies, has approved actions carried out, and tells the agent.
#[derive(Parser)]
#[command(name = PROGRAM, version, after_help = "\
Started by clawdbot-broker.path when a request file or reply mail arrives, and every
5 minutes by clawdbot-broker.timer for retries and expiry. Safe to run by hand at any time:
passes never overlap, and a pass that was killed is finished by the next.

Exit status: 0 done (failed mails wait in the outbox for a retry), 74 I/O error,
75 retry later, 78 configuration error.")]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run one pass: requests, replies, execution, expiry, outbox, messages to the agent.
    Run {
        /// Print what the pass did as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the verdict for one reply mail as JSON, changing nothing: the intent, the rule
    /// that decided, the approval phrases found, every veto with where it stands, and the
    /// words outside the approval grammar. A reply approves only when its decisive text says
    /// nothing but yes and no veto stands anywhere the operator wrote. With a configuration,
    /// also whether its sender and thread would be accepted, and why.
    Interpret {
        /// The mail, as a .eml file.
        file: PathBuf,
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
    match cli.command {
        Command::Run { json } => run(&cli.common, json),
        Command::Interpret { file } => interpret(&file, cli.common.config.as_deref()),
    }
}

fn run(common: &Common, json: bool) -> ExitCode {
    let config = match common.load(PROGRAM) {
        Ok(config) => config,
        Err(code) => return code,
    };
    match broker::run(&config) {
        Ok(report) => {
            if json {
                super::print_json(&report);
            }
            Exit::Ok.into()
        }
        Err(e) => exit::report(PROGRAM, &e),
    }
}

fn interpret(file: &std::path::Path, config: Option<&std::path::Path>) -> ExitCode {
    match reading::file(file, config) {
        Ok(verdict) => {
            super::print_json(&verdict);
            Exit::Ok.into()
        }
        Err(e) => exit::report(PROGRAM, &e),
    }
}
