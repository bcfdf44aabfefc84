//! `clawdbot-watchdog`: one pass over the agent's session files, or one file's verdict.
//! An executable of its own, linking only what it calls (docs/architecture.md).

fn main() -> std::process::ExitCode {
    clawdbot::cli::watchdog::main()
}
