//! Load: a flood of 10,000 requests (a runaway or prompt-injected agent), 1,000 replies in the
//! Maildir at once, and 20,000 session files for the watchdog. Each is handled completely,
//! within the operator's mail limit, and the agent is told it is being rate limited.

mod common;

use common::Instance;
use serde_json::Value;

fn count(inst: &Instance, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(inst.database()).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn a_flood_of_ten_thousand_requests_is_recorded_throttled_and_told() {
    let inst = Instance::new("load-flood");
    for i in 0..10_000 {
        let body = serde_json::json!({"version": 1, "kind": "restart_container", "summary": format!("Restart c{i}"), "reason": "flood", "params": {"container": format!("c{i}")}});
        inst.drop(&format!("f{i:05}.json"), body.to_string().as_bytes());
    }
    let report = inst.broker();
    assert_eq!(report["accepted"], 10_000, "{report}");
    assert!(inst.spool_json().is_empty());
    // The operator gets the hourly limit (20 in an init instance) and one digest.
    assert_eq!(
        count(&inst, "SELECT count(*) FROM outbox WHERE kind = 'approval'"),
        20
    );
    assert_eq!(
        count(&inst, "SELECT count(*) FROM outbox WHERE kind = 'digest'"),
        1
    );
    // The agent hears once that it is being rate limited.
    let throttled: Vec<Value> = std::fs::read_dir(inst.dir.join("inbox"))
        .unwrap()
        .filter_map(|e| {
            serde_json::from_slice::<Value>(&std::fs::read(e.unwrap().path()).unwrap()).ok()
        })
        .filter_map(|env| serde_json::from_str::<Value>(env["body"].as_str()?).ok())
        .filter(|body| body["type"] == "throttled")
        .collect();
    assert_eq!(throttled.len(), 1, "{throttled:?}");
    assert_eq!(throttled[0]["held"], 10_000 - 20, "{}", throttled[0]);
    // A second pass in the same hour tells it nothing new.
    inst.broker();
    assert_eq!(count(&inst, "SELECT count(*) FROM bridge_messages"), 1);
    let size = std::fs::metadata(inst.database()).unwrap().len();
    assert!(size < 64 << 20, "the database stays small: {size} bytes");
}

#[test]
fn a_thousand_replies_at_once_are_all_read() {
    let (inst, log) = common::counting("load-replies");
    let id = common::filed(&inst, "one");
    for i in 0..1000 {
        // Most answer nothing the broker knows; one approves; none may run anything twice.
        let mail = if i == 500 {
            common::approve_mail(&id, "real")
        } else {
            common::reply(
                "ops@example.org",
                common::AUTH_OK,
                &format!("x{i}@example.org"),
                &format!("Re: hello {i}"),
                "ok",
                &format!("r{i}@mail.example.org"),
            )
        };
        common::deliver(&inst, &format!("m{i:04}.eml"), &mail);
    }
    inst.broker();
    assert!(
        common::names(&inst.dir.join("state/mail/new")).is_empty(),
        "every mail was taken"
    );
    assert_eq!(count(&inst, "SELECT count(*) FROM replies"), 1000);
    assert_eq!(common::runs(&log), 1);
}

#[test]
fn twenty_thousand_session_files() {
    let inst = Instance::new("load-sessions");
    let header =
        "{\"type\":\"session\",\"version\":3,\"id\":\"s\"}\n{\"type\":\"custom\",\"id\":\"c\"}\n";
    let then = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for agent in 0..20 {
        let dir = inst.dir.join(format!("openclaw/agents/a{agent}/sessions"));
        std::fs::create_dir_all(&dir).unwrap();
        for s in 0..1000 {
            let path = dir.join(format!("s{s}.jsonl"));
            std::fs::write(&path, header).unwrap();
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(then)
                .unwrap();
        }
    }
    let run = || -> Value {
        let out = inst.run("clawdbot-watchdog", &["--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let first = run();
    assert_eq!(
        (first["files"].as_u64(), first["healthy"].as_u64()),
        (Some(20_000), Some(20_000)),
        "{first}"
    );
    let second = run();
    assert_eq!(second["unchanged"], 20_000, "nothing read the second time");
}
