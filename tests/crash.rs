//! A broker pass killed at each crash point is finished by the next pass: nothing is lost,
//! no request is mailed twice. Needs `--features failpoints`.
#![cfg(feature = "failpoints")]

mod common;

use common::{Instance, approve_mail, counting, deliver, filed, request, runs};

fn crash_at(inst: &Instance, point: &str) {
    let out = inst
        .command("clawdbot-broker", &["run"])
        .env("CLAWDBOT_FAILPOINT", point)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{point}: the pass should have died");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("failpoint {point}")),
        "{point}"
    );
}

#[test]
fn killed_after_recording_before_mailing_the_next_pass_mails_once() {
    for point in [
        "broker::after-record",
        "broker::after-intake",
        "broker::after-evaluate",
        "broker::after-send",
    ] {
        let inst = Instance::new(&format!("crash-{}", point.replace("::", "-")));
        inst.drop("a.json", &request("searxng"));
        crash_at(&inst, point);

        inst.broker();
        inst.broker();
        let open = inst.json(&["status"]);
        let open = open.as_array().unwrap();
        assert_eq!(
            open.len(),
            1,
            "{point}: exactly one request recorded: {open:?}"
        );
        assert_eq!(open[0]["state"], "PendingReply", "{point}");
        assert!(inst.spool_json().is_empty(), "{point}: spool emptied");

        // One mail, whatever the crash point: the file transport names mails by Message-ID,
        // so even a mail sent but not yet recorded as sent is written once, not twice.
        let mails = inst.mails();
        assert_eq!(mails.len(), 1, "{point}: {mails:?}");
        let id = open[0]["id"].as_str().unwrap();
        assert!(
            mails[0].to_string_lossy().contains(&format!("{id}.1@")),
            "{point}: {mails:?}"
        );

        let shown = inst.json(&["show", id]);
        let queued = shown["audit"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["to"] == "EmailSent")
            .count();
        assert_eq!(queued, 1, "{point}: the mail was queued once");
    }
}

#[test]
fn an_approved_action_runs_at_most_once_whatever_the_crash_point() {
    for (point, ran, end) in [
        // Approval recorded, nothing run yet: the next pass runs it, once.
        ("broker::after-replies", 1, "Done"),
        // Claimed, killed before it ran: never run; the outcome is unknown.
        ("exec::after-claim", 0, "Failed"),
        // Ran, killed before the result was recorded: not run again; the outcome is unknown.
        ("exec::after-run", 1, "Failed"),
        // Ran and recorded, killed before anyone was told: the next pass tells them.
        ("broker::after-exec", 1, "Done"),
    ] {
        let (inst, log) = counting(&format!("crash-{}", point.replace("::", "-")));
        let id = filed(&inst, "x");
        deliver(&inst, "approve", &approve_mail(&id, "a1"));
        crash_at(&inst, point);
        inst.broker();
        inst.broker();
        assert_eq!(runs(&log), ran, "{point}: runs");
        let shown = inst.json(&["show", &id]);
        assert_eq!(shown["request"]["state"], end, "{point}");
        let inbox = inst.dir.join("inbox");
        let told = common::names(&inbox)
            .iter()
            .filter(|n| {
                std::fs::read_to_string(inbox.join(n))
                    .unwrap()
                    .contains("outcome")
            })
            .count();
        assert_eq!(told, 1, "{point}: the agent is told exactly once");
    }
}

/// Runs the loop's steps, crashing the first process that reaches `point` (if any), then
/// running that step again without it, as a restarted unit would.
struct Crasher {
    point: Option<String>,
    crashed: Option<String>,
}

impl Crasher {
    fn step(&mut self, inst: &Instance, program: &str, args: &[&str]) {
        let mut cmd = inst.command(program, args);
        if let (Some(point), None) = (&self.point, &self.crashed) {
            cmd.env("CLAWDBOT_FAILPOINT", point);
        }
        let out = cmd.output().unwrap();
        if out.status.success() {
            return;
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            self.crashed.is_none() && stderr.contains("failpoint"),
            "{program} {args:?} failed without a crash point ({:?}): {stderr}",
            self.point
        );
        self.crashed = Some(format!("{program} {args:?}"));
        let again = inst.command(program, args).output().unwrap();
        assert!(
            again.status.success(),
            "{program} after the crash: {}",
            String::from_utf8_lossy(&again.stderr)
        );
    }
}

fn count(inst: &Instance, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(inst.database()).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// The whole loop (request, mail, reply, approval, run, confirmation, the agent told), with a
/// crash at `point` or a kill after `kill_after` of the approving pass; then the invariants.
fn whole_loop(
    name: &str,
    point: Option<String>,
    kill_after: Option<std::time::Duration>,
) -> Option<String> {
    let (inst, log) = counting(name);
    let mut crasher = Crasher {
        point,
        crashed: None,
    };
    let body = serde_json::json!({"version": 1, "kind": "count", "summary": "Count one", "reason": "crash", "params": {"n": "one"}, "reply_session": "agent:main:main"});
    inst.drop("one.json", body.to_string().as_bytes());
    crasher.step(&inst, "clawdbot-broker", &["run"]);
    let id = inst.json(&["status"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    deliver(&inst, "approval.eml", &approve_mail(&id, "crash"));
    if let Some(delay) = kill_after {
        let mut child = inst.command("clawdbot-broker", &["run"]).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
    }
    for _ in 0..3 {
        crasher.step(&inst, "clawdbot-broker", &["run"]);
    }
    // A run interrupted between its claim and its recorded result is never run again: the
    // request fails as "outcome unknown" for a person to check. Otherwise it is done, once.
    let shown = inst.json(&["show", &id]);
    match shown["request"]["state"].as_str() {
        Some("Done") => assert_eq!(runs(&log), 1, "{name}: the action ran exactly once"),
        Some("Failed") => {
            assert!(runs(&log) <= 1, "{name}: the action ran twice");
            assert!(
                shown.to_string().contains("outcome unknown"),
                "{name}: {shown}"
            );
        }
        other => panic!("{name}: not final: {other:?}: {shown}"),
    }
    assert!(inst.spool_json().is_empty(), "{name}: the spool is empty");
    assert!(
        common::names(&inst.dir.join("state/mail/new")).is_empty(),
        "{name}: every reply was read"
    );
    assert_eq!(
        count(&inst, "SELECT count(*) FROM outbox WHERE sent_at IS NULL"),
        0,
        "{name}: every mail went"
    );
    assert_eq!(
        count(&inst, "SELECT count(*) FROM outbox") as usize,
        inst.mails().len(),
        "{name}: each mail once"
    );
    assert_eq!(
        count(
            &inst,
            "SELECT count(*) FROM bridge_messages WHERE state != 'delivered'"
        ),
        0,
        "{name}: the agent was told"
    );
    let envelopes = common::names(&inst.dir.join("inbox")).len() as i64;
    assert_eq!(
        envelopes,
        count(&inst, "SELECT count(*) FROM bridge_messages"),
        "{name}: each message once"
    );
    assert!(envelopes >= 1, "{name}");
    crasher.crashed
}

#[test]
fn the_whole_loop_survives_a_crash_after_every_commit_and_at_every_point() {
    let mut covered = 0;
    // Every commit of every process in turn: the Nth commit of the first process to make N.
    for n in 1.. {
        let crashed = whole_loop(
            &format!("sweep-commit-{n}"),
            Some(format!("store::after-commit#{n}")),
            None,
        );
        if crashed.is_none() {
            break;
        }
        covered += 1;
        assert!(n < 200, "the loop never ends");
    }
    assert!(covered >= 5, "only {covered} commits crashed");
    for point in [
        "broker::after-record",
        "broker::after-intake",
        "broker::after-evaluate",
        "broker::after-send",
        "broker::after-replies",
        "broker::after-exec",
        "exec::after-claim",
        "exec::after-run",
        "bridge::after-deliver",
    ] {
        let crashed = whole_loop(
            &format!("sweep-{}", point.replace("::", "-")),
            Some(point.to_string()),
            None,
        );
        assert!(crashed.is_some(), "{point} was never reached");
        covered += 1;
    }
    eprintln!("crash sweep: {covered} crash points, each followed by the loop to its end");
}

#[test]
fn the_whole_loop_survives_kills_at_random_moments() {
    // A fixed sequence of delays across the approving pass (tens of milliseconds long).
    let mut delay = 7u64;
    for run in 0..15 {
        delay = (delay * 37 + 11) % 60;
        whole_loop(
            &format!("kill-{run}"),
            None,
            Some(std::time::Duration::from_millis(delay)),
        );
    }
}

/// A receiver killed while verifying is given the message again, and a message handed over
/// once is refused after.
#[test]
fn a_receiver_killed_while_verifying_gets_the_message_on_its_retry() {
    // `clawdbot init` made the instance a bridge secret.
    let inst = Instance::new("crash-bridge-verify");
    let out = inst.run("clawdbot-bridge", &["send", "--message", "Done: x"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let envelope = stdout.split_whitespace().nth(1).unwrap().to_string();
    let verify = || inst.command("clawdbot-bridge", &["verify", "--envelope", &envelope]);

    // Killed before the body reached stdout: nothing was handed over.
    let out = verify()
        .env("CLAWDBOT_FAILPOINT", "bridge::before-hand-over")
        .output()
        .unwrap();
    assert!(!out.status.success() && out.stdout.is_empty());
    // stdout cannot be written (a full disk): not handed over either.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = verify().stdout(full).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Killed after the body was written but before the id was recorded: the caller saw the
    // process die, so it will ask again, and gets it again.
    let out = verify()
        .env("CLAWDBOT_FAILPOINT", "bridge::after-hand-over")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Done: x"));

    let out = verify().output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Done: x"));
    let out = verify().output().unwrap();
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("replay"));
}
