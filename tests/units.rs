//! The systemd units: `systemd-analyze verify` finds nothing to report, every service scores
//! within its exposure budget under `systemd-analyze security --offline=yes`, and the suite's
//! conventions hold (oneshot services, persistent calendar timers, deliberate trigger limits,
//! clawdbot.target wanting every timer and path unit, or the path unit that starts a timer once
//! its credential exists).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Every unit file the suite ships.
fn units() -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = ["units", "timers", "paths"]
        .iter()
        .flat_map(|d| std::fs::read_dir(Path::new(ROOT).join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    all.sort();
    all
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// A root holding the host's own units (for the targets ours refer to), ours, and the built
/// binaries at /usr/bin, so that verify checks the real ExecStart= paths.
fn root(tag: &str, extra: &[(&str, &str)]) -> PathBuf {
    let root = std::env::temp_dir().join(format!("clawdbot-units-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let system = root.join("usr/lib/systemd/system");
    std::fs::create_dir_all(&system).unwrap();
    std::fs::create_dir_all(root.join("usr/bin")).unwrap();
    for entry in std::fs::read_dir("/lib/systemd/system").unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            let _ = std::fs::copy(entry.path(), system.join(entry.file_name()));
        }
    }
    for unit in units() {
        std::fs::copy(&unit, system.join(name(&unit))).unwrap();
    }
    for (file, text) in extra {
        std::fs::write(system.join(file), text).unwrap();
    }
    for bin in [
        "clawdbot",
        "clawdbot-broker",
        "clawdbot-request",
        "clawdbot-bridge",
        "clawdbot-exec",
        "clawdbot-mailpoll",
        "clawdbot-watchdog",
        "clawdbot-secrets",
        "clawdbot-maint",
        "clawdbot-telegram",
        "clawdbot-calendar",
        "clawdbot-alert",
        "clawdbot-task",
    ] {
        std::fs::copy(common::bin(bin), root.join("usr/bin").join(bin)).unwrap();
    }
    root
}

fn verify(root: &Path, unit: &str) -> String {
    common::need("systemd-analyze", "apt-get install systemd");
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(format!("--root={}", root.display()))
        .arg(unit)
        .current_dir(root.join("usr/lib/systemd/system"))
        .output()
        .expect("systemd-analyze (Debian's systemd package)");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn verify_reports_nothing() {
    let broken = "[Unit]\nDescription=broken\n\n[Service]\nType=oneshot\nExecStart=/usr/bin/clawdbot-nonexistent\nProtectSystem=sideways\n";
    let root = root("verify", &[("clawdbot-broken.service", broken)]);
    for unit in units() {
        let unit = name(&unit).replace("@.service", "@daily.service");
        let said = verify(&root, &unit);
        assert!(
            said.trim().is_empty(),
            "systemd-analyze verify {unit}:\n{said}"
        );
    }
    // The check can fail: a unit with a bad setting and a missing program is reported.
    let said = verify(&root, "clawdbot-broken.service");
    assert!(
        said.contains("protect system") && said.contains("clawdbot-nonexistent"),
        "{said}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// The exposure budget of each service: the unprivileged jobs in the band of well-hardened
/// real units, the privileged ones (their units say why) within 5.0.
fn budget(service: &str) -> f64 {
    match service {
        "clawdbot-broker.service"
        | "clawdbot-mailpoll.service"
        | "clawdbot-telegram.service"
        | "clawdbot-calendar.service"
        | "clawdbot-secrets.service"
        | "clawdbot-bridge-keygen.service" => 2.0,
        "clawdbot-exec.service"
        | "clawdbot-task.service"
        | "clawdbot-watchdog.service"
        | "clawdbot-maint@.service" => 5.0,
        other => panic!("{other} has no exposure budget in tests/units.rs"),
    }
}

#[test]
fn every_service_is_within_its_exposure_budget() {
    for unit in units()
        .into_iter()
        .filter(|u| name(u).ends_with(".service"))
    {
        common::need("systemd-analyze", "apt-get install systemd");
        let out = Command::new("systemd-analyze")
            .args(["security", "--offline=yes", "--no-pager"])
            .arg(&unit)
            .output()
            .expect("systemd-analyze");
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find(|l| l.contains("Overall exposure level"))
            .unwrap_or_else(|| {
                panic!(
                    "{}: {text}{}",
                    name(&unit),
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        let score: f64 = line
            .split(": ")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let budget = budget(&name(&unit));
        assert!(
            score <= budget,
            "{}: exposure {score} over {budget}",
            name(&unit)
        );
    }
}

/// The path unit that starts this timer once a credential exists, and the file it waits for.
fn gate(timer: &str) -> Option<(String, String)> {
    units().into_iter().find_map(|unit| {
        let text = std::fs::read_to_string(&unit).unwrap();
        let waits_for =
            setting(&text, "PathExists").or_else(|| setting(&text, "DirectoryNotEmpty"))?;
        (name(&unit).ends_with("-credential.path") && setting(&text, "Unit") == Some(timer))
            .then(|| (name(&unit), waits_for.to_string()))
    })
}

fn setting<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
}

#[test]
fn the_suite_conventions_hold() {
    let target = std::fs::read_to_string(Path::new(ROOT).join("units/clawdbot.target")).unwrap();
    let wanted: Vec<&str> = setting(&target, "Wants")
        .unwrap()
        .split_whitespace()
        .collect();
    for unit in units() {
        let (file, text) = (name(&unit), std::fs::read_to_string(&unit).unwrap());
        if file.ends_with(".service") {
            assert_eq!(setting(&text, "Type"), Some("oneshot"), "{file}");
            for key in [
                "TimeoutStartSec",
                "SyslogIdentifier",
                "UMask",
                "NoNewPrivileges",
                "ProtectSystem",
                "SystemCallArchitectures",
                "RestrictNamespaces",
            ] {
                assert!(setting(&text, key).is_some(), "{file} sets no {key}=");
            }
            assert_eq!(setting(&text, "UMask"), Some("0077"), "{file}");
        }
        if file.ends_with(".timer") {
            // Wanted by the target, or started by a credential's path unit the target wants,
            // which waits for the very file the service's Condition checks.
            match gate(&file) {
                None => assert!(
                    wanted.contains(&file.as_str()),
                    "clawdbot.target does not want {file}"
                ),
                Some((path, waits_for)) => {
                    assert!(
                        wanted.contains(&path.as_str()),
                        "clawdbot.target does not want {path}"
                    );
                    assert!(
                        setting(&text, "WantedBy").is_none(),
                        "{file} is started by {path} alone"
                    );
                    let service = setting(&text, "Unit").unwrap();
                    let service =
                        std::fs::read_to_string(Path::new(ROOT).join("units").join(service))
                            .unwrap();
                    let condition = setting(&service, "ConditionPathExists")
                        .or_else(|| setting(&service, "ConditionDirectoryNotEmpty"));
                    assert_eq!(
                        condition,
                        Some(waits_for.as_str()),
                        "{path} and {file}'s service wait for one file"
                    );
                }
            }
            if setting(&text, "OnCalendar").is_some() {
                assert_eq!(setting(&text, "Persistent"), Some("true"), "{file}");
            }
        }
        if file.ends_with(".path") {
            assert!(
                wanted.contains(&file.as_str()),
                "clawdbot.target does not want {file}"
            );
            assert!(
                setting(&text, "TriggerLimitIntervalSec").is_some()
                    && setting(&text, "TriggerLimitBurst").is_some(),
                "{file}"
            );
        }
    }
}

#[test]
fn removing_the_package_stops_every_timer_and_path_unit() {
    let prerm = std::fs::read_to_string(Path::new(ROOT).join("packaging/debian/prerm")).unwrap();
    let list = prerm
        .split_once("UNITS=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(list, _)| list.split_whitespace().collect::<Vec<_>>())
        .unwrap();
    for unit in units() {
        let file = name(&unit);
        if file.ends_with(".path") || file.ends_with(".timer") || file.ends_with(".target") {
            assert!(list.contains(&file.as_str()), "prerm does not stop {file}");
        }
    }
}
