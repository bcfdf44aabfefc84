//! The command line of `clawdbot-watchdog` (kept here so man pages and completions are made from it).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
    /// Configuration file (drop-ins are read from FILE.d/).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Report what a pass would do; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    /// Log debug messages.
    #[arg(short, long, global = true)]
    pub verbose: bool,
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
