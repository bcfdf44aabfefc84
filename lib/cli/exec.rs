//! The command line of `clawdbot-exec` (kept here so man pages and completions are made from it).

use super::Common;
use crate::exec;
use crate::platform::exit::{self, Exit};
use clap::Parser;
use std::process::ExitCode;

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
    #[command(flatten)]
    pub common: Common,
    /// Print what ran as JSON.
    #[arg(long)]
    pub json: bool,
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
    match exec::run(&config) {
        Ok(report) => {
            if cli.json {
                super::print_json(&report);
            }
            Exit::Ok.into()
        }
        Err(e) => exit::report(PROGRAM, &e),
    }
}
