//! `clawdbot`: the operator's command line.

use std::process::ExitCode;

use clawdbot::cli::clawdbot::{Cli, Command, PROGRAM};
use clawdbot::config::Config;
use clawdbot::decide::{self as decision, Decision};
use clawdbot::exit::{self, Exit};
use clawdbot::{broker, demo, doctor, init, inspect, journal, time};

fn main() -> ExitCode {
    let cli = match exit::parse_args::<Cli>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    // The operator's commands print their results; the broker's log lines would be noise.
    journal::init(cli.verbose, !cli.verbose);
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
            let config = match Config::load(cli.config.as_deref()) {
                Ok(config) => config,
                Err(e) => return exit::report(PROGRAM, &e),
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
