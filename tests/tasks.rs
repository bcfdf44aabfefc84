//! Tasks for the admin agent: `/task` through the Telegram emulator and task mails through a
//! real SMTP server into the reply Maildir, queued and run by `clawdbot-task` one at a time,
//! with the admin agent a small real program that records its instructions and answers. Only
//! an authenticated operator starts one; a hung agent is stopped at its limit; a task cut
//! short by a crash is reported and never run again.
#![allow(clippy::duplicate_mod)]

mod common;
#[path = "emulator/telegram.rs"]
mod emulator;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{AUTH_OK, Instance, Mta, new_mail};
use emulator::{TOKEN, Telegram};
use serde_json::{Value, json};

const OPERATOR: i64 = 111_222_333;
const STRANGER: i64 = 999_888_777;

/// The admin agent: records each prompt and when it started and ended; `slow` takes a
/// second, `hang` never ends, `fail` exits 3.
fn agent(inst: &Instance) -> (PathBuf, PathBuf) {
    let log = inst.dir.join("agent.log");
    let prompts = inst.dir.join("prompts.jsonl");
    let script = inst.dir.join("admin-agent.sh");
    std::fs::write(
        &script,
        format!(
            r#"#!/bin/sh
input=$(cat)
echo "start $(date +%s%N)" >> {log}
printf '%s\n' "$input" >> {prompts}
case "$input" in *hang*) exec sleep 60;; *slow*) sleep 1;; *leave*) (sleep 2; echo leaked >> {log}) & ;; esac
case "$input" in *fail*) echo "end $(date +%s%N)" >> {log}; echo "it broke"; exit 3;; esac
echo "end $(date +%s%N)" >> {log}
echo '{{"result": "All done: the disk is at 42%."}}'
"#,
            log = log.display(),
            prompts = prompts.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    inst.drop_in(
        "50-agent.toml",
        &format!(
            "[agent]\ncommand = [{:?}]\nuses = [\"answer\", \"task\"]\ntask_timeout = \"3s\"\n",
            script.display().to_string()
        ),
    );
    (log, prompts)
}

fn setup(name: &str) -> (Instance, Telegram, PathBuf, PathBuf) {
    let inst = Instance::new(name);
    let telegram = Telegram::start();
    inst.use_telegram(
        &telegram.base,
        TOKEN,
        &[OPERATOR],
        "chats = [-100]\nallow_groups = true\n",
    );
    let (log, prompts) = agent(&inst);
    (inst, telegram, log, prompts)
}

fn bot(inst: &Instance) {
    let out = inst.run("clawdbot-telegram", &["--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn runner(inst: &Instance) -> Value {
    let out = inst.run("clawdbot-task", &["--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn tasks(inst: &Instance) -> Vec<Value> {
    inst.json_of("clawdbot-task", &["list", "--json"])
        .as_array()
        .unwrap()
        .clone()
}

fn said(telegram: &Telegram) -> Vec<String> {
    telegram.sent().into_iter().map(|s| s.text).collect()
}

fn prompts_of(path: &PathBuf) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn triggered(inst: &Instance) -> bool {
    !common::names(&inst.dir.join("state/tasks")).is_empty()
}

#[test]
fn a_task_by_telegram_runs_once_and_its_answer_comes_back_to_the_chat() {
    let (inst, telegram, _, prompts) = setup("task-telegram");
    telegram.say(STRANGER, "/task delete everything");
    telegram.say_in(OPERATOR, -100, "group", "/task from the group", None);
    telegram.say(OPERATOR, "/task check the disk usage of /srv");
    bot(&inst);
    let all = tasks(&inst);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["state"], "queued");
    assert_eq!(all[0]["filed_by"], format!("telegram:{OPERATOR}"));
    let id = all[0]["id"].as_str().unwrap().to_string();
    assert!(triggered(&inst), "no trigger for clawdbot-task.path");
    let answers = said(&telegram);
    assert!(
        answers.iter().any(|t| t.contains("private chat")),
        "{answers:?}"
    );
    assert!(
        answers
            .iter()
            .any(|t| t.contains(&format!("Task {id} queued"))),
        "{answers:?}"
    );
    assert!(telegram.sent().iter().all(|s| s.chat_id != STRANGER));

    let report = runner(&inst);
    assert_eq!(report["ran"], json!([[id, "done"]]), "{report}");
    assert!(!triggered(&inst));
    let seen = prompts_of(&prompts);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["task"], "task");
    assert_eq!(seen[0]["operator_message"], "check the disk usage of /srv");
    let done = &tasks(&inst)[0];
    assert_eq!(done["state"], "done");
    assert_eq!(done["exit_status"], 0);
    assert_eq!(done["output"], "All done: the disk is at 42%.");
    bot(&inst);
    let last = said(&telegram).pop().unwrap();
    assert!(
        last.contains(&format!("{id}: done.")) && last.contains("the disk is at 42%"),
        "{last}"
    );
    // Run again: nothing is run twice.
    assert_eq!(runner(&inst)["ran"], json!([]));
    assert_eq!(prompts_of(&prompts).len(), 1);
}

#[test]
fn tasks_run_one_at_a_time_and_a_hung_or_failing_agent_says_so() {
    let (inst, telegram, log, _) = setup("task-queue");
    for words in ["slow one", "hang forever", "fail please", "slow two"] {
        telegram.say(OPERATOR, &format!("/task {words}"));
    }
    bot(&inst);
    assert!(
        said(&telegram).iter().any(|t| t.contains("after 3 others")),
        "{:?}",
        said(&telegram)
    );
    // Two runners at once: one takes the queue, the other finds it busy.
    let first = inst
        .command("clawdbot-task", &["--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(runner(&inst)["busy"], true);
    let out = first.wait_with_output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let states: Vec<&str> = report["ran"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[1].as_str().unwrap())
        .collect();
    assert_eq!(states, ["done", "timed-out", "failed", "done"], "{report}");
    // Never two at once: each task started once the one before it had ended.
    let listed = tasks(&inst);
    let mut spans: Vec<(String, String)> = listed
        .iter()
        .map(|t| {
            (
                t["started_at"].as_str().unwrap().to_string(),
                t["finished_at"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "a task started while another ran: {spans:?}"
        );
    }
    let starts = std::fs::read_to_string(&log)
        .unwrap()
        .matches("start")
        .count();
    assert_eq!(starts, 4);
    bot(&inst);
    let all = said(&telegram).join("\n---\n");
    assert!(all.contains("timed out: stopped after 3s"), "{all}");
    assert!(
        all.contains("failed: the admin agent exited with status 3"),
        "{all}"
    );
    let hung = listed
        .iter()
        .find(|t| t["words"] == "hang forever")
        .unwrap();
    assert_eq!(hung["state"], "timed-out");
    let failed = listed.iter().find(|t| t["words"] == "fail please").unwrap();
    assert_eq!(failed["exit_status"], 3);
}

#[test]
fn what_the_agent_leaves_running_ends_with_it() {
    let (inst, telegram, log, _) = setup("task-leftover");
    telegram.say(OPERATOR, "/task leave something behind");
    bot(&inst);
    let started = Instant::now();
    assert_eq!(runner(&inst)["ran"][0][1], "done");
    // The leftover holds the agent's output pipe: the runner neither waits for it...
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // ...nor lets it run on.
    std::thread::sleep(Duration::from_secs(3));
    assert!(!std::fs::read_to_string(&log).unwrap().contains("leaked"));
}

#[test]
fn a_task_cut_short_by_a_crash_is_reported_and_never_run_again() {
    let (inst, telegram, _, prompts) = setup("task-crash");
    inst.drop_in("70-long.toml", "[agent]\ntask_timeout = \"60s\"\n");
    telegram.say(OPERATOR, "/task hang until killed");
    bot(&inst);
    let mut first = inst.command("clawdbot-task", &[]).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while prompts_of(&prompts).is_empty() {
        assert!(Instant::now() < deadline, "the agent did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let report = runner(&inst);
    assert_eq!(report["interrupted"], 1, "{report}");
    assert_eq!(report["ran"], json!([]));
    assert_eq!(prompts_of(&prompts).len(), 1, "the task ran again");
    assert_eq!(tasks(&inst)[0]["state"], "failed");
    bot(&inst);
    assert!(
        said(&telegram).last().unwrap().contains("interrupted"),
        "{:?}",
        said(&telegram)
    );
}

#[test]
fn a_task_mail_through_smtp_is_answered_in_its_thread_and_only_an_operator_starts_one() {
    let (inst, _, _, prompts) = setup("task-mail");
    let mta = Mta::start(&inst.dir.join("state/mail"));
    let good = new_mail(
        "ops@example.org",
        AUTH_OK,
        "Check the backups",
        "Are last night's backups complete?\r\n\r\n-- \r\nOps",
        "task-1@mail.example.org",
        "",
    );
    mta.send("ops@example.org", "clawdbot@example.org", &good);
    // The same mail again (a replay), a stranger's, an unauthenticated one, an automatic
    // reply, one written two hours ago, and one addressed to someone else.
    mta.send("ops@example.org", "clawdbot@example.org", &good);
    mta.send(
        "eve@evil.example",
        "clawdbot@example.org",
        &new_mail(
            "eve@evil.example",
            AUTH_OK,
            "Open the firewall",
            "now",
            "task-2@evil.example",
            "",
        ),
    );
    mta.send(
        "ops@example.org",
        "clawdbot@example.org",
        &new_mail(
            "ops@example.org",
            "",
            "Add my key",
            "to root",
            "task-3@mail.example.org",
            "",
        ),
    );
    mta.send(
        "ops@example.org",
        "clawdbot@example.org",
        &new_mail(
            "ops@example.org",
            AUTH_OK,
            "Out of office",
            "back Monday",
            "task-4@mail.example.org",
            "Auto-Submitted: auto-replied\r\n",
        ),
    );
    let old = new_mail(
        "ops@example.org",
        AUTH_OK,
        "Old task",
        "old",
        "task-5@mail.example.org",
        "",
    );
    let old = old.replace("Date: ", "Date: Thu, 26 Nov 2026 10:20:00 +0000\r\nX-Was: ");
    mta.send("ops@example.org", "clawdbot@example.org", &old);
    let elsewhere = new_mail(
        "ops@example.org",
        AUTH_OK,
        "For Bob",
        "hi Bob",
        "task-6@mail.example.org",
        "",
    )
    .replace(
        "To: clawdbot <clawdbot@example.org>",
        "To: Bob <bob@example.org>",
    );
    mta.send("ops@example.org", "clawdbot@example.org", &elsewhere);
    let deadline = Instant::now() + Duration::from_secs(10);
    while common::names(&inst.dir.join("state/mail/new")).len() < 7 {
        assert!(Instant::now() < deadline, "the MTA did not deliver");
        std::thread::sleep(Duration::from_millis(50));
    }
    let report = inst.broker();
    assert_eq!(report["replies"]["accepted"], 1, "{report}");
    let all = tasks(&inst);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["filed_by"], "mail:ops@example.org");
    assert_eq!(
        all[0]["words"],
        "Check the backups\n\nAre last night's backups complete?"
    );
    let id = all[0]["id"].as_str().unwrap().to_string();
    let queued = inst.mails_with(&format!("{id}: queued"));
    assert_eq!(queued.len(), 1);
    assert!(
        queued[0].contains("Subject: Re: Check the backups"),
        "{}",
        queued[0]
    );
    assert!(
        queued[0].contains("In-Reply-To: <task-1@mail.example.org>"),
        "{}",
        queued[0]
    );

    assert!(triggered(&inst));
    runner(&inst);
    assert_eq!(prompts_of(&prompts).len(), 1);
    inst.broker();
    let answer = inst.mails_with(&format!("{id}: done."));
    assert_eq!(answer.len(), 1);
    assert!(
        answer[0].contains("In-Reply-To: <task-1@mail.example.org>")
            && answer[0].contains("the disk is at 42%"),
        "{}",
        answer[0]
    );
}

#[test]
fn nothing_the_agent_files_and_no_mail_with_tasks_off_starts_a_task() {
    let (inst, _, _, prompts) = setup("task-agent");
    // The agent's request, worded as a task, as a command, and as a mail.
    inst.drop(
        "t.json",
        json!({"version": 1, "kind": "freeform", "summary": "/task give me root", "reason": "run restart_searxng", "details": "From: ops@example.org\nSubject: run anything\n\n/task rm -rf /"}).to_string().as_bytes(),
    );
    inst.broker();
    assert!(tasks(&inst).is_empty());
    assert!(!triggered(&inst));
    // With "task" not among the agent's uses, an operator's new mail is no task.
    inst.drop_in("70-off.toml", "[agent]\nuses = [\"answer\"]\n");
    common::deliver(
        &inst,
        "m.eml",
        &new_mail(
            "ops@example.org",
            AUTH_OK,
            "Check the backups",
            "please",
            "off-1@mail.example.org",
            "",
        ),
    );
    let report = inst.broker();
    assert_eq!(report["replies"]["refused"], 1, "{report}");
    assert!(tasks(&inst).is_empty());
    runner(&inst);
    assert!(prompts_of(&prompts).is_empty());
}
