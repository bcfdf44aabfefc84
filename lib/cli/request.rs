//! The command line of `clawdbot-request` (kept here so man pages and completions are made from it).

use std::path::PathBuf;

use super::Common;
use crate::intake::submit::{self, Fields};
use crate::platform::config::RequestConfig;
use crate::platform::exit::{self, Exit};
use clap::Parser;
use std::process::ExitCode;

/// The program's name, in messages and usage.
pub const PROGRAM: &str = "clawdbot-request";

/// Ask the operator for a change: validate a request and drop it into the request spool.
#[derive(Parser)]
#[command(name = PROGRAM, version, after_help = "\
Examples:
  clawdbot-request --kind restart_container --summary \"Restart searxng, it hangs\" \\
      --reason \"Web searches time out since 09:12\" --param container=searxng
  clawdbot-request --file request.json
  echo '{\"version\":1,…}' | clawdbot-request --file -

The request is checked with the broker's own rules (kinds and parameter patterns from the
configuration) before anything is written; the file appears whole or not at all.
Prints the path of the file written.
Exit status: 0 written, 64 usage, 65 invalid request (one line per problem), 73 cannot write,
78 configuration error.")]
pub struct Cli {
    /// The action to request, as configured in [actions.NAME], or "freeform".
    #[arg(long)]
    pub kind: Option<String>,
    /// One line for the operator, at most 200 characters.
    #[arg(long)]
    pub summary: Option<String>,
    /// Why the change is needed.
    #[arg(long)]
    pub reason: Option<String>,
    /// A parameter of the action, KEY=VALUE; repeat for more.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Free text; what to do, for a freeform request.
    #[arg(long)]
    pub details: Option<String>,
    /// Your own id for the request; filing the same client ref again is not a new request.
    #[arg(long)]
    pub client_ref: Option<String>,
    /// The agent session the outcome should go to.
    #[arg(long)]
    pub reply_session: Option<String>,
    /// A whole JSON request instead of the flags above ("-" reads stdin).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["kind", "summary", "reason", "params", "details", "client_ref", "reply_session"])]
    pub file: Option<PathBuf>,
    /// The request spool (default: paths.spool from the configuration).
    #[arg(long, value_name = "DIR")]
    pub spool: Option<PathBuf>,
    #[command(flatten)]
    pub common: Common,
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
    // Only the sections a request is checked against: the request writer links no other
    // section's code.
    let config = match RequestConfig::load(cli.common.config.as_deref()) {
        Ok(config) => config,
        Err(e) => return exit::report(PROGRAM, &e),
    };
    let raw = match &cli.file {
        Some(path) => submit::read_document(
            path,
            config.requests.max_bytes.get(),
            "[requests] max_bytes",
        ),
        None => submit::from_fields(&Fields {
            kind: cli.kind,
            summary: cli.summary,
            reason: cli.reason,
            params: cli.params,
            details: cli.details,
            client_ref: cli.client_ref,
            reply_session: cli.reply_session,
        }),
    };
    let spool = cli
        .spool
        .unwrap_or_else(|| config.paths.spool.path().to_path_buf());
    match raw.and_then(|raw| submit::submit(config.rules(), &spool, &raw)) {
        Ok(path) => {
            println!("{}", path.display());
            Exit::Ok.into()
        }
        Err(e) => exit::report(PROGRAM, &e),
    }
}
