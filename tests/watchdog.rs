//! The session watchdog against real files: the corpus in tests/fixtures/sessions (every
//! corruption alone and together, healthy files of every entry type), locks, files being
//! written, owners and modes, backups, crashes between backup and rename, the unchanged-file
//! cache, the gateway restart and the incident mail.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::Instance;
use serde_json::{Value, json};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sessions");

struct Case {
    name: String,
    verdict: String,
    kinds: Vec<String>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(Path::new(CORPUS).join("cases.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let mut cols = l.split('\t');
            let name = cols.next().unwrap().to_string();
            let verdict = cols.next().unwrap().to_string();
            let kinds = cols
                .next()
                .unwrap_or("")
                .split(',')
                .filter(|k| !k.is_empty())
                .map(str::to_string)
                .collect();
            Case {
                name,
                verdict,
                kinds,
            }
        })
        .collect()
}

fn fixture(name: &str, ext: &str) -> Vec<u8> {
    std::fs::read(Path::new(CORPUS).join(format!("{name}.{ext}"))).unwrap()
}

/// An instance with an agent `main` whose sessions the watchdog watches.
fn watched(name: &str) -> (Instance, PathBuf) {
    let inst = Instance::new(name);
    let sessions = inst.dir.join("openclaw/agents/main/sessions");
    std::fs::create_dir_all(&sessions).unwrap();
    (inst, sessions)
}

/// Write a session file as the gateway would have left it an hour ago.
fn place(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    age(&path, 3600);
    path
}

fn age(path: &Path, secs: u64) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(secs))
        .unwrap();
}

fn pass(inst: &Instance, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = inst.run("clawdbot-watchdog", &all);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

fn scan(inst: &Instance, path: &Path) -> (i32, Value) {
    let out = inst.run(
        "clawdbot-watchdog",
        &["scan", path.to_str().unwrap(), "--json"],
    );
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("scan: {e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    (out.status.code().unwrap_or(-1), report)
}

fn kinds(report: &Value) -> Vec<String> {
    report["problems"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| p["kind"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn backups(inst: &Instance) -> Vec<PathBuf> {
    let dir = inst.dir.join("state/backups/main");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    found.sort();
    found
}

#[test]
fn every_corpus_case_gets_its_verdict_and_exact_repair() {
    let (inst, sessions) = watched("wd-corpus");
    let cases = cases();
    assert!(cases.len() >= 20, "the corpus holds {} cases", cases.len());
    for case in &cases {
        let path = place(
            &sessions,
            &format!("{}.jsonl", case.name),
            &fixture(&case.name, "jsonl"),
        );
        std::os::unix::fs::chown(&path, Some(4321), Some(4322)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        age(&path, 3600);
        let (code, report) = scan(&inst, &path);
        assert_eq!(
            report["verdict"],
            case.verdict.as_str(),
            "{}: {report}",
            case.name
        );
        assert_eq!(kinds(&report), case.kinds, "{}: {report}", case.name);
        assert_eq!(
            code,
            if case.verdict == "healthy" { 0 } else { 65 },
            "{}",
            case.name
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            fixture(&case.name, "jsonl"),
            "scan changed {}",
            case.name
        );
    }
    let inodes: Vec<u64> = cases
        .iter()
        .map(|c| {
            std::fs::metadata(sessions.join(format!("{}.jsonl", c.name)))
                .unwrap()
                .ino()
        })
        .collect();

    let (code, report) = pass(&inst, &[]);
    assert_eq!(code, 0, "{report}");
    let repairable = cases
        .iter()
        .filter(|c| {
            // Left for a person, never rewritten.
            c.verdict == "corrupt"
                && !c
                    .kinds
                    .iter()
                    .any(|k| k == "bad-header" || k == "stuck-message")
        })
        .count();
    assert_eq!(report["repaired"], repairable, "{report}");
    assert_eq!(report["files"], cases.len());
    for (case, inode) in cases.iter().zip(inodes) {
        let path = sessions.join(format!("{}.jsonl", case.name));
        let now = std::fs::read(&path).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&now),
            String::from_utf8_lossy(&fixture(&case.name, "expected")),
            "{} was not repaired as expected",
            case.name
        );
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid(), meta.mode() & 0o7777),
            (4321, 4322, 0o640),
            "{}",
            case.name
        );
        let untouched = case.verdict == "healthy"
            || case
                .kinds
                .iter()
                .any(|k| k == "bad-header" || k == "stuck-message");
        assert_eq!(
            meta.ino() == inode,
            untouched,
            "{}: rewritten iff repaired",
            case.name
        );
        assert!(!sessions.join(format!("{}.jsonl.lock", case.name)).exists());
    }
    // One backup per repaired file, byte for byte the original.
    let saved = backups(&inst);
    assert_eq!(saved.len(), repairable, "{saved:?}");
    for backup in &saved {
        let name = backup.file_name().unwrap().to_string_lossy().to_string();
        let case = name.split(".jsonl.").next().unwrap();
        assert_eq!(
            std::fs::read(backup).unwrap(),
            fixture(case, "jsonl"),
            "backup of {case}"
        );
        assert_eq!(std::fs::metadata(backup).unwrap().mode() & 0o777, 0o600);
    }
    // The repaired files are healthy now; a second pass (once they have settled) reads them
    // once and changes nothing.
    let repaired: Vec<&Case> = cases
        .iter()
        .filter(|c| c.verdict == "corrupt" && c.kinds != ["bad-header"])
        .collect();
    for case in &repaired {
        age(&sessions.join(format!("{}.jsonl", case.name)), 600);
    }
    let (_, again) = pass(&inst, &[]);
    assert_eq!(again["repaired"], 0, "{again}");
    assert_eq!(again["read"], repaired.len(), "{again}");
    assert_eq!(again["unchanged"], cases.len() - repaired.len(), "{again}");
    // The ones left for a person (a bad header, a stuck message) are still reported; the rest
    // are healthy.
    let for_a_person = repaired
        .iter()
        .filter(|c| {
            c.kinds
                .iter()
                .any(|k| k == "bad-header" || k == "stuck-message")
        })
        .count();
    assert_eq!(again["healthy"], repaired.len() - for_a_person, "{again}");
}

#[test]
fn unchanged_files_are_not_read_again() {
    let (inst, sessions) = watched("wd-cache");
    let healthy = fixture("healthy-every-entry-type", "jsonl");
    for i in 0..5 {
        place(&sessions, &format!("s{i}.jsonl"), &healthy);
    }
    let (_, first) = pass(&inst, &[]);
    assert_eq!(
        (first["read"].as_u64(), first["healthy"].as_u64()),
        (Some(5), Some(5)),
        "{first}"
    );
    assert!(first["bytes_read"].as_u64().unwrap() >= 5 * healthy.len() as u64);
    let (_, second) = pass(&inst, &[]);
    assert_eq!(
        (second["read"].as_u64(), second["unchanged"].as_u64()),
        (Some(0), Some(5)),
        "{second}"
    );
    assert_eq!(second["bytes_read"], 0);
    // An appended line changes size and mtime: that file alone is read again.
    let path = sessions.join("s3.jsonl");
    let mut grown = healthy.clone();
    grown.extend_from_slice(br#"{"type":"custom","id":"x1","parentId":"a4","timestamp":"2026-11-20T10:00:00.000Z","customType":"note","data":{}}"#);
    grown.push(b'\n');
    std::fs::write(&path, &grown).unwrap();
    age(&path, 600);
    let (_, third) = pass(&inst, &[]);
    assert_eq!(
        (third["read"].as_u64(), third["unchanged"].as_u64()),
        (Some(1), Some(4)),
        "{third}"
    );
    // A removed file is forgotten; the pass does not fail over it.
    std::fs::remove_file(sessions.join("s0.jsonl")).unwrap();
    let (code, fourth) = pass(&inst, &[]);
    assert_eq!((code, fourth["files"].as_u64()), (0, Some(4)), "{fourth}");
}

#[test]
fn openclaws_other_files_are_not_sessions() {
    let (inst, sessions) = watched("wd-artifacts");
    let damaged = fixture("partial-line", "jsonl");
    let names = [
        "s.trajectory.jsonl",
        "s.checkpoint.0f0e1d2c-3b4a-4958-8776-a5b4c3d2e1f0.jsonl",
        "s.jsonl.corrupt-2026-07-01T10-00-00-000Z-1a2b3c4d.jsonl",
        "s.jsonl.reset.2026-07-01T10-00-00.000Z",
        "s.jsonl.bak-4242-1782900000000",
        "sessions.json",
    ];
    for name in names {
        place(&sessions, name, &damaged);
    }
    let (code, report) = pass(&inst, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["files"], 0, "{report}");
    for name in names {
        assert_eq!(
            std::fs::read(sessions.join(name)).unwrap(),
            damaged,
            "{name}"
        );
    }
}

#[test]
fn locks_and_files_being_written_are_left_alone() {
    let (inst, sessions) = watched("wd-locks");
    let corrupt = fixture("partial-line", "jsonl");
    let expected = fixture("partial-line", "expected");
    let now = jiff::Timestamp::now();
    let old = now - jiff::SignedDuration::from_hours(2);
    let lock = |name: &str, pid: u32, at: jiff::Timestamp| {
        std::fs::write(
            sessions.join(format!("{name}.jsonl.lock")),
            format!("{{\"pid\":{pid},\"createdAt\":\"{at}\"}}"),
        )
        .unwrap();
    };
    // The test process is alive: a live lock, however old.
    place(&sessions, "live.jsonl", &corrupt);
    lock("live", std::process::id(), old);
    // A dead pid, but taken a minute ago: still live (the gateway may be in a container).
    place(&sessions, "young.jsonl", &corrupt);
    lock(
        "young",
        999_999_999,
        now - jiff::SignedDuration::from_mins(1),
    );
    // A dead pid and two hours old: stale.
    place(&sessions, "stale.jsonl", &corrupt);
    lock("stale", 999_999_999, old);
    // Unreadable lock contents count by the lock file's age: fresh, so live.
    place(&sessions, "garbled.jsonl", &corrupt);
    std::fs::write(sessions.join("garbled.jsonl.lock"), b"\0\0not json").unwrap();
    // Written to a second ago.
    let fresh = sessions.join("fresh.jsonl");
    std::fs::write(&fresh, &corrupt).unwrap();
    // Appended to while the pass runs.
    let busy = place(&sessions, "busy.jsonl", &corrupt);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (busy, stop) = (busy.clone(), stop.clone());
        std::thread::spawn(move || {
            use std::io::Write;
            let mut appended = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || appended == 0 {
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&busy)
                    .unwrap();
                f.write_all(b"{\"type\":\"custom\",\"id\":\"x\"}\n")
                    .unwrap();
                appended += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            appended
        })
    };
    std::thread::sleep(Duration::from_millis(20));

    let (code, report) = pass(&inst, &[]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let appended = writer.join().unwrap();
    let mut grown = corrupt.clone();
    for _ in 0..appended {
        grown.extend_from_slice(b"{\"type\":\"custom\",\"id\":\"x\"}\n");
    }
    assert_eq!(
        std::fs::read(&busy).unwrap(),
        grown,
        "nothing of a file being written is lost"
    );
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["repaired"], 1, "{report}");
    let verdict = |name: &str| {
        report["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| {
                s["path"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/{name}.jsonl"))
            })
            .map(|s| s["verdict"].as_str().unwrap().to_string())
    };
    assert_eq!(verdict("live").as_deref(), Some("locked"));
    assert_eq!(verdict("young").as_deref(), Some("locked"));
    assert_eq!(verdict("garbled").as_deref(), Some("locked"));
    assert_eq!(verdict("fresh").as_deref(), Some("skipped"));
    assert_eq!(verdict("busy").as_deref(), Some("skipped"));
    assert_eq!(verdict("stale").as_deref(), Some("corrupt"));
    for name in ["live", "young", "garbled", "fresh"] {
        assert_eq!(
            std::fs::read(sessions.join(format!("{name}.jsonl"))).unwrap(),
            corrupt,
            "{name}"
        );
    }
    assert_eq!(
        std::fs::read(sessions.join("stale.jsonl")).unwrap(),
        expected
    );
    // The watchdog neither takes nor removes locks: OpenClaw clears its own stale ones.
    assert!(sessions.join("stale.jsonl.lock").exists());
    assert!(sessions.join("live.jsonl.lock").exists());
}

#[test]
fn dry_run_and_scan_change_nothing() {
    let (inst, sessions) = watched("wd-dry");
    let corrupt = fixture("everything-at-once", "jsonl");
    let path = place(&sessions, "s.jsonl", &corrupt);
    let before = std::fs::metadata(&path).unwrap();
    let (code, report) = pass(&inst, &["--dry-run"]);
    assert_eq!(code, 0);
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["repaired"], 0);
    assert_eq!(report["sessions"][0]["verdict"], "corrupt");
    assert_eq!(report["sessions"][0]["left"], "dry run");
    assert_eq!(std::fs::read(&path).unwrap(), corrupt);
    let after = std::fs::metadata(&path).unwrap();
    assert_eq!((before.ino(), before.mtime()), (after.ino(), after.mtime()));
    assert!(backups(&inst).is_empty());
    // A dry run remembers nothing either: the real pass still reads and repairs it.
    let (_, real) = pass(&inst, &[]);
    assert_eq!(real["repaired"], 1, "{real}");
    // The scan's boundary is the offset of the first problem.
    let (_, scanned) = scan(&inst, &place(&sessions, "t.jsonl", &corrupt));
    let first = scanned["problems"][0]["offset"].as_u64().unwrap();
    assert_eq!(scanned["boundary"].as_u64(), Some(first));
    let expected = fixture("everything-at-once", "expected");
    assert_eq!(corrupt[..first as usize], expected[..first as usize]);
}

#[test]
fn a_crash_between_backup_and_rename_leaves_a_whole_file() {
    for point in ["watchdog::after-backup", "watchdog::before-rename"] {
        let (inst, sessions) = watched(&format!("wd-crash-{}", point.replace("::", "-")));
        let corrupt = fixture("merged-sse-event", "jsonl");
        let path = place(&sessions, "s.jsonl", &corrupt);
        let out = inst
            .command("clawdbot-watchdog", &[])
            .env("CLAWDBOT_FAILPOINT", point)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{point}: the failpoint did not fire");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            corrupt,
            "{point}: the original is whole"
        );
        assert_eq!(backups(&inst).len(), 1, "{point}");
        assert_eq!(std::fs::read(&backups(&inst)[0]).unwrap(), corrupt);
        // The next pass repairs it.
        let (code, report) = pass(&inst, &[]);
        assert_eq!(
            (code, report["repaired"].as_u64()),
            (0, Some(1)),
            "{point}: {report}"
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            fixture("merged-sse-event", "expected")
        );
        let leftovers: Vec<String> = common::names(&sessions);
        assert_eq!(leftovers, vec!["s.jsonl".to_string()], "{point}");
    }
}

#[test]
fn links_are_never_followed() {
    let (inst, sessions) = watched("wd-links");
    let corrupt = fixture("partial-line", "jsonl");
    let outside = inst.dir.join("outside");
    std::fs::create_dir_all(outside.join("sessions")).unwrap();
    let target = place(&outside.join("sessions"), "victim.jsonl", &corrupt);
    std::os::unix::fs::symlink(&target, sessions.join("link.jsonl")).unwrap();
    std::os::unix::fs::symlink(&outside, inst.dir.join("openclaw/agents/evil")).unwrap();
    let (code, report) = pass(&inst, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["files"], 0, "{report}");
    assert_eq!(std::fs::read(&target).unwrap(), corrupt);
    let out = inst.run(
        "clawdbot-watchdog",
        &["scan", sessions.join("link.jsonl").to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(66));
    assert!(String::from_utf8_lossy(&out.stderr).contains("symbolic link"));
}

/// Stop and start commands that log their runs (argv, no shell in the watchdog), the stop
/// noting whether the file `watch` was still as `corrupt` when the gateway stopped, the start
/// whether it was repaired by the time the gateway started.
fn gateway_commands(inst: &Instance, stop_exit: u8, start_exit: u8, watch: &Path) -> PathBuf {
    let log = inst.dir.join("gateway.log");
    let corrupt = inst.dir.join("corrupt.copy");
    std::fs::write(&corrupt, fixture("nul-tail", "jsonl")).unwrap();
    let (log_s, watch_s, corrupt_s) = (log.display(), watch.display(), corrupt.display());
    inst.drop_in(
        "gateway.toml",
        &format!(
            "[watchdog]\nstop = [\"sh\", \"-c\", \"echo stop >> {log_s}; cmp -s {watch_s} {corrupt_s} && echo corrupt-at-stop >> {log_s}; exit {stop_exit}\"]\n\
             start = [\"sh\", \"-c\", \"echo start >> {log_s}; cmp -s {watch_s} {corrupt_s} || echo repaired-at-start >> {log_s}; exit {start_exit}\"]\n"
        ),
    );
    log
}

fn logged(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .map(|t| t.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

#[test]
fn the_gateway_is_stopped_for_repairs_once_per_pass_and_one_mail_per_incident() {
    let (inst, sessions) = watched("wd-gateway");
    let watch = sessions.join("a.jsonl");
    let log = gateway_commands(&inst, 0, 1, &watch);
    for name in ["a", "b", "c"] {
        place(
            &sessions,
            &format!("{name}.jsonl"),
            &fixture("nul-tail", "jsonl"),
        );
    }
    let (code, report) = pass(&inst, &[]);
    assert_eq!(report["repaired"], 3, "{report}");
    assert_eq!(
        logged(&log),
        ["stop", "corrupt-at-stop", "start", "repaired-at-start"],
        "stopped once before the repairs, started once after them"
    );
    assert_eq!(
        code, 75,
        "a gateway that did not start is a temporary failure"
    );
    assert_eq!(report["stop"]["ok"], true, "{report}");
    assert_eq!(report["start"]["ok"], false, "{report}");
    // The next pass repairs nothing, stops nothing, and starts the gateway again; no second mail.
    let (code, report) = pass(&inst, &[]);
    assert_eq!(code, 75, "{report}");
    assert!(report["stop"].is_null(), "{report}");
    assert_eq!(logged(&log).iter().filter(|l| *l == "start").count(), 2);
    inst.run("clawdbot-broker", &["run"]);
    let mails = inst.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = std::fs::read_to_string(&mails[0])
        .unwrap()
        .replace("\r\n ", " ")
        .replace("\n ", " ");
    assert!(
        mail.contains(
            "Subject: [clawdbot watchdog] repaired 3 session file(s); the gateway did not start"
        ),
        "{mail}"
    );
    assert!(mail.contains("nul-bytes"), "{mail}");
    // The start works again: done once, and then nothing more.
    std::fs::remove_file(&log).unwrap();
    gateway_commands(&inst, 0, 0, &watch);
    let (code, report) = pass(&inst, &[]);
    assert_eq!((code, logged(&log).len()), (0, 2), "{report}");
    let (_, report) = pass(&inst, &[]);
    assert!(report["start"].is_null(), "{report}");
    assert_eq!(logged(&log).len(), 2);
    // A new corruption is a new incident: one more mail.
    place(&sessions, "d.jsonl", &fixture("partial-line", "jsonl"));
    pass(&inst, &[]);
    inst.run("clawdbot-broker", &["run"]);
    assert_eq!(inst.mails().len(), 2);
    assert_eq!(logged(&log).iter().filter(|l| *l == "stop").count(), 1);

    // A gateway that does not stop: nothing is repaired, and it is all tried again next pass.
    std::fs::remove_file(&log).unwrap();
    gateway_commands(&inst, 1, 0, &watch);
    let corrupt = fixture("nul-tail", "jsonl");
    let e = place(&sessions, "e.jsonl", &corrupt);
    let (code, report) = pass(&inst, &[]);
    assert_eq!(code, 75, "{report}");
    assert_eq!(report["repaired"], 0, "{report}");
    assert_eq!(report["stop"]["ok"], false, "{report}");
    assert_eq!(
        std::fs::read(&e).unwrap(),
        corrupt,
        "not repaired beside a running gateway"
    );
    let left = report["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("/e.jsonl"))
        .map(|f| f["left"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default();
    assert!(left.contains("could not be stopped"), "{report}");
    gateway_commands(&inst, 0, 0, &watch);
    let (code, report) = pass(&inst, &[]);
    assert_eq!(
        (code, report["repaired"].as_u64()),
        (0, Some(1)),
        "{report}"
    );
}

/// The tables of OpenClaw's agent schema the watchdog reads (schema 23), with one session.
fn openclaw_store(path: &Path, message: &str) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         CREATE TABLE session_nodes (session_key TEXT PRIMARY KEY, current_session_id TEXT NOT NULL, archived_at INTEGER);
         CREATE TABLE transcript_events (session_id TEXT, seq INTEGER, event_json TEXT, event_zstd BLOB, event_utf8_bytes INTEGER, PRIMARY KEY (session_id, seq));
         CREATE TABLE session_transcript_index_state (session_id TEXT PRIMARY KEY, indexed_seq INTEGER, needs_rebuild INTEGER);
         CREATE TABLE session_transcript_active_events (session_id TEXT, active_position INTEGER, event_seq INTEGER, context_eligible INTEGER);
         CREATE TABLE transcript_rewrite_watermarks (session_id TEXT PRIMARY KEY);
         INSERT INTO session_nodes VALUES ('agent:main:main', 's1', NULL);",
    )
    .unwrap();
    let events = [
        r#"{"type":"session","version":4,"id":"s1"}"#.to_string(),
        r#"{"type":"message","id":"a","parentId":null,"message":{"role":"user","content":"hi"}}"#
            .to_string(),
        format!(r#"{{"type":"message","id":"b","parentId":"a","message":{message}}}"#),
    ];
    for (seq, e) in events.iter().enumerate() {
        conn.execute(
            "INSERT INTO transcript_events (session_id, seq, event_json) VALUES ('s1', ?1, ?2)",
            rusqlite::params![seq as i64, e],
        )
        .unwrap();
    }
}

#[test]
fn per_agent_databases_are_read_as_their_owner_and_changed_never() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let (inst, _) = watched("wd-sqlite");
    let agent = inst.dir.join("openclaw/agents/main/agent");
    std::fs::create_dir_all(&agent).unwrap();
    let db = agent.join("openclaw-agent.sqlite");
    let stuck = r#"{"role":"assistant","content":[{"type":"toolUse","id":"t","input":{}}],"stopReason":"toolUse"}"#;
    openclaw_store(&db, stuck);
    // The agent's user owns the store, as OpenClaw leaves it: 0600 in a 0700 directory.
    let nobody = 65534;
    for path in [&agent, &db] {
        std::os::unix::fs::chown(path, Some(nobody), Some(nobody)).unwrap();
    }
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut up = agent.parent();
    while let Some(dir) = up.filter(|d| d.starts_with(&inst.dir)) {
        let mode = std::fs::metadata(dir).unwrap().permissions().mode();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o001)).unwrap();
        up = dir.parent();
    }
    // A store that is not OpenClaw's, and one that is not a database.
    let unknown = inst.dir.join("openclaw/agents/other/agent");
    std::fs::create_dir_all(&unknown).unwrap();
    rusqlite::Connection::open(unknown.join("openclaw-agent.sqlite"))
        .unwrap()
        .execute_batch("CREATE TABLE t (x); CREATE VIEW session_nodes AS SELECT 1;")
        .unwrap();
    let other = inst.dir.join("openclaw/agents/broken/agent");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(
        other.join("openclaw-agent.sqlite"),
        b"this is not a database, it is text",
    )
    .unwrap();
    // A store someone else owns, in the agent's directory (renamed there): not read as them.
    let planted = inst.dir.join("openclaw/agents/planted/agent");
    std::fs::create_dir_all(&planted).unwrap();
    openclaw_store(&planted.join("openclaw-agent.sqlite"), stuck);
    std::os::unix::fs::chown(&planted, Some(nobody), Some(nobody)).unwrap();
    // A store whose session key names another agent ("main", in the store of "intruder").
    let intruder = inst.dir.join("openclaw/agents/intruder/agent");
    std::fs::create_dir_all(&intruder).unwrap();
    openclaw_store(&intruder.join("openclaw-agent.sqlite"), stuck);
    let before = std::fs::read(&db).unwrap();
    let (code, report) = pass(&inst, &[]);
    assert_eq!(code, 0, "{report}");
    let dbs = report["databases"].as_array().unwrap();
    assert_eq!(dbs.len(), 5, "{report}");
    let find = |part: &str| {
        dbs.iter()
            .find(|d| d["path"].as_str().unwrap().contains(part))
            .unwrap()
    };
    let main = find("/main/");
    assert_eq!(main["ok"], true, "{main}");
    assert_eq!(main["poisoned"][0]["key"], "agent:main:main", "{main}");
    assert_eq!(main["poisoned"][0]["entry"], "b", "{main}");
    let unknown = find("/other/");
    assert_eq!(unknown["ok"], false, "{unknown}");
    assert!(
        unknown["detail"]
            .as_str()
            .unwrap()
            .contains("session_nodes is a view"),
        "{unknown}"
    );
    assert_eq!(find("/broken/")["ok"], false, "{report}");
    let intruder = find("/intruder/");
    assert!(
        intruder["poisoned"][0]["request"]
            .as_str()
            .unwrap()
            .contains("does not belong to agent \"intruder\""),
        "{intruder}"
    );
    let planted = find("/planted/");
    assert!(
        planted["detail"]
            .as_str()
            .unwrap()
            .contains("owned by uid 0 in a directory of uid 65534"),
        "{planted}"
    );
    // The same problems next pass are told already: they do not open a new incident.
    let (_, again) = pass(&inst, &[]);
    let broken = again["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"].as_str().unwrap().contains("/broken/"))
        .unwrap();
    assert_eq!(broken["repeated"], true, "{broken}");
    assert_eq!(std::fs::read(&db).unwrap(), before);
    // Read as its owner (who may leave SQLite's -wal and -shm, as OpenClaw's readers do):
    // nothing of root's is left beside it.
    for name in common::names(&agent) {
        let meta = std::fs::metadata(agent.join(&name)).unwrap();
        assert_eq!(meta.uid(), nobody, "{name} belongs to uid {}", meta.uid());
    }
}

#[test]
fn old_backups_are_pruned() {
    let (inst, sessions) = watched("wd-prune");
    inst.drop_in("days.toml", "[watchdog]\nbackup_days = 7\n");
    place(&sessions, "s.jsonl", &fixture("partial-line", "jsonl"));
    pass(&inst, &[]);
    let saved = backups(&inst);
    assert_eq!(saved.len(), 1);
    age(&saved[0], 8 * 86_400);
    let (_, report) = pass(&inst, &[]);
    assert_eq!(report["backups_removed"], 1, "{report}");
    assert!(backups(&inst).is_empty());
}

use common::docker::{docker, docker_image};

fn events(container: &str, since: &str, event: &str) -> usize {
    let until = jiff::Timestamp::now().as_second().to_string();
    let out = docker(&[
        "events",
        "--since",
        since,
        "--until",
        &until,
        "--filter",
        &format!("container={container}"),
        "--filter",
        &format!("event={event}"),
        "--format",
        "{{.Action}}",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| *l == event)
        .count()
}

/// A container as Docker Compose makes one for a service of a project (`oneoff`: a
/// `docker compose run` container), named the way Compose names it.
fn compose_container(image: &str, project: &str, name: &str, oneoff: bool) -> String {
    let _ = docker(&["rm", "-f", name]);
    let labels = [
        format!("com.docker.compose.project={project}"),
        "com.docker.compose.service=openclaw-gateway".to_string(),
        format!(
            "com.docker.compose.oneoff={}",
            if oneoff { "True" } else { "False" }
        ),
    ];
    let mut args = vec!["run", "-d", "--network", "none", "--name", name];
    for label in &labels {
        args.extend(["--label", label.as_str()]);
    }
    args.push(image);
    let run = docker(&args);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    name.to_string()
}

/// Containers removed when the test ends, passed or not.
struct Removed(Vec<String>);

impl Drop for Removed {
    fn drop(&mut self) {
        for container in &self.0 {
            let _ = docker(&["rm", "-f", container]);
        }
    }
}

fn running(container: &str) -> bool {
    let out = docker(&["inspect", "-f", "{{.State.Running}}", container]);
    String::from_utf8_lossy(&out.stdout).trim() == "true"
}

/// The default stop and start, against containers laid out as OpenClaw's own
/// docker-compose.yml makes them: the service's container has no fixed name.
#[test]
fn the_gateway_container_of_the_compose_service_is_stopped_and_started_once_per_pass() {
    let image = docker_image();
    let (inst, sessions) = watched("wd-docker");
    let project = format!("clawdbot-test-{}", std::process::id());
    let gateway = compose_container(
        &image,
        &project,
        &format!("{project}-openclaw-gateway-1"),
        false,
    );
    let oneoff = compose_container(
        &image,
        &project,
        &format!("{project}-openclaw-gateway-run-3f2a"),
        true,
    );
    let mut removed = Removed(vec![gateway.clone(), oneoff.clone()]);
    // Events are second-granular: the run's own start lies in the second before `since`.
    std::thread::sleep(Duration::from_millis(1100));
    let since = jiff::Timestamp::now().as_second().to_string();
    // The packaged stop and start (a test instance has none), with a short grace for the
    // test image.
    inst.drop_in(
        "docker.toml",
        "[watchdog]\nstop = [\"docker\", \"stop\", \"-t\", \"1\", \"{gateway}\"]\nstart = [\"docker\", \"start\", \"{gateway}\"]\ngateway_timeout = \"60s\"\n",
    );
    for name in ["a", "b", "c", "d"] {
        place(
            &sessions,
            &format!("{name}.jsonl"),
            &fixture("merged-two-objects", "jsonl"),
        );
    }
    let (code, report) = pass(&inst, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["repaired"], 4, "{report}");
    assert_eq!(report["stop"]["ok"], true, "{report}");
    assert_eq!(report["start"]["ok"], true, "{report}");
    let id = report["stop"]["command"][4].as_str().unwrap().to_string();
    assert_eq!(id.len(), 64, "{report}");
    assert_eq!(report["start"]["command"][2], id.as_str(), "{report}");
    // Events are second-granular: wait for the second to pass before asking.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        events(&gateway, &since, "stop"),
        1,
        "one stop for four repairs"
    );
    assert_eq!(events(&gateway, &since, "start"), 1);
    assert!(running(&gateway));
    assert_eq!(events(&oneoff, &since, "stop"), 0, "a one-off container");
    assert!(running(&oneoff));
    // A pass that repairs nothing stops nothing.
    let (_, report) = pass(&inst, &[]);
    assert!(
        report["stop"].is_null() && report["start"].is_null(),
        "{report}"
    );
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(events(&gateway, &since, "stop"), 1);

    // A second project with the service: no guess; gateway_project picks one.
    let other_project = format!("{project}-b");
    let other = compose_container(
        &image,
        &other_project,
        &format!("{other_project}-openclaw-gateway-1"),
        false,
    );
    removed.0.push(other.clone());
    let e = place(&sessions, "e.jsonl", &fixture("partial-line", "jsonl"));
    let (code, report) = pass(&inst, &[]);
    assert_eq!(code, 75, "{report}");
    let detail = report["stop"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("2 containers") && detail.contains("gateway_project"),
        "{report}"
    );
    assert_eq!(std::fs::read(&e).unwrap(), fixture("partial-line", "jsonl"));
    inst.drop_in(
        "project.toml",
        &format!("[watchdog]\ngateway_project = {project:?}\n"),
    );
    let (code, report) = pass(&inst, &[]);
    assert_eq!((code, &report["repaired"]), (0, &json!(1)), "{report}");
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(events(&gateway, &since, "stop"), 2);
    assert_eq!(events(&other, &since, "stop"), 0);
    assert!(running(&gateway) && running(&other));

    // gateway-exec runs a command in that container, with the command's own exit status.
    let out = inst.run(
        "clawdbot-watchdog",
        &["gateway-exec", "--", "/pause", "exit", "3"],
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");

    // No gateway running: nothing to stop, nothing started after; files no lock covers are
    // repaired.
    docker(&["stop", "-t", "1", &gateway]);
    let f = place(&sessions, "f.jsonl", &fixture("partial-line", "jsonl"));
    let (code, report) = pass(&inst, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["repaired"], 1, "{report}");
    assert!(
        report["stop"]["detail"]
            .as_str()
            .unwrap()
            .contains("nothing to stop"),
        "{report}"
    );
    assert!(report["start"].is_null(), "{report}");
    assert_ne!(std::fs::read(&f).unwrap(), fixture("partial-line", "jsonl"));
    assert!(!running(&gateway), "started a gateway that was not running");
    let out = inst.run("clawdbot-watchdog", &["gateway-exec", "--", "/pause"]);
    assert_eq!(out.status.code(), Some(69), "{out:?}");

    // The container to start is remembered in the database, which the unprivileged user can
    // write: a planted id of another container is not started; the gateway's is.
    let create = docker(&["create", "--network", "none", &image]);
    let victim = String::from_utf8(create.stdout).unwrap().trim().to_string();
    removed.0.push(victim.clone());
    let db = rusqlite::Connection::open(inst.database()).unwrap();
    for (key, value) in [
        ("watchdog.restart_pending", "1"),
        ("watchdog.gateway_container", victim.as_str()),
    ] {
        db.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
            [key, value],
        )
        .unwrap();
    }
    drop(db);
    let (code, report) = pass(&inst, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["start"]["command"][2], id.as_str(), "{report}");
    assert!(running(&gateway) && !running(&victim));
}
