//! The command line of `clawdbot-secrets` (kept here so man pages and completions are made from it).

use super::Common;
use crate::core::store::Store;
use crate::jobs::secrets::{self, Status};
use crate::platform::exit::{self, Exit};
use clap::{Parser, Subcommand};
use std::process::ExitCode;

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
    #[command(flatten)]
    pub common: Common,
    /// Print JSON.
    #[arg(long, global = true)]
    pub json: bool,
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
    let mut store = match Store::open(&config.paths.database()) {
        Ok(store) => store,
        Err(e) => return exit::report(PROGRAM, &e),
    };
    let today = secrets::today(&config);
    let printed = match cli.command {
        Some(Command::List) => {
            secrets::list(&config, &mut store, today).map(|all| print(&all, cli.json))
        }
        Some(Command::Rotated { name, date }) => {
            let actor = std::env::var("SUDO_USER")
                .or_else(|_| std::env::var("USER"))
                .unwrap_or_else(|_| "root".into());
            match secrets::rotated(&config, &mut store, &name, date, &actor) {
                Ok(status) => {
                    print(&[status], cli.json);
                    return Exit::Ok.into();
                }
                Err(e) => return exit::report(PROGRAM, &e),
            }
        }
        None => secrets::remind(&config, &mut store, today).map(|report| {
            if cli.json {
                super::print_json(&report);
            } else if report.reminded.is_empty() {
                println!("no reminder due");
            } else {
                println!("reminded: {}", report.reminded.join(", "));
            }
        }),
    };
    match printed {
        Ok(()) => Exit::Ok.into(),
        Err(e) => exit::report(PROGRAM, &e),
    }
}

fn print(all: &[Status], json: bool) {
    if json {
        super::print_json(all);
        return;
    }
    if all.is_empty() {
        println!("no secrets configured ([secrets.NAME] in the configuration)");
    }
    for s in all {
        let left = match s.days_left {
            d if d < 0 => format!("OVERDUE {}d", -d),
            d => format!("{d}d left"),
        };
        println!(
            "{:<24} due {} ({left:>12})  last {}  {}  {}",
            s.name, s.due, s.last, s.cadence, s.location
        );
    }
}
