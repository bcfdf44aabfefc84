//! The reply corpus (`tests/fixtures/reply_corpus/`, made by its `make.py`): several hundred
//! replies laid out as Gmail, Outlook, Apple Mail, Thunderbird, mobile and plain clients write
//! them, in English and Dutch, text, HTML and multipart, 7bit, quoted-printable and base64.
//! Each is parsed by the real mail parser and read as the broker reads it. No file of the
//! refusal set may approve; of the natural approvals, at least 95% must. `hostile/` (173) and
//! `hostile2/` (114) hold replies written by two independent attackers' passes against earlier
//! versions of the reader (text past the reply, signatures carrying instructions, disclaimers,
//! fake quote headers, HTML, Unicode look-alikes, MIME and the subject): none may approve.

use std::path::Path;

use clawdbot::reply;
use clawdbot::reply::intent::{self, Context, Intent};

const REQUEST: &str = "R-20261201-7Q2M";

fn read(path: &Path) -> intent::Verdict {
    let raw = std::fs::read(path).unwrap();
    let mail = reply::parse(&raw).unwrap_or_else(|| panic!("{} is no mail", path.display()));
    let context = Context {
        request: Some(REQUEST.into()),
        names: mail.from_name.iter().cloned().collect(),
        boilerplate: Vec::new(),
        subject: mail.subject.clone(),
        action: "restart_service".into(),
    };
    intent::read(&mail.bodies, &context)
}

#[test]
fn no_refusal_approves_and_natural_approvals_do() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reply_corpus");
    let index = std::fs::read_to_string(dir.join("index.tsv")).unwrap();
    let (mut approvals, mut recognised, mut refusals) = (0, 0, 0);
    let mut false_approvals = Vec::new();
    let mut missed = Vec::new();
    for row in index.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = row.split('\t').collect();
        let (file, expect) = (fields[0], fields[1]);
        let verdict = read(&dir.join(file));
        match expect {
            "approve" => {
                approvals += 1;
                if verdict.intent == Intent::Approve {
                    recognised += 1;
                } else {
                    missed.push(format!("{file}: {} {:?}", verdict.rule, verdict.reasons));
                }
            }
            "refuse" => {
                refusals += 1;
                if verdict.intent == Intent::Approve {
                    false_approvals.push(format!("{file}: {:?}", verdict.reasons));
                }
            }
            other => panic!("{file}: unknown expectation {other:?}"),
        }
    }
    println!(
        "reply corpus: {recognised} of {approvals} natural approvals recognised, {} false approvals in {refusals} refusals",
        false_approvals.len()
    );
    assert!(
        approvals >= 140 && refusals >= 160,
        "{approvals} / {refusals}"
    );
    assert!(
        false_approvals.is_empty(),
        "false approvals:\n{}",
        false_approvals.join("\n")
    );
    assert!(
        recognised * 100 >= approvals * 95,
        "only {recognised} of {approvals} approvals recognised; missed:\n{}",
        missed.join("\n")
    );
    for miss in &missed {
        println!("missed: {miss}");
    }
}

#[test]
fn no_hostile_reply_approves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reply_corpus");
    let mut files: Vec<_> = ["hostile", "hostile2"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(root.join(dir)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    assert!(files.len() >= 280, "{} files", files.len());
    let approved: Vec<String> = files
        .iter()
        .filter(|path| read(path).intent == Intent::Approve)
        .map(|path| path.display().to_string())
        .collect();
    println!(
        "hostile replies: {} of {} approve",
        approved.len(),
        files.len()
    );
    assert!(approved.is_empty(), "approved:\n{}", approved.join("\n"));
}
