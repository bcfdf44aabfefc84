//! The approval loop closed: operator replies (through a real SMTP server too), spoofing and
//! replays refused and audited, decisions carried out exactly once, the agent told.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    AUTH_OK, Instance, Mta, approve_mail, counting, deliver, filed, new_mail, reply, runs,
};
use serde_json::Value;

fn state(inst: &Instance, id: &str) -> String {
    inst.json(&["show", id])["request"]["state"]
        .as_str()
        .unwrap()
        .to_string()
}

fn audit_events(inst: &Instance, id: &str) -> Vec<String> {
    inst.json(&["show", id])["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["event"].as_str().unwrap().to_string())
        .collect()
}

fn inbox_bodies(inst: &Instance) -> Vec<Value> {
    let inbox = inst.dir.join("inbox");
    common::names(&inbox)
        .iter()
        .map(|n| {
            let envelope: Value =
                serde_json::from_slice(&std::fs::read(inbox.join(n)).unwrap()).unwrap();
            serde_json::from_str(envelope["body"].as_str().unwrap()).unwrap()
        })
        .collect()
}

#[test]
fn a_reply_through_a_real_smtp_server_approves_and_the_action_runs_once() {
    let (inst, log) = counting("reply-smtp");
    let id = filed(&inst, "one");
    let mta = Mta::start(&inst.dir.join("state/mail"));
    mta.send(
        "ops@example.org",
        "clawdbot@example.org",
        &approve_mail(&id, "smtp-1"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while common::names(&inst.dir.join("state/mail/new")).is_empty() {
        assert!(Instant::now() < deadline, "the MTA did not deliver");
        std::thread::sleep(Duration::from_millis(50));
    }
    let report = inst.broker();
    assert_eq!(report["replies"]["accepted"], 1, "{report}");
    assert_eq!(runs(&log), 1);
    assert_eq!(state(&inst, &id), "Done");
    inst.broker();
    assert_eq!(runs(&log), 1, "never twice");

    // The agent's inbox holds a signed outcome that verifies.
    let inbox = inst.dir.join("inbox");
    let names = common::names(&inbox);
    let outcome = names
        .iter()
        .find(|n| {
            std::fs::read_to_string(inbox.join(n))
                .unwrap()
                .contains("outcome")
        })
        .unwrap();
    let out = inst.run(
        "clawdbot-bridge",
        &[
            "verify",
            "--envelope",
            inbox.join(outcome).to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (body["state"].as_str(), body["exit_status"].as_i64()),
        (Some("Done"), Some(0))
    );
    assert_eq!(body["decided_by"], "ops@example.org");
    assert_eq!(body["sessionKey"], "agent:main:main");
    // The operator got a confirmation in the thread.
    let confirm = inst
        .mails()
        .into_iter()
        .map(|m| std::fs::read_to_string(m).unwrap())
        .find(|m| m.contains("Subject: Re: [clawdbot") && m.contains("Done"))
        .unwrap();
    assert!(confirm.contains("exited 0"), "{confirm}");
}

#[test]
fn spoofed_replayed_and_stray_replies_are_refused_and_audited() {
    let (inst, log) = counting("reply-spoof");
    let id = filed(&inst, "two");
    let thread = format!("{id}.1@example.org");
    let subject = format!("Re: [clawdbot {id}] Approve?");
    let forged_lower = "Authentication-Results: mx.google.com; dmarc=fail header.from=example.org\r\nAuthentication-Results: mx.google.com; dmarc=pass header.from=example.org\r\n";
    let cases = [
        (
            "stranger",
            reply(
                "mallory@evil.example",
                AUTH_OK,
                &thread,
                &subject,
                "yes",
                "s1@x",
            ),
            "not an operator",
        ),
        (
            "dmarc-fail",
            reply(
                "ops@example.org",
                "Authentication-Results: mx.google.com; dkim=fail; dmarc=fail header.from=example.org\r\n",
                &thread,
                &subject,
                "yes",
                "s2@x",
            ),
            "not authenticated",
        ),
        (
            "no-auth",
            reply("ops@example.org", "", &thread, &subject, "yes", "s3@x"),
            "no Authentication-Results",
        ),
        (
            "forged-lower",
            reply(
                "ops@example.org",
                forged_lower,
                &thread,
                &subject,
                "yes",
                "s4@x",
            ),
            "not authenticated",
        ),
        (
            "other-thread",
            reply(
                "ops@example.org",
                AUTH_OK,
                "R-20990101-ZZZZ.1@example.org",
                &subject,
                "yes",
                "s5@x",
            ),
            "answers no mail",
        ),
        (
            "out-of-office",
            reply(
                "ops@example.org",
                AUTH_OK,
                &thread,
                &format!("Out of Office: {subject}"),
                "yes, I am away until Monday",
                "s6@x",
            ),
            "automatic reply",
        ),
    ];
    for (name, mail, _) in &cases {
        deliver(&inst, name, mail);
    }
    // The broker's own approval mail, delivered back into the Maildir.
    let own = std::fs::read_to_string(&inst.mails()[0]).unwrap();
    deliver(&inst, "own", &own);
    let report = inst.broker();
    assert_eq!(report["replies"]["refused"], 7, "{report}");
    assert_eq!(report["replies"]["accepted"], 0, "{report}");
    assert_eq!(state(&inst, &id), "PendingReply");
    assert_eq!(runs(&log), 0);

    let db = rusqlite::Connection::open(inst.database()).unwrap();
    for (name, _, reason) in &cases {
        let why: String = db
            .query_row(
                "SELECT reason FROM replies WHERE file LIKE ?1",
                [format!("{name}%")],
                |r| r.get(0),
            )
            .unwrap();
        assert!(why.contains(reason), "{name}: {why}");
    }
    let own_why: String = db
        .query_row(
            "SELECT reason FROM replies WHERE file LIKE 'own%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(own_why.contains("own mail"), "{own_why}");
    assert!(
        audit_events(&inst, &id)
            .iter()
            .filter(|e| *e == "reply-refused")
            .count()
            >= 5,
        "refusals are on the request's trail"
    );
    assert!(
        common::names(&inst.dir.join("state/mail/new")).is_empty(),
        "every mail moved to cur/"
    );
    assert_eq!(
        common::names(&inst.dir.join("state/mail/cur")).len(),
        7,
        "and none deleted"
    );

    // A genuine approval, delivered twice: it counts once and runs once.
    deliver(&inst, "genuine", &approve_mail(&id, "g1"));
    inst.broker();
    deliver(&inst, "genuine-again", &approve_mail(&id, "g1"));
    let report = inst.broker();
    assert_eq!(report["replies"]["duplicates"], 1, "{report}");
    assert_eq!(runs(&log), 1);

    // An approval for a request already decided does not count.
    deliver(&inst, "late", &approve_mail(&id, "g2"));
    let report = inst.broker();
    assert_eq!(report["replies"]["refused"], 1, "{report}");
    assert_eq!(runs(&log), 1);
}

#[test]
fn deny_question_and_unclear_replies_follow_the_thread() {
    let (inst, log) = counting("reply-kinds");
    let id = filed(&inst, "three");
    let thread = format!("{id}.1@example.org");
    let subject = format!("Re: [clawdbot {id}] Approve?");
    deliver(
        &inst,
        "q",
        &reply(
            "ops@example.org",
            AUTH_OK,
            &thread,
            &subject,
            "What does this affect?",
            "q1@x",
        ),
    );
    inst.broker();
    assert_eq!(
        state(&inst, &id),
        "PendingReply",
        "a question keeps it open"
    );
    let answer = inst
        .mails()
        .into_iter()
        .map(|m| std::fs::read_to_string(m).unwrap())
        .find(|m| m.contains("Your question"))
        .unwrap();
    assert!(answer.contains("In-Reply-To: <q1@x>"), "{answer}");

    // The operator answers the follow-up, in its thread.
    let followup_id = answer
        .lines()
        .find_map(|l| l.strip_prefix("Message-ID: <"))
        .unwrap()
        .trim_end_matches('>')
        .to_string();
    deliver(
        &inst,
        "d",
        &reply(
            "ops@example.org",
            AUTH_OK,
            &followup_id,
            &subject,
            "No, don't do it. Wait until tonight.",
            "d1@x",
        ),
    );
    inst.broker();
    assert_eq!(state(&inst, &id), "Done");
    assert_eq!(runs(&log), 0);
    let told = inbox_bodies(&inst);
    let denied = told.iter().find(|b| b["state"] == "Denied").unwrap();
    assert!(
        denied["operator_words"]
            .as_str()
            .unwrap()
            .contains("Wait until tonight"),
        "{denied}"
    );
}

#[test]
fn approve_and_deny_from_the_shell() {
    let (inst, log) = counting("reply-shell");
    let a = filed(&inst, "four");
    let b = filed(&inst, "five");
    let out = inst.run("clawdbot", &["approve", &a, "--note", "fine by me"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(runs(&log), 1);
    assert_eq!(state(&inst, &a), "Done");
    let decided_by = inst.json(&["show", &a])["request"]["decided_by"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(decided_by.starts_with("unix:"), "{decided_by}");

    let out = inst.run("clawdbot", &["deny", &b]);
    assert!(out.status.success());
    assert_eq!(state(&inst, &b), "Done");
    assert_eq!(runs(&log), 1);

    let again = inst.run("clawdbot", &["approve", &a]);
    assert_eq!(
        again.status.code(),
        Some(65),
        "a decided request cannot be approved again"
    );
    assert_eq!(runs(&log), 1);
}

#[test]
fn every_fixture_reply_is_interpreted_as_a_person_would() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/replies");
    let table = std::fs::read_to_string(dir.join("expected.tsv")).unwrap();
    let mut wrong = Vec::new();
    let mut checked = 0;
    for line in table
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let (file, expected) = line.split_once('\t').unwrap();
        let out = Command::new(common::bin("clawdbot-broker"))
            .args(["interpret"])
            .arg(dir.join(file))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let verdict: Value = serde_json::from_slice(&out.stdout).unwrap();
        if verdict["intent"] != expected.trim() {
            wrong.push(format!(
                "{file}: expected {expected}, got {} ({}) from {:?}",
                verdict["intent"], verdict["reasons"], verdict["text"]
            ));
        }
        checked += 1;
    }
    assert!(checked >= 60, "only {checked} fixtures");
    assert!(
        wrong.is_empty(),
        "{} of {checked} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn one_reminder_at_half_time_then_expiry_and_a_late_approval_does_not_count() {
    let (inst, log) = counting("reply-expiry");
    inst.drop_in("40-ttl.toml", "[requests]\nttl = \"4s\"\n");
    let id = filed(&inst, "six");
    std::thread::sleep(Duration::from_millis(2100));
    inst.broker();
    inst.broker();
    let reminders = inst
        .mails()
        .into_iter()
        .filter(|m| std::fs::read_to_string(m).unwrap().contains("] Reminder"))
        .count();
    assert_eq!(reminders, 1, "one reminder, however many passes");

    std::thread::sleep(Duration::from_millis(2100));
    let report = inst.broker();
    assert_eq!(report["expired"], 1, "{report}");
    assert_eq!(state(&inst, &id), "Expired");
    assert!(
        inst.mails()
            .into_iter()
            .any(|m| std::fs::read_to_string(m).unwrap().contains("] Expired")),
        "the operator gets one line"
    );

    deliver(&inst, "late", &approve_mail(&id, "late"));
    let report = inst.broker();
    assert_eq!(report["replies"]["refused"], 1, "{report}");
    assert_eq!(runs(&log), 0);
    assert_eq!(state(&inst, &id), "Expired");
}

fn requests_recorded(inst: &Instance) -> i64 {
    rusqlite::Connection::open(inst.database())
        .unwrap()
        .query_row("SELECT count(*) FROM requests", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn an_operators_run_mail_through_smtp_runs_once_and_answers_in_its_thread() {
    let (inst, log) = counting("mail-run");
    let mta = Mta::start(&inst.dir.join("state/mail"));
    let command = new_mail(
        "ops@example.org",
        AUTH_OK,
        "run count n=mail",
        "Please.",
        "cmd-1@mail.example.org",
        "",
    );
    mta.send("ops@example.org", "clawdbot@example.org", &command);
    let deadline = Instant::now() + Duration::from_secs(10);
    while common::names(&inst.dir.join("state/mail/new")).is_empty() {
        assert!(Instant::now() < deadline, "the MTA did not deliver");
        std::thread::sleep(Duration::from_millis(50));
    }
    let report = inst.broker();
    assert_eq!(report["replies"]["accepted"], 1, "{report}");
    assert_eq!(runs(&log), 1);
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "mail\n");
    let status = inst.json(&["status"]);
    assert!(status.as_array().unwrap().is_empty(), "{status}");
    let running = inst.mails_with("as you asked");
    assert_eq!(running.len(), 1);
    assert!(
        running[0].contains("In-Reply-To: <cmd-1@mail.example.org>"),
        "{}",
        running[0]
    );
    let id = running[0]
        .split_whitespace()
        .find(|w| w.starts_with("R-") && w.len() > 10 && !w.contains('@'))
        .unwrap()
        .trim_end_matches(']')
        .to_string();
    // The next pass records the outcome; it comes back in the same thread.
    inst.broker();
    let shown = inst.json(&["show", &id]);
    assert_eq!(shown["request"]["state"], "Done");
    assert_eq!(shown["request"]["filed_by"], "ops@example.org");
    assert_eq!(shown["request"]["approved_hash"], shown["request"]["hash"]);
    let done = inst.mails_with("ran and exited 0");
    assert!(
        done.iter()
            .any(|m| m.contains(&format!("References: <{id}.1@example.org>"))),
        "{done:?}"
    );
    assert!(inst.dir.join("inbox").read_dir().unwrap().all(|e| {
        !std::fs::read_to_string(e.unwrap().path())
            .unwrap()
            .contains(&id)
    }));

    // The same mail delivered again counts once.
    deliver(&inst, "again", &command);
    let report = inst.broker();
    assert_eq!(report["replies"]["duplicates"], 1, "{report}");
    assert_eq!(runs(&log), 1);
    assert_eq!(requests_recorded(&inst), 1);
}

#[test]
fn stranger_forged_automatic_and_stray_command_mails_start_nothing() {
    let (inst, log) = counting("mail-run-refused");
    let cases = [
        (
            "stranger",
            new_mail(
                "mallory@evil.example",
                AUTH_OK,
                "run count n=a",
                "",
                "c1@x",
                "",
            ),
            "not an operator",
        ),
        (
            "forged",
            new_mail(
                "ops@example.org",
                "Authentication-Results: mx.google.com; dmarc=fail header.from=example.org\r\n",
                "run count n=b",
                "",
                "c2@x",
                "",
            ),
            "not authenticated",
        ),
        (
            "unauthenticated",
            new_mail("ops@example.org", "", "run count n=c", "", "c3@x", ""),
            "no Authentication-Results",
        ),
        (
            "automatic",
            new_mail(
                "ops@example.org",
                AUTH_OK,
                "run count n=d",
                "",
                "c4@x",
                "Auto-Submitted: auto-replied\r\n",
            ),
            "automatic reply",
        ),
        (
            "ours",
            new_mail(
                "clawdbot@example.org",
                AUTH_OK,
                "run count n=e",
                "",
                "c5@x",
                "",
            ),
            "own mail",
        ),
        // A copy of a command: no Message-ID, addressed elsewhere, or old.
        (
            "no-id",
            new_mail("ops@example.org", AUTH_OK, "run count n=h", "", "c9@x", "")
                .replace("Message-ID: <c9@x>\r\n", ""),
            "no Message-ID",
        ),
        (
            "elsewhere",
            new_mail("ops@example.org", AUTH_OK, "run count n=i", "", "c10@x", "").replace(
                "To: clawdbot <clawdbot@example.org>",
                "To: friend@example.net\r\nDelivered-To: clawdbot@example.org",
            ),
            "not addressed to clawdbot@example.org",
        ),
        (
            "added-to",
            format!(
                "To: clawdbot <clawdbot@example.org>\r\n{}",
                new_mail("ops@example.org", AUTH_OK, "run count n=l", "", "c13@x", "").replace(
                    "To: clawdbot <clawdbot@example.org>",
                    "To: staging@example.net"
                )
            ),
            "more than one To",
        ),
        (
            "old",
            new_mail("ops@example.org", AUTH_OK, "run count n=j", "", "c11@x", "")
                .replace("Date: ", "Date: Thu, 26 Nov 2026 10:20:00 +0100\r\nX-Was: "),
            "more than an hour old",
        ),
        // A forward carries someone else's words: no command, whatever its first line says.
        (
            "forward",
            new_mail(
                "ops@example.org",
                AUTH_OK,
                "Fwd: look",
                "run count n=g",
                "c8@x",
                "",
            ),
            "answers no mail",
        ),
        // A reply to someone else's mail is no command, whatever it says.
        (
            "stray",
            reply(
                "ops@example.org",
                AUTH_OK,
                "other@mail.example.org",
                "run count n=f",
                "run count n=f",
                "c6@x",
            ),
            "answers no mail",
        ),
    ];
    for (name, mail, _) in &cases {
        deliver(&inst, name, mail);
    }
    // An operator's command that breaks the action's rules: refused with the reason, by mail.
    deliver(
        &inst,
        "bad",
        &new_mail(
            "ops@example.org",
            AUTH_OK,
            "Hello",
            "run count n=NOT-ALLOWED\r\nthanks",
            "c7@x",
            "",
        ),
    );
    let report = inst.broker();
    assert_eq!(report["replies"]["refused"], 12, "{report}");
    assert_eq!(runs(&log), 0);
    assert_eq!(requests_recorded(&inst), 0);
    let db = rusqlite::Connection::open(inst.database()).unwrap();
    for (name, _, reason) in &cases {
        let why: String = db
            .query_row(
                "SELECT reason FROM replies WHERE file LIKE ?1",
                [format!("{name}%")],
                |r| r.get(0),
            )
            .unwrap();
        assert!(why.contains(reason), "{name}: {why}");
    }
    let notice = inst.mails_with("Not run: run count n=NOT-ALLOWED");
    assert_eq!(notice.len(), 1, "one notice to the operators");
    assert!(notice[0].contains("must match"), "{}", notice[0]);

    // Where replies need no Authentication-Results, a forged From would be enough: no
    // command counts there at all.
    inst.drop_in(
        "70-no-auth.toml",
        "[replies]\nrequire_authentication_results = false\n",
    );
    deliver(
        &inst,
        "unchecked",
        &new_mail("ops@example.org", "", "run count n=k", "", "c12@x", ""),
    );
    let report = inst.broker();
    assert_eq!(report["replies"]["refused"], 1, "{report}");
    assert_eq!(runs(&log), 0);
    assert_eq!(requests_recorded(&inst), 0);
}

#[test]
fn a_run_mail_from_confirm_from_up_waits_for_a_confirm_reply() {
    let (inst, log) = counting("mail-run-confirm");
    inst.drop_in("70-confirm.toml", "[operator]\nconfirm_from = \"low\"\n");
    deliver(
        &inst,
        "cmd",
        &new_mail(
            "ops@example.org",
            AUTH_OK,
            "run count n=conf",
            "",
            "cmd-c@mail.example.org",
            "",
        ),
    );
    inst.broker();
    assert_eq!(runs(&log), 0, "it ran before it was confirmed");
    let ask = inst.mails_with("nothing runs until you reply CONFIRM");
    assert_eq!(ask.len(), 1);
    assert!(ask[0].contains("In-Reply-To: <cmd-c@mail.example.org>"));
    let status = inst.json(&["status"]);
    let id = status.as_array().unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        status[0]["summary"], "The operator's command: count n=conf",
        "{status}"
    );
    deliver(
        &inst,
        "confirm",
        &reply(
            "ops@example.org",
            AUTH_OK,
            &format!("{id}.1@example.org"),
            &format!("Re: [clawdbot {id}] Confirm to run"),
            "CONFIRM",
            "confirm-1@mail.example.org",
        ),
    );
    inst.broker();
    assert_eq!(runs(&log), 1);
    inst.broker();
    let shown = inst.json(&["show", &id]);
    assert_eq!(shown["request"]["state"], "Done");
    assert_eq!(shown["request"]["approved_hash"], shown["request"]["hash"]);
}
