//! Named crash points for the crash-recovery tests. Built only with the `failpoints` feature;
//! `CLAWDBOT_FAILPOINT=NAME` then aborts the process at that point, as a kill would.

/// Abort here if the `failpoints` feature is on and `CLAWDBOT_FAILPOINT` names this point.
#[cfg(feature = "failpoints")]
pub fn hit(name: &str) {
    if std::env::var("CLAWDBOT_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("failpoint {name}: aborting");
        std::process::abort();
    }
}

/// Without the `failpoints` feature this does nothing and compiles away.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) {}
