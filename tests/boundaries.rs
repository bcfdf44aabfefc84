//! Privilege boundaries and hostile input, through the real binaries: links planted by the
//! unprivileged user steer none of root's writes or removals, the agent cannot make the spool
//! loop, one bad mail stops no pass, a forged or ill-quoted Authentication-Results header
//! authenticates nothing, a stranger cannot pre-claim the operator's Message-ID, and apt is
//! simulated before and again at execution. (docs/threat-model.md names each boundary.)

mod common;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use common::{AUTH_OK, Instance, counting, deliver, filed, names, reply, runs};

fn state(inst: &Instance, id: &str) -> String {
    inst.json(&["show", id])["request"]["state"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A directory of files someone else owns, which root must never touch.
fn victim(inst: &Instance) -> PathBuf {
    let dir = inst.dir.join("victim");
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["passwd", "R-20260101-AAAA", "keep.conf"] {
        std::fs::write(dir.join(name), name).unwrap();
    }
    dir
}

fn untouched(dir: &Path) {
    assert_eq!(
        names(dir),
        ["R-20260101-AAAA", "keep.conf", "passwd"],
        "nothing made or removed behind the link"
    );
}

#[test]
fn a_link_in_place_of_approved_steers_no_removal() {
    let (inst, log) = counting("bd-approved");
    let victim = victim(&inst);
    let approved = inst.dir.join("state/approved");
    std::fs::remove_dir_all(&approved).unwrap();
    symlink(&victim, &approved).unwrap();
    let out = inst.run("clawdbot-exec", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    untouched(&victim);
    assert!(String::from_utf8_lossy(&out.stderr).contains("symbolic link"));
    assert_eq!(runs(&log), 0);
}

#[test]
fn a_link_in_place_of_backups_gets_nothing_made_behind_it() {
    let inst = Instance::new("bd-backups");
    let sessions = inst.dir.join("openclaw/agents/main/sessions");
    std::fs::create_dir_all(&sessions).unwrap();
    let corrupt = std::fs::read("tests/fixtures/sessions/partial-line.jsonl").unwrap();
    let session = sessions.join("s.jsonl");
    std::fs::write(&session, &corrupt).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&session)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600))
        .unwrap();
    let victim = victim(&inst);
    symlink(&victim, inst.dir.join("state/backups")).unwrap();
    let out = inst.run("clawdbot-watchdog", &["--json"]);
    untouched(&victim);
    assert_eq!(
        std::fs::read(&session).unwrap(),
        corrupt,
        "no repair without a backup"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("symbolic link")
            || String::from_utf8_lossy(&out.stderr).contains("symbolic link"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // With the link gone, the same pass backs up and repairs.
    std::fs::remove_file(inst.dir.join("state/backups")).unwrap();
    let out = inst.run("clawdbot-watchdog", &["--json"]);
    assert!(out.status.success());
    assert_ne!(std::fs::read(&session).unwrap(), corrupt);
    assert_eq!(names(&inst.dir.join("state/backups/main")).len(), 1);
}

#[test]
fn a_link_in_place_of_reports_gets_no_report_and_no_removal() {
    let inst = Instance::new("bd-reports");
    let victim = victim(&inst);
    for name in names(&victim) {
        let file = std::fs::File::options()
            .write(true)
            .open(victim.join(name))
            .unwrap();
        file.set_modified(std::time::UNIX_EPOCH).unwrap();
    }
    symlink(&victim, inst.dir.join("state/reports")).unwrap();
    let out = inst.run("clawdbot-maint", &["daily", "--only", "disk"]);
    assert!(!out.status.success());
    untouched(&victim);
}

/// Mount a fresh tmpfs on `dir` (the test runs as root, as CI does); unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn on(dir: &Path) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        common::need("mount", "apt-get install mount");
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=8m,mode=2770", "tmpfs"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mount tmpfs (needs root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_fifo_and_a_planted_quarantine_link_cannot_make_the_spool_loop() {
    let inst = Instance::new("bd-fifo");
    // Spool and state on two file systems, as the units' sandbox can make them.
    let _spool = Tmpfs::on(&inst.spool());
    let _state = Tmpfs::on(&inst.dir.join("state"));
    symlink(inst.spool(), inst.spool().join(".quarantine")).unwrap();
    let fifo = inst.spool().join("pipe.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    symlink("/etc/passwd", inst.spool().join("link.json")).unwrap();
    // A sparse file the size of a disk costs the agent nothing: only its head is copied.
    std::fs::File::create(inst.spool().join("sparse.json"))
        .unwrap()
        .set_len(1 << 40)
        .unwrap();
    let first = inst.broker();
    assert_eq!(first["rejected"], 3, "{first}");
    assert!(inst.spool_json().is_empty(), "{:?}", names(&inst.spool()));
    let second = inst.broker();
    assert_eq!(second["rejected"], 0, "nothing came back: {second}");
    assert!(inst.spool_json().is_empty(), "{:?}", names(&inst.spool()));
    // Each is recorded with what it was.
    let reasons: String = names(&inst.quarantine())
        .iter()
        .filter(|n| n.ends_with(".error.json"))
        .map(|n| std::fs::read_to_string(inst.quarantine().join(n)).unwrap())
        .collect();
    assert!(reasons.contains("a FIFO"), "{reasons}");
    assert!(
        reasons.contains("a symbolic link to /etc/passwd"),
        "{reasons}"
    );
    assert!(
        reasons.contains("a file of 1099511627776 bytes, of which the first 65536 are kept"),
        "{reasons}"
    );
    let kept: u64 = names(&inst.quarantine())
        .iter()
        .map(|n| std::fs::metadata(inst.quarantine().join(n)).unwrap().len())
        .sum();
    assert!(kept < 1 << 20, "{kept} bytes kept");
}

#[test]
fn a_mail_whose_name_is_too_long_for_cur_stops_no_pass() {
    let (inst, log) = counting("bd-longname");
    let id = filed(&inst, "long");
    let long = "x".repeat(253);
    deliver(&inst, &long, "From: someone@example.net\r\n\r\nhello\r\n");
    deliver(&inst, "approve", &common::approve_mail(&id, "long"));
    let report = inst.broker();
    assert_eq!(report["replies"]["accepted"], 1, "{report}");
    inst.run("clawdbot-exec", &[]);
    assert_eq!(runs(&log), 1, "the approved request ran");
    assert!(names(&inst.dir.join("state/mail/new")).is_empty());
    let again = inst.broker();
    assert_eq!(again["replies"]["duplicates"], 0, "{again}");
}

#[test]
fn an_ill_quoted_authentication_results_header_authenticates_nothing() {
    let (inst, log) = counting("bd-authres");
    let id = filed(&inst, "auth");
    // The quoted local part hides a pass that a naive reader of quotes would see; the
    // trusted server's own verdict is fail.
    let forged = "Authentication-Results: mx.google.com;\r\n spf=pass smtp.mailfrom=\"x\\\"; dmarc=pass header.from=example.org; y=\\\"\"@evil.example;\r\n dmarc=fail header.from=example.org\r\n";
    let mail = reply(
        "ops@example.org",
        forged,
        &format!("{id}.1@example.org"),
        &format!("Re: [clawdbot {id}] Approve?"),
        "Yes, go ahead.",
        "forged@mail.example.org",
    );
    deliver(&inst, "forged", &mail);
    let report = inst.broker();
    assert_eq!(report["replies"]["refused"], 1, "{report}");
    inst.run("clawdbot-exec", &[]);
    assert_eq!(runs(&log), 0);
    assert_eq!(state(&inst, &id), "PendingReply");
}

#[test]
fn a_stranger_cannot_pre_claim_the_operators_message_id() {
    let (inst, log) = counting("bd-preclaim");
    let id = filed(&inst, "claim");
    let claimed = "operator-reply@mail.example.org";
    let stranger = reply(
        "mallory@evil.example",
        "",
        &format!("{id}.1@example.org"),
        &format!("Re: [clawdbot {id}] Approve?"),
        "No.",
        claimed,
    );
    deliver(&inst, "stranger", &stranger);
    let first = inst.broker();
    assert_eq!(first["replies"]["refused"], 1, "{first}");
    let operator = reply(
        "ops@example.org",
        AUTH_OK,
        &format!("{id}.1@example.org"),
        &format!("Re: [clawdbot {id}] Approve?"),
        "Yes, go ahead.",
        claimed,
    );
    deliver(&inst, "operator", &operator);
    let second = inst.broker();
    assert_eq!(second["replies"]["accepted"], 1, "{second}");
    inst.run("clawdbot-exec", &[]);
    assert_eq!(runs(&log), 1);
    // Delivered again, the operator's reply counts once.
    deliver(
        &inst,
        "operator-again",
        &operator.replace("10:20:00", "10:21:00"),
    );
    let third = inst.broker();
    assert_eq!(third["replies"]["duplicates"], 1, "{third}");
}

/// A local apt world: a `file:` repository (newtool depends on libnew and conflicts with
/// oldtool), a dpkg status file and lists, all reached through apt-get's `-o` options.
fn apt_world(inst: &Instance) -> (PathBuf, Vec<String>) {
    let root = inst.dir.join("apt");
    for dir in ["repo", "lists/partial", "cache/archives/partial"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    let stanza = |name: &str, version: &str, extra: &str| {
        format!(
            "Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: t <t@example.org>\n{extra}Filename: ./{name}_{version}_all.deb\nSize: 100\nDescription: {name}\n\n"
        )
    };
    let packages = [
        stanza("newtool", "1.0", "Depends: libnew\nConflicts: oldtool\n"),
        stanza("libnew", "1.0", ""),
        stanza("oldtool", "0.9", ""),
        stanza("xz-utils", "5.4", ""),
    ]
    .concat();
    std::fs::write(root.join("repo/Packages"), packages).unwrap();
    std::fs::write(
        root.join("sources.list"),
        format!(
            "deb [trusted=yes] file:{} ./\n",
            root.join("repo").display()
        ),
    )
    .unwrap();
    std::fs::write(root.join("status"), "").unwrap();
    let r = root.display();
    let options: Vec<String> = [
        format!("Dir::State::status={r}/status"),
        format!("Dir::State::Lists={r}/lists"),
        format!("Dir::Etc::SourceList={r}/sources.list"),
        "Dir::Etc::SourceParts=/nonexistent".into(),
        format!("Dir::Cache={r}/cache"),
        "Debug::NoLocking=1".into(),
        // Should a check fail, the real run is still only a simulation.
        "APT::Get::Simulate=true".into(),
    ]
    .into_iter()
    .flat_map(|o| ["-o".to_string(), o])
    .collect();
    let update = std::process::Command::new("apt-get")
        .args(&options)
        .arg("update")
        .output()
        .expect("apt-get");
    assert!(
        update.status.success(),
        "apt-get update: {}",
        String::from_utf8_lossy(&update.stderr)
    );
    (root, options)
}

fn install_request(package: &str, n: &str) -> Vec<u8> {
    serde_json::json!({"version": 1, "kind": "apt_install", "summary": format!("Install {package} ({n})"), "reason": "needed", "params": {"package": package}}).to_string().into_bytes()
}

/// The approval mail of request `id`.
fn mail_about(inst: &Instance, id: &str) -> String {
    inst.mails()
        .iter()
        .map(|m| std::fs::read_to_string(m).unwrap())
        .find(|m| m.contains(&format!("Message-ID: <{id}.1@")))
        .unwrap_or_else(|| panic!("no approval mail for {id}"))
}

fn open_id(inst: &Instance, summary: &str) -> String {
    inst.json(&["status"])
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["summary"] == summary)
        .unwrap_or_else(|| panic!("no open request {summary:?}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn apt_is_simulated_for_the_operator_and_again_before_it_runs() {
    let inst = Instance::new("bd-apt");
    let (root, options) = apt_world(&inst);
    let mut command: Vec<String> = vec!["apt-get".into()];
    command.extend(options);
    command.extend(["install", "-y", "--no-install-recommends", "{package}"].map(String::from));
    let pattern = r"^[a-z0-9](?:[a-z0-9+.-]{0,61}[a-z0-9]|[a-z0-9+.-]{0,60}\+\+)$";
    inst.drop_in(
        "50-apt.toml",
        &format!(
            "[actions.apt_install]\ncommand = {}\nrisk = \"high\"\npreview = \"apt\"\nparams = {{ package = '{pattern}' }}\n",
            serde_json::to_string(&command).unwrap()
        ),
    );
    // apt's operators and patterns are not package names, here or in the reference action.
    for (n, package) in ["curl-", "xz.", "xz*", "-s"].iter().enumerate() {
        inst.drop(&format!("bad{n}.json"), &install_request(package, "bad"));
        let reference = String::from_utf8(install_request(package, "ref"))
            .unwrap()
            .replace("apt_install", "install_package");
        inst.drop(&format!("ref{n}.json"), reference.as_bytes());
    }
    // A name that passes the pattern but that apt reads as a pattern (no package is called
    // l.b; apt would install every match) names no package.
    inst.drop("regex.json", &install_request("l.b", "regex"));
    let report = inst.broker();
    assert_eq!(report["rejected"], 9, "{report}");
    assert_eq!(report["accepted"], 0, "{report}");
    let reasons: String = names(&inst.quarantine())
        .iter()
        .filter(|n| n.ends_with(".error.json"))
        .map(|n| std::fs::read_to_string(inst.quarantine().join(n)).unwrap())
        .collect();
    assert!(
        reasons.contains(r#"apt does not read \"l.b\" as one package"#),
        "{reasons}"
    );

    // The mail shows what apt would really do.
    inst.drop("one.json", &install_request("newtool", "one"));
    inst.broker();
    let one = open_id(&inst, "Install newtool (one)");
    let mail = mail_about(&inst, &one);
    assert!(
        mail.contains(
            "Simulated: apt-get -s says it installs libnew (1.0), newtool (1.0); upgrades nothing; removes nothing"
        ),
        "{mail}"
    );
    let approved = inst.run("clawdbot", &["approve", &one]);
    assert!(approved.status.success());
    let ran = inst.run("clawdbot-exec", &[]);
    assert!(ran.status.success());
    assert_eq!(
        inst.json(&["show", &one])["request"]["exec_exit"],
        0,
        "nothing changed: it runs"
    );

    // Mailed while apt would remove nothing; by the time it is approved and run (`approve`
    // starts clawdbot-exec), oldtool is installed and newtool conflicts with it: not run.
    inst.drop("two.json", &install_request("newtool", "two"));
    inst.broker();
    let two = open_id(&inst, "Install newtool (two)");
    std::fs::write(
        root.join("status"),
        "Package: oldtool\nStatus: install ok installed\nVersion: 0.9\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: old\n",
    )
    .unwrap();
    assert!(inst.run("clawdbot", &["approve", &two]).status.success());
    inst.run("clawdbot-exec", &[]);
    assert_eq!(state(&inst, &two), "Failed");
    let audit = inst.json(&["show", &two])["audit"].to_string();
    assert!(
        audit.contains("would now remove oldtool (0.9), which the operator was not shown"),
        "{audit}"
    );

    // Filed now, the removal is shown and raises the risk.
    inst.drop("three.json", &install_request("newtool", "three"));
    inst.broker();
    let three = open_id(&inst, "Install newtool (three)");
    let shown = inst.json(&["show", &three]);
    assert_eq!(shown["request"]["risk"], "high");
    let mail = mail_about(&inst, &three);
    assert!(mail.contains("removes oldtool (0.9)"), "{mail}");
}

#[test]
fn a_fifo_beside_the_database_holds_no_root_job() {
    let (inst, _) = counting("bd-journal");
    inst.broker();
    let journal = inst.dir.join("state/state.db-journal");
    let _ = std::fs::remove_file(&journal);
    let made = std::process::Command::new("mkfifo")
        .arg(&journal)
        .status()
        .unwrap();
    assert!(made.success());
    let mut child = inst
        .command("clawdbot-exec", &[])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("clawdbot-exec blocked on a FIFO beside the database");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(74), "{stderr}");
    assert!(stderr.contains("a FIFO, not a regular file"), "{stderr}");
}
