//! `clawdbot-maint daily|weekly|monthly`: one maintenance tier.

use std::process::ExitCode;

use clawdbot::cli::maint::{Cli, PROGRAM};
use clawdbot::config::Config;
use clawdbot::exit::{self, Exit};
use clawdbot::journal;
use clawdbot::maint::{self, Level, Options};

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
    let options = Options {
        dry_run: cli.dry_run,
        only: cli.only,
    };
    match maint::run(&config, cli.tier, &options) {
        Ok(report) => {
            if cli.json {
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
            } else {
                print!("{}", maint::describe(&report));
            }
            if report.worst() > Level::Ok {
                log::warn!(
                    "{} maintenance: {} finding(s) need a look",
                    cli.tier,
                    report
                        .findings
                        .iter()
                        .filter(|f| f.level > Level::Ok)
                        .count()
                );
            }
            Exit::Ok.into()
        }
        Err(e) => exit::report(PROGRAM, &e),
    }
}
