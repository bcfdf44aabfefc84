//! The top layer: every program's command line, as clap definitions (the programs parse with
//! them, and `examples/assets.rs` makes the man pages and shell completions from them), and
//! the operator's own commands: `clawdbot init`, `doctor` and `demo`.

pub mod alert;
pub mod bridge;
pub mod broker;
pub mod calendar;
pub mod clawdbot;
pub mod demo;
pub mod doctor;
pub mod exec;
pub mod init;
pub mod mailpoll;
pub mod maint;
pub mod request;
pub mod secrets;
pub mod task;
pub mod telegram;
pub mod watchdog;

use std::path::PathBuf;
use std::process::ExitCode;

use crate::core::journal;
use crate::platform::config::Config;
use crate::platform::exit;

/// The options every program takes, flattened into its command line.
#[derive(Debug, clap::Args)]
pub struct Common {
    /// Configuration file (drop-ins are read from FILE.d/).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log debug messages.
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

impl Common {
    /// The configuration `--config` names (or the default one); a failure is reported as
    /// `PROGRAM: error` and its exit status returned.
    pub fn load(&self, program: &str) -> Result<Config, ExitCode> {
        Config::load(self.config.as_deref()).map_err(|e| exit::report(program, &e))
    }
}

/// A program's command line.
pub trait Program: clap::Parser {
    /// Its name, in messages, usage and the journal's `SYSLOG_IDENTIFIER` (one executable
    /// serves several names).
    const NAME: &'static str;
    /// Whether it logs only warnings and errors unless `--verbose`: the operator's commands
    /// print their results, and the request writer speaks to the agent on stdout.
    const QUIET: bool = false;

    /// Its common options.
    fn common(&self) -> &Common;
}

/// Every program's preamble: parse the command line (a bad one prints its error or the help
/// and gives the exit status to return) and start logging.
pub fn start<P: Program>() -> Result<P, ExitCode> {
    let cli = exit::parse_args::<P>()?;
    journal::init(P::NAME, cli.common().verbose, P::QUIET);
    Ok(cli)
}

/// [`start`], then load the configuration, for the programs that need it whatever they do.
pub fn start_with_config<P: Program>() -> Result<(P, Config), ExitCode> {
    let cli = start::<P>()?;
    let config = cli.common().load(P::NAME)?;
    Ok((cli, config))
}

/// Print a report as one line of JSON (`--json`).
pub fn print_json<T: serde::Serialize + ?Sized>(value: &T) {
    println!("{}", serde_json::to_string(value).unwrap_or_default());
}
