//! `clawdbot-request`: the agent's request writer.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use clawdbot::config::Config;
use clawdbot::exit::{self, Exit};
use clawdbot::submit::{self, Fields};

const PROGRAM: &str = "clawdbot-request";

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
struct Cli {
    /// The action to request, as configured in [actions.NAME], or \"freeform\".
    #[arg(long)]
    kind: Option<String>,
    /// One line for the operator, at most 200 characters.
    #[arg(long)]
    summary: Option<String>,
    /// Why the change is needed.
    #[arg(long)]
    reason: Option<String>,
    /// A parameter of the action, KEY=VALUE; repeat for more.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
    /// Free text; what to do, for a freeform request.
    #[arg(long)]
    details: Option<String>,
    /// Your own id for the request; filing the same client ref again is not a new request.
    #[arg(long)]
    client_ref: Option<String>,
    /// The agent session the outcome should go to.
    #[arg(long)]
    reply_session: Option<String>,
    /// A whole JSON request instead of the flags above ("-" reads stdin).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["kind", "summary", "reason", "params", "details", "client_ref", "reply_session"])]
    file: Option<PathBuf>,
    /// The request spool (default: paths.spool from the configuration).
    #[arg(long, value_name = "DIR")]
    spool: Option<PathBuf>,
    /// Configuration file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = match exit::parse_args::<Cli>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => return exit::report(PROGRAM, &e),
    };
    let raw = match &cli.file {
        Some(path) => submit::read_document(path),
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
    match raw.and_then(|raw| submit::submit(&config, &spool, &raw)) {
        Ok(path) => {
            println!("{}", path.display());
            Exit::Ok.into()
        }
        Err(e) => exit::report(PROGRAM, &e),
    }
}
