//! `clawdbot-exec`: carries out approved requests, at most once each.
//! An executable of its own, linking only what it calls (docs/architecture.md).

fn main() -> std::process::ExitCode {
    clawdbot::cli::exec::main()
}
