//! `clawdbot-calendar`: one merge of the operator's calendars, or an account's authorisation.

use std::process::ExitCode;

use clawdbot::calendar::{authorize, run};
use clawdbot::cli::calendar::{Cli, Command, PROGRAM};
use clawdbot::config::Config;
use clawdbot::exit::{self, Exit};
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
            account,
            client_id,
            client_secret,
            output,
        }) => {
            let stdin = std::io::stdin();
            authorize::run(
                &config,
                &account,
                &client_id,
                &client_secret,
                &output,
                &mut stdin.lock(),
                &mut std::io::stdout(),
            )
            .map(|()| Exit::Ok.code())
        }
        None => {
            let options = run::Options {
                dry_run: cli.dry_run,
                at: cli.at,
            };
            run::run(&config, &options, &mut std::io::stdout()).map(|report| {
                if cli.json {
                    println!("{}", serde_json::to_string(&report).unwrap_or_default());
                }
                report.exit
            })
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => exit::report(PROGRAM, &e),
    }
}
