//! `clawdbot-request`: the agent's request writer.

use std::process::ExitCode;

use clawdbot::cli::request::{Cli, PROGRAM};
use clawdbot::config::Config;
use clawdbot::exit::{self, Exit};
use clawdbot::submit::{self, Fields};

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
