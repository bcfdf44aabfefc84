//! The mail poller's cost against the Gmail emulator: HTTP calls and Gmail quota units per
//! idle poll, per poll with one reply, and per day at a 10-second interval with five replies,
//! beside a naive poller that lists the inbox and gets every message each time; and the cold
//! wall time and peak memory of an idle poll. Needs the release binaries:
//! `cargo build --release && cargo bench --bench mailpoll`.

#[path = "../tests/emulator/gmail.rs"]
mod gmail;
mod support;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use support::{release, run};

/// Quota units per method, from Google's Gmail API usage limits table.
fn units(call: &str) -> u64 {
    let path = call.split('?').next().unwrap_or(call);
    match () {
        _ if call.starts_with("POST /token") => 0,
        _ if path.ends_with("/history") => 2,
        _ if path.ends_with("/profile") => 1,
        _ if path.ends_with("/messages/send") => 100,
        _ if path.ends_with("/modify") => 5,
        _ if call.starts_with("GET") && path.ends_with("/labels") => 1,
        _ if path.ends_with("/labels") => 5,
        _ if path.contains("/messages") => 5,
        _ => 0,
    }
}

/// Peak RSS of one idle poll, under bench/peakrss.c (a tiny launcher: a child's peak RSS is
/// charged with its parent's at exec, so the launcher must not be this process).
fn peak_rss(dir: &Path, cfg: &str) -> String {
    let Some(launcher) = support::launcher(dir) else {
        return "(no gcc)".into();
    };
    let out = Command::new(&launcher)
        .arg(release("clawdbot-mailpoll"))
        .args(["--config", cfg])
        .output();
    let text = out
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .unwrap_or_default();
    format!("{:.1} MiB", support::peak_kib(&text) / 1024.0)
}

fn main() {
    let dir = std::env::temp_dir().join(format!("clawdbot-bench-mailpoll-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    run("clawdbot", &["init", dir.to_str().unwrap_or_default()]);
    let mail = gmail::Gmail::start();
    let cred = dir.join("gmail-oauth.json");
    let _ = std::fs::write(&cred, mail.credential_json());
    let _ = std::process::Command::new("chmod")
        .arg("600")
        .arg(&cred)
        .status();
    let config = dir.join("clawdbot.toml");
    let mut text = std::fs::read_to_string(&config).unwrap_or_default();
    text.push_str(&format!(
        "\n[gmail]\napi_base = {:?}\ntoken_url = {:?}\ncredential = {:?}\n",
        mail.api_base(),
        mail.token_url(),
        cred.display().to_string()
    ));
    let _ = std::fs::write(&config, text);
    let cfg = config.to_str().unwrap_or_default();
    run("clawdbot-mailpoll", &["--config", cfg]);
    run("clawdbot-mailpoll", &["--config", cfg]);

    mail.clear_calls();
    let rounds: u32 = 20;
    let mut walls = Vec::new();
    for _ in 0..rounds {
        let start = Instant::now();
        run("clawdbot-mailpoll", &["--config", cfg]);
        walls.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    let idle_calls = mail.calls().len() as f64 / f64::from(rounds);
    let idle_units: u64 = mail.calls().iter().map(|c| units(c)).sum::<u64>() / u64::from(rounds);
    walls.sort_by(f64::total_cmp);

    let reply = "Authentication-Results: mx.google.com; dmarc=pass header.from=example.org\r\nFrom: ops@example.org\r\n\
                 To: clawdbot@example.org\r\nSubject: Re: [clawdbot R-20261126-7Q2M] Approve?\r\nMessage-ID: <b@example.org>\r\n\
                 In-Reply-To: <R-20261126-7Q2M.1@example.org>\r\n\r\nYes\r\n";
    mail.add(reply.as_bytes(), &["INBOX"]);
    mail.clear_calls();
    run("clawdbot-mailpoll", &["--config", cfg]);
    let reply_calls = mail.calls().len();
    let reply_units: u64 = mail.calls().iter().map(|c| units(c)).sum();

    // A naive poller: list the inbox (one page of 50) and get each message, every time.
    let inbox = 50u64;
    let naive_units = 5 + inbox * 5;
    let polls_per_day = 8640u64;
    let day = (polls_per_day - 5) * idle_units + 5 * reply_units;
    println!("| idle poll | {idle_calls:.1} HTTP call(s), {idle_units} quota units |");
    println!(
        "| poll with one reply | {reply_calls} HTTP calls, {reply_units} quota units (the first reply also looks up and creates the label) |"
    );
    println!("| a day at 10 s with 5 replies | {day} quota units |");
    println!(
        "| naive poller (list + get each of {inbox} inbox messages) | {} HTTP calls, {naive_units} quota units per poll; {} a day |",
        inbox + 1,
        naive_units * polls_per_day
    );
    println!(
        "| cold idle poll against the emulator (median of {rounds}) | {:.1} ms, peak RSS {} |",
        walls[walls.len() / 2],
        peak_rss(&dir, cfg)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
