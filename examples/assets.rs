//! Make the man pages and shell completions of every binary from its clap definition:
//! `cargo run --example assets -- DIR` writes DIR/man/*.1, DIR/completions/{bash,zsh,fish}/.
//! `make assets` runs it; the package and `make install` ship what it writes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Command, CommandFactory};
use clap_complete::Shell;
use clawdbot::cli;

fn commands() -> Vec<Command> {
    vec![
        cli::clawdbot::Cli::command(),
        cli::broker::Cli::command(),
        cli::request::Cli::command(),
        cli::bridge::Cli::command(),
        cli::exec::Cli::command(),
        cli::mailpoll::Cli::command(),
        cli::watchdog::Cli::command(),
        cli::secrets::Cli::command(),
        cli::maint::Cli::command(),
        cli::telegram::Cli::command(),
        cli::calendar::Cli::command(),
    ]
}

fn write(dir: &Path) -> std::io::Result<()> {
    let man = dir.join("man");
    std::fs::create_dir_all(&man)?;
    for mut command in commands() {
        let name = command.get_name().to_string();
        // One page per binary and one per subcommand (clawdbot-bridge-verify.1).
        clap_mangen::generate_to(command.clone(), &man)?;
        // Named as each shell's vendor directory expects them.
        for (shell, file) in [
            (Shell::Bash, name.clone()),
            (Shell::Zsh, format!("_{name}")),
            (Shell::Fish, format!("{name}.fish")),
        ] {
            let out = dir.join("completions").join(shell.to_string());
            std::fs::create_dir_all(&out)?;
            let mut text = Vec::new();
            clap_complete::generate(shell, &mut command, &name, &mut text);
            std::fs::write(out.join(file), text)?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: assets DIR");
        return ExitCode::from(64);
    };
    match write(&dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("assets: {}: {e}", dir.display());
            ExitCode::from(73)
        }
    }
}
