//! `clawdbot-calendar` against the Graph and Google Calendar emulators: 14 calendars in 3
//! accounts (6 and 4 on Microsoft Graph, 4 on Google), 500 events each in the 14-day window,
//! one in ten of them also on another calendar. Wall time and peak memory of a run (median
//! and worst of 5, after one that fetches the tokens), the output's size; and the same with
//! answers of 50 events per page (Graph's and Google's paging followed). Each run goes through
//! bench/peakrss.c, so that its peak memory is its own and not this process's (which holds
//! the emulator). Needs the release binaries and gcc:
//! `cargo build --release && cargo bench --bench calendar`.

#[path = "../tests/emulator/calendar.rs"]
mod calendar;
mod support;

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use calendar::{Calendars, Service};
use serde_json::json;
use support::release;

const EVENTS: i64 = 500;

fn die(why: &str) -> ! {
    eprintln!("{why}");
    std::process::exit(70)
}

/// Run a release binary under `launcher` (bench/peakrss.c); its wall time (ms), CPU time
/// (ms), peak resident memory (KiB) and exit status.
// wait4 reaps the child: it is how its rusage (with the reaped command's CPU) is had.
#[allow(clippy::zombie_processes)]
fn measure(launcher: &Path, program: &str, args: &[&str]) -> (f64, f64, f64, i32) {
    let start = Instant::now();
    let mut child = Command::new(launcher)
        .arg(release(program))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| die(&format!("{}: {e}", launcher.display())));
    let mut said = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut said);
    }
    let mut status = 0;
    // SAFETY: plain syscall on our own child; rusage is written by the kernel.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = i32::try_from(child.id()).unwrap_or_else(|_| die("pid"));
    unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed().as_secs_f64() * 1000.0;
    let code = std::process::ExitStatus::from_raw(status)
        .code()
        .unwrap_or(-1);
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1000.0 + t.tv_usec as f64 / 1000.0;
    (
        wall,
        ms(usage.ru_utime) + ms(usage.ru_stime),
        support::peak_kib(&said),
        code,
    )
}

fn credential(dir: &Path, name: &str, service: Service) -> String {
    let path = dir.join(name);
    let _ = std::fs::write(&path, Calendars::credential(service));
    let _ = Command::new("chmod").arg("600").arg(&path).status();
    path.display().to_string()
}

/// 14 calendars of `EVENTS` events each; every tenth event is also on the next calendar.
fn fill(emu: &Calendars) -> Vec<String> {
    let now = jiff::Timestamp::now().as_second() / 3600 * 3600;
    let mut ids = Vec::new();
    for c in 0..14 {
        let (service, id) = if c < 10 {
            (Service::Graph, format!("AAMkAD{c:02}="))
        } else {
            (Service::Google, format!("cal{c}@group.calendar.google.com"))
        };
        emu.add_calendar(service, &id, &format!("Calendar {c}"), "Europe/Amsterdam");
        for e in 0..EVENTS {
            // Spread over 13 days, 30 or 60 minutes each.
            let shared = e % 10 == 0 && c > 0;
            let (n, cal) = if shared { (e, c - 1) } else { (e, c) };
            let start = now + 3600 + (n * 2237 + cal * 977) % (13 * 86_400) / 900 * 900;
            let end = start + if n % 2 == 0 { 1800 } else { 3600 };
            let uid = format!("uid-{cal}-{n}");
            let subject = format!("Meeting {cal}-{n}");
            let at = |t: i64| jiff::Timestamp::from_second(t).unwrap_or_default();
            let event = match service {
                Service::Graph => {
                    json!({"id": format!("ev{c}-{e}"), "iCalUId": uid, "subject": subject,
                    "isAllDay": false, "isCancelled": false, "showAs": if n % 7 == 0 { "tentative" } else { "busy" },
                    "sensitivity": "normal", "responseStatus": {"response": "accepted"},
                    "start": {"dateTime": at(start).strftime("%Y-%m-%dT%H:%M:%S.0000000").to_string(), "timeZone": "UTC"},
                    "end": {"dateTime": at(end).strftime("%Y-%m-%dT%H:%M:%S.0000000").to_string(), "timeZone": "UTC"}})
                }
                Service::Google => {
                    json!({"kind": "calendar#event", "id": format!("ev{c}-{e}"), "status": "confirmed",
                    "summary": subject, "iCalUID": uid,
                    "start": {"dateTime": at(start).to_string()}, "end": {"dateTime": at(end).to_string()}})
                }
            };
            emu.add_event(&id, event);
        }
        ids.push(id);
    }
    ids
}

fn series(launcher: &Path, config: &str, output: &Path, label: &str) {
    let args = ["--config", config];
    let (cold, _, _, code) = measure(launcher, "clawdbot-calendar", &args);
    if code != 0 {
        die(&format!("clawdbot-calendar exited {code}"));
    }
    let mut walls = Vec::new();
    let mut cpus = Vec::new();
    let mut peaks = Vec::new();
    for _ in 0..5 {
        let (wall, cpu, peak, code) = measure(launcher, "clawdbot-calendar", &args);
        if code != 0 {
            die(&format!("clawdbot-calendar exited {code}"));
        }
        walls.push(wall);
        cpus.push(cpu);
        peaks.push(peak);
    }
    walls.sort_by(f64::total_cmp);
    cpus.sort_by(f64::total_cmp);
    let bytes = std::fs::metadata(output).map_or(0, |m| m.len());
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(output).unwrap_or_default())
        .unwrap_or_else(|_| die("the output is not JSON"));
    let events = doc["busy"].as_array().map_or(0, |b| {
        b.iter()
            .map(|b| b["events"].as_array().map_or(0, Vec::len))
            .sum::<usize>()
    });
    println!(
        "| {label} | {:.0} ms; {:.0} ms | {:.0} ms | {cold:.0} ms | {:.1} MiB | {:.0} KiB ({events} events in {} busy blocks) |",
        walls[2],
        walls[4],
        cpus[2],
        peaks.iter().copied().fold(0.0, f64::max) / 1024.0,
        bytes as f64 / 1024.0,
        doc["busy"].as_array().map_or(0, Vec::len),
    );
}

fn main() {
    let dir = std::env::temp_dir().join(format!("clawdbot-bench-calendar-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let init = Command::new(release("clawdbot"))
        .args(["init", dir.to_str().unwrap_or_default()])
        .output();
    if !init.is_ok_and(|o| o.status.success()) {
        die("clawdbot init failed (build the release binaries first)");
    }
    let launcher =
        support::launcher(&dir).unwrap_or_else(|| die("gcc is needed to build bench/peakrss.c"));
    let emu = Calendars::start();
    let ids = fill(&emu);
    let graph = credential(&dir, "graph.json", Service::Graph);
    let google = credential(&dir, "google.json", Service::Google);
    let output = dir.join("availability.json");
    let list = |ids: &[String]| {
        format!(
            "[{}]",
            ids.iter()
                .map(|i| format!("{i:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let base = std::fs::read_to_string(dir.join("clawdbot.toml")).unwrap_or_default();
    let text = format!(
        "{base}\n[calendar]\noutput = {:?}\n{}{}{}",
        output.display().to_string(),
        emu.account("work", Service::Graph, &graph, &list(&ids[..6])),
        emu.account("outlook", Service::Graph, &graph, &list(&ids[6..10])),
        emu.account("google", Service::Google, &google, &list(&ids[10..])),
    );
    let config = dir.join("bench.toml");
    let _ = std::fs::write(&config, text);
    let config = config.display().to_string();
    println!(
        "| 14 calendars × {EVENTS} events | wall, median; worst of 5 | its CPU, median | first run (tokens) | peak RSS | output |"
    );
    println!("|---|---|---|---|---|---|");
    series(&launcher, &config, &output, "one page per calendar");
    emu.limit_pages(50);
    series(
        &launcher,
        &config,
        &output,
        "50 events per page (10 pages per calendar)",
    );
    let _ = std::fs::remove_dir_all(&dir);
}
