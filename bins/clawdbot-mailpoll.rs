//! `clawdbot-mailpoll`: one Gmail poll, or the one-time authorisation.

use std::process::ExitCode;

use clawdbot::cli::mailpoll::{Cli, Command, PROGRAM};
use clawdbot::config::Config;
use clawdbot::exit::{self, Exit};
use clawdbot::gmail::{authorize, poll};
use clawdbot::journal;

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
    let result = match cli.command {
        Some(Command::Authorize {
            client_id,
            client_secret,
            output,
        }) => {
            let stdin = std::io::stdin();
            authorize::run(
                &config,
                &client_id,
                &client_secret,
                &output,
                &mut stdin.lock(),
                &mut std::io::stdout(),
            )
        }
        None => poll::run(&config).map(|report| {
            if cli.json {
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
            }
        }),
    };
    match result {
        Ok(()) => Exit::Ok.into(),
        Err(e) => exit::report(PROGRAM, &e),
    }
}
