//! `clawdbot` and the programs that share its executable: `clawdbot-broker`,
//! `clawdbot-bridge`, `clawdbot-mailpoll`, `clawdbot-telegram`, `clawdbot-calendar`,
//! `clawdbot-secrets`, `clawdbot-maint` and `clawdbot-alert` are links to it, and the name it is started under
//! picks the program (docs/architecture.md says why).

use std::path::Path;
use std::process::ExitCode;

use clawdbot::cli;

fn main() -> ExitCode {
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let name = Path::new(&argv0).file_name().unwrap_or_default();
    match name.to_str().unwrap_or_default() {
        "clawdbot-broker" => cli::broker::main(),
        "clawdbot-bridge" => cli::bridge::main(),
        "clawdbot-mailpoll" => cli::mailpoll::main(),
        "clawdbot-telegram" => cli::telegram::main(),
        "clawdbot-calendar" => cli::calendar::main(),
        "clawdbot-secrets" => cli::secrets::main(),
        "clawdbot-maint" => cli::maint::main(),
        "clawdbot-alert" => cli::alert::main(),
        _ => cli::clawdbot::main(),
    }
}
