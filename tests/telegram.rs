//! `clawdbot-telegram` against the Bot API emulator: only operators are obeyed, a decision
//! counts once (also when Telegram delivers an update again), buttons bind to their request,
//! and nothing in a request can break the HTML of a message.

mod common;
#[path = "emulator/telegram.rs"]
mod emulator;

use std::os::unix::fs::PermissionsExt;
use std::process::Output;

use common::{Instance, counting, filed, runs};
use emulator::{TOKEN, Telegram};

const OPERATOR: i64 = 111_222_333;
const STRANGER: i64 = 999_888_777;

fn bot(name: &str) -> (Instance, std::path::PathBuf, Telegram) {
    let (inst, log) = counting(name);
    let telegram = Telegram::start();
    let token = inst.dir.join("telegram-token");
    std::fs::write(&token, TOKEN).unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    inst.drop_in(
        "60-telegram.toml",
        &format!(
            "[telegram]\napi_base = {:?}\ntoken_credential = {:?}\noperators = [{OPERATOR}]\npoll_timeout = \"1s\"\n",
            telegram.base,
            token.display().to_string()
        ),
    );
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
    telegram.fail_next("sendMessage", 429, 2, 1);
    run(&inst);
    assert!(telegram.sent().is_empty(), "retry_after is honoured");
    std::thread::sleep(std::time::Duration::from_millis(1100));
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
