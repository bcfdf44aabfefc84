//! `clawdbot-exec`: carries out approved requests, at most once each.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use clawdbot::config::Config;
use clawdbot::exit::{self, Exit};
use clawdbot::{exec, journal};

const PROGRAM: &str = "clawdbot-exec";

/// Run every approved request once: check the approval and the hash in the database, claim it,
/// run its argv without a shell, record the result.
#[derive(Parser)]
#[command(name = PROGRAM, version, after_help = "\
Started by clawdbot-exec.path when the broker leaves a trigger in /var/lib/clawdbot/approved/;
the trigger only wakes it, the approval itself is read from the database. A request is claimed
(Approved -> Executing) in its own transaction before it runs, so it never runs twice: a run
interrupted by a crash or reboot ends as Failed, \"outcome unknown\".

Exit status: 0 done, 74 I/O error, 75 retry later, 78 configuration error.")]
struct Cli {
    /// Configuration file (drop-ins are read from FILE.d/).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print what ran as JSON.
    #[arg(long)]
    json: bool,
    /// Log debug messages.
    #[arg(short, long)]
    verbose: bool,
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
    match exec::run(&config) {
        Ok(report) => {
            if cli.json {
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
            }
            Exit::Ok.into()
        }
        Err(e) => exit::report(PROGRAM, &e),
    }
}
