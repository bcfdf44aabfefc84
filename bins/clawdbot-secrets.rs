//! `clawdbot-secrets`: the secret rotation inventory, its reminders, and recording a rotation.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use clawdbot::config::Config;
use clawdbot::exit::{self, Exit};
use clawdbot::journal;
use clawdbot::secrets::{self, Status};
use clawdbot::store::Store;

const PROGRAM: &str = "clawdbot-secrets";

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
struct Cli {
    /// Configuration file (drop-ins are read from FILE.d/).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print JSON.
    #[arg(long, global = true)]
    json: bool,
    /// Log debug messages.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
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
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
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
        println!("{}", serde_json::to_string(all).unwrap_or_default());
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
