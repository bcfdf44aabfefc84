//! The command line of `clawdbot` (kept here so man pages and completions are made from it).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// The program's name, in messages and usage.
pub const PROGRAM: &str = "clawdbot";

/// Operate clawdbot: make an instance, see open requests, check the host's setup.
#[derive(Parser)]
#[command(name = PROGRAM, version, after_help = "\
Examples:
  clawdbot demo                       run the approval loop on a throw-away instance
  clawdbot init /srv/clawdbot-test    make a self-contained instance
  clawdbot status                     open requests, oldest first
  clawdbot show R-20261126-7Q2M       one request and its audit trail
  clawdbot approve R-20261126-7Q2M    decide from this shell (or: deny, with --note WORDS)
  clawdbot doctor                     check configuration, directories, credentials, mail

Configuration: /etc/clawdbot/clawdbot.toml and clawdbot.toml.d/*.toml beside it,
or the file named by --config or $CLAWDBOT_CONFIG.
Exit status: 0 done, 64 usage, 65 bad data, 69 unavailable, 75 retry later, 78 configuration.")]
pub struct Cli {
    /// Configuration file (drop-ins are read from FILE.d/).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Log debug messages.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create a self-contained instance in DIR: configuration, directories, file mail transport.
    Init {
        /// Directory for the instance (created if missing).
        dir: PathBuf,
    },
    /// List open requests: id, state, age, risk, summary.
    Status,
    /// Show one request with its audit trail.
    Show {
        /// The request id, e.g. R-20261126-7Q2M.
        id: String,
    },
    /// Approve a request from this shell, as a reply would; then carry it out.
    Approve {
        /// The request id.
        id: String,
        /// Words for the audit trail and the agent.
        #[arg(long)]
        note: Option<String>,
    },
    /// Deny a request from this shell, as a reply would; the agent is told.
    Deny {
        /// The request id.
        id: String,
        /// Words for the audit trail and the agent.
        #[arg(long)]
        note: Option<String>,
    },
    /// Check configuration, directories and modes, credentials and the mail transport.
    Doctor,
    /// Run the approval loop on a fresh instance and show each step.
    Demo {
        /// Directory for the demo instance (default: a new one under /tmp).
        dir: Option<PathBuf>,
    },
}
