//! The broker's intake against hostile spool entries and floods, with the real binaries.

mod common;

use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::symlink;

use common::{Instance, request};

#[test]
fn hostile_request_files_are_quarantined_with_a_reason() {
    let inst = Instance::new("hostile");
    let spool = inst.spool();
    symlink("/etc/shadow", spool.join("x.json")).unwrap();
    let fifo = std::ffi::CString::new(spool.join("fifo.json").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    std::fs::create_dir(spool.join("y.json")).unwrap();
    inst.drop("big.json", &vec![b' '; 10 * 1024 * 1024]);
    inst.drop("utf8.json", b"{\"version\":1,\"summary\":\"\xff\xfe\"}");
    inst.drop(
        "deep.json",
        format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).as_bytes(),
    );
    let mut unknown: serde_json::Value = serde_json::from_slice(&request("searxng")).unwrap();
    unknown["run_as"] = "root".into();
    inst.drop("unknown.json", unknown.to_string().as_bytes());
    let mut version: serde_json::Value = serde_json::from_slice(&request("searxng")).unwrap();
    version["version"] = 2.into();
    inst.drop("version.json", version.to_string().as_bytes());
    let mut kind: serde_json::Value = serde_json::from_slice(&request("searxng")).unwrap();
    kind["kind"] = "format_disk".into();
    inst.drop("kind.json", kind.to_string().as_bytes());
    inst.drop("inject.json", &request("a; rm -rf /"));
    let mut bcc: serde_json::Value = serde_json::from_slice(&request("searxng")).unwrap();
    bcc["summary"] = "Restart\r\nBcc: someone@example.com".into();
    inst.drop("bcc.json", bcc.to_string().as_bytes());
    inst.drop("good.json", &request("searxng"));

    let report = inst.broker();
    assert_eq!(report["accepted"], 1, "{report}");
    assert_eq!(report["rejected"], 11, "{report}");
    assert!(
        inst.spool_json().is_empty(),
        "spool still has {:?}",
        inst.spool_json()
    );

    let expected = [
        ("x.json", "file-type", "symbolic link"),
        ("fifo.json", "file-type", "FIFO"),
        ("y.json", "file-type", "directory"),
        ("big.json", "size", "bytes, at most 65536"),
        ("utf8.json", "utf-8", "UTF-8"),
        ("deep.json", "json", "recursion limit"),
        ("unknown.json", "unknown-field", "unknown field"),
        ("version.json", "version", "not supported"),
        ("kind.json", "unknown-kind", "not a configured action"),
        ("inject.json", "pattern", "is not allowed"),
        ("bcc.json", "control-character", "U+000D"),
    ];
    // Each quarantined entry is named by its id; its error file names the original file.
    let errors: Vec<(String, serde_json::Value)> = common::names(&inst.quarantine())
        .into_iter()
        .filter(|n| n.ends_with(".error.json"))
        .map(|n| {
            let error = serde_json::from_slice(&std::fs::read(inst.quarantine().join(&n)).unwrap())
                .unwrap();
            (n.trim_end_matches(".error.json").to_string(), error)
        })
        .collect();
    let entry_of = |file: &str| {
        errors
            .iter()
            .find(|(_, e)| e["file"] == file)
            .unwrap_or_else(|| panic!("{file} not quarantined"))
    };
    for (file, rule, words) in expected {
        let (_, error) = entry_of(file);
        let problems = error["problems"].as_array().unwrap();
        assert!(
            problems
                .iter()
                .any(|p| p["rule"] == rule && p["message"].as_str().unwrap().contains(words)),
            "{file}: {error}"
        );
    }
    // The link was moved, not followed: it still points at /etc/shadow, and nothing of it was read.
    let (link, _) = entry_of("x.json");
    assert_eq!(
        std::fs::read_link(inst.quarantine().join(link)).unwrap(),
        std::path::Path::new("/etc/shadow")
    );
    // The 10 MB file was kept whole.
    let (big, _) = entry_of("big.json");
    assert_eq!(
        std::fs::metadata(inst.quarantine().join(big))
            .unwrap()
            .len(),
        10 * 1024 * 1024
    );

    // Only the good request was mailed, and no mail carries the injected header.
    let mails = inst.mails();
    assert_eq!(mails.len(), 1);
    for mail in &mails {
        let text = std::fs::read_to_string(mail).unwrap();
        assert!(!text.contains("Bcc:"), "{text}");
    }

    // The agent is told of each refusal, in a signed envelope in its inbox.
    assert_eq!(report["notified"], 11, "{report}");
    let inbox = inst.dir.join("inbox");
    let told: Vec<serde_json::Value> = common::names(&inbox)
        .iter()
        .map(|n| serde_json::from_slice(&std::fs::read(inbox.join(n)).unwrap()).unwrap())
        .collect();
    assert_eq!(told.len(), 11);
    for envelope in &told {
        let body: serde_json::Value =
            serde_json::from_str(envelope["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["type"], "rejected");
        assert!(
            envelope["headers"]["webhook-signature"]
                .as_str()
                .unwrap()
                .starts_with("v1,")
        );
    }

    // A second pass finds nothing to do and exits 0.
    let report = inst.broker();
    assert_eq!(
        (report["accepted"].as_u64(), report["rejected"].as_u64()),
        (Some(0), Some(0))
    );
}

#[test]
fn a_file_name_too_long_to_keep_still_leaves_the_spool() {
    let inst = Instance::new("longname");
    let name = std::ffi::OsString::from_vec([vec![0xff; 240], b".json".to_vec()].concat());
    std::fs::write(inst.spool().join(&name), b"{}").unwrap();
    let report = inst.broker();
    assert_eq!(report["rejected"], 1, "{report}");
    assert!(inst.spool_json().is_empty());
    assert_eq!(
        inst.broker()["rejected"],
        0,
        "rejected once, not every pass"
    );
}

#[test]
fn a_flood_of_requests_is_recorded_whole_and_mailed_within_the_hourly_limit() {
    let inst = Instance::new("flood");
    for i in 0..5000 {
        inst.drop(&format!("r{i:05}.json"), &request(&format!("c{i}")));
    }
    let report = inst.broker();
    assert_eq!(report["accepted"], 5000, "{report}");
    assert_eq!(report["queued"], 20, "{report}");
    assert_eq!(report["digests"], 1, "{report}");
    assert!(inst.spool_json().is_empty());

    let open = inst.json(&["status"]);
    assert_eq!(
        open.as_array().unwrap().len(),
        5000,
        "every request is recorded"
    );

    let mails = inst.mails();
    assert_eq!(mails.len(), 21, "20 approval mails and one digest");
    let digests: Vec<_> = mails
        .iter()
        .filter(|m| {
            m.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("digest-")
        })
        .collect();
    assert_eq!(digests.len(), 1);
    let digest = std::fs::read_to_string(digests[0]).unwrap();
    assert!(
        digest.contains("Digest: 500 requests wait for approval"),
        "{}",
        &digest[..400]
    );

    // Within the same hour, the next pass sends nothing more.
    inst.drop("late.json", &request("late"));
    let report = inst.broker();
    assert_eq!(
        (
            report["accepted"].as_u64(),
            report["queued"].as_u64(),
            report["digests"].as_u64()
        ),
        (Some(1), Some(0), Some(0))
    );
    assert_eq!(inst.mails().len(), 21);
}

#[test]
fn the_same_request_twice_is_one_request_and_one_mail() {
    let inst = Instance::new("dedupe");
    let mut with_ref: serde_json::Value = serde_json::from_slice(&request("searxng")).unwrap();
    with_ref["client_ref"] = "agent-42".into();
    inst.drop("a.json", with_ref.to_string().as_bytes());
    inst.drop("b.json", with_ref.to_string().as_bytes());
    inst.drop("c.json", &request("searxng"));
    inst.drop("d.json", &request("searxng"));
    let report = inst.broker();
    assert_eq!(report["accepted"], 2, "{report}");
    assert_eq!(report["duplicates"], 2, "{report}");
    assert_eq!(inst.mails().len(), 2);

    // The same client_ref with other content is refused, not silently merged.
    with_ref["params"]["container"] = "other".into();
    inst.drop("e.json", with_ref.to_string().as_bytes());
    let report = inst.broker();
    assert_eq!(report["rejected"], 1, "{report}");
    let q = common::names(&inst.quarantine());
    let err = q.iter().find(|n| n.ends_with(".error.json")).unwrap();
    let err = std::fs::read_to_string(inst.quarantine().join(err)).unwrap();
    assert!(
        err.contains("client-ref-reused") && err.contains("\"e.json\""),
        "{err}"
    );
}

#[test]
fn expired_requests_leave_the_open_list() {
    let inst = Instance::new("expire");
    inst.drop_in("10-ttl.toml", "[requests]\nttl = \"1s\"\n");
    let mut with_session: serde_json::Value = serde_json::from_slice(&request("searxng")).unwrap();
    with_session["reply_session"] = "agent:main:main".into();
    inst.drop("a.json", with_session.to_string().as_bytes());
    inst.broker();
    // Past the deadline by the wall clock, which a VM may step back now and then: wait until a
    // pass finds it expired, for at most 15 s.
    let mut report = serde_json::Value::Null;
    for _ in 0..15 {
        std::thread::sleep(std::time::Duration::from_millis(1100));
        report = inst.broker();
        if report["expired"] != 0 {
            break;
        }
    }
    assert_eq!(report["expired"], 1, "{report}");
    assert!(inst.json(&["status"]).as_array().unwrap().is_empty());
    // The agent is told, in the reply session it named.
    let inbox = inst.dir.join("inbox");
    let names = common::names(&inbox);
    assert_eq!(names.len(), 1, "{names:?}");
    let envelope: serde_json::Value =
        serde_json::from_slice(&std::fs::read(inbox.join(&names[0])).unwrap()).unwrap();
    let body: serde_json::Value = serde_json::from_str(envelope["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        (body["type"].as_str(), body["state"].as_str()),
        (Some("outcome"), Some("Expired"))
    );
    assert_eq!(body["sessionKey"], "agent:main:main");
}

#[test]
fn without_an_operator_requests_wait_unmailed_and_go_out_once_one_is_configured() {
    let inst = Instance::new("no-operator");
    inst.drop_in("50-no-operator.toml", "[operator]\nemails = []\n");
    inst.drop("a.json", &request("searxng"));
    let out = inst.run("clawdbot-broker", &["run"]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no operator is configured"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read_dir(inst.spool()).unwrap().next().is_none());
    assert!(inst.mails().is_empty());
    let open = inst.json(&["status"]);
    assert_eq!(open[0]["state"], "Evaluating");

    std::fs::remove_file(inst.dir.join("clawdbot.toml.d/50-no-operator.toml")).unwrap();
    inst.broker();
    assert_eq!(inst.mails().len(), 1);
    assert_eq!(inst.json(&["status"])[0]["state"], "PendingReply");
}
