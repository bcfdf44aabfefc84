//! The command line of `clawdbot-maint` (kept here so man pages and completions are made from it).

use clap::Parser;

use super::Common;
use crate::jobs::maint::Tier;
use crate::jobs::maint::{self, Level, Options};
use crate::platform::exit::{self, Exit};
use std::process::ExitCode;

/// The program's name, in messages and usage.
pub const PROGRAM: &str = "clawdbot-maint";

/// Check and clean the host; mail the operator what needs a look.
#[derive(Parser)]
#[command(name = PROGRAM, version, after_help = "\
Started by clawdbot-maint-daily.timer (06:30), -weekly.timer (Saturday 04:30) and
-monthly.timer (the 15th, 03:00) through clawdbot-maint@TIER.service. Each check runs with a
time limit ([maint] check_timeout); one that fails or hangs becomes a finding. The daily
report is mailed only when something is warn or crit and differs from the last run; weekly
and monthly reports always are. Every report is kept in /var/lib/clawdbot/reports/.

Daily checks: disk (space and inodes per real mount, with a fill-rate estimate), memory
(available, swap), load (per core, and over the day), units (failed systemd units), ports
(listening sockets against [maint] ports_allow), docker (the engine and its warnings),
containers (unhealthy, restarting, exited non-zero, OOM-killed, restarts rising), wazuh
(where installed), suite (stuck requests, failing mail, the last Gmail poll and watchdog pass).

Examples:
  clawdbot-maint daily --dry-run
  clawdbot-maint daily --only disk --only ports --json

Exit status: 0 done (whatever was found), 64 unknown check, 75 the database is busy,
78 configuration.")]
pub struct Cli {
    /// The tier to run.
    pub tier: Tier,
    #[command(flatten)]
    pub common: Common,
    /// Check only: no cleanup, no mail, nothing stored.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Run only this check (repeatable).
    #[arg(long, value_name = "CHECK")]
    pub only: Vec<String>,
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
    let options = Options {
        dry_run: cli.dry_run,
        only: cli.only,
    };
    match maint::run(&config, cli.tier, &options) {
        Ok(report) => {
            if cli.json {
                super::print_json(&report);
            } else {
                print!("{}", maint::describe(&report));
            }
            if report.worst() > Level::Ok {
                log::warn!(
                    "{} maintenance: {} finding(s) need a look",
                    cli.tier,
                    report
                        .findings
                        .iter()
                        .filter(|f| f.level > Level::Ok)
                        .count()
                );
            }
            Exit::Ok.into()
        }
        Err(e) => exit::report(PROGRAM, &e),
    }
}
