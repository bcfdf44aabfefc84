//! The operator's `clawdbot` command: status, show, doctor, demo, and configuration errors.

mod common;

use std::process::Command;

use common::{Instance, request};

#[test]
fn status_and_show_describe_a_request_and_its_audit_trail() {
    let inst = Instance::new("cli-show");
    inst.drop("a.json", &request("searxng"));
    inst.broker();
    let open = inst.json(&["status"]);
    let id = open[0]["id"].as_str().unwrap().to_string();
    assert_eq!(open[0]["risk"], "medium");

    let text = inst.run("clawdbot", &["status"]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains(&id)
            && text.contains("PendingReply")
            && text.contains("Restart the searxng container"),
        "{text}"
    );

    let shown = inst.json(&["show", &id.to_lowercase()]);
    let trail: Vec<(&str, &str)> = shown["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["from"].as_str().unwrap_or(""),
                a["to"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        trail,
        [
            ("", "Detected"),
            ("Detected", "Evaluating"),
            ("Evaluating", "EmailSent"),
            ("EmailSent", "PendingReply")
        ]
    );

    let missing = inst.run("clawdbot", &["show", "R-20200101-0000"]);
    assert_eq!(missing.status.code(), Some(65));
    let bad = inst.run("clawdbot", &["show", "nonsense"]);
    assert_eq!(bad.status.code(), Some(64));
}

#[test]
fn doctor_passes_on_a_fresh_instance_and_names_each_problem_with_a_fix() {
    let inst = Instance::new("cli-doctor");
    let checks = inst.json(&["doctor"]);
    let failed: Vec<_> = checks
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .collect();
    assert!(failed.is_empty(), "{failed:?}");

    std::fs::remove_dir_all(inst.dir.join("state/quarantine")).unwrap();
    inst.drop_in("50-smtp.toml", "[mail]\ntransport = \"smtp\"\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = 9\nsecurity = \"none\"\ntimeout = \"2s\"\n");
    let out = inst.run("clawdbot", &["doctor"]);
    assert_eq!(out.status.code(), Some(78));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("FAIL quarantine") && text.contains("fix: mkdir -p"),
        "{text}"
    );
    assert!(text.contains("FAIL mail transport smtp"), "{text}");

    inst.drop_in("60-reset.toml", "[watchdog]\nreset_action = \"reset_it\"\n");
    let text = String::from_utf8(inst.run("clawdbot", &["doctor"]).stdout).unwrap();
    assert!(
        text.contains("FAIL watchdog reset_action: [actions.reset_it] is not configured"),
        "{text}"
    );
}

#[test]
fn a_configuration_error_names_file_line_and_key_and_exits_78() {
    let inst = Instance::new("cli-config");
    inst.drop_in("20-bad.toml", "[mail]\n\nmax_per_hour = \"lots\"\n");
    let out = inst.run("clawdbot-broker", &["run"]);
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("clawdbot.toml.d/20-bad.toml:3: max_per_hour:"),
        "{err}"
    );

    let out = Command::new(common::bin("clawdbot"))
        .args(["status"])
        .env("CLAWDBOT_CONFIG", "/nonexistent/c.toml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/c.toml"));
}

#[test]
fn demo_walks_the_whole_loop() {
    let dir = std::env::temp_dir().join(format!("clawdbot-it-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(common::bin("clawdbot"))
        .arg("demo")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "clawdbot-request --kind say_hello",
        "Subject: [clawdbot R-",
        r#"["echo","hello,","operator"]"#,
        "Interpreting → Approved",
        "AgentNotified → Done",
        r#""state": "Done""#,
        "hello, operator",
    ] {
        assert!(
            text.contains(needle),
            "{needle:?} missing from the demo:\n{text}"
        );
    }
}
