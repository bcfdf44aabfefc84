//! Helpers shared by the integration tests: a fresh `clawdbot init` instance per test, and the
//! real binaries run against it.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub mod docker;

/// A self-contained instance made by `clawdbot init`.
pub struct Instance {
    pub dir: PathBuf,
    pub config: PathBuf,
}

/// A program, as the package installs it: its own executable, or a link named for it to the
/// `clawdbot` executable that serves several names.
pub fn bin(name: &str) -> PathBuf {
    if let Ok(exe) = std::env::var(format!("CARGO_BIN_EXE_{name}")) {
        return PathBuf::from(exe);
    }
    assert!(
        name.starts_with("clawdbot-") && !name.contains('/'),
        "no program {name}"
    );
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join(name);
    // Every program is a name of `clawdbot` but the task runner, a name of `clawdbot-exec`.
    let target = if name == "clawdbot-task" {
        "clawdbot-exec"
    } else {
        "clawdbot"
    };
    match std::os::unix::fs::symlink(bin(target), &link) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            panic!("{}: {e}", link.display())
        }
        _ => link,
    }
}

impl Instance {
    pub fn new(name: &str) -> Instance {
        let dir = std::env::temp_dir().join(format!("clawdbot-it-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = Command::new(bin("clawdbot"))
            .arg("init")
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let config = dir.join("clawdbot.toml");
        Instance { dir, config }
    }

    /// Append TOML to the instance's configuration (later keys win through a drop-in).
    pub fn drop_in(&self, name: &str, text: &str) {
        let d = self.dir.join("clawdbot.toml.d");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(name), text).unwrap();
    }

    pub fn spool(&self) -> PathBuf {
        self.dir.join("requests")
    }
    pub fn quarantine(&self) -> PathBuf {
        self.dir.join("state/quarantine")
    }
    pub fn outbox(&self) -> PathBuf {
        self.dir.join("state/outbox")
    }
    pub fn database(&self) -> PathBuf {
        self.dir.join("state/state.db")
    }

    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        self.command(program, args).output().unwrap()
    }

    pub fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin(program));
        cmd.arg("--config").arg(&self.config).args(args);
        cmd.env_remove("CLAWDBOT_FAILPOINT").stdin(Stdio::null());
        cmd
    }

    /// One broker pass; returns its JSON report, asserting it exited 0.
    pub fn broker(&self) -> Value {
        let out = self.run("clawdbot-broker", &["run", "--json"]);
        assert!(
            out.status.success(),
            "broker failed ({:?}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Write a request file straight into the spool, as an agent would.
    pub fn drop(&self, name: &str, body: &[u8]) -> PathBuf {
        let path = self.spool().join(name);
        std::fs::write(&path, body).unwrap();
        path
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run("clawdbot", &all);
        assert!(
            out.status.success(),
            "clawdbot {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Point the instance's bot at a Bot API emulator at `base`: the token in a 0600 file,
    /// `operators` obeyed, a 1 s long poll, and `more` lines added to `[telegram]`.
    pub fn use_telegram(&self, base: &str, token: &str, operators: &[i64], more: &str) {
        let file = self.dir.join("telegram-token");
        std::fs::write(&file, token).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        self.drop_in(
            "60-telegram.toml",
            &format!(
                "[telegram]\napi_base = {base:?}\ntoken_credential = {:?}\noperators = {operators:?}\npoll_timeout = \"1s\"\n{more}",
                file.display().to_string()
            ),
        );
    }

    /// `program ARGS` (ARGS including `--json`), asserting it exited 0; its output as JSON.
    pub fn json_of(&self, program: &str, args: &[&str]) -> Value {
        let out = self.run(program, args);
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The mails the broker sent whose text contains `needle`, as text.
    pub fn mails_with(&self, needle: &str) -> Vec<String> {
        self.mails()
            .into_iter()
            .map(|m| std::fs::read_to_string(m).unwrap())
            .filter(|m| m.contains(needle))
            .collect()
    }

    /// The `*.json` entries left in the spool.
    pub fn spool_json(&self) -> Vec<String> {
        names(&self.spool())
            .into_iter()
            .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
            .collect()
    }

    /// The `.eml` files in the outbox.
    pub fn mails(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = names(&self.outbox())
            .into_iter()
            .filter(|n| n.ends_with(".eml"))
            .map(|n| self.outbox().join(n))
            .collect();
        v.sort();
        v
    }
}

pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A valid request for the reference `restart_container` action.
pub fn request(container: &str) -> Vec<u8> {
    serde_json::json!({
        "version": 1,
        "kind": "restart_container",
        "summary": format!("Restart the {container} container"),
        "reason": "It stopped answering",
        "params": {"container": container},
    })
    .to_string()
    .into_bytes()
}

pub const AUTH_OK: &str = "Authentication-Results: mx.google.com;\r\n dkim=pass header.i=@example.org;\r\n dmarc=pass (p=NONE) header.from=example.org\r\n";

/// An instance with a `count` action that appends its argument to a log, so runs can be counted.
pub fn counting(name: &str) -> (Instance, PathBuf) {
    let inst = Instance::new(name);
    let log = inst.dir.join("ran.log");
    let script = inst.dir.join("count.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$1\" >> {}\n", log.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    inst.drop_in(
        "30-count.toml",
        &format!("[actions.count]\ncommand = [{:?}, \"{{n}}\"]\nrisk = \"low\"\ntimeout = \"10s\"\nparams = {{ n = \"^[a-z0-9]{{1,20}}$\" }}\n", script.display().to_string()),
    );
    (inst, log)
}

pub fn runs(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// File a `count` request and run a pass; returns its id.
pub fn filed(inst: &Instance, n: &str) -> String {
    let body = serde_json::json!({"version": 1, "kind": "count", "summary": format!("Count {n}"), "reason": "testing", "params": {"n": n}, "reply_session": "agent:main:main"});
    inst.drop(&format!("{n}.json"), body.to_string().as_bytes());
    inst.broker();
    id_of(inst, n)
}

/// The id of the open `count` request filed as `n`.
pub fn id_of(inst: &Instance, n: &str) -> String {
    let open = inst.json(&["status"]);
    open.as_array()
        .unwrap()
        .iter()
        .find(|r| r["summary"] == format!("Count {n}"))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

pub fn reply(
    from: &str,
    auth: &str,
    in_reply_to: &str,
    subject: &str,
    body: &str,
    message_id: &str,
) -> String {
    format!(
        "{auth}From: Operator <{from}>\r\nTo: clawdbot <clawdbot@example.org>\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\nIn-Reply-To: <{in_reply_to}>\r\nReferences: <{in_reply_to}>\r\nDate: Thu, 26 Nov 2026 10:20:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n\r\nOn Thu, 26 Nov 2026 at 10:15, clawdbot <clawdbot@example.org> wrote:\r\n> How to answer: reply APPROVE or DENY; ask anything, and you will get an answer.\r\n"
    )
}

pub fn approve_mail(id: &str, tag: &str) -> String {
    reply(
        "ops@example.org",
        AUTH_OK,
        &format!("{id}.1@example.org"),
        &format!("Re: [clawdbot {id}] Approve?"),
        "Yes, go ahead.",
        &format!("{tag}@mail.example.org"),
    )
}

pub fn deliver(inst: &Instance, name: &str, mail: &str) {
    std::fs::write(inst.dir.join("state/mail/new").join(name), mail).unwrap();
}

/// A program this test runs: a missing one fails the test at once, naming what provides it,
/// rather than with a bare "No such file or directory" from spawn.
pub fn need(program: &str, install: &str) {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()));
    assert!(
        found,
        "{program} is missing: {install} (make test-deps installs everything the tests need; \
         tests/deps.sh --check lists what is missing)"
    );
}

/// A module of `python` this test imports, checked the same way.
pub fn need_python(python: &str, module: &str, install: &str) {
    need(python, "apt-get install python3");
    let imported = Command::new(python)
        .args(["-c", &format!("import {module}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        imported,
        "{python} cannot import {module}: {install} (make test-deps installs everything the \
         tests need; tests/deps.sh --check lists what is missing)"
    );
}

/// Debian's aiosmtpd on 127.0.0.1:`port`, storing what it receives in the Maildir `maildir`;
/// returns once it accepts connections.
pub fn aiosmtpd(maildir: &Path, port: u16) -> std::process::Child {
    let python = if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    need_python(python, "aiosmtpd", "apt-get install python3-aiosmtpd");
    let child = Command::new(python)
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 with aiosmtpd (apt-get install python3-aiosmtpd)");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "aiosmtpd did not start on port {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Run `cmd` with `input` on its standard input; its output and error are collected.
pub fn output_with_input(cmd: &mut Command, input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{:?}: {e}", cmd.get_program()));
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// aiosmtpd delivering into the reply Maildir, as an MTA would.
pub struct Mta {
    child: std::process::Child,
    pub port: u16,
}

impl Mta {
    pub fn start(maildir: &Path) -> Mta {
        let port = free_port();
        Mta {
            child: aiosmtpd(maildir, port),
            port,
        }
    }

    /// A plain SMTP dialogue.
    pub fn send(&self, from: &str, to: &str, message: &str) {
        let stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let expect = |code: &str, reader: &mut std::io::BufReader<std::net::TcpStream>| loop {
            let mut line = String::new();
            std::io::BufRead::read_line(reader, &mut line).unwrap();
            assert!(line.starts_with(code), "expected {code}, got {line:?}");
            if line.as_bytes().get(3) == Some(&b' ') {
                break;
            }
        };
        expect("220", &mut reader);
        for (command, code) in [
            ("EHLO test", "250"),
            (&format!("MAIL FROM:<{from}>"), "250"),
            (&format!("RCPT TO:<{to}>"), "250"),
            ("DATA", "354"),
        ] {
            std::io::Write::write_all(&mut writer, format!("{command}\r\n").as_bytes()).unwrap();
            expect(code, &mut reader);
        }
        let dotted = message.replace("\r\n.", "\r\n..");
        std::io::Write::write_all(&mut writer, format!("{dotted}\r\n.\r\n").as_bytes()).unwrap();
        expect("250", &mut reader);
        std::io::Write::write_all(&mut writer, b"QUIT\r\n").unwrap();
    }
}

impl Drop for Mta {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A new mail, not a reply, written now: the operator starting work.
pub fn new_mail(
    from: &str,
    auth: &str,
    subject: &str,
    body: &str,
    message_id: &str,
    extra: &str,
) -> String {
    let date = jiff::Timestamp::now().strftime("%a, %d %b %Y %H:%M:%S +0000");
    format!(
        "{auth}From: Operator <{from}>\r\nTo: clawdbot <clawdbot@example.org>\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\nDate: {date}\r\n{extra}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

/// Run `cmd` with the clock moved by libfaketime: `at` is a `FAKETIME` value, an offset
/// (`-1h`, `+1d`) or an absolute time (`@2026-12-07 15:00:00`).
pub fn faketime<'a>(cmd: &'a mut Command, at: &str) -> &'a mut Command {
    let lib = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .expect("libfaketime is missing: apt-get install faketime (make test-deps installs everything the tests need)");
    cmd.env("LD_PRELOAD", lib)
        .env("FAKETIME", at)
        .env("DONT_FAKE_MONOTONIC", "1")
}
