//! `clawdbot-request`: the agent's request writer.
//! An executable of its own, linking only what it calls (docs/architecture.md).

fn main() -> std::process::ExitCode {
    clawdbot::cli::request::main()
}
