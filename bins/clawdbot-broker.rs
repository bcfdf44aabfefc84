//! `clawdbot-broker`: one pass of the approval loop's broker.

use std::process::ExitCode;

use clawdbot::cli::broker::{Cli, Command, PROGRAM};
use clawdbot::config::Config;
use clawdbot::exit::{self, Exit};
use clawdbot::{broker, interpret as reading, journal};

fn main() -> ExitCode {
    let cli = match exit::parse_args::<Cli>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    journal::init(cli.verbose, false);
    match cli.command {
        Command::Run { json } => run(cli.config.as_deref(), json),
        Command::Interpret { file } => interpret(&file, cli.config.as_deref()),
    }
}

fn run(config: Option<&std::path::Path>, json: bool) -> ExitCode {
    let config = match Config::load(config) {
        Ok(config) => config,
        Err(e) => return exit::report(PROGRAM, &e),
    };
    match broker::run(&config) {
        Ok(report) => {
            if json {
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
            }
            Exit::Ok.into()
        }
        Err(e) => exit::report(PROGRAM, &e),
    }
}

fn interpret(file: &std::path::Path, config: Option<&std::path::Path>) -> ExitCode {
    match reading::file(file, config) {
        Ok(verdict) => {
            println!("{}", serde_json::to_string(&verdict).unwrap_or_default());
            Exit::Ok.into()
        }
        Err(e) => exit::report(PROGRAM, &e),
    }
}
