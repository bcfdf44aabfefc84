//! The command line of `clawdbot-calendar` (kept here so man pages and completions are made from it).

use std::path::PathBuf;

use super::Common;
use crate::jobs::calendar::{authorize, run};
use crate::platform::exit::{self, Exit};
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// The program's name, in messages and usage.
pub const PROGRAM: &str = "clawdbot-calendar";

/// Merge the operator's calendars into one availability file for the agent.
#[derive(Parser)]
#[command(name = PROGRAM, version, after_help = "\
Started every 10 minutes by clawdbot-calendar.timer. Each [[calendar.accounts]] entry is a
Microsoft 365 / Outlook.com account (kind = \"graph\") or a Google account (kind = \"google\")
with its calendars (ids, or [\"all\"]). Events from now to [calendar] horizon_days (14) days
after today are fetched (recurring events expanded by the service), de-duplicated across
calendars (same iCalUID and time, else same time and subject), and written atomically to
[calendar] output (/srv/clawdbot/shared/availability.json): busy blocks, free and all-day
events, and each calendar's last successful fetch. Times carry the offset they have in
[operator] timezone; the machine's TZ never matters. Declined invitations are left out;
private events show as busy without a subject. A calendar that fails keeps its last good
events, marked stale with their age; one account's failure never stops the others.

Examples:
  clawdbot-calendar authorize work --client-id ID --output /etc/credstore/clawdbot.calendar/work.json
  clawdbot-calendar --dry-run
  clawdbot-calendar --dry-run --at 2027-03-26T09:00:00+01:00

Exit status: 0 every calendar fetched, 69 a service refused a call, 75 retry later (network,
429, 5xx), 78 configuration or authorisation (the message names the account and the
authorize command). The file is written even when calendars fail; only a database that
cannot be opened or an output that cannot be written (73) stop it.")]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    /// Print the availability JSON instead of writing it; only tokens are kept.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: compute the window as if it were TIME (RFC 3339 with an offset).
    #[arg(long, value_name = "TIME", requires = "dry_run")]
    pub at: Option<jiff::Timestamp>,
    /// Print what the run did as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Get a refresh token for read-only calendar access of ACCOUNT and store the credential
    /// (mode 0600).
    Authorize {
        /// The account's name in [[calendar.accounts]].
        account: String,
        /// The OAuth client id (an Entra ID app registration, or a Google "Desktop app").
        #[arg(long)]
        client_id: String,
        /// The OAuth client secret (none for a Microsoft public client).
        #[arg(long, default_value = "")]
        client_secret: String,
        /// Where to write the credential; never over an existing file.
        #[arg(long, value_name = "FILE")]
        output: PathBuf,
    },
}

impl super::Program for Cli {
    const NAME: &'static str = PROGRAM;

    fn common(&self) -> &Common {
        &self.common
    }
}

/// The program: parse the command line, start logging, run, and exit with a sysexits
/// status.
pub fn main() -> ExitCode {
    let (cli, config) = match super::start_with_config::<Cli>() {
        Ok(started) => started,
        Err(code) => return code,
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
                    super::print_json(&report);
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
