//! `clawdbot-exec`: carries out approved requests, at most once each; and, under the name
//! `clawdbot-task` (a link to it), runs the admin agent's tasks. An executable of its own,
//! linking only what they call (docs/architecture.md).

use std::path::Path;

fn main() -> std::process::ExitCode {
    let argv0 = std::env::args_os().next().unwrap_or_default();
    match Path::new(&argv0).file_name().and_then(|n| n.to_str()) {
        Some("clawdbot-task") => clawdbot::cli::task::main(),
        _ => clawdbot::cli::exec::main(),
    }
}
