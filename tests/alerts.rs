//! Security alerts to the operator: Wazuh's alert files handed over the way
//! `wazuh-integratord` runs an integration (`clawdbot-alert FILE API_KEY HOOK_URL`), taken by
//! the broker and sent to the Telegram emulator and the mail outbox; hostile alert files and
//! spool entries; de-duplication, digests and quiet hours with the clock moved (libfaketime);
//! and the suite's own grave events on the same path.
#![allow(clippy::duplicate_mod)]

mod common;
#[path = "emulator/telegram.rs"]
mod emulator;

use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::process::Output;

use common::{AUTH_OK, Instance, counting, deliver, filed, reply};
use emulator::{TOKEN, Telegram};
use serde_json::json;

const OPERATOR: i64 = 111_222_333;

fn setup(name: &str, extra: &str) -> (Instance, Telegram) {
    let (inst, _) = counting(name);
    let telegram = Telegram::start();
    inst.use_telegram(
        &telegram.base,
        TOKEN,
        &[OPERATOR],
        &format!("alerts = false\n\n[operator]\ntimezone = \"UTC\"\n\n[alerts]\n{extra}\n"),
    );
    (inst, telegram)
}

/// An alert as Wazuh writes it (alerts.json, one object), with `rule` and `agent` merged in.
fn wazuh(level: u64, rule: &str, agent: &str, description: &str) -> serde_json::Value {
    json!({
        "timestamp": "2026-12-07T21:40:05.123+0000",
        "rule": {"level": level, "description": description, "id": rule, "firedtimes": 1,
                 "mail": false, "groups": ["syslog", "sshd", "authentication_failed"]},
        "agent": {"id": "001", "name": agent, "ip": "192.0.2.10"},
        "manager": {"name": "wazuh-manager"},
        "id": "1765143605.123456",
        "full_log": "Dec  7 21:40:05 web-01 sshd[4242]: Failed password for root from 203.0.113.9 port 51234 ssh2",
        "decoder": {"parent": "sshd", "name": "sshd"},
        "data": {"srcip": "203.0.113.9", "srcport": "51234", "dstuser": "root"},
        "location": "/var/log/auth.log"
    })
}

/// Run the integration as wazuh-integratord does: the alert file's path first, then the
/// api_key and hook_url (empty here) and the options file.
fn integrate(inst: &Instance, name: &str, bytes: &[u8]) -> Output {
    let file = inst.dir.join(format!("custom-clawdbot-{name}.alert"));
    std::fs::write(&file, bytes).unwrap();
    let options = inst.dir.join(format!("custom-clawdbot-{name}.options"));
    std::fs::write(&options, "{}").unwrap();
    inst.command(
        "clawdbot-alert",
        &[file.to_str().unwrap(), "", "", options.to_str().unwrap()],
    )
    .output()
    .unwrap()
}

fn integrated(inst: &Instance, name: &str, alert: &serde_json::Value) {
    let out = integrate(inst, name, alert.to_string().as_bytes());
    assert!(
        out.status.success(),
        "clawdbot-alert: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn spool(inst: &Instance) -> PathBuf {
    inst.dir.join("alerts")
}

/// The broker's pass, then the bot's run, at a moved clock (libfaketime `FAKETIME`) if given.
fn deliver_alerts(inst: &Instance, at: Option<&str>) -> serde_json::Value {
    let pass = run_at(inst, at, "clawdbot-broker", &["run", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&pass.stdout).unwrap();
    run_at(inst, at, "clawdbot-telegram", &["--json"]);
    report
}

fn run_at(inst: &Instance, at: Option<&str>, program: &str, args: &[&str]) -> Output {
    let mut cmd = inst.command(program, args);
    if let Some(at) = at {
        common::faketime(&mut cmd, at);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{program}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn texts(telegram: &Telegram) -> Vec<String> {
    telegram.sent().into_iter().map(|s| s.text).collect()
}

fn alert_mails(inst: &Instance) -> Vec<String> {
    inst.mails_with("[clawdbot alert]")
}

#[test]
fn a_wazuh_alert_reaches_the_phone_and_the_mail_once_per_rule_and_agent() {
    let (inst, telegram) = setup("alert-one", "");
    integrated(
        &inst,
        "a",
        &wazuh(
            12,
            "5712",
            "web-01",
            "sshd: brute force trying to get access to the system",
        ),
    );
    assert_eq!(common::names(&spool(&inst)).len(), 1);
    // The same rule about the same agent again, within the window: counted, not sent again.
    integrated(
        &inst,
        "b",
        &wazuh(
            12,
            "5712",
            "web-01",
            "sshd: brute force trying to get access to the system",
        ),
    );
    let report = deliver_alerts(&inst, None);
    assert_eq!(report["alerts"]["new"], 1, "{report}");
    assert_eq!(report["alerts"]["repeats"], 1, "{report}");
    assert!(
        common::names(&spool(&inst)).is_empty(),
        "the pass takes the spool"
    );

    let sent = telegram.sent();
    assert_eq!(sent.len(), 1, "{:?}", texts(&telegram));
    assert_eq!(sent[0].chat_id, OPERATOR);
    let text = &sent[0].text;
    for part in [
        "level 12",
        "Wazuh rule 5712",
        "001 web-01",
        "brute force",
        "/var/log/auth.log",
        "Failed password for root",
        "2026-12-07 21:40",
        "Seen 1 times since",
    ] {
        assert!(text.contains(part), "{part:?} missing from {text}");
    }
    let mails = alert_mails(&inst);
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("To: ops@example.org"), "{}", mails[0]);
    assert!(
        mails[0].contains("Subject: [clawdbot alert] level 12: sshd: brute force"),
        "{}",
        mails[0]
    );

    // Another agent is another alert.
    integrated(
        &inst,
        "c",
        &wazuh(
            12,
            "5712",
            "db-01",
            "sshd: brute force trying to get access to the system",
        ),
    );
    deliver_alerts(&inst, None);
    assert_eq!(telegram.sent().len(), 2);
    assert!(telegram.sent()[1].text.contains("001 db-01"));
    assert_eq!(alert_mails(&inst).len(), 2);
}

#[test]
fn hostile_alert_files_are_told_as_what_they_are_and_never_break_a_message() {
    let (inst, telegram) = setup("alert-hostile", "max_bytes = 4096");
    // HTML, control and bidirectional characters in every field Wazuh copies from a log.
    let mut evil = wazuh(
        13,
        "100200",
        "web-01\u{202e}10-bew",
        "<b>Injection</b> blocked: <a href=\"https://evil.example\">click</a>\r\nLevel 16: all clear",
    );
    evil["full_log"] =
        json!("GET /?q=<script>alert(1)</script>\u{0007}\u{001b}[31m HTTP/1.1\nline two");
    integrated(&inst, "evil", &evil);
    // Too large, not JSON, JSON without a rule, a level out of range, a rule id that is a path.
    let huge = format!(
        "{{\"rule\":{{\"level\":12,\"id\":\"1\",\"description\":\"{}\"}}}}",
        "A".repeat(10_000)
    );
    integrate(&inst, "huge", huge.as_bytes());
    integrate(&inst, "junk", b"\x00\xff not json {");
    integrate(&inst, "norule", br#"{"agent":{"id":"001"}}"#);
    integrate(
        &inst,
        "level",
        br#"{"rule":{"level":99,"id":"1","description":"x"}}"#,
    );
    integrate(
        &inst,
        "path",
        br#"{"rule":{"level":12,"id":"../../etc/passwd","description":"x"}}"#,
    );
    // Of the suite's own rules: the suite tells those itself, so they are not handed over.
    let mut own = wazuh(12, "100511", "web-01", "clawdbot: spoofed reply");
    own["rule"]["groups"] = json!(["clawdbot", "authentication_failed"]);
    integrated(&inst, "own", &own);
    // The suite's other rules, which it raises no alert for, come through like any alert.
    let mut probed = wazuh(
        10,
        "100503",
        "web-01",
        "clawdbot: many refused request files",
    );
    probed["rule"]["groups"] = json!(["clawdbot"]);
    integrated(&inst, "probed", &probed);
    // Below [alerts] min_level: taken, dropped.
    integrated(
        &inst,
        "low",
        &wazuh(5, "5501", "web-01", "PAM: Login session opened."),
    );
    // A file that is missing: nothing to hand over, and it says so.
    let missing = inst
        .command("clawdbot-alert", &["/nonexistent/custom-clawdbot.alert"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(66));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/custom-clawdbot.alert")
    );
    let spooled: Vec<String> = common::names(&spool(&inst))
        .iter()
        .map(|n| std::fs::read_to_string(spool(&inst).join(n)).unwrap())
        .collect();
    assert_eq!(spooled.len(), 8, "{spooled:?}");
    for why in [
        "larger than 4096 bytes",
        "not a JSON alert",
        "it has no rule",
        "rule.level is not a number from 0 to 16",
        "rule.id is not an id",
    ] {
        assert!(
            spooled.iter().any(|r| r.contains(why)),
            "{why:?} missing from {spooled:?}"
        );
    }

    let report = deliver_alerts(&inst, None);
    assert_eq!(report["alerts"]["dropped"], 1, "{report}");
    let all = texts(&telegram).join("\n----\n");
    // Shown as the text it is: no tag of it reaches Telegram's HTML as a tag.
    let html: String = telegram.sent().into_iter().map(|s| s.html).collect();
    assert!(
        !html.contains("<b>") && !html.contains("<a ") && !html.contains("<script>"),
        "{html}"
    );
    assert!(all.contains("<b>Injection</b> blocked"), "{all}");
    for hidden in ['\u{202e}', '\u{0007}', '\u{001b}', '\r'] {
        assert!(!all.contains(hidden), "{hidden:?} in {all}");
    }
    // The description's line break does not make a line of its own that looks like ours.
    assert!(!all.lines().any(|l| l.starts_with("Level 16")), "{all}");
    // The five unreadable files are one rule about one sender: one message, the rest counted.
    let sent = texts(&telegram);
    assert_eq!(sent.len(), 3, "{all}");
    assert!(all.contains("many refused request files"), "{all}");
    let unreadable = sent
        .iter()
        .find(|t| t.contains("could not be read"))
        .unwrap();
    assert!(unreadable.contains("Seen 4 times since"), "{unreadable}");
    assert!(
        !all.contains("Login session opened") && !all.contains("spoofed reply"),
        "{all}"
    );
}

#[test]
fn whatever_is_planted_in_the_spool_is_quarantined_with_its_reason() {
    let (inst, telegram) = setup("alert-planted", "");
    let dir = spool(&inst);
    std::fs::write(dir.join("a.json"), br#"{"source":"wazuh","level":12,"rule":"1","agent":"x","title":"t","at":0,"detail":"","extra":1}"#).unwrap();
    std::fs::write(dir.join("b.json"), br#"{"source":"wazuh","level":12,"rule":"1","agent":"x","title":"two\nlines","at":0,"detail":""}"#).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", dir.join("c.json")).unwrap();
    std::fs::write(dir.join("d.json"), vec![b' '; 100_000]).unwrap();
    // Posing as the suite's own event, to skip min_level or to pre-empt a real one.
    std::fs::write(dir.join("e.json"), br#"{"source":"clawdbot","level":16,"rule":"reply-forged","agent":"the reply Maildir","title":"t","at":0,"detail":""}"#).unwrap();
    // A name whose quarantine name would pass the file system's 255 bytes.
    let long = std::ffi::OsString::from_vec([vec![0xff; 120], b".json".to_vec()].concat());
    std::fs::write(dir.join(&long), b"{}").unwrap();
    let report = deliver_alerts(&inst, None);
    assert_eq!(report["alerts"]["bad"], 6, "{report}");
    assert!(common::names(&dir).is_empty(), "{:?}", common::names(&dir));
    let reasons: Vec<String> = common::names(&inst.quarantine())
        .iter()
        .filter(|n| n.starts_with("alert-") && n.ends_with(".error.json"))
        .map(|n| std::fs::read_to_string(inst.quarantine().join(n)).unwrap())
        .collect();
    assert_eq!(reasons.len(), 6, "{reasons:?}");
    for why in [
        "unknown field",
        "control characters",
        "not a regular file",
        "at most 65536",
        "the spool carries Wazuh's alerts only",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(why)),
            "{why:?} not in {reasons:?}"
        );
    }
    // One alert for the lot (one rule, one subject), not one per planted file.
    let sent = texts(&telegram);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        sent[0].contains("not an alert") && sent[0].contains("Seen 5 times since"),
        "{}",
        sent[0]
    );
}

#[test]
fn a_burst_becomes_one_digest_and_quiet_hours_hold_all_but_the_critical() {
    let (inst, telegram) = setup(
        "alert-burst",
        "max_per_hour = 3\nquiet_hours = \"22:00-07:00\"\ncritical_level = 14",
    );
    // 15:00 UTC, outside quiet hours: six at once are over the hourly limit: one digest.
    for n in 0..6 {
        integrated(
            &inst,
            &format!("burst{n}"),
            &wazuh(
                10,
                &format!("{}", 5700 + n),
                "web-01",
                &format!("burst {n}"),
            ),
        );
    }
    deliver_alerts(&inst, Some("@2026-12-07 15:00:00"));
    let sent = texts(&telegram);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        sent[0].contains("6 security alerts (more than 3 an hour)"),
        "{}",
        sent[0]
    );
    assert!(
        (0..6).all(|n| sent[0].contains(&format!("burst {n}"))),
        "{}",
        sent[0]
    );
    // Within the same hour a second burst waits for the next hour's digest.
    for n in 0..4 {
        integrated(
            &inst,
            &format!("more{n}"),
            &wazuh(10, &format!("{}", 5800 + n), "web-01", &format!("more {n}")),
        );
    }
    deliver_alerts(&inst, Some("@2026-12-07 15:20:00"));
    assert_eq!(telegram.sent().len(), 1);
    deliver_alerts(&inst, Some("@2026-12-07 16:05:00"));
    let sent = texts(&telegram);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[1].contains("4 security alerts"), "{}", sent[1]);

    // 23:30 UTC, quiet hours: a level-10 alert is held, a critical one goes at once.
    integrated(
        &inst,
        "night",
        &wazuh(10, "5900", "web-01", "night, not critical"),
    );
    integrated(
        &inst,
        "crit",
        &wazuh(15, "5901", "web-01", "night, critical"),
    );
    deliver_alerts(&inst, Some("@2026-12-07 23:30:00"));
    let sent = texts(&telegram);
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(
        sent[2].contains("night, critical") && !sent[2].contains("not critical"),
        "{}",
        sent[2]
    );
    integrated(&inst, "night2", &wazuh(11, "5902", "web-01", "night again"));
    deliver_alerts(&inst, Some("@2026-12-08 03:00:00"));
    assert_eq!(telegram.sent().len(), 3);
    // 07:10: what was held goes out as one summary.
    deliver_alerts(&inst, Some("@2026-12-08 07:10:00"));
    let sent = texts(&telegram);
    assert_eq!(sent.len(), 4, "{sent:?}");
    assert!(
        sent[3].contains("2 security alerts (held during quiet hours)"),
        "{}",
        sent[3]
    );
    assert!(
        sent[3].contains("night, not critical") && sent[3].contains("night again"),
        "{}",
        sent[3]
    );
}

#[test]
fn a_forged_reply_is_an_alert_on_the_same_path() {
    let (inst, telegram) = setup("alert-forged", "");
    let id = filed(&inst, "one");
    // From the operator's address, but no trusted Authentication-Results.
    let forged = reply(
        "ops@example.org",
        "",
        &format!("{id}.1@example.org"),
        &format!("Re: [clawdbot {id}] Approve?"),
        "Approved.",
        "forged-1@mail.example.org",
    );
    deliver(&inst, "forged.eml", &forged);
    deliver_alerts(&inst, None);
    let sent = texts(&telegram);
    let alert = sent
        .iter()
        .find(|t| t.contains("Security alert"))
        .unwrap_or_else(|| panic!("no alert in {sent:?}"));
    assert!(
        alert.contains("clawdbot reply-forged")
            && alert.contains(&id)
            && alert.contains("level 10"),
        "{alert}"
    );
    assert!(alert.contains("not authenticated"), "{alert}");
    // A genuine approval afterwards is no alert.
    deliver(
        &inst,
        "ok.eml",
        &reply(
            "ops@example.org",
            AUTH_OK,
            &format!("{id}.1@example.org"),
            &format!("Re: [clawdbot {id}] Approve?"),
            "Approved.",
            "ok-1@mail.example.org",
        ),
    );
    deliver_alerts(&inst, None);
    let alerts = texts(&telegram)
        .iter()
        .filter(|t| t.contains("Security alert"))
        .count();
    assert_eq!(alerts, 1);
}

#[test]
fn a_flood_of_low_alerts_never_hides_a_critical_one_in_a_digest() {
    let (inst, telegram) = setup("alert-flood", "max_per_hour = 3");
    let record = |n: usize, level: u8, title: &str| {
        json!({"source": "wazuh", "level": level, "rule": format!("{}", 6000 + n), "agent": "001 web-01",
               "title": title, "at": 1_765_000_000, "detail": ""})
    };
    for n in 0..55 {
        let body = record(n, 10, &format!("noise {n}")).to_string();
        std::fs::write(
            spool(&inst).join(format!("20261207T000000Z-{n:03}.json")),
            body,
        )
        .unwrap();
    }
    let critical = record(99, 15, "the real one").to_string();
    std::fs::write(spool(&inst).join("20261207T000000Z-999.json"), critical).unwrap();
    deliver_alerts(&inst, Some("@2026-12-07 15:00:00"));
    // One digest, in as many Telegram messages as its length takes.
    let first = texts(&telegram);
    let digest = first.join("");
    let lines: Vec<&str> = digest.lines().collect();
    assert!(
        lines[0].contains("56 security alerts") && lines[0].contains("highest level 15"),
        "{digest}"
    );
    assert!(lines[1].contains("the real one"), "{digest}");
    assert!(
        digest.contains("… and 6 more of lower levels, in the next digest"),
        "{digest}"
    );
    // The six not listed are not lost: the next hour's digest lists them.
    deliver_alerts(&inst, Some("@2026-12-07 16:05:00"));
    let sent = texts(&telegram);
    assert_eq!(sent.len(), first.len() + 1, "{sent:?}");
    assert!(
        sent[first.len()].starts_with("6 security alerts"),
        "{}",
        sent[first.len()]
    );
}
