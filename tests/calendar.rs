//! `clawdbot-calendar` against the Graph and Google Calendar emulators: every time in its
//! right zone whatever the machine's `TZ`, across both DST changes; copies of one meeting
//! merged; declined, free and private events handled; a failing source kept, marked stale;
//! paging, token caching and rotation, backoff, and hostile answers.

mod common;
#[path = "emulator/calendar.rs"]
mod emulator;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Output;

use common::Instance;
use emulator::{Calendars, Service};
use serde_json::{Value, json};

struct Setup {
    inst: Instance,
    emu: Calendars,
    output: PathBuf,
}

fn credential(inst: &Instance, name: &str, service: Service) -> String {
    let path = inst.dir.join(name);
    std::fs::write(&path, Calendars::credential(service)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path.display().to_string()
}

/// An instance with a Graph account "work" (calendar "Calendar") and a Google account "home"
/// (calendar "me@example.org", zone Europe/Amsterdam); the operator in Europe/Amsterdam.
fn setup(name: &str) -> Setup {
    let inst = Instance::new(name);
    let emu = Calendars::start();
    emu.add_calendar(Service::Graph, "AAMkAGI2TG93AAA=", "Calendar", "");
    emu.add_calendar(
        Service::Google,
        "me@example.org",
        "Personal",
        "Europe/Amsterdam",
    );
    let work = credential(&inst, "work.json", Service::Graph);
    let home = credential(&inst, "home.json", Service::Google);
    let shared = inst.dir.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    let output = shared.join("availability.json");
    inst.drop_in(
        "70-calendar.toml",
        &format!(
            "[operator]\ntimezone = \"Europe/Amsterdam\"\n[calendar]\noutput = {:?}\nmax_wait = \"5s\"\n{}{}",
            output.display().to_string(),
            emu.account("work", Service::Graph, &work, "[\"all\"]"),
            emu.account("home", Service::Google, &home, "[\"all\"]"),
        ),
    );
    Setup { inst, emu, output }
}

fn calendar(setup: &Setup, args: &[&str], tz: &str) -> Output {
    setup
        .inst
        .command("clawdbot-calendar", args)
        .env("TZ", tz)
        .output()
        .unwrap()
}

fn written(setup: &Setup) -> Value {
    let doc = serde_json::from_slice(&std::fs::read(&setup.output).unwrap()).unwrap();
    assert_eq!(schema_errors(&doc), "", "{doc}");
    doc
}

/// What the reference JSON Schema validator (Python's jsonschema) finds wrong with `doc`
/// against packaging/availability.schema.json ("" when nothing).
fn schema_errors(doc: &Value) -> String {
    let schema = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/availability.schema.json"
    );
    let script = "import json, sys, jsonschema\n\
        schema = json.load(open(sys.argv[1]))\n\
        jsonschema.Draft202012Validator.check_schema(schema)\n\
        v = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())\n\
        for e in v.iter_errors(json.load(sys.stdin)): print(list(e.absolute_path), e.message)\n";
    common::need_python("python3", "jsonschema", "pip install jsonschema");
    let mut child = std::process::Command::new("python3")
        .args(["-c", script, schema])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(doc.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the validator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn graph_event(id: &str, subject: &str, start: &str, end: &str, zone: &str) -> Value {
    json!({"id": id, "iCalUId": format!("040000008200E00074C5B7101A82E008{id}"), "subject": subject,
           "isAllDay": false, "isCancelled": false, "showAs": "busy", "sensitivity": "normal",
           "responseStatus": {"response": "accepted", "time": "0001-01-01T00:00:00Z"},
           "start": {"dateTime": start, "timeZone": zone}, "end": {"dateTime": end, "timeZone": zone}})
}

fn google_event(id: &str, summary: &str, start: Value, end: Value) -> Value {
    json!({"kind": "calendar#event", "id": id, "status": "confirmed", "summary": summary,
           "iCalUID": format!("{id}@google.com"), "start": start, "end": end, "eventType": "default"})
}

/// Every event in the document (busy blocks' events, free and all-day), by subject.
fn events(doc: &Value) -> Vec<Value> {
    let mut all: Vec<Value> = doc["busy"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["events"].as_array().unwrap().clone())
        .collect();
    all.extend(doc["free"].as_array().unwrap().iter().cloned());
    all.extend(doc["all_day"].as_array().unwrap().iter().cloned());
    all
}

fn event(doc: &Value, subject: &str) -> Value {
    events(doc)
        .into_iter()
        .find(|e| e["subject"] == subject)
        .unwrap_or_else(|| panic!("no event {subject:?} in {doc}"))
}

fn dry_run(setup: &Setup, at: &str, tz: &str) -> (String, Value) {
    let out = calendar(setup, &["--dry-run", "--at", at], tz);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let doc = serde_json::from_str(&text).unwrap();
    assert_eq!(schema_errors(&doc), "", "{doc}");
    (text, doc)
}

#[test]
fn every_time_keeps_its_zone_whatever_the_machines_tz_and_across_both_dst_changes() {
    let s = setup("cal-zones");
    let cal = "AAMkAGI2TG93AAA=";
    // Graph answers these in their organiser's zone although UTC was asked for.
    let own = |id, subject, start, end, zone| {
        let mut e = graph_event(id, subject, start, end, zone);
        e["_ownZone"] = json!(true);
        s.emu.add_event(cal, e);
    };
    own(
        "1",
        "Berlin no offset",
        "2026-10-21T09:00:00.0000000",
        "2026-10-21T10:00:00.0000000",
        "W. Europe Standard Time",
    );
    own(
        "2",
        "After the October change",
        "2026-10-26T09:00:00.0000000",
        "2026-10-26T10:00:00.0000000",
        "W. Europe Standard Time",
    );
    own(
        "3",
        "Across the October change",
        "2026-10-24T22:00:00.0000000",
        "2026-10-25T10:00:00.0000000",
        "W. Europe Standard Time",
    );
    own(
        "4",
        "New York, US summer time",
        "2026-10-22T10:00:00.0000000",
        "2026-10-22T11:00:00.0000000",
        "Eastern Standard Time",
    );
    own(
        "5",
        "New York, between the two changes",
        "2026-10-27T10:00:00.0000000",
        "2026-10-27T11:00:00.0000000",
        "Eastern Standard Time",
    );
    own(
        "6",
        "Already UTC",
        "2026-10-23T07:30:00.0000000",
        "2026-10-23T08:00:00.0000000",
        "UTC",
    );
    // Converted to UTC by the emulator, as Graph does when it honours the Prefer header.
    s.emu.add_event(
        cal,
        graph_event(
            "7",
            "Converted",
            "2026-10-28T15:00:00",
            "2026-10-28T16:00:00",
            "Pacific Standard Time",
        ),
    );
    let mut all_day = graph_event(
        "8",
        "Graph all day",
        "2026-10-29T00:00:00.0000000",
        "2026-10-30T00:00:00.0000000",
        "UTC",
    );
    all_day["isAllDay"] = json!(true);
    all_day["showAs"] = json!("free");
    s.emu.add_event(cal, all_day);

    let g = "me@example.org";
    s.emu.add_event(
        g,
        google_event(
            "g1",
            "Google with offset",
            json!({"dateTime": "2026-10-21T14:00:00-04:00"}),
            json!({"dateTime": "2026-10-21T15:00:00-04:00"}),
        ),
    );
    s.emu.add_event(
        g,
        google_event(
            "g2",
            "Google zone only",
            json!({"dateTime": "2026-10-26T08:00:00", "timeZone": "America/New_York"}),
            json!({"dateTime": "2026-10-26T09:00:00", "timeZone": "America/New_York"}),
        ),
    );
    s.emu.add_event(
        g,
        google_event(
            "g3",
            "Google all day",
            json!({"date": "2026-10-30"}),
            json!({"date": "2026-10-31"}),
        ),
    );
    s.emu.add_event(
        g,
        google_event(
            "g4",
            "Calendar zone",
            json!({"dateTime": "2026-10-22T18:00:00"}),
            json!({"dateTime": "2026-10-22T19:00:00"}),
        ),
    );

    let at = "2026-10-20T08:00:00Z";
    let (utc, doc) = dry_run(&s, at, "UTC");
    let (auckland, _) = dry_run(&s, at, "Pacific/Auckland");
    assert_eq!(utc, auckland, "the machine's TZ changed the output");
    let (unset, _) = dry_run(&s, at, "");
    assert_eq!(utc, unset);

    let times = |subject: &str| {
        let e = event(&doc, subject);
        (
            e["start"].as_str().unwrap().to_string(),
            e["end"].as_str().unwrap().to_string(),
        )
    };
    let want = [
        (
            "Berlin no offset",
            "2026-10-21T09:00:00+02:00",
            "2026-10-21T10:00:00+02:00",
        ),
        (
            "After the October change",
            "2026-10-26T09:00:00+01:00",
            "2026-10-26T10:00:00+01:00",
        ),
        (
            "Across the October change",
            "2026-10-24T22:00:00+02:00",
            "2026-10-25T10:00:00+01:00",
        ),
        (
            "New York, US summer time",
            "2026-10-22T16:00:00+02:00",
            "2026-10-22T17:00:00+02:00",
        ),
        (
            "New York, between the two changes",
            "2026-10-27T15:00:00+01:00",
            "2026-10-27T16:00:00+01:00",
        ),
        (
            "Already UTC",
            "2026-10-23T09:30:00+02:00",
            "2026-10-23T10:00:00+02:00",
        ),
        (
            "Converted",
            "2026-10-28T23:00:00+01:00",
            "2026-10-29T00:00:00+01:00",
        ),
        (
            "Google with offset",
            "2026-10-21T20:00:00+02:00",
            "2026-10-21T21:00:00+02:00",
        ),
        (
            "Google zone only",
            "2026-10-26T13:00:00+01:00",
            "2026-10-26T14:00:00+01:00",
        ),
        (
            "Calendar zone",
            "2026-10-22T18:00:00+02:00",
            "2026-10-22T19:00:00+02:00",
        ),
    ];
    for (subject, start, end) in want {
        assert_eq!(
            times(subject),
            (start.to_string(), end.to_string()),
            "{subject}"
        );
    }
    for (subject, start, end) in [
        ("Graph all day", "2026-10-29", "2026-10-30"),
        ("Google all day", "2026-10-30", "2026-10-31"),
    ] {
        let e = event(&doc, subject);
        assert_eq!(
            (e["start_date"].as_str(), e["end_date"].as_str()),
            (Some(start), Some(end))
        );
    }
    assert_eq!(doc["timezone"], "Europe/Amsterdam");
    assert_eq!(doc["window"]["start"], "2026-10-20T10:00:00+02:00");
    assert_eq!(doc["window"]["end"], "2026-11-04T00:00:00+01:00");
    assert!(!s.output.exists(), "a dry run wrote the file");

    // The schema is strict enough to catch the classic bug: a time without its offset.
    let mut broken = doc.clone();
    broken["busy"][0]["start"] = json!("2026-10-21T09:00:00");
    assert!(
        schema_errors(&broken).contains("does not match"),
        "the schema let a zoneless time through"
    );
}

#[test]
fn the_march_change_and_a_time_that_does_not_exist() {
    let s = setup("cal-march");
    let cal = "AAMkAGI2TG93AAA=";
    let own = |id, subject, start, end| {
        let mut e = graph_event(id, subject, start, end, "W. Europe Standard Time");
        e["_ownZone"] = json!(true);
        s.emu.add_event(cal, e);
    };
    own(
        "1",
        "Before",
        "2027-03-26T09:00:00.0000000",
        "2027-03-26T10:00:00.0000000",
    );
    own(
        "2",
        "After",
        "2027-03-29T09:00:00.0000000",
        "2027-03-29T10:00:00.0000000",
    );
    own(
        "3",
        "Over the gap",
        "2027-03-28T01:00:00.0000000",
        "2027-03-28T04:00:00.0000000",
    );
    s.emu.add_event(
        "me@example.org",
        google_event(
            "g1",
            "In the gap",
            json!({"dateTime": "2027-03-28T02:30:00", "timeZone": "Europe/Amsterdam"}),
            json!({"dateTime": "2027-03-28T05:00:00", "timeZone": "Europe/Amsterdam"}),
        ),
    );
    let (utc, doc) = dry_run(&s, "2027-03-24T08:00:00Z", "UTC");
    let (auckland, _) = dry_run(&s, "2027-03-24T08:00:00Z", "Pacific/Auckland");
    assert_eq!(utc, auckland);
    let start = |subject: &str| event(&doc, subject)["start"].as_str().unwrap().to_string();
    assert_eq!(start("Before"), "2027-03-26T09:00:00+01:00");
    assert_eq!(start("After"), "2027-03-29T09:00:00+02:00");
    assert_eq!(
        event(&doc, "Over the gap")["end"],
        "2027-03-28T04:00:00+02:00"
    );
    // 02:30 is skipped that night: read with the offset before the gap, it is 03:30 CEST.
    assert_eq!(start("In the gap"), "2027-03-28T03:30:00+02:00");
}

/// A time `hours` from now, in Graph's UTC form and as RFC 3339.
fn later(hours: i64) -> (String, String) {
    let at = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(hours))
        .unwrap();
    let hour = jiff::Timestamp::from_second(at.as_second() / 3600 * 3600).unwrap();
    (
        hour.strftime("%Y-%m-%dT%H:%M:%S.0000000").to_string(),
        hour.to_string(),
    )
}

#[test]
fn copies_merge_overlaps_join_and_declined_free_and_private_events_are_handled() {
    let s = setup("cal-merge");
    let cal = "AAMkAGI2TG93AAA=";
    let (a, a_rfc) = later(24);
    let (b, b_rfc) = later(25);
    let (c, _) = later(26);
    let (d, d_rfc) = later(27);
    // The same meeting on the work calendar and, as an invitation, on the personal one.
    let mut shared = graph_event("m", "Quarterly review", &a, &b, "UTC");
    shared["iCalUId"] = json!("SHARED-UID-1");
    s.emu.add_event(cal, shared);
    let mut copy = google_event(
        "m",
        "Quarterly review",
        json!({"dateTime": a_rfc}),
        json!({"dateTime": b_rfc}),
    );
    copy["iCalUID"] = json!("SHARED-UID-1");
    s.emu.add_event("me@example.org", copy);
    // Planning b..d touches the review (a..b: its own block) and overlaps a tentative lunch
    // c..c+2 (one block).
    s.emu
        .add_event(cal, graph_event("o1", "Planning", &b, &d, "UTC"));
    let mut tentative = graph_event("o2", "Maybe lunch", &c, &later(28).0, "UTC");
    tentative["showAs"] = json!("tentative");
    s.emu.add_event(cal, tentative);
    let mut declined = graph_event("x", "Declined thing", &a, &b, "UTC");
    declined["responseStatus"] = json!({"response": "declined", "time": "2026-11-20T10:00:00Z"});
    s.emu.add_event(cal, declined);
    let mut google_declined = google_event(
        "gx",
        "Declined party",
        json!({"dateTime": d_rfc}),
        json!({"dateTime": later(29).1}),
    );
    google_declined["attendees"] =
        json!([{"email": "me@example.org", "self": true, "responseStatus": "declined"}]);
    s.emu.add_event("me@example.org", google_declined);
    let mut free = google_event(
        "gf",
        "Focus (free)",
        json!({"dateTime": later(40).1}),
        json!({"dateTime": later(41).1}),
    );
    free["transparency"] = json!("transparent");
    s.emu.add_event("me@example.org", free);
    let mut private = graph_event("p", "Doctor", &later(50).0, &later(51).0, "UTC");
    private["sensitivity"] = json!("private");
    s.emu.add_event(cal, private);

    let out = calendar(&s, &["--json"], "Pacific/Auckland");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = written(&s);
    let mode = std::fs::metadata(&s.output).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
    let leftovers: Vec<_> = std::fs::read_dir(s.output.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name() != "availability.json")
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    let review = event(&doc, "Quarterly review");
    assert_eq!(review["sources"].as_array().unwrap().len(), 2, "{review}");
    assert_eq!(
        events(&doc)
            .iter()
            .filter(|e| e["subject"] == "Quarterly review")
            .count(),
        1
    );
    assert!(
        events(&doc)
            .iter()
            .all(|e| !e["subject"].as_str().unwrap_or("").starts_with("Declined"))
    );
    let busy = doc["busy"].as_array().unwrap();
    assert_eq!(busy.len(), 3, "{busy:#?}");
    assert_eq!(
        busy[0]["events"].as_array().unwrap().len(),
        1,
        "the review only touches planning"
    );
    assert_eq!(
        busy[1]["events"].as_array().unwrap().len(),
        2,
        "planning and lunch overlap"
    );
    assert_eq!(busy[1]["start"], busy[1]["events"][0]["start"]);
    assert_eq!(busy[1]["end"], busy[1]["events"][1]["end"]);
    assert_eq!(busy[1]["status"], "busy");
    assert_eq!(busy[1]["sources"].as_array().unwrap().len(), 1);
    assert!(busy[0]["start"].as_str().unwrap().ends_with("+01:00"));
    let focus = event(&doc, "Focus (free)");
    assert_eq!(focus["status"], "free");
    assert!(doc["free"].as_array().unwrap().contains(&focus));
    let private = &busy[2]["events"][0];
    assert_eq!(private["private"], true);
    assert!(private.get("subject").is_none(), "{private}");
    assert!(!doc.to_string().contains("Doctor"));
    assert_eq!(event(&doc, "Maybe lunch")["status"], "tentative");
    let sources = doc["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 2);
    assert!(
        sources
            .iter()
            .all(|s| s["ok"] == true && s["error"].is_null())
    );
}

#[test]
fn a_failing_source_keeps_its_events_marked_stale_and_never_blocks_the_others() {
    let s = setup("cal-stale");
    let (a, a_rfc) = later(30);
    let (b, b_rfc) = later(31);
    s.emu.add_event(
        "AAMkAGI2TG93AAA=",
        graph_event("w", "Work thing", &a, &b, "UTC"),
    );
    s.emu.add_event(
        "me@example.org",
        google_event(
            "h",
            "Home thing",
            json!({"dateTime": a_rfc}),
            json!({"dateTime": b_rfc}),
        ),
    );
    assert!(calendar(&s, &[], "UTC").status.success());

    // Google fails for good this run; Graph answers.
    s.emu.fail("/calendar/v3/calendars/", 503, None, 100);
    let out = calendar(&s, &[], "UTC");
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("calendar Personal of home") && said.contains("last good events are kept"),
        "{said}"
    );
    let doc = written(&s);
    let home = event(&doc, "Home thing");
    assert!(
        home["stale"]["age_seconds"].as_i64().unwrap() >= 0,
        "{home}"
    );
    assert!(home["stale"]["as_of"].is_string());
    assert!(event(&doc, "Work thing").get("stale").is_none());
    let sources = doc["sources"].as_array().unwrap();
    let google = sources.iter().find(|x| x["account"] == "home").unwrap();
    assert_eq!(google["ok"], false);
    assert!(
        google["error"].as_str().unwrap().contains("503"),
        "{google}"
    );
    assert!(google["last_success"].is_string());

    // Microsoft revokes the grant: the error names the account and the way back.
    s.emu.revoke(Service::Graph);
    s.emu.expire_access_tokens();
    s.emu.clear_faults();
    let out = calendar(&s, &[], "UTC");
    assert_eq!(out.status.code(), Some(78));
    let doc = written(&s);
    let work = doc["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["account"] == "work")
        .unwrap()
        .clone();
    let error = work["error"].as_str().unwrap();
    assert!(
        error.contains("invalid_grant") && error.contains("clawdbot-calendar authorize work"),
        "{error}"
    );
    assert!(event(&doc, "Work thing")["stale"].is_object());

    // The daily maintenance report makes it the operator's business: crit, with the fix.
    let out = s.inst.run(
        "clawdbot-maint",
        &["--json", "daily", "--dry-run", "--only", "suite"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let work = findings
        .iter()
        .find(|f| f["key"] == "calendar:work:AAMkAGI2TG93AAA=")
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(work["level"], "crit", "{work}");
    assert!(
        work["summary"]
            .as_str()
            .unwrap()
            .contains("clawdbot-calendar authorize work"),
        "{work}"
    );
    assert!(
        !findings
            .iter()
            .any(|f| f["key"].as_str().unwrap().starts_with("calendar:home")),
        "{report}"
    );

    // Data that grows old without an error (no run came) warns; an account taken out of the
    // configuration is forgotten by the report.
    let conn = rusqlite::Connection::open(s.inst.database()).unwrap();
    conn.execute(
        "UPDATE calendar_sources SET fetched_at = fetched_at - 7200 WHERE account = 'home'",
        [],
    )
    .unwrap();
    let suite = |s: &Setup| -> Vec<Value> {
        let out = s.inst.run(
            "clawdbot-maint",
            &["--json", "daily", "--dry-run", "--only", "suite"],
        );
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        report["findings"].as_array().unwrap().clone()
    };
    let home = suite(&s)
        .into_iter()
        .find(|f| f["key"] == "calendar:home:me@example.org")
        .unwrap();
    assert_eq!(home["level"], "warn", "{home}");
    assert!(
        home["summary"].as_str().unwrap().contains("no run since"),
        "{home}"
    );
    let home_only = s.emu.account(
        "home",
        Service::Google,
        &s.inst.dir.join("home.json").display().to_string(),
        "[\"all\"]",
    );
    s.inst
        .drop_in("90-only-home.toml", &format!("[calendar]\n{home_only}"));
    assert!(
        !suite(&s)
            .iter()
            .any(|f| f["key"].as_str().unwrap().starts_with("calendar:work"))
    );
    assert!(
        event(&doc, "Home thing").get("stale").is_none(),
        "Google recovered"
    );
}

#[test]
fn pages_are_followed_tokens_cached_and_rotated_and_429_backed_off() {
    let s = setup("cal-paging");
    s.emu.limit_pages(7);
    for i in 0..30 {
        let (a, a_rfc) = later(24 + i * 2);
        let (b, b_rfc) = later(25 + i * 2);
        s.emu.add_event(
            "AAMkAGI2TG93AAA=",
            graph_event(&format!("w{i}"), &format!("Work {i}"), &a, &b, "UTC"),
        );
        s.emu.add_event(
            "me@example.org",
            google_event(
                &format!("h{i}"),
                &format!("Home {i}"),
                json!({"dateTime": a_rfc}),
                json!({"dateTime": b_rfc}),
            ),
        );
    }
    let out = calendar(&s, &["--json"], "UTC");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = written(&s);
    assert_eq!(
        doc["busy"].as_array().unwrap().len(),
        30,
        "work and home events overlap in pairs"
    );
    assert_eq!(events(&doc).len(), 60);
    let log = s.emu.requests();
    assert!(
        log.iter().filter(|r| r.contains("calendarView")).count() >= 5,
        "{log:#?}"
    );
    assert!(log.iter().any(|r| r.contains("pageToken=page-7")));
    assert!(s.emu.graph_scopes_ok());

    // Cached access tokens: no token call on the next run.
    s.emu.clear_log();
    assert!(calendar(&s, &[], "UTC").status.success());
    assert!(!s.emu.requests().iter().any(|r| r.contains("/token")));

    // Microsoft retires the first refresh token: the rotated one it gave is used.
    s.emu.retire_first_graph_refresh();
    s.emu.expire_access_tokens();
    let out = calendar(&s, &[], "UTC");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A short Retry-After is waited out within the run.
    s.emu.fail("/graph/v1.0/me/calendars", 429, Some(1), 1);
    assert!(calendar(&s, &[], "UTC").status.success());

    // Google's 403 rateLimitExceeded is a request to slow down, like a 429.
    s.emu.fail("/calendar/v3/calendars/", 403, Some(1), 1);
    let out = calendar(&s, &[], "UTC");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A long one (here absurd: capped at a day) skips the account until then; the other
    // account goes on.
    s.emu
        .fail("/graph/v1.0/me/calendars", 429, Some(u64::MAX), 1);
    assert_eq!(calendar(&s, &[], "UTC").status.code(), Some(75));
    s.emu.clear_log();
    assert_eq!(calendar(&s, &[], "UTC").status.code(), Some(75));
    let log = s.emu.requests();
    assert!(!log.iter().any(|r| r.contains("/graph/")), "{log:#?}");
    assert!(log.iter().any(|r| r.contains("/calendar/v3/")));
    let doc = written(&s);
    let work = doc["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["account"] == "work")
        .unwrap()
        .clone();
    assert!(
        work["error"].as_str().unwrap().contains("backing off"),
        "{work}"
    );
    assert_eq!(event(&doc, "Home 3")["sources"][0]["account"], "home");
}

#[test]
fn hostile_answers_are_refused_or_skipped_with_a_reason() {
    let s = setup("cal-hostile");
    let cal = "AAMkAGI2TG93AAA=";
    let (a, _) = later(30);
    let (b, _) = later(31);
    s.emu
        .add_event(cal, graph_event("ok", "Fine", &a, &b, "UTC"));
    let mut custom = graph_event("tz", "Custom zone", &a, &b, "tzone://Microsoft/Custom");
    custom["_ownZone"] = json!(true);
    s.emu.add_event(cal, custom);
    s.emu
        .add_event(cal, graph_event("back", "Backwards", &b, &a, "UTC"));
    let long = "x".repeat(10_000);
    s.emu.add_event(
        cal,
        graph_event("long", &long, &later(40).0, &later(41).0, "UTC"),
    );
    s.emu.add_event(cal, json!({"id": "junk", "start": 5}));
    for n in 0..30 {
        s.emu.add_event(
            "me@example.org",
            json!({"id": format!("junk{n}"), "start": {"dateTime": "soon"}}),
        );
    }
    let out = calendar(&s, &[], "UTC");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = written(&s);
    event(&doc, "Fine");
    let work = doc["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["account"] == "work")
        .unwrap()
        .clone();
    let skipped = work["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 3, "{skipped:#?}");
    assert!(
        skipped
            .iter()
            .any(|r| r.as_str().unwrap().contains("tzone://Microsoft/Custom"))
    );
    let longest = events(&doc)
        .iter()
        .map(|e| e["subject"].as_str().unwrap_or("").chars().count())
        .max()
        .unwrap();
    assert_eq!(longest, 200);
    let home = doc["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["account"] == "home")
        .unwrap()
        .clone();
    let reasons = home["skipped"].as_array().unwrap();
    assert_eq!(reasons.len(), 21, "{reasons:#?}");
    assert_eq!(reasons[20], "… and 10 more");

    // A next link to another host is not followed (it would carry the token there).
    s.emu.limit_pages(2);
    s.emu.foreign_links("http://192.0.2.1:9");
    let out = calendar(&s, &[], "UTC");
    assert_eq!(out.status.code(), Some(75));
    let doc = written(&s);
    let work = doc["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["account"] == "work")
        .unwrap()
        .clone();
    assert!(
        work["error"]
            .as_str()
            .unwrap()
            .contains("a link leads outside"),
        "{work}"
    );
    assert!(
        event(&doc, "Fine")["stale"].is_object(),
        "the last good copy is kept"
    );
}

#[test]
fn authorize_walks_a_person_through_consent_and_names_unknown_accounts() {
    let s = setup("cal-authorize");
    let output = s.inst.dir.join("new-home.json");
    let mut child = s
        .inst
        .command(
            "clawdbot-calendar",
            &[
                "authorize",
                "home",
                "--client-id",
                emulator::GOOGLE_CLIENT,
                "--client-secret",
                emulator::GOOGLE_SECRET,
                "--output",
                output.to_str().unwrap(),
            ],
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let pasted = format!(
        "http://127.0.0.1/?code={}&scope=x\n",
        emulator::AUTH_CODE.replace('/', "%2F")
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(pasted.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("calendar.readonly"), "{stdout}");
    let mode = std::fs::metadata(&output).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let stored: Value = serde_json::from_slice(&std::fs::read(&output).unwrap()).unwrap();
    assert_eq!(stored["refresh_token"], emulator::GOOGLE_REFRESH);

    let out = calendar(
        &s,
        &[
            "authorize",
            "nobody",
            "--client-id",
            "x",
            "--output",
            "/tmp/never",
        ],
        "UTC",
    );
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("work, home"), "{err}");

    // The doctor names an account without its credential, and the command that mends it.
    s.inst.drop_in(
        "75-third.toml",
        &format!(
            "[calendar]\noutput = {:?}\n{}{}{}",
            s.output.display().to_string(),
            s.emu.account(
                "work",
                Service::Graph,
                &s.inst.dir.join("work.json").display().to_string(),
                "[\"all\"]"
            ),
            s.emu.account(
                "home",
                Service::Google,
                &s.inst.dir.join("home.json").display().to_string(),
                "[\"all\"]"
            ),
            "[[calendar.accounts]]\nname = \"third\"\nkind = \"graph\"\n",
        ),
    );
    let out = s.inst.run("clawdbot", &["--json", "doctor"]);
    assert_eq!(out.status.code(), Some(78));
    let checks: Value = serde_json::from_slice(&out.stdout).unwrap();
    let named = |name: &str| {
        checks
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no check {name}: {checks}"))
    };
    let third = named("calendar account third");
    assert_eq!(third["ok"], false);
    assert!(third["fix"].as_str().unwrap().contains("clawdbot-calendar authorize third --client-id ID --output /etc/credstore/clawdbot.calendar/third.json"), "{third}");
    assert_eq!(named("calendar account work")["ok"], true);
    assert_eq!(
        named(&format!(
            "calendar output {}",
            s.output.parent().unwrap().display()
        ))["ok"],
        true
    );

    // A calendar named twice is a configuration error, not a database one at run time.
    s.inst.drop_in(
        "80-twice.toml",
        "[[calendar.accounts]]\nname = \"twice\"\nkind = \"google\"\ncalendars = [\"a@x\", \"a@x\"]\n",
    );
    let out = calendar(&s, &["--dry-run"], "UTC");
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("named twice"), "{err}");
}

#[test]
fn a_5xx_from_one_calendar_leaves_the_accounts_others_fresh_and_skips_are_named() {
    let s = setup("cal-one-5xx");
    s.emu
        .add_calendar(Service::Graph, "AAMkTeamCal0=", "Team", "");
    let (a, b) = (later(30).0, later(31).0);
    s.emu.add_event(
        "AAMkAGI2TG93AAA=",
        graph_event("w", "Work thing", &a, &b, "UTC"),
    );
    s.emu.add_event(
        "AAMkTeamCal0=",
        graph_event("t", "Team thing", &a, &b, "UTC"),
    );
    // Graph ids of one folder share a long prefix: only the whole id, or the subject, names
    // an event.
    let prefix = "AAMkAGI2TG93AAAuAAAAAAAiQ8W967B7TKBjgx9rVEURAQAiIsqMbYjsT5e-T7KzowPTAAAYNKAAA";
    let broken = format!("{prefix}Dentist0001");
    let mut dentist = graph_event(&broken, "Dentist", &a, &b, "UTC");
    dentist["start"] = json!({"dateTime": "soon"});
    s.emu.add_event("AAMkTeamCal0=", dentist);
    assert!(calendar(&s, &[], "UTC").status.success());

    s.emu.fail("AAMkAGI2TG93AAA", 503, None, 100);
    s.emu.clear_log();
    let out = calendar(&s, &[], "UTC");
    assert_eq!(out.status.code(), Some(75));
    let log = s.emu.requests();
    assert!(
        log.iter().any(|r| r.contains("AAMkTeamCal0")),
        "the other calendar is still asked: {log:#?}"
    );
    let doc = written(&s);
    assert!(event(&doc, "Work thing")["stale"].is_object());
    assert!(event(&doc, "Team thing").get("stale").is_none(), "{doc:#}");
    let team = doc["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["calendar"] == "Team")
        .unwrap_or_else(|| panic!("{doc:#}"))
        .clone();
    assert_eq!(team["ok"], true, "{team}");
    let skipped = team["skipped"].to_string();
    assert!(
        skipped.contains("Dentist") && skipped.contains(&broken),
        "{skipped}"
    );
    // Not throttled: the next run asks the account again.
    s.emu.clear_log();
    calendar(&s, &[], "UTC");
    assert!(s.emu.requests().iter().any(|r| r.contains("/graph/")));
}
