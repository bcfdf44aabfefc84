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
