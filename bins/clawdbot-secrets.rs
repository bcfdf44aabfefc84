//! `clawdbot-secrets`: the secret rotation inventory, its reminders, and recording a rotation.

use std::process::ExitCode;

use clawdbot::cli::secrets::{Cli, Command, PROGRAM};
use clawdbot::config::Config;
use clawdbot::exit::{self, Exit};
use clawdbot::journal;
use clawdbot::secrets::{self, Status};
use clawdbot::store::Store;

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
    let mut store = match Store::open(&config.paths.database()) {
        Ok(store) => store,
        Err(e) => return exit::report(PROGRAM, &e),
    };
    let today = secrets::today(&config);
    let printed = match cli.command {
        Some(Command::List) => {
            secrets::list(&config, &mut store, today).map(|all| print(&all, cli.json))
        }
        Some(Command::Rotated { name, date }) => {
            let actor = std::env::var("SUDO_USER")
                .or_else(|_| std::env::var("USER"))
                .unwrap_or_else(|_| "root".into());
            match secrets::rotated(&config, &mut store, &name, date, &actor) {
                Ok(status) => {
                    print(&[status], cli.json);
                    return Exit::Ok.into();
                }
                Err(e) => return exit::report(PROGRAM, &e),
            }
        }
        None => secrets::remind(&config, &mut store, today).map(|report| {
            if cli.json {
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
            } else if report.reminded.is_empty() {
                println!("no reminder due");
            } else {
                println!("reminded: {}", report.reminded.join(", "));
            }
        }),
    };
    match printed {
        Ok(()) => Exit::Ok.into(),
        Err(e) => exit::report(PROGRAM, &e),
    }
}

fn print(all: &[Status], json: bool) {
    if json {
        println!("{}", serde_json::to_string(all).unwrap_or_default());
        return;
    }
    if all.is_empty() {
        println!("no secrets configured ([secrets.NAME] in the configuration)");
    }
    for s in all {
        let left = match s.days_left {
            d if d < 0 => format!("OVERDUE {}d", -d),
            d => format!("{d}d left"),
        };
        println!(
            "{:<24} due {} ({left:>12})  last {}  {}  {}",
            s.name, s.due, s.last, s.cadence, s.location
        );
    }
}
