//! The command line of `clawdbot-secrets` (kept here so man pages and completions are made from it).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// The program's name, in messages and usage.
pub const PROGRAM: &str = "clawdbot-secrets";

/// Keep the host's secrets rotated on schedule.
#[derive(Parser)]
#[command(name = PROGRAM, version, after_help = "\
Secrets are listed in the configuration, one table each:

  [secrets.gmail-oauth]
  cadence = \"quarterly\"        # monthly, quarterly, semiannual, annual, or days: \"90d\"
  where = \"/etc/credstore/clawdbot.gmail-oauth.json (Google Cloud console)\"
  owner = \"ops@example.org\"
  rotated = \"2026-09-01\"       # optional: the last rotation before the suite knew of it

Without a command, the daily run (clawdbot-secrets.timer): one mail listing every secret that
reached 14, 7 or 1 days before its due date, or another week overdue, since the last mail;
the same reminder is never sent twice. A secret never recorded counts from the day it was
first seen.

Examples:
  clawdbot-secrets list
  clawdbot-secrets rotated gmail-oauth
  clawdbot-secrets rotated bridge-secret --date 2026-11-20

Exit status: 0 done, 64 unknown secret or bad date, 75 the database is busy, 78 configuration.")]
pub struct Cli {
    /// Configuration file (drop-ins are read from FILE.d/).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print JSON.
    #[arg(long, global = true)]
    pub json: bool,
    /// Log debug messages.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Every secret with its last rotation and due date, most urgent first.
    List,
    /// Record that a secret was rotated (today, or on --date).
    Rotated {
        /// The secret's name, as in [secrets.NAME].
        name: String,
        /// The day it was rotated (YYYY-MM-DD), if not today.
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<jiff::civil::Date>,
    },
}
