//! The command line of `clawdbot-broker` (kept here so man pages and completions are made from it).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
