//! The command line of `clawdbot` (kept here so man pages and completions are made from it).

use std::path::PathBuf;

use super::Common;
use super::{demo, doctor, init};
use crate::broker;
use crate::core::decide::{self as decision, Decision};
use crate::core::inspect;
use crate::platform::config::Config;
use crate::platform::exit::{self, Exit};
use crate::platform::time;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

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
    #[command(flatten)]
    pub common: Common,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
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

impl super::Program for Cli {
    const NAME: &'static str = PROGRAM;
    const QUIET: bool = true;

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
        Command::Init { dir } => match init::init(&dir) {
            Ok(path) => {
                println!("{}", path.display());
                Exit::Ok.into()
            }
            Err(e) => exit::report(PROGRAM, &e),
        },
        Command::Demo { dir } => {
            let dir = dir.unwrap_or_else(|| {
                std::env::temp_dir().join(format!("clawdbot-demo-{}", time::now()))
            });
            match demo::run(&dir) {
                Ok(text) => {
                    print!("{text}");
                    Exit::Ok.into()
                }
                Err(e) => exit::report(PROGRAM, &e),
            }
        }
        command => {
            let config = match cli.common.load(PROGRAM) {
                Ok(config) => config,
                Err(code) => return code,
            };
            match command {
                Command::Status => status(&config, cli.json),
                Command::Show { id } => show(&config, &id, cli.json),
                Command::Doctor => doctor(&config, cli.json),
                Command::Approve { id, note } => {
                    decide(&config, &id, Decision::Approve, note.as_deref(), cli.json)
                }
                Command::Deny { id, note } => {
                    decide(&config, &id, Decision::Deny, note.as_deref(), cli.json)
                }
                Command::Init { .. } | Command::Demo { .. } => Exit::Software.into(),
            }
        }
    }
}

fn status(config: &Config, json: bool) -> ExitCode {
    match inspect::open(config).and_then(|store| inspect::status(&store)) {
        Ok(rows) if json => print_json(&rows),
        Ok(rows) => {
            print!("{}", inspect::status_table(&rows, time::now()));
            Exit::Ok.into()
        }
        Err(e) => exit::report(PROGRAM, &e),
    }
}

fn show(config: &Config, id: &str, json: bool) -> ExitCode {
    match inspect::open(config).and_then(|store| inspect::show(&store, id)) {
        Ok(shown) if json => print_json(&shown),
        Ok(shown) => {
            print!("{}", inspect::show_text(&shown, config));
            Exit::Ok.into()
        }
        Err(e) => exit::report(PROGRAM, &e),
    }
}

/// Record the decision, then run one broker pass so that it is carried out and everyone told.
fn decide(
    config: &Config,
    id: &str,
    decision: Decision,
    note: Option<&str>,
    json: bool,
) -> ExitCode {
    let id = match decision::from_shell(config, id, decision, note) {
        Ok(id) => id,
        Err(e) => return exit::report(PROGRAM, &e),
    };
    if let Err(e) = broker::run(config) {
        eprintln!(
            "{PROGRAM}: the decision on {id} is recorded, but the pass that carries it out failed; the broker's next pass will finish it"
        );
        return exit::report(PROGRAM, &e);
    }
    show(config, id.as_str(), json)
}

fn doctor(config: &Config, json: bool) -> ExitCode {
    let checks = doctor::run(config);
    if json {
        print_json(&checks);
    } else {
        print!("{}", doctor::render(&checks));
    }
    if checks.iter().all(|c| c.ok) {
        Exit::Ok.into()
    } else {
        Exit::Config.into()
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> ExitCode {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            println!("{text}");
            Exit::Ok.into()
        }
        Err(e) => {
            eprintln!("{PROGRAM}: cannot encode JSON: {e}");
            Exit::Software.into()
        }
    }
}
