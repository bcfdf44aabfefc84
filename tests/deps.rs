//! The dependency step of the README's test command (`tests/deps.sh`, run by `make test-deps`
//! and `make test-all`) on a machine that lacks tools: `--check` names each missing tool with
//! what provides it, installs nothing, and fails; nothing is a traceback or "not found".

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A PATH of links to the programs the tests' own PATH finds, without `left_out`.
fn path_without(tag: &str, left_out: &[&str]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("clawdbot-deps-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    for source in std::env::split_paths(&path) {
        let Ok(entries) = std::fs::read_dir(&source) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if left_out.iter().any(|l| name == **l) {
                continue;
            }
            // The first directory that has a name wins, as in a PATH lookup.
            let _ = std::os::unix::fs::symlink(entry.path(), dir.join(&name));
        }
    }
    dir
}

fn check(path: &Path) -> (i32, String, String) {
    let out = Command::new("/bin/bash")
        .arg(Path::new(ROOT).join("tests/deps.sh"))
        .arg("--check")
        .env("PATH", path)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn missing_tools_are_named_with_what_provides_them() {
    let path = path_without("missing", &["faketime", "ss", "npm", "cargo-deb"]);
    let (code, out, err) = check(&path);
    assert_eq!(code, 1, "{out}{err}");
    for line in [
        "missing: faketime (apt-get install faketime)",
        "missing: ss (apt-get install iproute2)",
        "missing: npm (apt-get install npm)",
        "missing: cargo-deb (cargo install cargo-deb)",
    ] {
        assert!(out.lines().any(|l| l == line), "no {line:?} in:\n{out}");
    }
    assert_eq!(
        out.lines().count(),
        4,
        "only what was taken away is missing:\n{out}"
    );
    assert!(
        err.contains("4 missing") && err.contains("make test-deps"),
        "{err}"
    );
    for bad in ["Traceback", "not found", "No such file", "unbound variable"] {
        assert!(
            !out.contains(bad) && !err.contains(bad),
            "{bad}: {out}{err}"
        );
    }
}

#[test]
fn a_machine_with_everything_passes_the_check() {
    let (code, out, err) = check(&path_without("complete", &[]));
    assert_eq!(
        code, 0,
        "this machine runs the tests, so it has what they need:\n{out}{err}"
    );
    assert!(out.contains("everything the tests need is here"), "{out}");
}

#[test]
fn installing_needs_root_and_says_so() {
    let script = Path::new(ROOT).join("tests/deps.sh");
    let mut cmd = if unsafe { libc::geteuid() } == 0 {
        // The tests run as root: ask as nobody.
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/bin/bash",
        ]);
        c.arg(&script);
        c
    } else {
        Command::new(&script)
    };
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(77), "{err}");
    assert!(
        err.contains("needs root") && err.contains("--check"),
        "{err}"
    );
}
