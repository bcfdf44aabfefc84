//! Everything at once on one database: broker passes, `clawdbot approve` from a shell,
//! `clawdbot-exec`, the Gmail poll (against the emulator), the watchdog and a maintenance
//! check, each in its own loop. No process may
//! fail with a locked database, and every approved action runs exactly once.

mod common;
#[path = "emulator/gmail.rs"]
mod gmail;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Instance, counting};
use serde_json::Value;

const REQUESTS: usize = 30;

/// What went wrong in a loop: the command and its stderr.
type Failures = Arc<Mutex<Vec<String>>>;

/// One round of a job's loop.
type Job = Box<dyn Fn(&Instance, &Failures) + Send>;

fn check(failures: &Failures, what: &str, out: &Output, allowed: &[i32]) {
    let code = out.status.code().unwrap_or(-1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !allowed.contains(&code) || stderr.contains("locked") || stderr.contains("busy") {
        failures
            .lock()
            .unwrap()
            .push(format!("{what} exited {code}: {stderr}"));
    }
}

fn open_requests(inst: &Instance) -> Vec<Value> {
    let out = inst.run("clawdbot", &["--json", "status"]);
    serde_json::from_slice::<Value>(&out.stdout)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

#[test]
fn all_jobs_at_once_never_lock_out_and_never_run_twice() {
    let (inst, log) = counting("concurrency");
    inst.drop_in(
        "40-concurrency.toml",
        "[exec]\ninline = false\n\n[mail]\nmax_per_hour = 1000\n",
    );
    let gmail = gmail::Gmail::start();
    let cred = inst.dir.join("gmail-oauth.json");
    std::fs::write(&cred, gmail.credential_json()).unwrap();
    std::fs::set_permissions(&cred, std::fs::Permissions::from_mode(0o600)).unwrap();
    inst.drop_in(
        "80-gmail.toml",
        &format!(
            "[gmail]\napi_base = {:?}\ntoken_url = {:?}\ncredential = {:?}\ntimeout = \"5s\"\n",
            gmail.api_base(),
            gmail.token_url(),
            cred.display().to_string()
        ),
    );
    for i in 0..REQUESTS {
        let body = serde_json::json!({"version": 1, "kind": "count", "summary": format!("Count c{i}"), "reason": "load", "params": {"n": format!("c{i}")}});
        inst.drop(&format!("c{i}.json"), body.to_string().as_bytes());
    }
    let inst = Arc::new(inst);
    let stop = Arc::new(AtomicBool::new(false));
    let failures: Failures = Arc::default();
    let mut loops = Vec::new();
    let spawn = |name: &'static str, job: Job| {
        let (inst, stop, failures) = (Arc::clone(&inst), Arc::clone(&stop), Arc::clone(&failures));
        std::thread::spawn(move || {
            let mut rounds = 0;
            while !stop.load(Ordering::Relaxed) {
                job(&inst, &failures);
                rounds += 1;
            }
            (name, rounds)
        })
    };
    for _ in 0..2 {
        loops.push(spawn(
            "broker",
            Box::new(|inst, f| {
                check(
                    f,
                    "clawdbot-broker run",
                    &inst.run("clawdbot-broker", &["run"]),
                    &[0],
                )
            }),
        ));
    }
    loops.push(spawn(
        "exec",
        Box::new(|inst, f| check(f, "clawdbot-exec", &inst.run("clawdbot-exec", &[]), &[0])),
    ));
    loops.push(spawn(
        "approve",
        Box::new(|inst, f| {
            for request in open_requests(inst) {
                if request["state"] == "PendingReply" || request["state"] == "EmailSent" {
                    let id = request["id"].as_str().unwrap_or_default();
                    // 65: another approve, or the broker, moved it on first.
                    check(
                        f,
                        "clawdbot approve",
                        &inst.run("clawdbot", &["approve", id]),
                        &[0, 65],
                    );
                }
            }
        }),
    ));
    loops.push(spawn(
        "mailpoll",
        Box::new(|inst, f| {
            check(
                f,
                "clawdbot-mailpoll",
                &inst.run("clawdbot-mailpoll", &[]),
                &[0],
            )
        }),
    ));
    loops.push(spawn(
        "watchdog",
        Box::new(|inst, f| {
            check(
                f,
                "clawdbot-watchdog",
                &inst.run("clawdbot-watchdog", &[]),
                &[0],
            )
        }),
    ));
    loops.push(spawn(
        "maint",
        Box::new(|inst, f| {
            let out = inst.run("clawdbot-maint", &["daily", "--only", "suite"]);
            check(f, "clawdbot-maint", &out, &[0]);
        }),
    ));

    let start = Instant::now();
    let mut done = false;
    while start.elapsed() < Duration::from_secs(180) {
        std::thread::sleep(Duration::from_millis(500));
        let spool_empty = common::names(&inst.spool()).is_empty();
        if spool_empty && open_requests(&inst).is_empty() && common::runs(&log) >= REQUESTS {
            done = true;
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let rounds: BTreeMap<&str, usize> =
        loops
            .into_iter()
            .map(|l| l.join().unwrap())
            .fold(BTreeMap::new(), |mut m, (name, n)| {
                *m.entry(name).or_default() += n;
                m
            });
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} failures, first: {}",
        failures.len(),
        failures[0]
    );
    assert!(
        done,
        "not every request finished in time: {:?}, rounds {rounds:?}",
        open_requests(&inst)
    );
    // Every action ran exactly once.
    let ran = std::fs::read_to_string(&log).unwrap();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for line in ran.lines() {
        *counts.entry(line).or_default() += 1;
    }
    assert_eq!(counts.len(), REQUESTS, "{counts:?}");
    assert!(
        counts.values().all(|&n| n == 1),
        "an action ran twice: {counts:?}"
    );
    assert!(rounds.values().all(|&n| n > 0), "{rounds:?}");
}
