//! The command line of `clawdbot-exec` (kept here so man pages and completions are made from it).

use std::path::PathBuf;

use clap::Parser;

/// The program's name, in messages and usage.
pub const PROGRAM: &str = "clawdbot-exec";

/// Run every approved request once: check the approval and the hash in the database, claim it,
/// run its argv without a shell, record the result.
#[derive(Parser)]
#[command(name = PROGRAM, version, after_help = "\
Started by clawdbot-exec.path when the broker leaves a trigger in /var/lib/clawdbot/approved/;
the trigger only wakes it, the approval itself is read from the database. A request is claimed
(Approved -> Executing) in its own transaction before it runs, so it never runs twice: a run
interrupted by a crash or reboot ends as Failed, \"outcome unknown\".

Exit status: 0 done, 74 I/O error, 75 retry later, 78 configuration error.")]
pub struct Cli {
    /// Configuration file (drop-ins are read from FILE.d/).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print what ran as JSON.
    #[arg(long)]
    pub json: bool,
    /// Log debug messages.
    #[arg(short, long)]
    pub verbose: bool,
}
