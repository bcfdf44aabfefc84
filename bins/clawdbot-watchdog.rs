//! `clawdbot-watchdog`: one pass over the agent's session files, or one file's verdict.

use std::process::ExitCode;

use clawdbot::cli::watchdog::{Cli, Command, PROGRAM};
use clawdbot::config::Config;
use clawdbot::exit::{self, Exit};
use clawdbot::journal;
use clawdbot::watchdog;

fn main() -> ExitCode {
    let cli = match exit::parse_args::<Cli>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    journal::init(cli.verbose, false);
    let command = match cli.command {
        // Run as a store's owner, with no access to the configuration.
        Some(Command::Store { file }) => return store(&file, cli.json),
        other => other,
    };
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => return exit::report(PROGRAM, &e),
    };
    match command {
        Some(Command::Scan { file }) => scan(&config, &file, cli.json),
        Some(Command::GatewayExec { command }) => gateway_exec(&config, &command),
        _ => pass(&config, cli.dry_run, cli.json),
    }
}

fn scan(config: &Config, file: &std::path::Path, json: bool) -> ExitCode {
    let path = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    match watchdog::scan_file(config, &path) {
        Ok(report) => {
            if json {
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
            } else {
                print!("{}", watchdog::describe(&report));
            }
            match report.verdict {
                watchdog::Verdict::Corrupt { .. } => Exit::DataErr.into(),
                _ => Exit::Ok.into(),
            }
        }
        Err(e) => {
            eprintln!("{PROGRAM}: {}: {e}", path.display());
            Exit::NoInput.into()
        }
    }
}

fn store(file: &std::path::Path, json: bool) -> ExitCode {
    let path = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let result = watchdog::agentdb::read_as_reader(&path);
    if json {
        println!("{}", serde_json::to_string(&result).unwrap_or_default());
    } else {
        print!("{}", watchdog::agentdb::describe(&path, &result));
    }
    match result {
        Ok(checked) if checked.poisoned.is_empty() && checked.quick_check == "ok" => {
            Exit::Ok.into()
        }
        Ok(_) => Exit::DataErr.into(),
        Err(_) => Exit::NoInput.into(),
    }
}

fn gateway_exec(config: &Config, command: &[String]) -> ExitCode {
    let e = match watchdog::gateway::exec(&config.watchdog, command) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    exit::report(PROGRAM, &e)
}

fn pass(config: &Config, dry_run: bool, json: bool) -> ExitCode {
    match watchdog::run(config, dry_run) {
        Ok(report) => {
            if json {
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
            } else {
                print!("{}", watchdog::summary(&report));
            }
            if report.incomplete() {
                Exit::TempFail.into()
            } else {
                Exit::Ok.into()
            }
        }
        Err(e) => exit::report(PROGRAM, &e),
    }
}
