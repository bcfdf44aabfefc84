//! The command line of `clawdbot-telegram` (kept here so man pages and completions are made from it).

use super::Common;
use crate::channels::telegram;
use crate::platform::exit::{self, Exit};
use clap::Parser;
use std::process::ExitCode;

/// The program's name, in messages and usage.
pub const PROGRAM: &str = "clawdbot-telegram";

/// One run of the operator's Telegram bot: send what is queued, wait for updates, answer the
/// operators, exit.
#[derive(Parser)]
#[command(name = PROGRAM, version, after_help = "\
Started by clawdbot-telegram.timer 2 s after each run ends; each run long-polls getUpdates for
up to [telegram] poll_timeout (25 s). The bot token comes from the credential
[telegram] token_credential (/etc/credstore/clawdbot.telegram-token).

Only the numeric user ids in [telegram] operators are obeyed, in their private chat with the
bot (or in a group listed in [telegram] chats with allow_groups = true); this is checked
before anything else looks at an update. Everyone else gets no answer and is logged, at most
once in ten minutes per sender. Forwarded messages, messages sent on behalf of a chat and
through inline bots never count.

Commands: /status, /show ID, /approve ID, /deny ID [why], /run ACTION name=value …, /help.
A request waiting for a decision is alerted with Approve / Deny buttons ([telegram] alerts).
A decision follows the rules of one by mail: the request must be waiting, the approval binds
its hash, it counts once, and the audit names the Telegram user id. /run files a request of
the operator's own, checked as an agent's is; below [operator] confirm_from (high) it runs at
once, from it up it waits for Approve, and its outcome comes back to the chat.

Exit status: 0 done, 69 Telegram refused a call, 75 retry later (network, 429, 5xx, 409
another poller), 78 configuration (no operators, no or a malformed token).")]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    /// Print what the run did as JSON.
    #[arg(long)]
    pub json: bool,
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
    match telegram::run::run(&config, &crate::broker::start_approved) {
        Ok(report) => {
            if cli.json {
                super::print_json(&report);
            }
            Exit::Ok.into()
        }
        Err(e) => exit::report(PROGRAM, &e),
    }
}
