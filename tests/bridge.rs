//! The bridge against the official Standard Webhooks library (Python's standardwebhooks, from
//! PyPI) both ways, a real HTTP receiver on 127.0.0.1, replays, and hostile input.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use common::Instance;
use serde_json::{Value, json};

const PEER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/interop/standardwebhooks_peer.py"
);

fn keygen() -> String {
    let out = Command::new(common::bin("clawdbot-bridge"))
        .arg("keygen")
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn write_secret(dir: &Path, name: &str, secret: &str, mode: u32) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{secret}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// An instance whose bridge signs with a fresh secret kept in a 0600 file.
fn bridged(name: &str) -> (Instance, String) {
    let inst = Instance::new(name);
    let secret = keygen();
    let path = write_secret(&inst.dir, "bridge-secret", &secret, 0o600);
    inst.drop_in(
        "40-bridge.toml",
        &format!("[bridge]\nsecrets = [{:?}]\n", path.display().to_string()),
    );
    (inst, secret)
}

/// Run the Python peer with `stdin`.
fn peer(args: &[&str], stdin: &[u8]) -> Output {
    common::need_python(
        "python3",
        "standardwebhooks",
        "pip install standardwebhooks",
    );
    let out = common::output_with_input(Command::new("python3").arg(PEER).args(args), stdin);
    assert!(
        out.status.success() || String::from_utf8_lossy(&out.stdout).starts_with("rejected"),
        "the peer itself failed (is standardwebhooks installed?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn send(inst: &Instance, args: &[&str]) -> Output {
    let mut all = vec!["send"];
    all.extend_from_slice(args);
    inst.run("clawdbot-bridge", &all)
}

fn verify_envelope(inst: &Instance, path: &Path) -> Output {
    inst.run(
        "clawdbot-bridge",
        &["verify", "--envelope", path.to_str().unwrap()],
    )
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn drop_mode_messages_verify_with_the_official_library() {
    let (inst, secret) = bridged("bridge-drop");
    let out = send(
        &inst,
        &[
            "--message",
            "Done: searxng restarted",
            "--request",
            "R-20261126-7Q2M",
            "--session",
            "agent:main:main",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let (id, path) = stdout.trim().split_once(' ').unwrap();
    assert!(id.starts_with("msg_") && !id.contains('.'));
    let path = PathBuf::from(path);
    assert_eq!(path, inst.dir.join("inbox").join(format!("{id}.json")));
    let envelope = std::fs::read(&path).unwrap();

    let out = peer(&["verify", &secret], &envelope);
    assert!(
        out.status.success(),
        "official library refused: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(body["text"], "Done: searxng restarted");
    assert_eq!(body["request"], "R-20261126-7Q2M");
    assert_eq!(body["sessionKey"], "agent:main:main");

    // An altered body is refused by both sides.
    let mut altered: Value = serde_json::from_slice(&envelope).unwrap();
    altered["body"] = altered["body"]
        .as_str()
        .unwrap()
        .replace("restarted", "deleted")
        .into();
    let altered_path = inst.dir.join("altered.json");
    std::fs::write(&altered_path, altered.to_string()).unwrap();
    assert!(
        !peer(&["verify", &secret], altered.to_string().as_bytes())
            .status
            .success()
    );
    let out = verify_envelope(&inst, &altered_path);
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no signature matches"));

    // Another secret is refused by both sides.
    let other = keygen();
    assert!(!peer(&["verify", &other], &envelope).status.success());

    // The genuine envelope verifies once with clawdbot-bridge; a second time it is a replay,
    // even though it is another process.
    let out = verify_envelope(&inst, &path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["text"],
        "Done: searxng restarted"
    );
    let out = verify_envelope(&inst, &path);
    assert_eq!(out.status.code(), Some(65));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("replay"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn what_the_official_library_signs_verifies_and_old_messages_fail_on_both_sides() {
    let (inst, secret) = bridged("bridge-peer-signs");
    let body = json!({"type": "message", "text": "hello from python"}).to_string();
    let envelope = peer(
        &["sign", &secret, "msg_python1", &now().to_string()],
        body.as_bytes(),
    );
    let path = inst.dir.join("from-python.json");
    std::fs::write(&path, &envelope.stdout).unwrap();
    let out = verify_envelope(&inst, &path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), body);

    // The same with the body and headers given apart.
    let envelope = peer(
        &["sign", &secret, "msg_python2", &now().to_string()],
        body.as_bytes(),
    );
    let envelope: Value = serde_json::from_slice(&envelope.stdout).unwrap();
    let body_path = inst.dir.join("body.json");
    std::fs::write(&body_path, &body).unwrap();
    let mut args = vec![
        "verify".to_string(),
        "--body".into(),
        body_path.display().to_string(),
    ];
    for (k, v) in envelope["headers"].as_object().unwrap() {
        args.push("--header".into());
        args.push(format!("{k}: {}", v.as_str().unwrap()));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = inst.run("clawdbot-bridge", &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Signed 400 s ago: both refuse.
    let old = peer(
        &["sign", &secret, "msg_python3", &(now() - 400).to_string()],
        body.as_bytes(),
    );
    assert!(!peer(&["verify", &secret], &old.stdout).status.success());
    std::fs::write(&path, &old.stdout).unwrap();
    let out = verify_envelope(&inst, &path);
    assert_eq!(out.status.code(), Some(65));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("s old"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Signed with another secret: both refuse.
    let other = keygen();
    let forged = peer(
        &["sign", &other, "msg_python4", &now().to_string()],
        body.as_bytes(),
    );
    std::fs::write(&path, &forged.stdout).unwrap();
    assert_eq!(verify_envelope(&inst, &path).status.code(), Some(65));
    assert!(!peer(&["verify", &secret], &forged.stdout).status.success());
}

#[test]
fn during_a_rotation_every_secret_signs_and_either_verifies() {
    let inst = Instance::new("bridge-rotation");
    let (old, new) = (keygen(), keygen());
    let a = write_secret(&inst.dir, "old", &old, 0o600);
    let b = write_secret(&inst.dir, "new", &new, 0o400);
    inst.drop_in(
        "40-bridge.toml",
        &format!(
            "[bridge]\nsecrets = [{:?}, {:?}]\n",
            a.display().to_string(),
            b.display().to_string()
        ),
    );
    let out = send(&inst, &["--message", "rotating"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .split_once(' ')
        .unwrap()
        .1
        .to_string();
    let envelope = std::fs::read(&path).unwrap();
    let sig: Value = serde_json::from_slice(&envelope).unwrap();
    assert_eq!(
        sig["headers"]["webhook-signature"]
            .as_str()
            .unwrap()
            .split(' ')
            .count(),
        2
    );
    assert!(peer(&["verify", &old], &envelope).status.success());
    assert!(peer(&["verify", &new], &envelope).status.success());
}

/// One request as the receiver saw it: lower-cased headers and the body.
type Seen = (BTreeMap<String, String>, Vec<u8>);

/// A small HTTP receiver on 127.0.0.1 answering each request with the next scripted status.
struct Receiver {
    url: String,
    requests: Arc<Mutex<Vec<Seen>>>,
}

impl Receiver {
    fn start(statuses: Vec<u16>) -> Receiver {
        Receiver::answering(statuses.into_iter().map(|s| (s, "no")).collect())
    }

    /// Each request answered with the next status and body.
    fn answering(replies: Vec<(u16, &'static str)>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hooks/agent", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for (stream, (status, answer)) in listener.incoming().zip(replies) {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut headers = BTreeMap::new();
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                loop {
                    line.clear();
                    reader.read_line(&mut line).unwrap();
                    let l = line.trim_end();
                    if l.is_empty() {
                        break;
                    }
                    let (k, v) = l.split_once(':').unwrap();
                    headers.insert(k.to_ascii_lowercase(), v.trim().to_string());
                }
                let len: usize = headers
                    .get("content-length")
                    .map_or(0, |v| v.parse().unwrap());
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                seen.lock().unwrap().push((headers, body));
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                stream.write_all(reply.as_bytes()).unwrap();
            }
        });
        Receiver { url, requests }
    }

    fn requests(&self) -> Vec<Seen> {
        self.requests.lock().unwrap().clone()
    }
}

fn http_instance(name: &str, url: &str, retries: u32) -> (Instance, String, PathBuf) {
    let (inst, secret) = bridged(name);
    let creds = inst.dir.join("creds");
    std::fs::create_dir_all(&creds).unwrap();
    std::fs::write(creds.join("gateway-token"), "tok-123\n").unwrap();
    inst.drop_in(
        "50-http.toml",
        &format!(
            "[bridge]\nmode = \"http\"\nurl = {url:?}\nretries = {retries}\ntimeout = \"5s\"\n"
        ),
    );
    (inst, secret, creds)
}

fn bridge_cmd(inst: &Instance, creds: &Path, args: &[&str]) -> Output {
    inst.command("clawdbot-bridge", args)
        .env("CREDENTIALS_DIRECTORY", creds)
        .output()
        .unwrap()
}

#[test]
fn http_mode_delivers_signed_and_authorised_and_retries_a_503() {
    let receiver = Receiver::start(vec![503, 200]);
    let (inst, secret, creds) = http_instance("bridge-http", &receiver.url, 3);
    let out = bridge_cmd(
        &inst,
        &creds,
        &[
            "send",
            "--message",
            "Denied: not now",
            "--request",
            "R-20261126-7Q2M",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2, "one 503, then the retry");
    let (headers, body) = &requests[1];
    assert_eq!(headers["authorization"], "Bearer tok-123");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["idempotency-key"], headers["webhook-id"]);
    assert_eq!(
        requests[0].0["webhook-id"], headers["webhook-id"],
        "a retry keeps the message id"
    );
    let wanted: Value = json!({
        "webhook-id": headers["webhook-id"],
        "webhook-timestamp": headers["webhook-timestamp"],
        "webhook-signature": headers["webhook-signature"],
    });
    let out = peer(&["verify-parts", &secret, &wanted.to_string()], body);
    assert!(
        out.status.success(),
        "official library refused: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let body: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(
        (body["text"].as_str(), body["message"].as_str()),
        (
            Some("Denied: not now"),
            Some("clawdbot, about request R-20261126-7Q2M:\nDenied: not now")
        )
    );
}

#[test]
fn http_mode_stops_at_once_on_401_and_names_the_token_credential() {
    let receiver = Receiver::start(vec![401, 200]);
    let (inst, _, creds) = http_instance("bridge-401", &receiver.url, 3);
    let out = bridge_cmd(&inst, &creds, &["send", "--message", "x"]);
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("401") && err.contains("gateway-token") && err.contains(&receiver.url),
        "{err}"
    );
    assert_eq!(receiver.requests().len(), 1, "no retry after a 401");
}

#[test]
fn the_gateway_token_may_be_a_0600_file_named_by_its_absolute_path() {
    use std::os::unix::fs::PermissionsExt;
    let receiver = Receiver::start(vec![200, 200]);
    let (inst, _, creds) = http_instance("bridge-token-path", &receiver.url, 0);
    let token = inst.dir.join("gateway.token");
    std::fs::write(&token, "tok-from-file\n").unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    inst.drop_in(
        "60-token.toml",
        &format!(
            "[bridge]\ntoken_credential = {:?}\n",
            token.display().to_string()
        ),
    );
    let out = bridge_cmd(&inst, &creds, &["send", "--message", "x"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        receiver.requests()[0].0["authorization"],
        "Bearer tok-from-file"
    );
    // A path that is not absolute is neither a name nor a path, and says so.
    inst.drop_in(
        "60-token.toml",
        "[bridge]\ntoken_credential = \"creds/token\"\n",
    );
    let out = bridge_cmd(&inst, &creds, &["send", "--message", "y"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("neither a name") && !err.contains("looked in"),
        "{err}"
    );
}

#[test]
fn a_refusal_naming_a_gateway_setting_keeps_the_message_and_doctor_names_the_setting() {
    // OpenClaw's own answer when its hook policy refuses a session chosen by the sender.
    let refusal = r#"{"ok":false,"error":"sessionKey is disabled for externally supplied hook payload values. Set hooks.allowRequestSessionKey=true to enable."}"#;
    let receiver = Receiver::answering(vec![(400, refusal), (200, r#"{"ok":true}"#)]);
    let (inst, _, creds) = http_instance("bridge-gateway-setting", &receiver.url, 3);
    let out = bridge_cmd(
        &inst,
        &creds,
        &["send", "--message", "x", "--session", "agent:main:main"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains("hooks.allowRequestSessionKey") && err.contains("kept"),
        "{err}"
    );
    assert_eq!(receiver.requests().len(), 1, "no retry until the fix");
    let first = &receiver.requests()[0];
    let body: Value = serde_json::from_slice(&first.1).unwrap();
    assert_eq!(
        (&body["sessionKey"], &body["sessionMode"], &body["agentId"]),
        (
            &json!("agent:main:main"),
            &json!("persistent"),
            &json!("main")
        )
    );

    let doctor = inst
        .command("clawdbot", &["doctor"])
        .env("CREDENTIALS_DIRECTORY", &creds)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&doctor.stdout);
    let line = report
        .lines()
        .find(|l| l.contains("bridge deliveries"))
        .unwrap_or_else(|| panic!("{report}"));
    assert!(line.contains("hooks.allowRequestSessionKey"), "{report}");
    assert!(!doctor.status.success());

    // Once the gateway is fixed, the same message goes under the same id.
    let out = bridge_cmd(&inst, &creds, &["resend"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = &receiver.requests()[1];
    assert_eq!(again.0["webhook-id"], first.0["webhook-id"]);
    assert_eq!(again.1, first.1);
}

#[test]
fn answers_that_pass_on_a_later_attempt_are_retried_and_a_plain_refusal_is_final() {
    // OpenClaw's 409 when its hooks were reloaded mid-request, and 408 for a slow body.
    let reload = r#"{"ok":false,"error":"hook configuration changed; retry request"}"#;
    let receiver = Receiver::answering(vec![(409, reload), (408, "{}"), (200, "{}")]);
    let (inst, _, creds) = http_instance("bridge-409", &receiver.url, 3);
    let out = bridge_cmd(&inst, &creds, &["send", "--message", "x"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(receiver.requests().len(), 3);

    let refused = Receiver::answering(vec![(400, r#"{"ok":false,"error":"message required"}"#)]);
    inst.drop_in(
        "60-url.toml",
        &format!("[bridge]\nurl = {:?}\n", refused.url),
    );
    let out = bridge_cmd(&inst, &creds, &["send", "--message", "y"]);
    assert_eq!(
        out.status.code(),
        Some(69),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = bridge_cmd(&inst, &creds, &["resend"]);
    assert!(out.status.success(), "a failed message is not sent again");
    assert_eq!(refused.requests().len(), 1);
}

#[test]
fn http_mode_keeps_an_undelivered_message_and_resends_it_under_the_same_id() {
    let down = Receiver::start(vec![503, 503]);
    let (inst, _, creds) = http_instance("bridge-resend", &down.url, 1);
    let out = bridge_cmd(&inst, &creds, &["send", "--message", "later"]);
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first_id = down.requests()[0].0["webhook-id"].clone();

    let up = Receiver::start(vec![200]);
    inst.drop_in("60-url.toml", &format!("[bridge]\nurl = {:?}\n", up.url));
    let out = bridge_cmd(&inst, &creds, &["resend"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(up.requests()[0].0["webhook-id"], first_id);
    let out = bridge_cmd(&inst, &creds, &["resend"]);
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "nothing left to resend"
    );
}

#[test]
fn bad_secrets_and_bodies_are_refused_with_their_reason() {
    let (inst, _) = bridged("bridge-bad");
    let body_file = |name: &str, content: &[u8]| {
        let p = inst.dir.join(name);
        std::fs::write(&p, content).unwrap();
        p.display().to_string()
    };
    let empty = body_file("empty.json", b"");
    let not_json = body_file("text.json", b"hello");
    let floats = body_file("floats.json", br#"{"message":"m","load":0.75}"#);
    let huge = body_file(
        "huge.json",
        format!("\"{}\"", "x".repeat(5 * 1024 * 1024)).as_bytes(),
    );
    for (args, code, needle) in [
        (vec!["send", "--json", empty.as_str()], 65, "empty"),
        (vec!["send", "--json", not_json.as_str()], 65, "not JSON"),
        (
            vec!["send", "--json", huge.as_str()],
            65,
            "larger than 262144 bytes ([bridge] max_body_bytes)",
        ),
        (
            vec!["send", "--json", floats.as_str()],
            65,
            "not an integer",
        ),
        (
            vec![
                "verify",
                "--body",
                not_json.as_str(),
                "--header",
                "webhook-id: a\nb",
                "--header",
                "webhook-timestamp: 1",
                "--header",
                "webhook-signature: v1,x",
            ],
            65,
            "control character",
        ),
        (
            vec![
                "verify",
                "--body",
                not_json.as_str(),
                "--header",
                "webhook-timestamp: 1",
            ],
            65,
            "missing header webhook-id",
        ),
    ] {
        let out = inst.run("clawdbot-bridge", &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }

    for (secret, mode, needle) in [
        (
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            0o600,
            "does not start with whsec_",
        ),
        ("whsec_AAAAAAAAAAA=", 0o600, "holds 8 bytes"),
        (keygen().as_str(), 0o644, "chmod 600"),
    ] {
        let path = write_secret(&inst.dir, "bad-secret", secret, mode);
        inst.drop_in(
            "45-bad.toml",
            &format!("[bridge]\nsecrets = [{:?}]\n", path.display().to_string()),
        );
        let out = send(&inst, &["--message", "x"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{secret}: {err}");
        assert!(err.contains(needle), "{secret}: {err}");
        assert!(
            !err.contains(secret.trim_start_matches("whsec_")),
            "the secret leaked: {err}"
        );
    }
}

#[test]
fn keygen_writes_a_private_secret_and_never_replaces_one() {
    let dir = std::env::temp_dir().join(format!("clawdbot-it-keygen-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("clawdbot.bridge-secret");
    let run = || {
        Command::new(common::bin("clawdbot-bridge"))
            .args(["keygen", "--output"])
            .arg(&path)
            .output()
            .unwrap()
    };
    assert!(run().status.success());
    let first = std::fs::read_to_string(&path).unwrap();
    assert!(first.starts_with("whsec_"));
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let again = run();
    assert_eq!(
        again.status.code(),
        Some(73),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        first,
        "the secret in use is kept"
    );
}
