//! The command line of `clawdbot-task` (kept here so man pages and completions are made from it).

use clap::{Parser, Subcommand};
use std::process::ExitCode;

use super::Common;
use crate::core::store::{Store, Task};
use crate::jobs::task;
use crate::platform::exit::{self, Exit};
use crate::platform::time;

/// The program's name, in messages and usage.
pub const PROGRAM: &str = "clawdbot-task";

/// Run the admin agent's queued tasks, one at a time; or list the recent ones.
#[derive(Parser)]
#[command(name = PROGRAM, version, after_help = "\
An operator asks for a task with /task WORDS on Telegram (a private chat), or with a new mail
to the suite that is neither a reply nor a `run` command; with [agent] configured and \"task\"
among its uses, the words are queued. clawdbot-task.path starts this program when a task
waits: it runs [agent] command as root with the operator's words as its instructions, at most
[agent] task_timeout (30 minutes) each, one task after the other, and sends the answer back to
the chat or mail thread. A task found running when it starts was cut short by a crash or a
reboot: it is reported as failed and never run again (docs/tasks.md).

Examples:
  clawdbot-task              run what is queued (as clawdbot-task.service does)
  clawdbot-task list         the last 20 tasks: id, state, who asked, when, the words

Exit status: 0 done, 74 I/O error, 75 retry later, 78 configuration error.")]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    /// Print JSON.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// The last 20 tasks, newest first.
    List,
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
    match cli.command {
        Some(Command::List) => {
            let tasks = Store::open(&config.paths.database())
                .and_then(|mut store| store.read(|tx| tx.recent_tasks(20)));
            match tasks {
                Ok(tasks) => {
                    list(&tasks, cli.json);
                    Exit::Ok.into()
                }
                Err(e) => exit::report(PROGRAM, &e),
            }
        }
        None => match task::run(&config) {
            Ok(report) => {
                if cli.json {
                    super::print_json(&report);
                }
                Exit::Ok.into()
            }
            Err(e) => exit::report(PROGRAM, &e),
        },
    }
}

fn list(tasks: &[Task], json: bool) {
    if json {
        let rows: Vec<serde_json::Value> = tasks
            .iter()
            .map(|t| {
                serde_json::json!({
                    "id": t.id, "state": t.state, "filed_by": t.filed_by,
                    "created_at": time::rfc3339(t.created_at),
                    "started_at": t.started_at.map(time::rfc3339),
                    "finished_at": t.finished_at.map(time::rfc3339),
                    "exit_status": t.exit_status, "words": t.words, "output": t.output,
                })
            })
            .collect();
        super::print_json(&rows);
        return;
    }
    if tasks.is_empty() {
        println!("no task yet");
    }
    for t in tasks {
        let words: String = t
            .words
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(60)
            .collect();
        println!(
            "{}  {:<9}  {}  {}  {words}",
            t.id,
            t.state,
            time::rfc3339(t.created_at),
            t.filed_by
        );
    }
}
