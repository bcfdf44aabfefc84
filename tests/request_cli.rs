//! `clawdbot-request`, as the agent runs it.

mod common;

use common::Instance;

#[test]
fn a_valid_request_is_written_whole_and_the_broker_accepts_it() {
    let inst = Instance::new("req-ok");
    let out = inst.run(
        "clawdbot-request",
        &[
            "--kind",
            "restart_container",
            "--summary",
            "Restart searxng",
            "--reason",
            "It hangs",
            "--param",
            "container=searxng",
            "--client-ref",
            "t-1",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = String::from_utf8(out.stdout).unwrap();
    let path = std::path::Path::new(path.trim());
    assert!(path.starts_with(inst.spool()), "{}", path.display());
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(doc["params"]["container"], "searxng");
    assert_eq!(doc["client_ref"], "t-1");
    assert_eq!(
        common::names(&inst.spool()).len(),
        1,
        "no temporary file left behind"
    );
    assert_eq!(inst.broker()["accepted"], 1);
}

#[test]
fn an_invalid_request_exits_65_with_one_line_per_problem_and_writes_nothing() {
    let inst = Instance::new("req-bad");
    let out = inst.run(
        "clawdbot-request",
        &[
            "--kind",
            "restart_container",
            "--summary",
            "Restart",
            "--param",
            "container=a; rm -rf /",
            "--param",
            "colour=red",
        ],
    );
    assert_eq!(out.status.code(), Some(65));
    let err = String::from_utf8(out.stderr).unwrap();
    for needle in [
        "reason: missing [required]",
        "params.container: \"a; rm -rf /\" is not allowed",
        "params.colour: action restart_container has no such parameter",
    ] {
        assert!(
            err.lines().any(|l| l.contains(needle)),
            "{needle:?} not in {err}"
        );
    }
    assert!(common::names(&inst.spool()).is_empty(), "nothing written");
}

#[test]
fn a_whole_document_can_come_on_stdin() {
    let inst = Instance::new("req-stdin");
    let out = common::output_with_input(
        &mut inst.command("clawdbot-request", &["--file", "-"]),
        &common::request("searxng"),
    );
    assert!(out.status.success());
    assert_eq!(inst.spool_json().len(), 1);

    let out = inst.run("clawdbot-request", &["--file", "/nonexistent.json"]);
    assert_eq!(out.status.code(), Some(66));
    let out = inst.run("clawdbot-request", &["--param", "novalue", "--kind", "x"]);
    assert_eq!(out.status.code(), Some(64));

    // Larger than [requests] max_bytes: refused unread past the limit, even an endless file.
    let mut big = common::request("searxng");
    big.truncate(big.len() - 1);
    big.extend(format!(", \"details\": \"{}\"}}", "x".repeat(70_000)).bytes());
    let out = common::output_with_input(
        &mut inst.command("clawdbot-request", &["--file", "-"]),
        &big,
    );
    assert_eq!(out.status.code(), Some(65));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("larger than 65536 bytes ([requests] max_bytes)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = inst.run("clawdbot-request", &["--file", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(65));
    assert_eq!(inst.spool_json().len(), 1);
}
