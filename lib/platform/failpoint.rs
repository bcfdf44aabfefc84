//! Named crash points for the crash-recovery tests. Built only with the `failpoints` feature;
//! `CLAWDBOT_FAILPOINT=NAME` then aborts the process at that point, as a kill would, and
//! `CLAWDBOT_FAILPOINT=NAME#N` at its Nth hit (to crash after each commit of a pass in turn).

/// Abort here if the `failpoints` feature is on and `CLAWDBOT_FAILPOINT` names this point.
#[cfg(feature = "failpoints")]
pub fn hit(name: &str) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static HITS: AtomicUsize = AtomicUsize::new(0);
    let Ok(wanted) = std::env::var("CLAWDBOT_FAILPOINT") else {
        return;
    };
    let (point, nth) = match wanted.split_once('#') {
        Some((point, n)) => (point, n.parse().unwrap_or(1)),
        None => (wanted.as_str(), 1),
    };
    if point == name && HITS.fetch_add(1, Ordering::SeqCst) + 1 == nth {
        eprintln!("failpoint {name} (hit {nth}): aborting");
        std::process::abort();
    }
}

/// Without the `failpoints` feature this does nothing and compiles away.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) {}
