//! The command line of `clawdbot-watchdog` (kept here so man pages and completions are made from it).

use std::path::PathBuf;

use super::Common;
use crate::jobs::watchdog;
use crate::platform::config::Config;
use crate::platform::exit::{self, Exit};
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// The program's name, in messages and usage.
pub const PROGRAM: &str = "clawdbot-watchdog";

/// Keep OpenClaw's agent sessions loadable: repair damaged transcripts, and propose a reset for
/// a session whose history can no longer be sent to the model.
#[derive(Parser)]
#[command(name = PROGRAM, version, after_help = "\
Started every 5 minutes by clawdbot-watchdog.timer.

OpenClaw up to 2026.7 keeps each session as a JSONL transcript. A pass reads every transcript
whose size, mtime and inode changed since it was last found healthy, whole, and repairs what
OpenClaw itself does not: glued entries are split onto their own lines, what is left of a
broken entry goes, NULs go, and every entry whose parent went is re-pointed to its nearest
surviving ancestor, so that no message drops out of OpenClaw's context. What OpenClaw reads
without harm is left byte for byte; a bad header is reported, never rewritten. Before
repairing, the pass stops the gateway once ([watchdog] stop), and starts it after ([watchdog]
start); a failed start is retried every pass.

OpenClaw 2026.8.1 and later keep an agent's sessions in agents/AGENT/agent/openclaw-agent.sqlite.
The watchdog only reads that store, as its owner, and never writes it. A session whose
context holds a message OpenClaw cannot send to the model is proposed for OpenClaw's own
reset: a request of [watchdog] reset_action, which the operator approves or denies like any
other. The operator gets one mail per incident.

The gateway is found as OpenClaw's docker-compose.yml makes it: {gateway} in stop and start
stands for the one container of Compose service [watchdog] gateway_service (openclaw-gateway),
found by its labels, in [watchdog] gateway_project if set; gateway-exec runs a command in it
with docker exec.

Examples:
  clawdbot-watchdog --dry-run --json
  clawdbot-watchdog gateway-exec -- openclaw gateway call health --json
  clawdbot-watchdog scan /home/dakota/.openclaw/agents/main/sessions/4f1c.jsonl
  clawdbot-watchdog store /home/dakota/.openclaw/agents/main/agent/openclaw-agent.sqlite

Exit status: 0 done, 65 (scan) the file is corrupt or (store) a session is stuck, 66 (scan,
store) it cannot be read, 75 a file could not be examined or the gateway did not stop or
start (retried next pass), 69 (gateway-exec) the gateway's container is not found or not running, 78 configuration.
gateway-exec exits with the command's own status once it runs.")]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    /// Report what a pass would do; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Judge one session file (healthy, corrupt, locked, skipped) without changing it.
    Scan {
        /// The session file.
        file: PathBuf,
    },
    /// Read one OpenClaw SQLite store and name its stuck sessions, changing nothing (run as
    /// the store's owner; a pass runs it so for every store).
    Store {
        /// The store (agents/AGENT/agent/openclaw-agent.sqlite).
        file: PathBuf,
    },
    /// Run a command in the gateway's running container (docker exec), found as [watchdog]
    /// stop finds it; its output and exit status are the command's.
    GatewayExec {
        /// The command and its arguments, after --.
        #[arg(required = true, last = true, value_name = "COMMAND")]
        command: Vec<String>,
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
    let cli = match super::start::<Cli>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let command = match cli.command {
        // Run as a store's owner, with no access to the configuration.
        Some(Command::Store { file }) => return store(&file, cli.json),
        other => other,
    };
    let config = match cli.common.load(PROGRAM) {
        Ok(config) => config,
        Err(code) => return code,
    };
    match command {
        Some(Command::Scan { file }) => scan(&config, &file, cli.json),
        Some(Command::GatewayExec { command }) => gateway_exec(&config, &command),
        _ => pass(&config, cli.dry_run, cli.json),
    }
}

fn scan(config: &Config, file: &std::path::Path, json: bool) -> ExitCode {
    let path = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    match watchdog::scan_file(config, &path) {
        Ok(report) => {
            if json {
                super::print_json(&report);
            } else {
                print!("{}", watchdog::describe(&report));
            }
            match report.verdict {
                watchdog::Verdict::Corrupt { .. } => Exit::DataErr.into(),
                _ => Exit::Ok.into(),
            }
        }
        Err(e) => {
            eprintln!("{PROGRAM}: {}: {e}", path.display());
            Exit::NoInput.into()
        }
    }
}

fn store(file: &std::path::Path, json: bool) -> ExitCode {
    let path = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let result = watchdog::agentdb::read_as_reader(&path);
    if json {
        super::print_json(&result);
    } else {
        print!("{}", watchdog::agentdb::describe(&path, &result));
    }
    match result {
        Ok(checked) if checked.poisoned.is_empty() && checked.quick_check == "ok" => {
            Exit::Ok.into()
        }
        Ok(_) => Exit::DataErr.into(),
        Err(_) => Exit::NoInput.into(),
    }
}

fn gateway_exec(config: &Config, command: &[String]) -> ExitCode {
    let e = match watchdog::gateway::exec(&config.watchdog, command) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    exit::report(PROGRAM, &e)
}

fn pass(config: &Config, dry_run: bool, json: bool) -> ExitCode {
    match watchdog::run(config, dry_run) {
        Ok(report) => {
            if json {
                super::print_json(&report);
            } else {
                print!("{}", watchdog::summary(&report));
            }
            if report.incomplete() {
                Exit::TempFail.into()
            } else {
                Exit::Ok.into()
            }
        }
        Err(e) => exit::report(PROGRAM, &e),
    }
}
