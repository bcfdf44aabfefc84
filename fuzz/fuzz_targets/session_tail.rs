//! The watchdog's tail scanner and its repair plan, on any bytes and any window.
#![no_main]

use clawdbot::watchdog::tail::{self, Piece, Scan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, bytes)) = data.split_first() else {
        return;
    };
    let header_end = bytes.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
    let _ = tail::check_header(&bytes[..header_end.saturating_sub(1)]);
    let start = (usize::from(split) * bytes.len() / 256).max(header_end.min(bytes.len()));
    let window = &bytes[start..];
    if let Scan::Done(findings) = tail::scan(window, start as u64, header_end as u64) {
        // The plan only ever refers to bytes that were read, in order.
        let mut last = findings.cut.unwrap_or(bytes.len() as u64);
        for piece in &findings.keep {
            if let Piece::Copy(s, e) = *piece {
                assert!(s >= last && s <= e && e <= bytes.len() as u64, "{piece:?}");
                last = e;
            }
        }
    }
});
