//! The command line of `clawdbot-watchdog` (kept here so man pages and completions are made from it).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// The program's name, in messages and usage.
pub const PROGRAM: &str = "clawdbot-watchdog";

/// Find corrupted agent session files and repair them without losing a valid line.
#[derive(Parser)]
#[command(name = PROGRAM, version, after_help = "\
Started every 5 minutes by clawdbot-watchdog.timer. Each pass reads only the tail of each
session file ([watchdog] window), and not even that when the file's size, mtime and inode are
those it had when last found healthy. A corrupted file is copied to the backup directory,
then the bad lines are removed (a partial last line, a line that is not JSON, merged events,
NUL bytes, invalid UTF-8, a tool result without its call, a malformed tool call, a last turn
whose tool calls were never answered) by writing the repaired file beside it and renaming it
over the original. Nothing before the first problem is touched and a valid line is never
dropped. A bad header is reported, never rewritten. Files under a live lock
(FILE.jsonl.lock) or modified within [watchdog] settle are left for a later pass. After a
pass that repaired a file the gateway is restarted once ([watchdog] restart); a failed
restart is retried on the next pass, and the operator gets one mail per incident.

Examples:
  clawdbot-watchdog --dry-run --json
  clawdbot-watchdog scan /home/dakota/.openclaw/agents/main/sessions/4f1c.jsonl

Exit status: 0 done, 65 (scan) the file is corrupt, 66 (scan) the file cannot be read,
75 a file could not be examined or the restart failed (retried next pass), 78 configuration.")]
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
}
