//! Resource faults: a full disk under the state directory, the backups and the session files
//! (small tmpfs mounts; the tests run as root, as CI does), and a database another process
//! holds locked. Each job says why, exits 75, loses nothing and leaves nothing half-written;
//! once space or the lock is back, the next run completes the work.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use common::Instance;
use serde_json::Value;

/// A tmpfs of `size` mounted at `path` for the test's life.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(path).unwrap();
        common::need("mount", "apt-get install mount");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mount tmpfs (the fault tests run as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(path.to_path_buf())
    }

    fn resize(&self, size: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Fill what is left with one file; returns it.
    fn fill(&self) -> PathBuf {
        let filler = self.0.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 4096];
        while std::io::Write::write_all(&mut file, &block).is_ok() {}
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn aged(path: &Path) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
}

fn request(i: usize) -> Vec<u8> {
    serde_json::json!({"version": 1, "kind": "restart_container", "summary": format!("Restart c{i}"), "reason": "faults", "params": {"container": format!("c{i}")}})
        .to_string()
        .into_bytes()
}

#[test]
fn a_full_state_directory_loses_no_request() {
    let inst = Instance::new("fault-intake");
    let state = inst.dir.join("tight-state");
    let disk = Tmpfs::mount(&state, "1m");
    inst.drop_in(
        "state.toml",
        &format!("[paths]\nstate_dir = \"{}\"\n", state.display()),
    );
    let first = inst.run("clawdbot-broker", &["run"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let filler = disk.fill();
    for i in 0..3 {
        inst.drop(&format!("r{i}.json"), &request(i));
    }
    let full = inst.run("clawdbot-broker", &["run"]);
    let stderr = String::from_utf8_lossy(&full.stderr);
    assert_eq!(
        full.status.code(),
        Some(75),
        "a full disk is a temporary failure: {stderr}"
    );
    assert!(
        stderr.contains("full") || stderr.contains("space"),
        "the error says why: {stderr}"
    );
    assert_eq!(
        inst.spool_json().len(),
        3,
        "no request left the spool unrecorded"
    );

    std::fs::remove_file(filler).unwrap();
    let again = inst.run("clawdbot-broker", &["run"]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(inst.spool_json().is_empty());
    let open: Value = inst.json(&["status"]);
    assert_eq!(open.as_array().unwrap().len(), 3, "{open}");
    drop(disk);
}

fn big_corrupt_session(dir: &Path, name: &str, lines: usize) -> (PathBuf, Vec<u8>, Vec<u8>) {
    std::fs::create_dir_all(dir).unwrap();
    let mut good = b"{\"type\":\"session\",\"version\":3,\"id\":\"s1\"}\n".to_vec();
    for i in 0..lines {
        good.extend_from_slice(
            format!(
                "{{\"type\":\"custom\",\"id\":\"e{i}\",\"data\":\"{}\"}}\n",
                "x".repeat(200)
            )
            .as_bytes(),
        );
    }
    let mut corrupt = good.clone();
    corrupt.extend_from_slice(b"{\"type\":\"mess");
    let path = dir.join(name);
    std::fs::write(&path, &corrupt).unwrap();
    aged(&path);
    (path, corrupt, good)
}

fn watchdog(inst: &Instance) -> (i32, Value) {
    let out = inst.run("clawdbot-watchdog", &["--json"]);
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr))),
    )
}

#[test]
fn a_full_backup_directory_leaves_the_session_as_it_was() {
    let inst = Instance::new("fault-backup");
    let backups = inst.dir.join("tight-backups");
    let disk = Tmpfs::mount(&backups, "256k");
    inst.drop_in(
        "backups.toml",
        &format!("[paths]\nbackups = \"{}\"\n", backups.display()),
    );
    let sessions = inst.dir.join("openclaw/agents/main/sessions");
    let (path, corrupt, good) = big_corrupt_session(&sessions, "s.jsonl", 3000);
    let (code, report) = watchdog(&inst);
    assert_eq!(code, 75, "{report}");
    let error = report["errors"][0][1].as_str().unwrap();
    assert!(error.contains("No space left"), "{error}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        corrupt,
        "the session is untouched"
    );
    assert!(
        common::names(&backups.join("main")).is_empty(),
        "no half-written backup"
    );
    assert_eq!(
        common::names(&sessions),
        ["s.jsonl"],
        "no lock or temporary file left"
    );

    disk.resize("16m");
    let (code, report) = watchdog(&inst);
    assert_eq!(
        (code, report["repaired"].as_u64()),
        (0, Some(1)),
        "{report}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), good);
}

#[test]
fn a_full_session_directory_keeps_the_original() {
    let inst = Instance::new("fault-sessions");
    let sessions = inst.dir.join("openclaw/agents/main/sessions");
    let disk = Tmpfs::mount(&sessions, "1m");
    let (path, corrupt, good) = big_corrupt_session(&sessions, "s.jsonl", 3000);
    let filler = disk.fill();
    let (code, report) = watchdog(&inst);
    assert_eq!(code, 75, "{report}");
    assert_eq!(std::fs::read(&path).unwrap(), corrupt);
    assert_eq!(
        common::names(&sessions),
        ["filler", "s.jsonl"],
        "no temporary file or lock left"
    );
    let error = report["errors"][0][1].as_str().unwrap();
    assert!(error.contains("No space left"), "{error}");
    std::fs::remove_file(filler).unwrap();
    disk.resize("4m");
    let (code, report) = watchdog(&inst);
    assert_eq!(
        (code, report["repaired"].as_u64()),
        (0, Some(1)),
        "{report}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), good);
}

#[test]
fn a_locked_database_is_a_temporary_failure() {
    let inst = Instance::new("fault-locked");
    inst.broker();
    inst.drop("r.json", &request(1));
    let holder = rusqlite::Connection::open(inst.database()).unwrap();
    holder
        .execute_batch("BEGIN IMMEDIATE; INSERT INTO settings (key, value) VALUES ('held', '1');")
        .unwrap();
    let out = inst.run("clawdbot-broker", &["run"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{stderr}");
    assert!(stderr.contains("locked"), "{stderr}");
    assert_eq!(inst.spool_json().len(), 1, "the request waits in the spool");
    holder.execute_batch("COMMIT").unwrap();
    let out = inst.run("clawdbot-broker", &["run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(inst.spool_json().is_empty());
}

/// Run a job with the clock moved by `offset` (libfaketime, e.g. `-1h`, `+1d`).
fn at_offset(inst: &Instance, offset: &str, program: &str, args: &[&str]) -> std::process::Output {
    common::faketime(&mut inst.command(program, args), offset)
        .output()
        .unwrap()
}

#[test]
fn the_clock_going_back_and_forward_breaks_nothing() {
    let (inst, log) = common::counting("fault-clock");
    let id = common::filed(&inst, "one");
    let state = |inst: &Instance| {
        inst.json(&["show", &id])["request"]["state"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(state(&inst), "PendingReply");

    // An hour back: the request is an hour younger than it looks; nothing expires, nothing runs.
    inst.drop("two.json", serde_json::json!({"version": 1, "kind": "count", "summary": "Count two", "reason": "clock", "params": {"n": "two"}}).to_string().as_bytes());
    let back = at_offset(&inst, "-1h", "clawdbot-broker", &["run"]);
    assert!(
        back.status.success(),
        "{}",
        String::from_utf8_lossy(&back.stderr)
    );
    assert_eq!(state(&inst), "PendingReply");
    assert_eq!(
        inst.json(&["status"]).as_array().unwrap().len(),
        2,
        "the request filed in the past is recorded"
    );

    // A day and a minute forward: both expire, the agent is told, nothing runs.
    let forward = at_offset(&inst, "+1441m", "clawdbot-broker", &["run"]);
    assert!(
        forward.status.success(),
        "{}",
        String::from_utf8_lossy(&forward.stderr)
    );
    assert!(
        ["Expired", "Done"].contains(&state(&inst).as_str()),
        "{}",
        state(&inst)
    );
    let told = std::fs::read_dir(inst.dir.join("inbox"))
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| {
            std::fs::read_to_string(e.path())
                .unwrap_or_default()
                .contains("Expired")
        });
    assert!(told, "the agent hears that its request expired");

    // Back to the real time: the expired request stays expired and cannot be approved.
    let now = inst.run("clawdbot-broker", &["run"]);
    assert!(
        now.status.success(),
        "{}",
        String::from_utf8_lossy(&now.stderr)
    );
    assert!(["Expired", "Done"].contains(&state(&inst).as_str()));
    let approve = inst.run("clawdbot", &["approve", &id]);
    assert_eq!(
        approve.status.code(),
        Some(65),
        "{}",
        String::from_utf8_lossy(&approve.stderr)
    );
    assert_eq!(common::runs(&log), 0, "nothing ran");
}

#[test]
fn a_read_only_state_directory_is_reported_and_loses_nothing() {
    let inst = Instance::new("fault-readonly");
    let state = inst.dir.join("ro-state");
    let disk = Tmpfs::mount(&state, "4m");
    inst.drop_in(
        "state.toml",
        &format!("[paths]\nstate_dir = \"{}\"\n", state.display()),
    );
    assert!(inst.run("clawdbot-broker", &["run"]).status.success());
    let remount = |mode: &str| {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&state)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    remount("ro");
    inst.drop("r.json", &request(7));
    let out = inst.run("clawdbot-broker", &["run"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a read-only state directory cannot be written"
    );
    assert!(
        stderr.contains("read-only") || stderr.contains("readonly"),
        "the error says why: {stderr}"
    );
    assert_eq!(inst.spool_json().len(), 1, "the request waits in the spool");
    remount("rw");
    let out = inst.run("clawdbot-broker", &["run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(inst.spool_json().is_empty());
    drop(disk);
}

/// The database lives in a directory the unprivileged user owns, and root jobs open it: a link
/// planted as state.db (here to another valid database) is refused, and its target untouched.
#[test]
fn a_database_link_planted_in_the_state_directory_is_not_followed() {
    let inst = Instance::new("db-link");
    inst.broker();
    let elsewhere = inst.dir.join("elsewhere.db");
    std::fs::rename(inst.database(), &elsewhere).unwrap();
    let _ = std::fs::remove_file(inst.dir.join("state/state.db-wal"));
    let _ = std::fs::remove_file(inst.dir.join("state/state.db-shm"));
    let before = std::fs::read(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, inst.database()).unwrap();
    for (program, args) in [
        ("clawdbot-exec", &[][..]),
        ("clawdbot-broker", &["run"][..]),
    ] {
        let out = inst.run(program, args);
        assert!(!out.status.success(), "{program} followed the link");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("state.db"),
            "{program}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(std::fs::read(&elsewhere).unwrap(), before);
    assert!(!inst.dir.join("elsewhere.db-wal").exists());
}
