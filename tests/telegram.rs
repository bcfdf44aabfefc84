//! `clawdbot-telegram` against the Bot API emulator: only operators are obeyed, a decision
//! counts once (also when Telegram delivers an update again), buttons bind to their request,
//! and nothing in a request can break the HTML of a message. Mail notifications come from the
//! Gmail emulator through `clawdbot-mailpoll`.
// Each emulator brings its own copy of the small HTTP server (tests/emulator/http.rs).
#![allow(clippy::duplicate_mod)]

mod common;
#[path = "emulator/telegram.rs"]
mod emulator;
#[path = "emulator/gmail.rs"]
mod gmail;

use std::os::unix::fs::PermissionsExt;
use std::process::Output;

use common::{Instance, counting, filed, runs};
use emulator::{TOKEN, Telegram};

const OPERATOR: i64 = 111_222_333;
const STRANGER: i64 = 999_888_777;

fn bot(name: &str) -> (Instance, std::path::PathBuf, Telegram) {
    let (inst, log) = counting(name);
    let telegram = Telegram::start();
    inst.use_telegram(&telegram.base, TOKEN, &[OPERATOR], "");
    (inst, log, telegram)
}

fn run(inst: &Instance) -> Output {
    let out = inst.run("clawdbot-telegram", &["--json"]);
    assert!(
        out.status.success(),
        "clawdbot-telegram: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn state(inst: &Instance, id: &str) -> String {
    inst.json(&["show", id])["request"]["state"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn an_operator_approves_once_even_when_the_update_comes_again() {
    let (inst, log, telegram) = bot("tg-approve");
    let id = filed(&inst, "a");
    // The broker's pass queued an alert; the first run sends it.
    run(&inst);
    let alert = telegram.sent();
    assert_eq!(alert.len(), 1);
    assert_eq!(alert[0].chat_id, OPERATOR);
    assert!(alert[0].text.contains(&id) && alert[0].text.contains("count"));

    telegram.say(OPERATOR, &format!("/approve {id}"));
    run(&inst);
    assert_eq!(runs(&log), 1);
    assert_eq!(state(&inst, &id), "Done");
    let audit = inst.json(&["show", &id])["audit"].to_string();
    assert!(audit.contains(&format!("telegram:{OPERATOR}")), "{audit}");
    let answers: Vec<String> = telegram
        .sent()
        .into_iter()
        .skip(1)
        .map(|s| s.text)
        .collect();
    assert!(
        answers
            .iter()
            .any(|t| t.starts_with(&format!("Approved {id}"))),
        "{answers:?}"
    );
    // The outcome is confirmed in the same chat by the next run.
    run(&inst);
    let last = telegram.sent().pop().unwrap();
    assert_eq!(last.chat_id, OPERATOR);
    assert!(
        last.text.starts_with(&format!("{id}: Done:")),
        "{}",
        last.text
    );

    // The offset is lost and Telegram delivers everything again: nothing is done twice.
    let db = rusqlite::Connection::open(inst.database()).unwrap();
    db.execute("DELETE FROM settings WHERE key = 'telegram.offset'", [])
        .unwrap();
    telegram.redeliver();
    let before = telegram.sent().len();
    run(&inst);
    assert_eq!(runs(&log), 1);
    assert_eq!(telegram.sent().len(), before);
}

#[test]
fn the_alert_button_approves_and_a_forged_button_does_not() {
    let (inst, log, telegram) = bot("tg-button");
    let id = filed(&inst, "b");
    let other = filed(&inst, "c");
    run(&inst);
    let alert = telegram
        .sent()
        .into_iter()
        .find(|s| s.text.contains(&id))
        .unwrap();
    let approve = alert.markup.unwrap()["inline_keyboard"][0][0]["callback_data"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(approve.starts_with(&format!("approve:{id}:")));

    // The same button data aimed at another request (its key does not match) counts for nothing.
    let forged = approve.replace(&id, &other);
    let query = telegram.press(OPERATOR, OPERATOR, &forged);
    run(&inst);
    assert_eq!(state(&inst, &other), "PendingReply");
    assert!(
        telegram
            .answered()
            .iter()
            .any(|(q, t)| *q == query && t.contains("does not match"))
    );

    let query = telegram.press(OPERATOR, OPERATOR, &approve);
    run(&inst);
    assert_eq!(runs(&log), 1);
    assert_eq!(state(&inst, &id), "Done");
    assert!(
        telegram
            .answered()
            .iter()
            .any(|(q, t)| *q == query && t.starts_with("Approved"))
    );
    // Pressed again: the request is no longer waiting.
    telegram.press(OPERATOR, OPERATOR, &approve);
    run(&inst);
    assert_eq!(runs(&log), 1);
}

#[test]
fn strangers_and_forwarded_messages_are_ignored_and_logged_once() {
    let (inst, log, telegram) = bot("tg-stranger");
    let id = filed(&inst, "d");
    run(&inst);
    let sent = telegram.sent().len();
    telegram.say(STRANGER, &format!("/approve {id}"));
    telegram.say(STRANGER, &format!("/approve {id}"));
    let forwarded = serde_json::json!({"forward_origin": {"type": "user", "date": 1, "sender_user": {"id": OPERATOR, "is_bot": false, "first_name": "Op"}}});
    telegram.say_in(
        OPERATOR,
        OPERATOR,
        "private",
        &format!("/approve {id}"),
        Some(forwarded),
    );
    telegram.say_in(
        OPERATOR,
        -100_123,
        "supergroup",
        &format!("/approve {id}"),
        None,
    );
    let out = run(&inst);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(runs(&log), 0);
    assert_eq!(state(&inst, &id), "PendingReply");
    assert_eq!(telegram.sent().len(), sent, "nobody is answered");
    assert_eq!(
        stderr
            .matches(&format!("from user {STRANGER} ignored: not an operator"))
            .count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("ignored: a forwarded message"), "{stderr}");
    // The operator's group message is refused too, but not logged: one line per sender in
    // ten minutes.
    assert!(
        !stderr.contains("a group chat that is not allowed"),
        "{stderr}"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["refused"], 4);
}

#[test]
fn status_show_and_deny_answer_in_the_chat() {
    let (inst, log, telegram) = bot("tg-commands");
    let id = filed(&inst, "e");
    telegram.say(OPERATOR, "/status@clawdbot_bot");
    telegram.say(OPERATOR, &format!("/show {id}"));
    telegram.say(OPERATOR, "/show R-nonsense");
    telegram.say(OPERATOR, "hello?");
    telegram.say(OPERATOR, &format!("/deny {id} not today <b>&"));
    run(&inst);
    let texts: Vec<String> = telegram.sent().into_iter().map(|s| s.text).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains(&id) && t.contains("1 open request")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Runs:") && t.contains("Hash:")),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t.contains("R-nonsense")), "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("/approve ID")), "{texts:?}");
    assert!(
        texts.iter().any(|t| t.starts_with(&format!("Denied {id}"))),
        "{texts:?}"
    );
    assert_eq!(runs(&log), 0);
    let audit = inst.json(&["show", &id])["audit"].to_string();
    assert!(
        audit.contains("not today <b>&") && audit.contains("\"Denied\""),
        "{audit}"
    );
}

#[test]
fn markup_in_a_request_cannot_break_the_message() {
    let (inst, _log, telegram) = bot("tg-markup");
    let body = serde_json::json!({"version": 1, "kind": "count", "summary": "<b>bold</b> & <a href=\"x\">link</a> &amp; </i>", "reason": "<script>&", "params": {"n": "f"}});
    inst.drop("m.json", body.to_string().as_bytes());
    inst.broker();
    run(&inst);
    let sent = telegram.sent();
    assert_eq!(
        sent.len(),
        1,
        "the emulator parses HTML as Telegram does: {:?}",
        telegram.calls()
    );
    assert!(
        sent[0]
            .text
            .contains("<b>bold</b> & <a href=\"x\">link</a> &amp; </i>")
    );
    assert!(sent[0].text.contains("<script>&"));
}

#[test]
fn rate_limits_wait_and_a_bad_token_is_a_configuration_error() {
    let (inst, _log, telegram) = bot("tg-limits");
    filed(&inst, "g");
    // Generous numbers: the run itself waits 1 s for updates, and tests run side by side.
    telegram.fail_next("sendMessage", 429, 4, 1);
    run(&inst);
    assert!(telegram.sent().is_empty(), "retry_after is honoured");
    std::thread::sleep(std::time::Duration::from_millis(3100));
    run(&inst);
    assert_eq!(telegram.sent().len(), 1, "sent once, after retry_after");

    telegram.conflict_next();
    let out = inst.run("clawdbot-telegram", &[]);
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The failure is not repeated every 2 s: the next runs wait, and say so.
    let out = inst.run("clawdbot-telegram", &["--json"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["skipped"],
        true
    );
    let calls = telegram.calls().len();

    let db = rusqlite::Connection::open(inst.database()).unwrap();
    db.execute(
        "DELETE FROM settings WHERE key LIKE 'telegram.backoff%'",
        [],
    )
    .unwrap();
    std::fs::write(
        inst.dir.join("telegram-token"),
        "123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    )
    .unwrap();
    let out = inst.run("clawdbot-telegram", &[]);
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused the bot token"));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("AAAAAAAAAAAAAAAA"),
        "the token is never shown"
    );
    // A configuration error waits ten minutes before the next try.
    let out = inst.run("clawdbot-telegram", &["--json"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["skipped"],
        true
    );
    assert!(telegram.calls().len() <= calls + 2);
}

#[test]
fn free_text_goes_to_the_admin_agent_when_there_is_one() {
    let (inst, _log, telegram) = bot("tg-agent");
    telegram.say(OPERATOR, "how full is the disk?");
    run(&inst);
    assert!(
        telegram.sent()[0]
            .text
            .starts_with("No admin agent is configured")
    );

    let agent = inst.dir.join("agent.sh");
    std::fs::write(
        &agent,
        "#!/bin/sh\ncat > \"$(dirname \"$0\")/asked.json\"\necho '{\"result\": \"The disk is 41% full <fine>.\"}'\n",
    )
    .unwrap();
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    inst.drop_in(
        "70-agent.toml",
        &format!(
            "[agent]\ncommand = [{:?}]\ntimeout = \"10s\"\n",
            agent.display().to_string()
        ),
    );
    telegram.say(OPERATOR, "how full is the disk?");
    run(&inst);
    let answer = telegram.sent().pop().unwrap();
    assert_eq!(answer.text, "The disk is 41% full <fine>.");
    let asked: serde_json::Value =
        serde_json::from_slice(&std::fs::read(inst.dir.join("asked.json")).unwrap()).unwrap();
    assert_eq!(asked["operator_message"], "how full is the disk?");
    assert_eq!(asked["task"], "answer");
}

/// The Telegram bot plus the Gmail mailbox, with notification rules.
fn notifying(name: &str, extra: &str) -> (Instance, Telegram, gmail::Gmail) {
    let (inst, _log, telegram) = bot(name);
    let mailbox = gmail::Gmail::start();
    let cred = inst.dir.join("gmail-oauth.json");
    std::fs::write(&cred, mailbox.credential_json()).unwrap();
    std::fs::set_permissions(&cred, std::fs::Permissions::from_mode(0o600)).unwrap();
    inst.drop_in(
        "80-gmail.toml",
        &format!(
            "[gmail]\napi_base = {:?}\ntoken_url = {:?}\ncredential = {:?}\n\n[notify]\nmax_per_hour = 5\n{extra}\n[[notify.rules]]\nfrom = [\"news@bank.example\"]\ndrop = true\n\n[[notify.rules]]\nfrom = [\"bank.example\"]\n",
            mailbox.api_base(),
            mailbox.token_url(),
            cred.display().to_string()
        ),
    );
    // The first poll only notes where the mailbox starts.
    poll(&inst);
    (inst, telegram, mailbox)
}

fn poll(inst: &Instance) -> serde_json::Value {
    let out = inst.run("clawdbot-mailpoll", &["--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn mail(from: &str, subject: &str, body: &str) -> Vec<u8> {
    format!("From: Sender <{from}>\r\nTo: ops@example.org\r\nSubject: {subject}\r\nMessage-ID: <{}@x>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n", subject.len() * 7919 + body.len()).into_bytes()
}

#[test]
fn mail_matching_a_rule_reaches_telegram_once_and_a_burst_becomes_one_digest() {
    let (inst, telegram, mailbox) = notifying("tg-notify", "");
    let long_line = "x".repeat(10_000);
    mailbox.add(
        &mail(
            "alerts@bank.example",
            "Card used <abroad> & more",
            &format!("Your card was used.\n\n{long_line}\n\n> quoted old mail\n"),
        ),
        &["INBOX"],
    );
    mailbox.add(
        &mail("news@bank.example", "Newsletter", "offers"),
        &["INBOX"],
    );
    mailbox.add(&mail("someone@else.example", "Hi", "hello"), &["INBOX"]);
    let report = poll(&inst);
    assert_eq!(report["notified"], 1, "{report}");
    run(&inst);
    let sent = telegram.sent();
    let whole: String = sent.iter().map(|s| s.text.as_str()).collect();
    assert!(
        sent.len() >= 3,
        "10,000 characters need three messages: {}",
        sent.len()
    );
    assert!(sent.iter().all(|s| s.text.encode_utf16().count() <= 4096));
    assert!(whole.starts_with(
        "Mail from alerts@bank.example\nSubject: Card used <abroad> & more\n\nYour card was used."
    ));
    assert!(whole.contains(&long_line), "nothing lost in the split");
    assert!(
        !whole.contains("quoted old mail")
            && !whole.contains("Newsletter")
            && !whole.contains("hello")
    );

    // Polled again: nothing new, nothing told twice.
    poll(&inst);
    let before = telegram.sent().len();
    run(&inst);
    assert_eq!(telegram.sent().len(), before);

    // 50 mails at once: over the hourly limit, one digest.
    for n in 0..50 {
        mailbox.add(
            &mail("alerts@bank.example", &format!("Alert {n}"), "x"),
            &["INBOX"],
        );
    }
    assert_eq!(poll(&inst)["notified"], 50);
    run(&inst);
    let digest: Vec<_> = telegram.sent().into_iter().skip(before).collect();
    assert_eq!(digest.len(), 1, "{digest:?}");
    assert!(
        digest[0]
            .text
            .starts_with("50 mails (more than the hourly limit)")
    );
    assert!(digest[0].text.contains("Alert 0") && digest[0].text.contains("Alert 49"));
    // Within the same hour, mail past the limit (5 messages: 3 pieces, the digest, and now
    // two more) waits for the next digest instead of a message each.
    mailbox.add(&mail("alerts@bank.example", "Later", "y"), &["INBOX"]);
    mailbox.add(&mail("alerts@bank.example", "Later still", "z"), &["INBOX"]);
    assert_eq!(poll(&inst)["notified"], 0);
    let count = telegram.sent().len();
    run(&inst);
    assert_eq!(telegram.sent().len(), count);
}

#[test]
fn quiet_hours_hold_notifications_and_summarise_them_after() {
    // Quiet hours around now, in UTC.
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    let start = now.checked_sub(jiff::Span::new().hours(1)).unwrap();
    let end = now.checked_add(jiff::Span::new().hours(1)).unwrap();
    let quiet = format!(
        "quiet_hours = \"{:02}:{:02}-{:02}:{:02}\"\n",
        start.hour(),
        start.minute(),
        end.hour(),
        end.minute()
    );
    let (inst, telegram, mailbox) = notifying("tg-quiet", &quiet);
    inst.drop_in("90-tz.toml", "[operator]\ntimezone = \"UTC\"\n");
    mailbox.add(&mail("alerts@bank.example", "First", "one"), &["INBOX"]);
    mailbox.add(&mail("alerts@bank.example", "Second", "two"), &["INBOX"]);
    poll(&inst);
    run(&inst);
    assert!(telegram.sent().is_empty(), "held during quiet hours");

    // Quiet hours over (here: moved away), the next poll sends one summary.
    let later = now.checked_add(jiff::Span::new().hours(3)).unwrap();
    let moved = format!("{:02}:00-{:02}:30", later.hour(), later.hour());
    let text = std::fs::read_to_string(inst.dir.join("clawdbot.toml.d/80-gmail.toml")).unwrap();
    std::fs::write(
        inst.dir.join("clawdbot.toml.d/80-gmail.toml"),
        text.replace(&quiet, &format!("quiet_hours = \"{moved}\"\n")),
    )
    .unwrap();
    poll(&inst);
    run(&inst);
    let sent = telegram.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        sent[0].text.starts_with("2 mails (held by quiet hours)"),
        "{}",
        sent[0].text
    );
}

#[test]
fn a_decision_in_an_allowed_group_is_audited_and_confirmed_there() {
    let (inst, log, telegram) = bot("tg-group");
    inst.drop_in(
        "61-group.toml",
        "[telegram]\nchats = [-100123]\nallow_groups = true\n",
    );
    let id = filed(&inst, "h");
    run(&inst);
    // The alert went to the operator and to the group.
    let chats: Vec<i64> = telegram.sent().iter().map(|s| s.chat_id).collect();
    assert_eq!(chats, vec![OPERATOR, -100_123]);
    telegram.say_in(
        OPERATOR,
        -100_123,
        "supergroup",
        &format!("/approve {id}"),
        None,
    );
    run(&inst);
    assert_eq!(runs(&log), 1);
    let audit = inst.json(&["show", &id])["audit"].to_string();
    assert!(
        audit.contains(&format!("telegram:{OPERATOR} in chat -100123")),
        "{audit}"
    );
    let last = telegram.sent().pop().unwrap();
    assert_eq!(last.chat_id, -100_123);
    assert!(
        last.text.starts_with(&format!("{id}: Done:")),
        "{}",
        last.text
    );
}

#[test]
fn a_command_addressed_to_another_bot_is_not_obeyed() {
    let (inst, log, telegram) = bot("tg-otherbot");
    inst.drop_in(
        "61-group.toml",
        "[telegram]\nchats = [-100123]\nallow_groups = true\n",
    );
    let id = filed(&inst, "other");
    run(&inst);
    for text in [
        format!("/approve@OtherBot {id}"),
        format!("/approve@clawdbot_bot_evil {id}"),
    ] {
        telegram.say_in(OPERATOR, -100_123, "supergroup", &text, None);
    }
    run(&inst);
    inst.run("clawdbot-exec", &[]);
    assert_eq!(runs(&log), 0, "another bot's command decides nothing here");
    assert_eq!(state(&inst, &id), "PendingReply");
    // Addressed to this bot (in any case), it is obeyed.
    telegram.say_in(
        OPERATOR,
        -100_123,
        "supergroup",
        &format!("/approve@Clawdbot_Bot {id}"),
        None,
    );
    run(&inst);
    assert_eq!(runs(&log), 1);
    assert_eq!(
        telegram.calls().iter().filter(|c| *c == "getMe").count(),
        1,
        "the bot's name is asked once and kept"
    );
}

#[test]
fn a_late_approve_is_refused_and_the_operator_is_told_in_the_chat() {
    let (inst, log, telegram) = bot("tg-late");
    inst.drop_in("40-ttl.toml", "[requests]\nttl = \"3s\"\n");
    let id = filed(&inst, "late");
    run(&inst);
    std::thread::sleep(std::time::Duration::from_millis(3200));
    // No broker pass has expired it: the command is the first to see the deadline passed.
    telegram.say(OPERATOR, &format!("/approve {id}"));
    run(&inst);
    inst.run("clawdbot-exec", &[]);
    assert_eq!(runs(&log), 0, "a late approval runs nothing");
    assert_eq!(state(&inst, &id), "Expired");
    let answers: Vec<String> = telegram.sent().into_iter().map(|s| s.text).collect();
    assert!(
        answers
            .iter()
            .any(|t| t.contains("Too late") && t.contains(&id)),
        "{answers:?}"
    );
    let audit = inst.json(&["show", &id])["audit"].to_string();
    assert!(audit.contains("after the deadline"), "{audit}");
}

/// The open requests' summaries, and the number of requests ever recorded.
fn recorded(inst: &Instance) -> (Vec<String>, i64) {
    let open = inst.json(&["status"]);
    let summaries = open
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["summary"].as_str().unwrap().to_string())
        .collect();
    let db = rusqlite::Connection::open(inst.database()).unwrap();
    let all = db
        .query_row("SELECT count(*) FROM requests", [], |r| r.get(0))
        .unwrap();
    (summaries, all)
}

#[test]
fn an_operators_run_command_runs_once_as_a_request_they_filed_and_answers_in_the_chat() {
    let (inst, log, telegram) = bot("tg-run");
    // Strangers, forwarded commands and bad commands record nothing and run nothing.
    telegram.say(STRANGER, "/run count n=one");
    let forwarded = serde_json::json!({"forward_origin": {"type": "user", "date": 1, "sender_user": {"id": OPERATOR, "is_bot": false, "first_name": "Op"}}});
    telegram.say_in(
        OPERATOR,
        OPERATOR,
        "private",
        "/run count n=one",
        Some(forwarded),
    );
    for bad in [
        "/run",
        "/run freeform",
        "/run rm_everything path=/",
        "/run count",
        "/run count n=ONE",
        "/run count n=one n=two",
        "/run count n=one extra",
        "/run count n=one m=two",
        "/run count n=$(reboot)",
    ] {
        telegram.say(OPERATOR, bad);
    }
    // Held up for an hour (the bot was stopped): it starts nothing when it comes back.
    let hour_ago = serde_json::json!({"date": jiff::Timestamp::now().as_second() - 3600});
    telegram.say_in(
        OPERATOR,
        OPERATOR,
        "private",
        "/run count n=one",
        Some(hour_ago),
    );
    let before = telegram.sent().len();
    run(&inst);
    assert_eq!(runs(&log), 0);
    assert_eq!(recorded(&inst).1, 0, "a refused command was recorded");
    let answers: Vec<_> = telegram.sent().into_iter().skip(before).collect();
    assert!(answers.iter().all(|s| s.chat_id == OPERATOR), "{answers:?}");
    assert_eq!(answers.len(), 10, "{answers:?}");
    assert!(
        answers[9].text.contains("more than 10 minutes ago"),
        "{}",
        answers[9].text
    );
    let texts: Vec<&str> = answers.iter().map(|s| s.text.as_str()).collect();
    assert!(
        texts[2].contains("No action \"rm_everything\""),
        "{texts:#?}"
    );
    assert!(
        answers[4].text.starts_with("Not run"),
        "{}",
        answers[4].text
    );

    telegram.say(OPERATOR, "/run count n=one");
    let before = telegram.sent().len();
    run(&inst);
    assert_eq!(runs(&log), 1);
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "one\n");
    let answer = &telegram.sent()[before];
    assert!(answer.text.starts_with("Running R-"), "{}", answer.text);
    let id = answer.text.split_whitespace().nth(1).unwrap().to_string();
    // The outcome comes back to the chat, with the output's first lines.
    run(&inst);
    let last = telegram.sent().pop().unwrap();
    assert_eq!(last.chat_id, OPERATOR);
    assert!(
        last.text.starts_with(&format!("{id}: Done:")),
        "{}",
        last.text
    );
    assert!(last.text.contains("Output (first lines)"), "{}", last.text);

    // Recorded and audited as a request the operator filed, the same hash rules; the agent
    // is told nothing of it.
    let shown = inst.json(&["show", &id]);
    assert_eq!(shown["request"]["state"], "Done");
    assert_eq!(shown["request"]["filed_by"], format!("telegram:{OPERATOR}"));
    assert_eq!(shown["request"]["approved_hash"], shown["request"]["hash"]);
    let audit = shown["audit"].as_array().unwrap();
    assert_eq!(audit[0]["actor"], format!("telegram:{OPERATOR}"));
    assert!(
        audit
            .iter()
            .any(|a| a["from"] == "Evaluating" && a["to"] == "Approved"),
        "{audit:?}"
    );
    let db = rusqlite::Connection::open(inst.database()).unwrap();
    let told: i64 = db
        .query_row(
            "SELECT count(*) FROM bridge_messages WHERE request_id = ?1",
            [&id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(told, 0, "the agent was told of the operator's command");

    // Delivered again (the offset lost): it never runs twice.
    db.execute("DELETE FROM settings WHERE key = 'telegram.offset'", [])
        .unwrap();
    telegram.redeliver();
    run(&inst);
    assert_eq!(runs(&log), 1);
    assert_eq!(recorded(&inst).1, 1);
}

#[test]
fn a_run_command_from_confirm_from_up_waits_for_an_approval_bound_to_it() {
    let (inst, log, telegram) = bot("tg-run-confirm");
    inst.drop_in("70-confirm.toml", "[operator]\nconfirm_from = \"low\"\n");
    telegram.say(OPERATOR, "/run count n=two");
    let before = telegram.sent().len();
    run(&inst);
    assert_eq!(runs(&log), 0, "it ran before it was confirmed");
    let shown: Vec<_> = telegram.sent().into_iter().skip(before).collect();
    let confirm = shown.iter().find(|s| s.markup.is_some()).unwrap();
    assert!(confirm.text.contains("Hash: ") && confirm.text.contains("[\""));
    let id = confirm.text.split_whitespace().nth(1).unwrap().to_string();
    assert_eq!(state(&inst, &id), "PendingReply");
    assert!(
        shown
            .iter()
            .any(|s| s.text.contains("at or above [operator] confirm_from")),
        "{shown:?}"
    );
    // Another command's button, or a stranger pressing this one, approves nothing.
    let approve = confirm.markup.as_ref().unwrap()["inline_keyboard"][0][0]["callback_data"]
        .as_str()
        .unwrap()
        .to_string();
    telegram.press(STRANGER, STRANGER, &approve);
    telegram.press(OPERATOR, OPERATOR, &format!("{approve}0"));
    run(&inst);
    assert_eq!(runs(&log), 0);
    assert_eq!(state(&inst, &id), "PendingReply");

    telegram.press(OPERATOR, OPERATOR, &approve);
    run(&inst);
    assert_eq!(runs(&log), 1);
    run(&inst);
    assert_eq!(state(&inst, &id), "Done");
    let shown = inst.json(&["show", &id]);
    assert_eq!(shown["request"]["approved_hash"], shown["request"]["hash"]);

    // Denied instead: nothing runs, and no agent is told of the operator's own command.
    telegram.say(OPERATOR, "/run count n=three");
    run(&inst);
    let status = inst.json(&["status"]);
    let other = status.as_array().unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    telegram.say(OPERATOR, &format!("/deny {other}"));
    run(&inst);
    assert_eq!(runs(&log), 1);
    assert_eq!(state(&inst, &other), "Done");
    let answer = telegram.sent().pop().unwrap().text;
    assert_eq!(answer, format!("Denied {other}. Nothing runs."));
    let audit = inst.json(&["show", &other])["audit"].to_string();
    assert!(audit.contains("no agent to tell"), "{audit}");
}
