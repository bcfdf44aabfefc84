//! The Telegram bot against the Bot API emulator: time from a button press arriving at the
//! emulator to the approved action starting (the bot's long poll answered at once, the
//! decision, the broker pass and the inline run), median of 20; and the cold cost of an idle
//! run (one long poll of 1 s that times out, the second subtracted). Needs the release
//! binaries: `cargo build --release && cargo bench --bench telegram`.

mod support;
#[path = "../tests/emulator/telegram.rs"]
mod telegram;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use support::{release, run};

const OPERATOR: i64 = 111;

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A configuration file for this instance with the bot set up and `poll` as its long poll.
fn config(dir: &Path, bot: &telegram::Telegram, token: &Path, poll: &str) -> String {
    let base = std::fs::read_to_string(dir.join("clawdbot.toml")).unwrap_or_default();
    let path = dir.join(format!("poll-{poll}.toml"));
    let text = format!(
        "{base}\n[telegram]\napi_base = {:?}\ntoken_credential = {:?}\noperators = [{OPERATOR}]\npoll_timeout = \"{poll}\"\n",
        bot.base,
        token.display().to_string()
    );
    let _ = std::fs::write(&path, text);
    path.display().to_string()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let dir = std::env::temp_dir().join(format!("clawdbot-bench-telegram-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    run("clawdbot", &["init", dir.to_str().unwrap_or_default()]);
    let log = dir.join("ran.log");
    let script = dir.join("stamp.sh");
    let _ = std::fs::write(
        &script,
        format!("#!/bin/sh\ndate +%s.%N >> {}\n", log.display()),
    );
    let _ = Command::new("chmod").arg("755").arg(&script).status();
    // The variants below are whole files (their drop-ins would be FILE.d/): the action goes
    // into the base configuration itself.
    let base = dir.join("clawdbot.toml");
    let mut text = std::fs::read_to_string(&base).unwrap_or_default();
    text.push_str(&format!("\n[actions.stamp]\ncommand = [{:?}, \"{{n}}\"]\nrisk = \"low\"\nparams = {{ n = \"^[0-9]{{1,3}}$\" }}\n", script.display().to_string()));
    let _ = std::fs::write(&base, text);
    let bot = telegram::Telegram::start();
    let token = dir.join("telegram-token");
    let _ = std::fs::write(&token, telegram::TOKEN);
    let _ = Command::new("chmod").arg("600").arg(&token).status();
    let quick = config(&dir, &bot, &token, "1s");
    let long = config(&dir, &bot, &token, "25s");

    let rounds = 20;
    let mut latencies = Vec::new();
    for n in 0..rounds {
        let request = format!(
            "{{\"version\":1,\"kind\":\"stamp\",\"summary\":\"Stamp {n}\",\"reason\":\"bench\",\"params\":{{\"n\":\"{n}\"}}}}"
        );
        let _ = std::fs::write(dir.join(format!("requests/{n}.json")), request);
        run("clawdbot-broker", &["--config", &quick, "run"]);
        run("clawdbot-telegram", &["--config", &quick]);
        let Some(data) = bot.sent().iter().rev().find_map(|s| {
            s.markup.as_ref()?["inline_keyboard"][0][0]["callback_data"]
                .as_str()
                .map(str::to_string)
        }) else {
            eprintln!("no alert with a button was sent");
            std::process::exit(70);
        };
        let lines_before = std::fs::read_to_string(&log).map_or(0, |t| t.lines().count());
        let mut waiting = Command::new(release("clawdbot-telegram"))
            .args(["--config", &long])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                eprintln!("clawdbot-telegram: {e}");
                std::process::exit(70)
            });
        // Let it reach its long poll.
        std::thread::sleep(Duration::from_millis(300));
        let pressed = unix_now();
        bot.press(OPERATOR, OPERATOR, &data);
        let _ = waiting.wait();
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let Some(started) = text
            .lines()
            .nth(lines_before)
            .and_then(|l| l.trim().parse::<f64>().ok())
        else {
            eprintln!("the action did not run after the button press");
            std::process::exit(70);
        };
        latencies.push((started - pressed) * 1000.0);
    }

    let mut walls = Vec::new();
    for _ in 0..rounds {
        let start = Instant::now();
        run("clawdbot-telegram", &["--config", &quick]);
        walls.push(start.elapsed().as_secs_f64() * 1000.0 - 1000.0);
    }
    println!(
        "| button press at the emulator → the approved action starts (median of {rounds}; worst) | {:.0} ms; {:.0} ms |",
        median(latencies.clone()),
        latencies.iter().copied().fold(0.0, f64::max)
    );
    println!(
        "| idle run: one long poll of 1 s that times out, the second subtracted (median of {rounds}) | {:.1} ms |",
        median(walls)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
