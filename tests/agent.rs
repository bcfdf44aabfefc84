//! The optional admin agent command: it raises risk but never lowers it, answers questions,
//! reads unclear replies without ever approving a high-risk request, and alone carries out
//! freeform requests.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{AUTH_OK, Instance, approve_mail, counting, deliver, filed, reply, runs};

/// A stand-in admin agent: a shell script answering by task, as `claude -p --output-format
/// json` would (the answer as a JSON string in `result`).
fn with_agent(inst: &Instance, answers: &[(&str, &str)]) {
    let mut script = String::from(
        "#!/bin/sh\ninput=$(cat)\necho \"$input\" >> \"$(dirname \"$0\")/agent-prompts.log\"\ncase \"$input\" in\n",
    );
    for (task, answer) in answers {
        let wrapped = serde_json::json!({ "result": answer }).to_string();
        script.push_str(&format!(
            "  *'\"task\":\"{task}\"'*) printf '%s\\n' '{wrapped}' ;;\n"
        ));
    }
    script.push_str("  *) exit 3 ;;\nesac\n");
    let path = inst.dir.join("agent.sh");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    inst.drop_in(
        "60-agent.toml",
        &format!(
            "[agent]\ncommand = [{:?}]\ntimeout = \"10s\"\n",
            path.display().to_string()
        ),
    );
}

fn show(inst: &Instance, id: &str) -> serde_json::Value {
    inst.json(&["show", id])["request"].clone()
}

fn mail_containing(inst: &Instance, needle: &str) -> Option<String> {
    inst.mails()
        .into_iter()
        .map(|m| std::fs::read_to_string(m).unwrap())
        .find(|m| m.contains(needle))
}

#[test]
fn the_agent_raises_risk_but_never_lowers_it() {
    let (inst, _) = counting("agent-assess");
    with_agent(
        &inst,
        &[(
            "assess",
            r#"{"risk": "critical", "reasons": ["it touches production"]}"#,
        )],
    );
    let id = filed(&inst, "one");
    let row = show(&inst, &id);
    assert_eq!(row["risk"], "critical");
    assert!(
        row["risk_reasons"]
            .to_string()
            .contains("it touches production")
    );
    assert!(mail_containing(&inst, "(risk: critical)").is_some());

    let (inst, _) = counting("agent-lower");
    with_agent(
        &inst,
        &[("assess", r#"{"risk": "low", "reasons": ["harmless"]}"#)],
    );
    let count = std::fs::read_to_string(inst.dir.join("clawdbot.toml.d/30-count.toml")).unwrap();
    inst.drop_in(
        "31-high.toml",
        &count.replace("risk = \"low\"", "risk = \"high\""),
    );
    let id = filed(&inst, "two");
    assert_eq!(
        show(&inst, &id)["risk"],
        "high",
        "the agent cannot lower a risk"
    );
    let (inst2, _) = counting("agent-lower-2");
    with_agent(&inst2, &[("assess", "not json at all")]);
    let id = filed(&inst2, "three");
    assert_eq!(
        show(&inst2, &id)["risk"],
        "low",
        "a useless answer changes nothing"
    );
}

#[test]
fn the_agent_answers_questions_and_reads_unclear_replies_within_limits() {
    let (inst, log) = counting("agent-reply");
    with_agent(
        &inst,
        &[
            (
                "answer",
                r#"{"answer": "It only appends a line to a log."}"#,
            ),
            (
                "interpret",
                r#"{"intent": "approve", "reason": "they said to proceed"}"#,
            ),
        ],
    );
    let id = filed(&inst, "four");
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
            "What does this change?",
            "q@x",
        ),
    );
    inst.broker();
    let answer = mail_containing(&inst, "Your question").unwrap();
    assert!(
        answer.contains("It only appends a line to a log."),
        "{answer}"
    );
    assert_eq!(runs(&log), 0);

    // An unclear reply read by the agent as approval stays unclear: the agent never approves.
    deliver(
        &inst,
        "u",
        &reply(
            "ops@example.org",
            AUTH_OK,
            &thread,
            &subject,
            "Hmm, well, proceed I guess, whatever works",
            "u@x",
        ),
    );
    inst.broker();
    assert_eq!(runs(&log), 0, "the agent never approves");
    assert_eq!(show(&inst, &id)["state"], "PendingReply");
    assert!(mail_containing(&inst, "APPROVE or DENY?").is_some());
    let prompts = std::fs::read_to_string(inst.dir.join("agent-prompts.log")).unwrap();
    assert!(
        prompts.contains("\"untrusted\""),
        "request text goes in as untrusted data"
    );

    // An unclear reply the agent reads as a refusal is a refusal.
    let (inst, log) = counting("agent-reply-deny");
    with_agent(
        &inst,
        &[(
            "interpret",
            r#"{"intent": "deny", "reason": "they do not want it now"}"#,
        )],
    );
    let id = filed(&inst, "five");
    deliver(
        &inst,
        "u",
        &reply(
            "ops@example.org",
            AUTH_OK,
            &format!("{id}.1@example.org"),
            &subject,
            "Hmm, well, rather leave it for today I guess",
            "u2@x",
        ),
    );
    inst.broker();
    assert_eq!(runs(&log), 0);
    assert_eq!(show(&inst, &id)["state"], "Done");
    assert_eq!(
        show(&inst, &id)["decision_note"],
        "Hmm, well, rather leave it for today I guess"
    );
}

#[test]
fn freeform_requests_run_only_through_the_agent_and_only_after_approval() {
    let inst = Instance::new("agent-freeform");
    let body = serde_json::json!({"version": 1, "kind": "freeform", "summary": "Tidy the dashboard", "reason": "messy", "details": "Move the weather widget"});
    inst.drop("f.json", body.to_string().as_bytes());
    inst.broker();
    let id = inst.json(&["status"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(mail_containing(&inst, "No admin agent is configured").is_some());
    deliver(&inst, "a", &approve_mail(&id, "f1"));
    inst.broker();
    let row = show(&inst, &id);
    assert_eq!(
        row["state"], "Failed",
        "without an agent it cannot be carried out"
    );

    let inst = Instance::new("agent-freeform-2");
    with_agent(
        &inst,
        &[
            ("execute", r#"{"done": "moved the widget"}"#),
            ("assess", r#"{"risk": "high"}"#),
        ],
    );
    inst.drop("f.json", body.to_string().as_bytes());
    inst.broker();
    let id = inst.json(&["status"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let prompts =
        || std::fs::read_to_string(inst.dir.join("agent-prompts.log")).unwrap_or_default();
    assert!(
        !prompts().contains("\"task\":\"execute\""),
        "nothing runs before approval"
    );
    deliver(&inst, "a", &approve_mail(&id, "f2"));
    inst.broker();
    assert!(prompts().contains("\"task\":\"execute\""));
    let row = show(&inst, &id);
    assert_eq!(row["state"], "Done", "{row}");
    assert!(
        row["exec_output"]
            .as_str()
            .unwrap()
            .contains("moved the widget")
    );
}
