//! `clawdbot-mailpoll` against an emulator of the Gmail API (tests/emulator/gmail.rs) that
//! speaks Google's documented JSON, errors included.

mod common;
#[path = "emulator/gmail.rs"]
mod gmail;

use std::os::unix::fs::PermissionsExt;

use common::{Instance, approve_mail, counting, filed, runs};
use gmail::Gmail;
use serde_json::Value;

fn setup(name: &str) -> (Instance, Gmail) {
    let (inst, _) = counting(name);
    let gmail = Gmail::start();
    let cred = inst.dir.join("gmail-oauth.json");
    std::fs::write(&cred, gmail.credential_json()).unwrap();
    std::fs::set_permissions(&cred, std::fs::Permissions::from_mode(0o600)).unwrap();
    inst.drop_in(
        "80-gmail.toml",
        &format!(
            "[gmail]\napi_base = {:?}\ntoken_url = {:?}\nauth_url = {:?}\ncredential = {:?}\ntimeout = \"5s\"\n",
            gmail.api_base(),
            gmail.token_url(),
            format!("{}/o/oauth2/v2/auth", gmail.base),
            cred.display().to_string()
        ),
    );
    (inst, gmail)
}

fn poll(inst: &Instance) -> (Option<i32>, Value, String) {
    let out = inst.run("clawdbot-mailpoll", &["--json"]);
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code(),
        report,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok_poll(inst: &Instance) -> Value {
    let (code, report, err) = poll(inst);
    assert_eq!(code, Some(0), "{err}");
    report
}

fn maildir_new(inst: &Instance) -> Vec<String> {
    common::names(&inst.dir.join("state/mail/new"))
}

fn unrelated(n: usize) -> Vec<u8> {
    format!("From: news@shop.example\r\nTo: ops@example.org\r\nSubject: Offer {n}\r\nMessage-ID: <n{n}@shop.example>\r\n\r\nBuy now. APPROVE or DENY.\r\n").into_bytes()
}

#[test]
fn an_idle_poll_is_one_call_and_only_replies_are_fetched_whole() {
    let (inst, gmail) = setup("gmail-idle");
    ok_poll(&inst);
    gmail.clear_calls();
    ok_poll(&inst);
    let calls = gmail.calls();
    assert_eq!(
        calls.len(),
        1,
        "an idle poll is one history.list call: {calls:?}"
    );
    assert!(calls[0].contains("/history?startHistoryId="), "{calls:?}");

    let id = filed(&inst, "one");
    let reply_id = gmail.add(approve_mail(&id, "r1").as_bytes(), &["INBOX", "UNREAD"]);
    let offer = gmail.add(&unrelated(1), &["INBOX"]);
    gmail.add(&unrelated(2), &["SENT"]);
    gmail.clear_calls();
    let report = ok_poll(&inst);
    assert_eq!(report["delivered"], 1, "{report}");
    let calls = gmail.calls();
    assert!(
        calls
            .iter()
            .any(|c| c.contains(&format!("messages/{reply_id}?format=raw"))),
        "{calls:?}"
    );
    assert!(
        !calls
            .iter()
            .any(|c| c.contains(&format!("messages/{offer}?format=raw"))),
        "unrelated mail is never fetched whole: {calls:?}"
    );
    assert_eq!(maildir_new(&inst), [format!("gmail-{reply_id}")]);
    assert!(
        gmail
            .label_id("clawdbot")
            .is_some_and(|l| gmail.labels_of(&reply_id).contains(&l)),
        "labelled"
    );

    // End to end: the broker reads it and the action runs.
    inst.broker();
    assert_eq!(inst.json(&["show", &id])["request"]["state"], "Done");
    let log = inst.dir.join("ran.log");
    assert_eq!(runs(&log), 1);
}

#[test]
fn pages_expired_history_and_expired_tokens_are_followed() {
    let (inst, gmail) = setup("gmail-pages");
    ok_poll(&inst);
    for n in 0..250 {
        gmail.add(&unrelated(n), &["INBOX"]);
    }
    let id = filed(&inst, "two");
    let reply_id = gmail.add(approve_mail(&id, "r2").as_bytes(), &["INBOX"]);
    gmail.clear_calls();
    let report = ok_poll(&inst);
    assert_eq!(
        (report["seen"].as_u64(), report["delivered"].as_u64()),
        (Some(251), Some(1)),
        "{report}"
    );
    assert!(
        gmail
            .calls()
            .iter()
            .filter(|c| c.contains("/history?"))
            .count()
            >= 3,
        "every page followed"
    );
    assert_eq!(maildir_new(&inst), [format!("gmail-{reply_id}")]);

    // An expired history id: a bounded full sync, then incremental again; nothing doubled.
    let other = filed(&inst, "three");
    let second = gmail.add(approve_mail(&other, "r3").as_bytes(), &["INBOX"]);
    gmail.expire_history();
    gmail.expire_access_tokens();
    let report = ok_poll(&inst);
    assert_eq!(report["full_sync"], true, "{report}");
    // The first reply was moved to cur/ by the broker (in `filed`); nothing is written twice.
    let mut all: Vec<String> = maildir_new(&inst)
        .into_iter()
        .chain(common::names(&inst.dir.join("state/mail/cur")))
        .map(|n| n.trim_end_matches(":2,S").to_string())
        .collect();
    all.sort();
    let mut wanted = vec![format!("gmail-{reply_id}"), format!("gmail-{second}")];
    wanted.sort();
    assert_eq!(all, wanted);
    gmail.clear_calls();
    ok_poll(&inst);
    assert_eq!(
        gmail.calls().len(),
        1,
        "incremental again: {:?}",
        gmail.calls()
    );
}

#[test]
fn outages_back_off_and_a_revoked_grant_is_reported_once() {
    let (inst, gmail) = setup("gmail-errors");
    ok_poll(&inst);
    gmail.fail_next("/gmail/v1/users/me/history", 429, Some(30), 1);
    let (code, _, _) = poll(&inst);
    assert_eq!(code, Some(75));
    gmail.clear_calls();
    let report = ok_poll(&inst);
    assert_eq!(report["skipped"], true);
    assert!(
        gmail.calls().is_empty(),
        "no call during the backoff: {:?}",
        gmail.calls()
    );

    let (inst, gmail) = setup("gmail-grant");
    ok_poll(&inst);
    gmail.revoke_refresh_token();
    gmail.expire_access_tokens();
    let (code, _, err) = poll(&inst);
    assert_eq!(code, Some(78), "{err}");
    assert!(err.contains("authorize"), "{err}");
    let (code, report, err) = poll(&inst);
    assert_eq!(code, Some(0), "reported once, not every 10 seconds: {err}");
    assert_eq!(report["skipped"], true);

    let (inst, gmail) = setup("gmail-malformed");
    ok_poll(&inst);
    gmail.malform_next("/gmail/v1/users/me/history");
    let (code, _, err) = poll(&inst);
    assert_eq!(code, Some(75), "{err}");
    ok_poll(&inst);
}

#[cfg(feature = "failpoints")]
#[test]
fn a_poll_killed_after_writing_writes_nothing_twice() {
    let (inst, gmail) = setup("gmail-crash");
    ok_poll(&inst);
    let id = filed(&inst, "four");
    let reply_id = gmail.add(approve_mail(&id, "r4").as_bytes(), &["INBOX"]);
    let out = inst
        .command("clawdbot-mailpoll", &[])
        .env("CLAWDBOT_FAILPOINT", "mailpoll::after-write")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(maildir_new(&inst), [format!("gmail-{reply_id}")]);
    inst.broker();
    let report = ok_poll(&inst);
    assert_eq!(
        report["delivered"], 1,
        "recorded now, but not written again: {report}"
    );
    assert!(
        maildir_new(&inst).is_empty(),
        "the broker moved it to cur/ and nothing new came"
    );
    assert_eq!(common::names(&inst.dir.join("state/mail/cur")).len(), 1);
}

#[test]
fn the_gmail_transport_sends_through_the_outbox_in_the_request_thread() {
    let (inst, gmail) = setup("gmail-send");
    inst.drop_in("81-transport.toml", "[mail]\ntransport = \"gmail\"\n");
    let id = filed(&inst, "five");
    let sent = gmail.sent();
    assert_eq!(
        sent.len(),
        1,
        "the approval mail went through users.messages.send"
    );
    assert!(
        String::from_utf8_lossy(&sent[0].0).contains(&format!("Message-ID: <{id}.1@example.org>"))
    );
    assert_eq!(
        inst.json(&["show", &id])["request"]["state"],
        "PendingReply"
    );

    let out = inst.run("clawdbot", &["deny", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent = gmail.sent();
    assert_eq!(sent.len(), 2);
    assert!(
        sent[1].1.is_some(),
        "the confirmation joins the request's thread"
    );

    // Gmail down: the mail waits in the outbox and goes once later.
    let other = {
        gmail.fail_next("/gmail/v1/users/me/messages/send", 503, None, 1);
        filed(&inst, "six")
    };
    assert_eq!(
        inst.json(&["show", &other])["request"]["state"],
        "EmailSent"
    );
    rusqlite::Connection::open(inst.database())
        .unwrap()
        .execute("UPDATE outbox SET next_attempt_at = 0", [])
        .unwrap();
    inst.broker();
    assert_eq!(
        inst.json(&["show", &other])["request"]["state"],
        "PendingReply"
    );
    assert_eq!(gmail.sent().len(), 3);
}

#[test]
fn a_reply_arriving_while_a_poll_runs_is_taken_by_the_next() {
    let (inst, gmail) = setup("gmail-during");
    ok_poll(&inst);
    let id = filed(&inst, "seven");
    let late = approve_mail(&id, "late");
    gmail.add_during("/gmail/v1/users/me/history", late.as_bytes(), &["INBOX"]);
    let report = ok_poll(&inst);
    assert_eq!(
        report["delivered"], 0,
        "it arrived after the history was read: {report}"
    );
    let report = ok_poll(&inst);
    assert_eq!(report["delivered"], 1, "{report}");
    let report = ok_poll(&inst);
    assert_eq!(report["delivered"], 0, "once: {report}");
}

#[test]
fn network_errors_exit_75_and_authorize_stores_a_private_credential() {
    let (inst, _emulator) = setup("gmail-net");
    inst.drop_in(
        "82-down.toml",
        &format!(
            "[gmail]\napi_base = \"http://127.0.0.1:{}/gmail/v1\"\n",
            common::free_port()
        ),
    );
    let (code, _, err) = poll(&inst);
    assert_eq!(code, Some(75), "{err}");

    let output = inst.dir.join("new-credential.json");
    let mut child = inst
        .command(
            "clawdbot-mailpoll",
            &[
                "authorize",
                "--client-id",
                gmail::CLIENT_ID,
                "--client-secret",
                gmail::CLIENT_SECRET,
                "--output",
                output.to_str().unwrap(),
            ],
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let pasted = format!(
        "http://127.0.0.1/?code={}&scope=x\n",
        gmail::AUTH_CODE.replace('/', "%2F")
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(pasted.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fgmail.modify"),
        "{shown}"
    );
    assert_eq!(
        std::fs::metadata(&output).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let stored: Value = serde_json::from_slice(&std::fs::read(&output).unwrap()).unwrap();
    assert_eq!(stored["refresh_token"], gmail::REFRESH_TOKEN);
}

#[test]
fn a_message_gmail_cannot_serve_whole_is_set_aside_and_the_poll_goes_on() {
    let (inst, gmail) = setup("gmail-setaside");
    ok_poll(&inst);
    let id = filed(&inst, "aside");
    let broken = gmail.add(approve_mail(&id, "broken").as_bytes(), &["INBOX"]);
    let good = gmail.add(approve_mail(&id, "good").as_bytes(), &["INBOX"]);
    gmail.malform_always(&format!("/gmail/v1/users/me/messages/{broken}"));
    let report = ok_poll(&inst);
    assert_eq!(report["set_aside"], 1, "{report}");
    assert_eq!(report["delivered"], 1, "{report}");
    assert_eq!(maildir_new(&inst), [format!("gmail-{good}")]);
    // The next poll starts past it, and does not trip on it again.
    gmail.clear_calls();
    let again = ok_poll(&inst);
    assert_eq!(again["set_aside"], 0, "{again}");
    assert!(
        !gmail.calls().iter().any(|c| c.contains(&broken)),
        "{:?}",
        gmail.calls()
    );
    inst.broker();
    assert_eq!(runs(&inst.dir.join("ran.log")), 1);

    // A mail larger than any reply the broker reads is not fetched at all.
    inst.drop_in("90-small.toml", "[replies]\nmax_bytes = 4096\n");
    let huge = approve_mail(&id, "huge").replace("Yes, go ahead.", &"x".repeat(8000));
    let huge = gmail.add(huge.as_bytes(), &["INBOX"]);
    gmail.clear_calls();
    let report = ok_poll(&inst);
    assert_eq!(report["delivered"], 0, "{report}");
    assert!(
        !gmail
            .calls()
            .iter()
            .any(|c| c.contains(&format!("messages/{huge}?format=raw"))),
        "{:?}",
        gmail.calls()
    );
}

#[test]
fn an_operators_command_mail_arrives_through_gmail_and_runs_once() {
    let (inst, gmail) = setup("gmail-command");
    ok_poll(&inst);
    let command = format!(
        "{}From: Operator <ops@example.org>\r\nTo: clawdbot <clawdbot@example.org>\r\nSubject: run count n=gmail\r\nMessage-ID: <g-cmd-1@mail.example.org>\r\nDate: {}\r\n\r\nPlease.\r\n",
        common::AUTH_OK,
        jiff::Timestamp::now().strftime("%a, %d %b %Y %H:%M:%S +0000")
    );
    let id = gmail.add(command.as_bytes(), &["INBOX", "UNREAD"]);
    // "Running late" is no command, nor a stranger's "Run completed": never fetched whole.
    let other = gmail.add(
        b"From: ops@example.org\r\nSubject: Running late\r\nMessage-ID: <late@x>\r\n\r\nrun count n=late\r\n",
        &["INBOX"],
    );
    let stranger = gmail.add(
        b"From: ci@builds.example\r\nSubject: Run completed: build 7\r\nMessage-ID: <ci@x>\r\n\r\nok\r\n",
        &["INBOX"],
    );
    let lookalike = gmail.add(
        b"From: \"ops@example.org\" <ops@example.org.evil.example>\r\nSubject: run count n=evil\r\nMessage-ID: <evil@x>\r\n\r\nok\r\n",
        &["INBOX"],
    );
    gmail.clear_calls();
    let report = ok_poll(&inst);
    assert_eq!(report["delivered"], 1, "{report}");
    assert_eq!(maildir_new(&inst), [format!("gmail-{id}")]);
    assert!(
        !gmail.calls().iter().any(|c| [&other, &stranger, &lookalike]
            .iter()
            .any(|id| c.contains(&format!("messages/{id}?format=raw")))),
        "{:?}",
        gmail.calls()
    );
    inst.broker();
    let log = inst.dir.join("ran.log");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "gmail\n");
    // Polled again (the history replayed): recorded once, run once.
    ok_poll(&inst);
    inst.broker();
    assert_eq!(runs(&log), 1);
}

#[test]
fn an_operators_task_mail_arrives_through_gmail_only_with_tasks_on() {
    let (inst, gmail) = setup("gmail-task");
    ok_poll(&inst);
    let mail = |subject: &str, message_id: &str, extra: &str| {
        format!(
            "{}From: Operator <ops@example.org>\r\nTo: clawdbot <clawdbot@example.org>\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n{extra}Date: {}\r\n\r\nPlease check.\r\n",
            common::AUTH_OK,
            jiff::Timestamp::now().strftime("%a, %d %b %Y %H:%M:%S +0000")
        )
    };
    // Tasks off: an operator's new mail is theirs, not fetched.
    let off = gmail.add(
        mail("Check the backups", "g-task-0@mail.example.org", "").as_bytes(),
        &["INBOX"],
    );
    let report = ok_poll(&inst);
    assert_eq!(report["delivered"], 0, "{report}");
    assert!(
        !gmail
            .calls()
            .iter()
            .any(|c| c.contains(&format!("messages/{off}?format=raw")))
    );

    let script = inst.dir.join("agent.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\ncat > /dev/null\necho '{\"result\": \"checked\"}'\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    inst.drop_in(
        "50-agent.toml",
        &format!(
            "[agent]\ncommand = [{:?}]\nuses = [\"task\"]\n",
            script.display().to_string()
        ),
    );
    let task = gmail.add(
        mail("Check the disks", "g-task-1@mail.example.org", "").as_bytes(),
        &["INBOX"],
    );
    // A reply in someone else's thread, and a mail to someone else, are no tasks.
    let threaded = gmail.add(
        mail(
            "Re: lunch",
            "g-task-2@mail.example.org",
            "In-Reply-To: <x@elsewhere>\r\n",
        )
        .as_bytes(),
        &["INBOX"],
    );
    let elsewhere = gmail.add(
        mail("Hi Bob", "g-task-3@mail.example.org", "")
            .replace("To: clawdbot <clawdbot@example.org>", "To: bob@example.org")
            .as_bytes(),
        &["INBOX"],
    );
    gmail.clear_calls();
    let report = ok_poll(&inst);
    assert_eq!(report["delivered"], 1, "{report}");
    assert_eq!(maildir_new(&inst), [format!("gmail-{task}")]);
    assert!(!gmail.calls().iter().any(|c| {
        [&threaded, &elsewhere]
            .iter()
            .any(|id| c.contains(&format!("messages/{id}?format=raw")))
    }));
    inst.broker();
    let listed = inst.json_of("clawdbot-task", &["list", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["words"], "Check the disks\n\nPlease check.");
}
