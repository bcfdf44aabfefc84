//! What the benchmarks share: the release binaries, and bench/peakrss.c, the tiny launcher a
//! peak-memory figure must be taken under (the kernel charges a child's peak RSS with its
//! parent's at exec, and a bench process holds an emulator).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A release program of this package; a name the `clawdbot` executable serves gets its link,
/// as `make release` and the package make it.
pub fn release(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release");
    let path = dir.join(name);
    if !path.exists() && name.starts_with("clawdbot-") {
        let _ = std::os::unix::fs::symlink("clawdbot", &path);
    }
    path
}

/// Run a release binary, exiting 70 if it fails.
pub fn run(program: &str, args: &[&str]) {
    let status = Command::new(release(program))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !status.is_ok_and(|s| s.success()) {
        eprintln!("{program} {args:?} failed (build the release binaries first)");
        std::process::exit(70);
    }
}

/// Build bench/peakrss.c into `dir`; `None` without gcc.
pub fn launcher(dir: &Path) -> Option<PathBuf> {
    let launcher = dir.join("peakrss");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/peakrss.c");
    let built = Command::new("gcc")
        .args(["-O2", "-static", "-o"])
        .arg(&launcher)
        .arg(source)
        .status();
    built.is_ok_and(|s| s.success()).then_some(launcher)
}

/// The peak RSS (KiB) peakrss printed last on `stderr`.
pub fn peak_kib(stderr: &str) -> f64 {
    stderr
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse().ok())
        .unwrap_or(0.0)
}
