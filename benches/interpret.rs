//! Reading replies: parse, trim and interpret 1,000 mails (the fixtures, repeated), time per
//! mail. Run with `cargo bench --bench interpret`.

use std::hint::black_box;
use std::time::Instant;

use clawdbot::reply::{self, intent, trim};

const MAILS: usize = 1000;

fn main() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/replies");
    let mut fixtures: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .filter_map(|p| std::fs::read(p).ok())
        .collect();
    fixtures.sort();
    if fixtures.is_empty() {
        eprintln!("no fixtures in {dir}");
        std::process::exit(66);
    }
    let start = Instant::now();
    for raw in fixtures.iter().cycle().take(MAILS) {
        let Some(mail) = reply::parse(black_box(raw)) else {
            continue;
        };
        black_box(trim::trim_reply(&mail.text));
        let context = intent::Context {
            names: mail.from_name.iter().cloned().collect(),
            ..intent::Context::default()
        };
        black_box(intent::read(&mail.bodies, &context));
    }
    let per_mail = start.elapsed().as_nanos() / MAILS as u128;
    println!(
        "parse + trim + read: {per_mail} ns per mail ({MAILS} mails from {} fixtures)",
        fixtures.len()
    );
}
