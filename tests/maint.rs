//! Maintenance tiers against the live machine and a real Docker engine: container problems,
//! figures that agree with df and free, mail only on change (hysteresis), checks that hang.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::Instance;
use common::docker::{docker, docker_image};
use serde_json::Value;

fn maint(inst: &Instance, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = inst.run("clawdbot-maint", &all);
    assert_eq!(
        out.status.code(),
        Some(0),
        "clawdbot-maint {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn finding<'a>(report: &'a Value, key: &str) -> Option<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == key)
}

fn level(report: &Value, key: &str) -> String {
    finding(report, key)
        .map(|f| f["level"].as_str().unwrap().to_string())
        .unwrap_or_else(|| format!("missing in {report}"))
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn inspect(container: &str, format: &str) -> String {
    String::from_utf8_lossy(&docker(&["inspect", "-f", format, container]).stdout)
        .trim()
        .to_string()
}

#[test]
fn container_problems_are_found() {
    let image = docker_image();
    let inst = Instance::new("maint-containers");
    let tag = format!("clawdbot-maint-{}", std::process::id());
    let (sick, failed, looping, fine) = (
        format!("{tag}-sick"),
        format!("{tag}-failed"),
        format!("{tag}-loop"),
        format!("{tag}-fine"),
    );
    let _cleanup = Containers(vec![
        sick.clone(),
        failed.clone(),
        looping.clone(),
        fine.clone(),
    ]);
    let run = |args: &[&str]| {
        let out = docker(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &sick,
        "--health-cmd",
        "check",
        "--health-interval",
        "1s",
        "--health-retries",
        "1",
        &image,
    ]);
    run(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &failed,
        &image,
        "/pause",
        "exit",
        "1",
    ]);
    run(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &looping,
        "--restart",
        "always",
        &image,
        "/pause",
        "exit",
        "3",
    ]);
    run(&["run", "-d", "--network", "none", "--name", &fine, &image]);
    wait_for("the exit", || {
        inspect(&failed, "{{.State.Status}}") == "exited"
    });
    wait_for("the health check to fail", || {
        inspect(&sick, "{{.State.Health.Status}}") == "unhealthy"
    });
    wait_for("restarts", || {
        inspect(&looping, "{{.RestartCount}}")
            .parse::<u32>()
            .unwrap_or(0)
            >= 3
    });

    let report = maint(
        &inst,
        &["daily", "--only", "containers", "--only", "docker"],
    );
    assert_eq!(level(&report, "docker"), "ok", "{report}");
    assert_eq!(
        level(&report, &format!("container:{sick}:unhealthy")),
        "crit"
    );
    assert_eq!(
        level(&report, &format!("container:{failed}:exited")),
        "warn"
    );
    let loop_problems: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["key"]
                .as_str()
                .unwrap()
                .starts_with(&format!("container:{looping}:"))
        })
        .collect();
    assert!(
        !loop_problems.is_empty(),
        "the restart loop is found: {report}"
    );
    let fine_problems = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["key"]
                .as_str()
                .unwrap()
                .starts_with(&format!("container:{fine}:"))
        })
        .count();
    assert_eq!(fine_problems, 0, "{report}");
    assert_eq!(level(&report, &format!("restarts:{fine}")), "ok");
    // The restart count is a sample: the next run sees it rising.
    wait_for("more restarts", || {
        let now: u32 = inspect(&looping, "{{.RestartCount}}").parse().unwrap_or(0);
        let then = finding(&report, &format!("restarts:{looping}")).unwrap()["sample"]
            .as_f64()
            .unwrap();
        f64::from(now) > then
    });
    let again = maint(&inst, &["daily", "--only", "containers"]);
    assert_eq!(
        level(&again, &format!("container:{looping}:restarts-rising")),
        "warn",
        "{again}"
    );
    assert_eq!(
        level(&again, &format!("container:{looping}:restarting")),
        "crit",
        "{again}"
    );
}

#[test]
fn containers_without_a_memory_limit_are_found_monthly() {
    let image = docker_image();
    let inst = Instance::new("maint-resources");
    let tag = format!("clawdbot-res-{}", std::process::id());
    let (bounded, unbounded) = (format!("{tag}-bounded"), format!("{tag}-unbounded"));
    let _cleanup = Containers(vec![bounded.clone(), unbounded.clone()]);
    for (name, memory) in [(&bounded, Some("64m")), (&unbounded, None)] {
        let mut args = vec!["run", "-d", "--network", "none", "--name", name.as_str()];
        if let Some(m) = memory {
            args.extend(["--memory", m]);
        }
        args.push(&image);
        let out = docker(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let report = maint(&inst, &["monthly", "--dry-run", "--only", "resources"]);
    let unlimited = finding(&report, "resources:unlimited").unwrap();
    let names: Vec<&str> = unlimited["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert!(names.contains(&unbounded.as_str()), "{unlimited}");
    assert!(!names.contains(&bounded.as_str()), "{unlimited}");
    assert_eq!(unlimited["level"], "warn");
}

#[test]
fn listening_ports_agree_with_ss() {
    let inst = Instance::new("maint-ports");
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let report = maint(&inst, &["daily", "--dry-run", "--only", "ports"]);
    let ours = finding(&report, &format!("port:tcp:0.0.0.0:{port}")).unwrap();
    assert_eq!(ours["level"], "warn");
    assert!(
        ours["summary"].as_str().unwrap().contains("by "),
        "the owner is named: {ours}"
    );
    // Every TCP listener ss sees is either reported or in the allow-list.
    common::need("ss", "apt-get install iproute2");
    let ss = std::process::Command::new("ss")
        .args(["-ltnH"])
        .output()
        .unwrap();
    for line in String::from_utf8_lossy(&ss.stdout).lines() {
        let local = line.split_whitespace().nth(3).unwrap();
        let (addr, port) = local.rsplit_once(':').unwrap();
        let addr = addr
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split('%')
            .next()
            .unwrap();
        // ss writes an any-address socket as `*`; /proc/net has it as 0.0.0.0 or [::].
        let keys: Vec<String> = match addr {
            "*" => vec![
                format!("port:tcp:0.0.0.0:{port}"),
                format!("port:tcp:[::]:{port}"),
            ],
            a if a.contains(':') => vec![format!("port:tcp:[{a}]:{port}")],
            a => vec![format!("port:tcp:{a}:{port}")],
        };
        let allowed = ["22", "25", "53"].contains(&port);
        let found = keys.iter().any(|k| finding(&report, k).is_some());
        assert!(
            allowed || found,
            "{keys:?} (ss: {line}) missing from {report}"
        );
    }
    drop(listener);
}

/// Removes the test's containers however the test ends.
struct Containers(Vec<String>);

impl Drop for Containers {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = docker(&["rm", "-f", name]);
        }
    }
}

fn df_percent(mount: &str) -> f64 {
    let out = std::process::Command::new("df")
        .args(["--output=pcent", mount])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .trim_end_matches('%')
        .parse()
        .unwrap()
}

#[test]
fn figures_agree_with_df_and_free() {
    let inst = Instance::new("maint-live");
    let report = maint(
        &inst,
        &["daily", "--dry-run", "--only", "disk", "--only", "memory"],
    );
    let root = finding(&report, "disk:/").unwrap()["summary"]
        .as_str()
        .unwrap()
        .to_string();
    let ours: f64 = root
        .split(": ")
        .nth(1)
        .unwrap()
        .split('%')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (ours - df_percent("/")).abs() <= 1.0,
        "{root} vs df {}",
        df_percent("/")
    );
    // free(1) reads the same MemAvailable; compare in GiB to one decimal.
    common::need("free", "apt-get install procps");
    let free = std::process::Command::new("free")
        .arg("-b")
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&free.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    let available: f64 = line.split_whitespace().nth(6).unwrap().parse().unwrap();
    let summary = finding(&report, "memory").unwrap()["summary"]
        .as_str()
        .unwrap()
        .to_string();
    let ours: f64 = summary.split(' ').next().unwrap().parse().unwrap();
    let gib = available / (1u64 << 30) as f64;
    assert!((ours - gib).abs() <= 0.2, "{summary} vs free {gib:.1} GiB");
    // A dry run stores nothing.
    assert!(!inst.dir.join("state/reports").exists());
}

#[test]
fn a_warning_is_mailed_once_and_a_flapping_value_does_not_mail_daily() {
    let inst = Instance::new("maint-hysteresis");
    let p = df_percent("/");
    let thresholds = |warn: f64, clear: f64| {
        inst.drop_in(
            "disk.toml",
            &format!("[maint]\ndisk_warn = {warn}\ndisk_clear = {clear}\ndisk_crit = 101\n"),
        );
    };
    let mut mailed = Vec::new();
    // Day 1: at the threshold: warn, mailed.
    thresholds(p, p - 10.0);
    let r = maint(&inst, &["daily", "--only", "disk"]);
    assert_eq!(level(&r, "disk:/"), "warn");
    mailed.push(r["mailed"].as_bool().unwrap());
    // Days 2–4: the value hovers just under and at the threshold: still the same warning.
    for warn in [p + 1.0, p, p + 1.0] {
        thresholds(warn, p - 10.0);
        let r = maint(&inst, &["daily", "--only", "disk"]);
        assert_eq!(level(&r, "disk:/"), "warn", "hysteresis keeps it: {r}");
        mailed.push(r["mailed"].as_bool().unwrap());
    }
    // Day 5: it drops below the clearing level: ok, and nothing to mail.
    thresholds(p + 1.0, p + 1.0);
    let r = maint(&inst, &["daily", "--only", "disk"]);
    assert_eq!(level(&r, "disk:/"), "ok");
    assert!(
        r["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().starts_with("disk:/: warn → ok")),
        "{r}"
    );
    mailed.push(r["mailed"].as_bool().unwrap());
    assert_eq!(mailed, [true, false, false, false, false]);
    inst.run("clawdbot-broker", &["run"]);
    let mails = inst.mails();
    assert_eq!(mails.len(), 1);
    let mail = std::fs::read_to_string(&mails[0]).unwrap();
    assert!(
        mail.contains("Changed since the last run") && mail.contains("disk:/: ok → warn"),
        "{mail}"
    );
    // Each run kept its report.
    let reports = common::names(&inst.dir.join("state/reports"));
    assert_eq!(reports.len(), 1, "one file per tier and day: {reports:?}");
}

#[test]
fn a_check_that_hangs_or_fails_is_a_finding() {
    let inst = Instance::new("maint-hang");
    let slow = inst.dir.join("slow-docker");
    std::fs::write(&slow, "#!/bin/sh\nsleep 30\n").unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&slow).unwrap().permissions(),
        0o755,
    );
    std::fs::set_permissions(&slow, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    inst.drop_in(
        "slow.toml",
        &format!(
            "[maint]\ndocker = \"{}\"\ncheck_timeout = \"1s\"\n",
            slow.display()
        ),
    );
    let start = Instant::now();
    let report = maint(
        &inst,
        &["daily", "--dry-run", "--only", "docker", "--only", "memory"],
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "the tier did not wait for the hung check"
    );
    let docker = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "docker")
        .unwrap();
    assert_eq!(docker["level"], "crit", "{report}");
    assert_eq!(level(&report, "memory"), "ok");

    let broken = Path::new("/nonexistent/docker");
    inst.drop_in(
        "slow.toml",
        &format!("[maint]\ndocker = \"{}\"\n", broken.display()),
    );
    let report = maint(&inst, &["daily", "--dry-run", "--only", "docker"]);
    assert_eq!(
        level(&report, "docker"),
        "ok",
        "no docker CLI: not installed, not a failure"
    );

    let out = inst.run("clawdbot-maint", &["daily", "--only", "nonsense"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("disk, memory"));
}

#[test]
fn the_suite_watches_itself() {
    let inst = Instance::new("maint-suite");
    let report = maint(&inst, &["daily", "--dry-run", "--only", "suite"]);
    assert_eq!(level(&report, "suite"), "ok", "{report}");
    let conn = rusqlite::Connection::open(inst.database()).unwrap();
    let old = jiff::Timestamp::now().as_second() - 3 * 3600;
    conn.execute(
        "INSERT INTO settings (key, value) VALUES ('watchdog.last_pass', ?1)",
        [old.to_string()],
    )
    .unwrap();
    let report = maint(&inst, &["daily", "--dry-run", "--only", "suite"]);
    assert_eq!(level(&report, "watchdog"), "warn", "{report}");
}

const APT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/apt");

#[test]
fn pending_updates_come_from_apt_lists_security_first() {
    let inst = Instance::new("maint-apt");
    inst.drop_in(
        "apt.toml",
        &format!("[maint]\ndpkg_status = \"{APT}/status\"\napt_lists = \"{APT}/lists\"\n"),
    );
    let report = maint(&inst, &["weekly", "--dry-run", "--only", "apt"]);
    let apt = finding(&report, "apt").unwrap();
    assert_eq!(apt["level"], "warn", "{apt}");
    assert_eq!(apt["summary"], "3 updates pending, 2 of them security");
    assert_eq!(
        apt["details"],
        serde_json::json!([
            "[security] curl 7.88.1-10+deb12u8 → 7.88.1-10+deb12u12",
            "[security] openssl 3.0.15-1~deb12u1 → 3.0.17-1~deb12u2",
            "vim 2:9.0.1378-2 → 2:9.0.1378-2+deb12u2"
        ])
    );
}

#[test]
fn the_monthly_inventory_is_compared_with_last_month() {
    let inst = Instance::new("maint-inventory");
    let status = |file: &str| {
        inst.drop_in(
            "apt.toml",
            &format!("[maint]\ndpkg_status = \"{APT}/{file}\"\n"),
        );
    };
    status("status");
    let first = maint(&inst, &["monthly", "--only", "packages"]);
    assert_eq!(
        finding(&first, "packages").unwrap()["summary"],
        "4 packages installed; the first inventory"
    );
    assert_eq!(first["mailed"], true, "monthly reports are always mailed");
    status("status.next-month");
    let second = maint(&inst, &["monthly", "--only", "packages"]);
    let packages = finding(&second, "packages").unwrap();
    assert_eq!(
        packages["summary"],
        "4 packages: 1 added, 1 removed, 1 upgraded since last month"
    );
    assert_eq!(
        packages["details"],
        serde_json::json!([
            "added nginx",
            "removed curl",
            "upgraded openssl 3.0.15-1~deb12u1 → 3.0.17-1~deb12u2"
        ])
    );
}

#[test]
fn sqlite_is_checked_and_compacted_when_worth_it() {
    let inst = Instance::new("maint-sqlite");
    let db = inst.dir.join("big.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("CREATE TABLE t (x BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) INSERT INTO t SELECT randomblob(4096) FROM n; DELETE FROM t WHERE rowid > 100;").unwrap();
    }
    let broken = inst.dir.join("broken.db");
    std::fs::write(&broken, vec![b'x'; 8192]).unwrap();
    inst.drop_in(
        "db.toml",
        &format!(
            "[maint]\ndatabases = [\"{}\", \"{}\"]\n",
            db.display(),
            broken.display()
        ),
    );
    let before = std::fs::metadata(&db).unwrap().len();
    let dry = maint(&inst, &["monthly", "--dry-run", "--only", "sqlite"]);
    assert_eq!(
        std::fs::metadata(&db).unwrap().len(),
        before,
        "a dry run compacts nothing: {dry}"
    );
    let report = maint(&inst, &["monthly", "--only", "sqlite"]);
    let big = finding(&report, &format!("sqlite:{}", db.display())).unwrap();
    assert_eq!(big["level"], "ok", "{big}");
    assert!(
        big["summary"].as_str().unwrap().contains("vacuumed"),
        "{big}"
    );
    assert!(std::fs::metadata(&db).unwrap().len() < before / 4);
    let bad = finding(&report, &format!("sqlite:{}", broken.display())).unwrap();
    assert_eq!(bad["level"], "crit", "{bad}");
    assert_eq!(
        level(&report, &format!("sqlite:{}", inst.database().display())),
        "ok"
    );
}

#[test]
fn stale_files_are_reported_or_removed() {
    let inst = Instance::new("maint-stale");
    let (keep, sweep) = (inst.dir.join("reported"), inst.dir.join("swept"));
    for dir in [&keep, &sweep] {
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for (name, days) in [("old.log", 10), ("sub/older.log", 30), ("new.log", 1)] {
            let path = dir.join(name);
            std::fs::write(&path, b"data").unwrap();
            let file = std::fs::File::options().write(true).open(&path).unwrap();
            file.set_modified(std::time::SystemTime::now() - Duration::from_secs(days * 86_400))
                .unwrap();
        }
    }
    inst.drop_in(
        "stale.toml",
        &format!(
            "[[maint.stale]]\npath = \"{}\"\nage = \"7d\"\n\n[[maint.stale]]\npath = \"{}\"\nage = \"7d\"\nremove = true\n",
            keep.display(),
            sweep.display()
        ),
    );
    let report = maint(&inst, &["weekly", "--only", "stale"]);
    let reported = finding(&report, &format!("stale:{}", keep.display())).unwrap();
    assert!(
        reported["summary"]
            .as_str()
            .unwrap()
            .contains("found 2 file(s) older than 7 days"),
        "{reported}"
    );
    assert!(keep.join("old.log").exists() && keep.join("sub/older.log").exists());
    let swept = finding(&report, &format!("stale:{}", sweep.display())).unwrap();
    assert!(
        swept["summary"]
            .as_str()
            .unwrap()
            .contains("removed 2 file(s)"),
        "{swept}"
    );
    assert!(!sweep.join("old.log").exists() && !sweep.join("sub/older.log").exists());
    assert!(sweep.join("new.log").exists());
}

/// The cleanup sweeps the whole engine: tests that clean up take turns.
static CLEANUP: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn weekly_cleanup_removes_only_what_is_not_kept() {
    let _turn = CLEANUP.lock().unwrap_or_else(|e| e.into_inner());
    let image = docker_image();
    let inst = Instance::new("maint-cleanup");
    let tag = format!("clawdbot-cleanup-{}", std::process::id());
    inst.drop_in(
        "keep.toml",
        &format!("[maint]\nkeep_names = [\"{tag}-keep-*\"]\nsandbox_prefix = \"{tag}-sbx-\"\nsandbox_age = \"1s\"\n"),
    );
    // A dangling image: the same tag imported twice (the first loses its name).
    let dangling_tag = format!("local/{tag}:x");
    let import = |env: &str| {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("docker save {image} | tar -xO --wildcards '*/layer.tar' | docker import -c 'ENV A={env}' - {dangling_tag}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let first = import("1");
    import("2");
    let volume = |args: &[&str]| {
        let out = docker(args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let (unused, kept_label, kept_name) = (
        format!("{tag}-unused"),
        format!("{tag}-labelled"),
        format!("{tag}-keep-1"),
    );
    volume(&["volume", "create", &unused]);
    volume(&[
        "volume",
        "create",
        "--label",
        "clawdbot.keep=yes",
        &kept_label,
    ]);
    volume(&["volume", "create", &kept_name]);
    let sandbox = format!("{tag}-sbx-1");
    volume(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &sandbox,
        &image,
        "/pause",
        "exit",
        "0",
    ]);
    let _cleanup = Containers(vec![sandbox.clone()]);
    wait_for("the sandbox to stop", || {
        inspect(&sandbox, "{{.State.Status}}") == "exited"
    });
    std::thread::sleep(Duration::from_secs(2));

    let exists = |args: &[&str]| docker(args).status.success();
    let dry = maint(&inst, &["weekly", "--dry-run", "--only", "cleanup"]);
    assert!(
        exists(&["image", "inspect", &first]),
        "a dry run removes nothing: {dry}"
    );
    assert!(exists(&["volume", "inspect", &unused]));

    let report = maint(&inst, &["weekly", "--only", "cleanup"]);
    assert_eq!(report["mailed"], true, "weekly reports are always mailed");
    assert!(!exists(&["image", "inspect", &first]), "{report}");
    assert!(!exists(&["volume", "inspect", &unused]), "{report}");
    assert!(exists(&["volume", "inspect", &kept_label]));
    assert!(exists(&["volume", "inspect", &kept_name]));
    assert!(
        !exists(&["container", "inspect", &sandbox]),
        "the orphaned sandbox is removed"
    );
    assert!(
        exists(&["image", "inspect", &image]),
        "the tagged image stays"
    );
    let images = finding(&report, "cleanup:dangling images").unwrap();
    assert!(
        images["sample"].as_f64().unwrap() > 0.0,
        "bytes reclaimed are reported: {images}"
    );
    let volumes = finding(&report, "cleanup:unused volumes").unwrap();
    let kept: usize = volumes["summary"]
        .as_str()
        .unwrap()
        .rsplit("kept ")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(kept >= 2, "both kept volumes are counted: {volumes}");
    for v in [&kept_label, &kept_name] {
        let _ = docker(&["volume", "rm", v]);
    }
    let _ = docker(&["rmi", &dangling_tag]);
}

#[cfg(feature = "failpoints")]
#[test]
fn a_cleanup_killed_midway_is_finished_by_the_next_run() {
    let _turn = CLEANUP.lock().unwrap_or_else(|e| e.into_inner());
    let image = docker_image();
    let inst = Instance::new("maint-cleanup-crash");
    let tag = format!("clawdbot-crash-{}", std::process::id());
    inst.drop_in(
        "keep.toml",
        &format!("[maint]\nkeep_names = [\"{tag}-keep\"]\n"),
    );
    let volumes: Vec<String> = (0..3).map(|i| format!("{tag}-v{i}")).collect();
    for v in volumes.iter().chain([&format!("{tag}-keep")]) {
        assert!(docker(&["volume", "create", v]).status.success());
    }
    let exists = |v: &str| docker(&["volume", "inspect", v]).status.success();
    let out = inst
        .command("clawdbot-maint", &["weekly", "--only", "cleanup"])
        .env("CLAWDBOT_FAILPOINT", "maint::after-remove")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("failpoint maint::after-remove"),
        "the run died after its first removal: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = maint(&inst, &["weekly", "--only", "cleanup"]);
    assert!(
        volumes.iter().all(|v| !exists(v)),
        "the next run removed the rest: {report}"
    );
    assert!(exists(&format!("{tag}-keep")), "the kept volume stays");
    let _ = docker(&["volume", "rm", &format!("{tag}-keep")]);
    let _ = image;
}
