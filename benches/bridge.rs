//! Sign and verify of a 1 KiB body, time per operation. Run with `cargo bench --bench bridge`.

use std::hint::black_box;
use std::time::Instant;

use clawdbot::channels::bridge::signature::{self, Key, Received};

const ROUNDS: u32 = 200_000;

fn main() {
    let key = match signature::keygen().map(|s| Key::parse("bench", &s)) {
        Ok(Ok(key)) => key,
        _ => {
            eprintln!("cannot make a key");
            std::process::exit(70);
        }
    };
    let keys = [key];
    let body = vec![b'x'; 1024];
    let (id, ts) = ("msg_bench", 1_800_000_000);

    let start = Instant::now();
    for _ in 0..ROUNDS {
        black_box(signature::sign(black_box(&keys), id, ts, black_box(&body)));
    }
    let sign_ns = start.elapsed().as_nanos() / u128::from(ROUNDS);

    let sig = signature::sign(&keys, id, ts, &body);
    let ts_text = ts.to_string();
    let headers = Received {
        id: Some(id),
        timestamp: Some(&ts_text),
        signature: Some(&sig),
    };
    let start = Instant::now();
    for _ in 0..ROUNDS {
        let ok = signature::verify(black_box(&keys), &headers, black_box(&body), ts).is_ok();
        black_box(ok);
    }
    let verify_ns = start.elapsed().as_nanos() / u128::from(ROUNDS);
    println!("sign 1 KiB: {sign_ns} ns/op; verify 1 KiB: {verify_ns} ns/op ({ROUNDS} rounds each)");
}
