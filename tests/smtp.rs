//! The operator mail over SMTP to a real server (Debian's python3-aiosmtpd on 127.0.0.1).

mod common;

use std::path::{Path, PathBuf};
use std::process::Child;

use common::{Instance, request};

/// aiosmtpd storing every message it receives in a Maildir.
struct SmtpServer {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl SmtpServer {
    fn start(dir: &Path) -> SmtpServer {
        SmtpServer::start_on(dir, common::free_port())
    }

    fn messages(&self) -> Vec<String> {
        let new = self.maildir.join("new");
        let Ok(read) = std::fs::read_dir(&new) else {
            return Vec::new();
        };
        read.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn smtp_config(port: u16) -> String {
    format!(
        "[mail]\ntransport = \"smtp\"\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\ntimeout = \"5s\"\n"
    )
}

fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message
        .lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

#[test]
fn the_operator_mail_reaches_a_real_smtp_server() {
    let inst = Instance::new("smtp");
    let server = SmtpServer::start(&inst.dir);
    inst.drop_in("50-smtp.toml", &smtp_config(server.port));
    inst.drop("a.json", &request("searxng"));
    let report = inst.broker();
    assert_eq!(report["sent"], 1, "{report}");

    let open = inst.json(&["status"]);
    let row = &open[0];
    let id = row["id"].as_str().unwrap();
    assert_eq!(row["state"], "PendingReply");

    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    // Unfold headers (RFC 5322 2.2.3) and normalise line ends as the Maildir stored them.
    let m = messages[0].replace("\r\n", "\n").replace("\n ", " ");
    assert_eq!(
        header(&m, "Subject"),
        Some(
            format!("[clawdbot {id}] Approve? Restart the searxng container (risk: medium)")
                .as_str()
        )
    );
    assert_eq!(
        header(&m, "Message-ID"),
        Some(format!("<{id}.1@example.org>").as_str())
    );
    assert_eq!(header(&m, "X-Clawdbot-Request"), Some(id));
    assert_eq!(header(&m, "To"), Some("ops@example.org"));
    assert!(
        m.contains(r#"Will run, exactly (argv, no shell): ["docker","restart","searxng"]"#),
        "{m}"
    );
    assert!(
        m.contains(&format!("Hash: sha256:{}", row["hash"].as_str().unwrap())),
        "{m}"
    );
}

#[test]
fn a_mail_that_cannot_be_sent_waits_in_the_outbox_and_goes_once_later() {
    let inst = Instance::new("smtp-retry");
    let port = common::free_port();
    inst.drop_in("50-smtp.toml", &smtp_config(port));
    inst.drop("a.json", &request("searxng"));
    let report = inst.broker();
    assert_eq!(
        (report["sent"].as_u64(), report["send_failures"].as_u64()),
        (Some(0), Some(1)),
        "{report}"
    );
    assert_eq!(inst.json(&["status"])[0]["state"], "EmailSent");

    // Within the backoff, a pass does not try again.
    let report = inst.broker();
    assert_eq!(report["send_failures"], 0, "{report}");

    // The relay comes back and the backoff runs out.
    let server = SmtpServer::start_on(&inst.dir, port);
    let db = rusqlite::Connection::open(inst.database()).unwrap();
    db.execute("UPDATE outbox SET next_attempt_at = 0", [])
        .unwrap();
    let report = inst.broker();
    assert_eq!(report["sent"], 1, "{report}");
    let report = inst.broker();
    assert_eq!(report["sent"], 0, "{report}");
    assert_eq!(server.messages().len(), 1, "sent exactly once");
    assert_eq!(inst.json(&["status"])[0]["state"], "PendingReply");
}

impl SmtpServer {
    fn start_on(dir: &Path, port: u16) -> SmtpServer {
        let maildir = dir.join("smtp-received");
        SmtpServer {
            child: common::aiosmtpd(&maildir, port),
            port,
            maildir,
        }
    }
}
