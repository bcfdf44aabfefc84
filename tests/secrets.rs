//! Secret rotation: due dates, one reminder per step over a simulated stretch of days, the
//! daily run and `rotated` through the real binary.

mod common;

use clawdbot::core::store::Store;
use clawdbot::jobs::secrets;
use clawdbot::platform::config::Config;
use common::Instance;
use jiff::ToSpan;
use jiff::civil::{Date, date};
use serde_json::Value;

fn config_with(inst: &Instance, secrets: &str) -> Config {
    inst.drop_in("secrets.toml", secrets);
    Config::load(Some(&inst.config)).unwrap()
}

fn outbox_count(store_path: &std::path::Path, kind: &str) -> i64 {
    let conn = rusqlite::Connection::open(store_path).unwrap();
    conn.query_row("SELECT count(*) FROM outbox WHERE kind = ?1", [kind], |r| {
        r.get(0)
    })
    .unwrap()
}

#[test]
fn each_reminder_is_sent_once_as_the_days_pass() {
    let inst = Instance::new("secrets-days");
    let config = config_with(
        &inst,
        "[secrets.bridge-secret]\ncadence = \"quarterly\"\nwhere = \"/etc/credstore/clawdbot.bridge-secret\"\nowner = \"ops@example.org\"\nrotated = \"2027-11-30\"\n",
    );
    let mut store = Store::open(&config.paths.database()).unwrap();
    // Due 2028-02-29 (a leap day: 30 Nov + 3 months). Walk from 30 days before to 30 after,
    // running the daily job twice a day.
    let due = date(2028, 2, 29);
    let mut mailed_on: Vec<(i64, usize)> = Vec::new();
    for offset in -30i64..=30 {
        let today: Date = due.checked_add(offset.days()).unwrap();
        for _ in 0..2 {
            let report = secrets::remind(&config, &mut store, today).unwrap();
            if report.mailed {
                mailed_on.push((offset, report.reminded.len()));
            }
        }
    }
    let days: Vec<i64> = mailed_on.iter().map(|(d, _)| *d).collect();
    // 14, 7 and 1 days before; then 1, 8, 15, 22 and 29 days overdue.
    assert_eq!(days, [-14, -7, -1, 1, 8, 15, 22, 29], "{mailed_on:?}");
    // The job leaves drafts; the broker's mail channel composes them into the outbox.
    clawdbot::channels::mail::compose_drafts(&config, &mut store).unwrap();
    assert_eq!(outbox_count(&config.paths.database(), "secrets"), 8);
}

#[test]
fn a_late_run_sends_only_the_most_urgent_reminder() {
    let inst = Instance::new("secrets-late");
    let config = config_with(
        &inst,
        "[secrets.smtp-password]\ncadence = \"90d\"\nwhere = \"mail provider\"\nrotated = \"2026-01-01\"\n",
    );
    let mut store = Store::open(&config.paths.database()).unwrap();
    // Due 2026-04-01; the job first runs three days before.
    let first = secrets::remind(&config, &mut store, date(2026, 3, 29)).unwrap();
    assert_eq!(first.reminded, ["smtp-password"]);
    // The 7-day step was skipped over; the 1-day step is still to come, once.
    assert!(
        !secrets::remind(&config, &mut store, date(2026, 3, 30))
            .unwrap()
            .mailed
    );
    assert!(
        secrets::remind(&config, &mut store, date(2026, 3, 31))
            .unwrap()
            .mailed
    );
    assert!(
        !secrets::remind(&config, &mut store, date(2026, 4, 1))
            .unwrap()
            .mailed
    );
}

#[test]
fn list_and_rotated_through_the_binary() {
    let inst = Instance::new("secrets-cli");
    let today = jiff::Zoned::now().date();
    let long_ago = today.checked_sub(400.days()).unwrap();
    inst.drop_in(
        "secrets.toml",
        &format!(
            "[operator]\ntimezone = \"UTC\"\n\n[secrets.gateway-token]\ncadence = \"annual\"\nwhere = \"/etc/credstore/clawdbot.gateway-token\"\nrotated = \"{long_ago}\"\n\n[secrets.new-one]\ncadence = \"semiannual\"\nwhere = \"vault\"\n"
        ),
    );
    let list = |inst: &Instance| -> Value {
        let out = inst.run("clawdbot-secrets", &["list", "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let all = list(&inst);
    assert_eq!(all[0]["name"], "gateway-token", "most urgent first: {all}");
    assert!(all[0]["days_left"].as_i64().unwrap() < 0);
    assert_eq!(all[1]["since"], "first-seen");
    assert_eq!(all[1]["last"], today.to_string());

    // The daily run mails once; a second run the same day does not.
    let out = inst.run("clawdbot-secrets", &["--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["reminded"], serde_json::json!(["gateway-token"]));
    let again: Value =
        serde_json::from_slice(&inst.run("clawdbot-secrets", &["--json"]).stdout).unwrap();
    assert_eq!(again["reminded"], serde_json::json!([]));
    inst.run("clawdbot-broker", &["run"]);
    let mails = inst.mails();
    assert_eq!(mails.len(), 1);
    let mail = std::fs::read_to_string(&mails[0]).unwrap();
    assert!(mail.contains("OVERDUE"), "{mail}");
    assert!(
        mail.contains("clawdbot-secrets rotated gateway-token"),
        "{mail}"
    );

    // Recording the rotation moves the due date a year on.
    let out = inst.run("clawdbot-secrets", &["rotated", "gateway-token", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status[0]["since"], "recorded");
    assert_eq!(
        status[0]["due"],
        today.checked_add(1.year()).unwrap().to_string()
    );

    // Bad input: an unknown name, a future date, a date that is not one.
    let unknown = inst.run("clawdbot-secrets", &["rotated", "nope"]);
    assert_eq!(unknown.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("gateway-token, new-one"));
    let tomorrow = today.checked_add(1.day()).unwrap().to_string();
    let future = inst.run(
        "clawdbot-secrets",
        &["rotated", "new-one", "--date", &tomorrow],
    );
    assert_eq!(future.status.code(), Some(64));
    let garbage = inst.run(
        "clawdbot-secrets",
        &["rotated", "new-one", "--date", "2026-02-30"],
    );
    assert_eq!(garbage.status.code(), Some(64), "a usage error is EX_USAGE");
}

#[test]
fn a_bad_cadence_is_a_configuration_error() {
    let inst = Instance::new("secrets-bad");
    inst.drop_in(
        "secrets.toml",
        "[secrets.x]\ncadence = \"fortnightly\"\nwhere = \"here\"\n",
    );
    let out = inst.run("clawdbot-secrets", &["list"]);
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("fortnightly") && err.contains("quarterly"),
        "{err}"
    );
    inst.drop_in(
        "secrets.toml",
        "[secrets.\"a b\"]\ncadence = \"annual\"\nwhere = \"here\"\n",
    );
    let out = inst.run("clawdbot-secrets", &["list"]);
    assert_eq!(out.status.code(), Some(78));
}
