//! Nothing runs unless the operator clearly approved it: every reply that the old reader took
//! for an approval, delivered to a real instance and read by a real `clawdbot-broker` pass,
//! runs nothing; an approval after the deadline is refused by mail and from the shell; a reply
//! to a digest approves at most the one request it names, and only plainly.

mod common;

use std::time::Duration;

use common::{AUTH_OK, Instance, approve_mail, counting, deliver, filed, id_of, runs};

fn state(inst: &Instance, id: &str) -> String {
    inst.json(&["show", id])["request"]["state"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A reply with the given MIME body (headers from `Content-Type` on).
fn mime_reply(id: &str, tag: &str, mime: &str) -> String {
    format!(
        "{AUTH_OK}From: Operator <ops@example.org>\r\nTo: clawdbot <clawdbot@example.org>\r\nSubject: Re: [clawdbot {id}] Approve?\r\nMessage-ID: <{tag}@mail.example.org>\r\nIn-Reply-To: <{id}.1@example.org>\r\nReferences: <{id}.1@example.org>\r\nDate: Thu, 26 Nov 2026 10:20:00 +0100\r\nMIME-Version: 1.0\r\n{mime}"
    )
}

fn plain(text: &str) -> String {
    format!(
        "Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\r\nOn Thu, 26 Nov 2026 at 10:15, clawdbot <clawdbot@example.org> wrote:\r\n> How to answer: reply APPROVE or DENY; ask anything, and you will get an answer.\r\n"
    )
}

fn alternative(text: &str, html: &str) -> String {
    format!(
        "Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--b--\r\n"
    )
}

#[test]
fn every_reply_the_old_reader_approved_runs_nothing() {
    let (inst, log) = counting("safety-hostile");
    let quoted_request = "<div>The agent asks for approval of request.<br>Summary: Count<br>Reason: all fine, go ahead<br>Will run: count<br>Yes, approve</div>";
    let cases: Vec<(&str, String)> = vec![
        (
            "refusal with approve",
            plain("I will not, under any circumstances, approve this."),
        ),
        ("yes then no", plain("Yes, I read it. The answer is no.")),
        (
            "question and OK signature",
            plain("Why is this needed?\r\nOK Systems B.V."),
        ),
        (
            "veto below a separator",
            plain("OK\r\n---\r\nWait, no. Don't."),
        ),
        ("sarcasm", plain("Sure, when pigs fly.")),
        ("threat", plain("Approve it and you're fired.")),
        (
            "HTML-only question, unknown quote layout",
            format!(
                "Content-Type: text/html; charset=utf-8\r\n\r\n<div>Why is this needed?</div><div style=\"margin-left:2em\">{quoted_request}</div>\r\n"
            ),
        ),
        (
            "text says yes, HTML says no",
            alternative("Yes, go ahead.", "<div>No, don't.</div>"),
        ),
        (
            "hidden veto",
            alternative(
                "Yes, go ahead.",
                "<div>Yes, go ahead.</div><div style=\"display:none\">do not run this</div>",
            ),
        ),
        (
            "zero-size veto",
            alternative(
                "Yes, go ahead.",
                "<div>Yes, go ahead.<span style=\"font-size:0\">no</span></div>",
            ),
        ),
        (
            "white on white",
            alternative(
                "Yes, go ahead.",
                "<div>Yes, go ahead.</div><p><font color=\"#ffffff\">don't</font></p>",
            ),
        ),
        ("reaction alone", plain("👍")),
        (
            "P.S. in the signature",
            plain("Yes.\r\n\r\nThanks,\r\nAnna\r\nP.S. only after the backup"),
        ),
        (
            "after Sent from",
            plain("OK\r\n\r\nSent from my iPhone\r\nWait, not yet"),
        ),
    ];
    let ids: Vec<(String, &str)> = (0..cases.len())
        .map(|i| (filed(&inst, &format!("h{i}")), cases[i].0))
        .collect();
    for (i, ((id, _), (_, mime))) in ids.iter().zip(&cases).enumerate() {
        deliver(
            &inst,
            &format!("h{i}.eml"),
            &mime_reply(id, &format!("h{i}"), mime),
        );
    }
    let report = inst.broker();
    assert_eq!(report["replies"]["accepted"], cases.len(), "{report}");
    inst.run("clawdbot-exec", &[]);
    for (id, what) in &ids {
        let audit = inst.json(&["show", id])["audit"].to_string();
        assert!(
            !audit.contains("approved for hash"),
            "{what}: {id}: {audit}"
        );
        assert!(
            !matches!(
                state(&inst, id).as_str(),
                "Approved" | "Executing" | "Failed"
            ),
            "{what}: {id}"
        );
    }
    assert_eq!(runs(&log), 0, "nothing ran");
}

#[test]
fn a_late_approval_is_refused_by_mail_and_from_the_shell_and_the_operator_is_told() {
    let (inst, log) = counting("safety-late");
    inst.drop_in("40-ttl.toml", "[requests]\nttl = \"3s\"\n");
    let by_mail = filed(&inst, "mail");
    let by_shell = filed(&inst, "shell");
    std::thread::sleep(Duration::from_millis(3200));

    // No pass has expired them yet: the reply is the first to see the deadline passed.
    deliver(&inst, "late.eml", &approve_mail(&by_mail, "late"));
    let shell = inst.run("clawdbot", &["approve", &by_shell]);
    assert_eq!(shell.status.code(), Some(65), "{shell:?}");
    let said = String::from_utf8_lossy(&shell.stderr);
    assert!(said.contains("deadline"), "{said}");
    assert_eq!(state(&inst, &by_shell), "Expired");

    let report = inst.broker();
    assert_eq!(report["replies"]["refused"], 1, "{report}");
    inst.run("clawdbot-exec", &[]);
    assert_eq!(runs(&log), 0);
    assert_eq!(state(&inst, &by_mail), "Expired");
    let audit = inst.json(&["show", &by_mail])["audit"].to_string();
    assert!(audit.contains("after the deadline"), "{audit}");
    let told = inst.mails().into_iter().any(|m| {
        let text = std::fs::read_to_string(m).unwrap();
        text.contains("Too late") && text.contains("In-Reply-To: <late@mail.example.org>")
    });
    assert!(told, "the operator is told in the thread of their reply");
}

#[test]
fn a_reply_to_a_digest_approves_only_the_one_request_it_plainly_names() {
    let (inst, log) = counting("safety-digest");
    inst.drop_in("40-limit.toml", "[mail]\nmax_per_hour = 1\n");
    let first = filed(&inst, "first");
    for n in ["d1", "d2", "d3"] {
        inst.drop(&format!("{n}.json"), serde_json::json!({"version": 1, "kind": "count", "summary": format!("Count {n}"), "reason": "testing", "params": {"n": n}}).to_string().as_bytes());
    }
    inst.broker();
    let (d1, d2, d3) = (id_of(&inst, "d1"), id_of(&inst, "d2"), id_of(&inst, "d3"));
    let digest = inst
        .mails()
        .into_iter()
        .find(|m| {
            m.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("digest-")
        })
        .expect("a digest");
    let digest_id = digest.file_stem().unwrap().to_string_lossy().to_string();
    let to_digest = |tag: &str, text: &str| {
        format!(
            "{AUTH_OK}From: Operator <ops@example.org>\r\nTo: clawdbot <clawdbot@example.org>\r\nSubject: Re: digest\r\nMessage-ID: <{tag}@mail.example.org>\r\nIn-Reply-To: <{digest_id}>\r\nReferences: <{digest_id}>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
        )
    };
    deliver(
        &inst,
        "a.eml",
        &to_digest("a", &format!("Go ahead with all of them, just not {d1}")),
    );
    deliver(
        &inst,
        "b.eml",
        &to_digest("b", &format!("Approve {d2} and {d3}")),
    );
    deliver(
        &inst,
        "c.eml",
        &to_digest("c", &format!("{d3} approved, and {d2} too")),
    );
    inst.broker();
    inst.run("clawdbot-exec", &[]);
    assert_eq!(runs(&log), 0, "no digest reply above approves");
    for id in [&d1, &d2, &d3] {
        assert_ne!(state(&inst, id), "Done", "{id}");
    }

    deliver(
        &inst,
        "d.eml",
        &to_digest("d", &format!("{d2} approved, thanks")),
    );
    inst.broker();
    inst.run("clawdbot-exec", &[]);
    inst.broker();
    assert_eq!(runs(&log), 1);
    assert_eq!(state(&inst, &d2), "Done");
    assert_ne!(state(&inst, &first), "Done");
}
