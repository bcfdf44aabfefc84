//! The watchdog's transcript scanner and its repair plan, on any bytes: the plan refers only
//! to bytes of the file, in order, and a repaired file needs no further repair.
#![no_main]

use clawdbot::jobs::watchdog::transcript::{self, Piece};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let findings = transcript::scan(bytes);
    let mut last = findings.cut.unwrap_or(bytes.len() as u64);
    for piece in &findings.keep {
        if let Piece::Copy(s, e) = *piece {
            assert!(s >= last && s <= e && e <= bytes.len() as u64, "{piece:?}");
            last = e;
        }
    }
    if findings.cut.is_some() {
        let once = transcript::repaired(bytes, &findings);
        let again = transcript::scan(&once);
        assert_eq!(again.cut, None, "{:?}", again.problems);
    }
});
