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
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => return exit::report(PROGRAM, &e),
    };
    match cli.command {
        Some(Command::Scan { file }) => scan(&config, &file, cli.json),
        None => pass(&config, cli.dry_run, cli.json),
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
