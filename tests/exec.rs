//! `clawdbot-exec` as the privileged side: it trusts neither the trigger files nor the rows the
//! unprivileged broker can write, nor links planted in the state directory.

mod common;

use std::path::Path;

use common::{Instance, approve_mail, counting, deliver, filed, runs};

/// An approved request left for `clawdbot-exec` (not run inline).
fn approved(name: &str) -> (Instance, std::path::PathBuf, String) {
    let (inst, log) = counting(name);
    inst.drop_in("70-exec.toml", "[exec]\ninline = false\n");
    let id = filed(&inst, "one");
    deliver(&inst, "approve", &approve_mail(&id, "e1"));
    inst.broker();
    assert_eq!(inst.json(&["show", &id])["request"]["state"], "Approved");
    assert!(
        inst.dir.join("state/approved").join(&id).exists(),
        "a trigger for clawdbot-exec"
    );
    (inst, log, id)
}

#[test]
fn an_argv_changed_in_the_database_is_not_run() {
    let (inst, log, id) = approved("exec-tampered");
    let witness = inst.dir.join("pwned");
    let db = rusqlite::Connection::open(inst.database()).unwrap();
    let forged = serde_json::json!(["/bin/touch", witness.display().to_string()]).to_string();
    db.execute(
        "UPDATE requests SET argv = ?1 WHERE id = ?2",
        [&forged, &id],
    )
    .unwrap();
    let out = inst.run("clawdbot-exec", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!witness.exists(), "the forged argv ran");
    assert_eq!(runs(&log), 0);
    assert_eq!(inst.json(&["show", &id])["request"]["state"], "Failed");
    assert!(
        !inst.dir.join("state/approved").join(&id).exists(),
        "the trigger is gone"
    );
}

#[test]
fn links_planted_in_the_state_directory_are_not_followed() {
    let (inst, log, id) = approved("exec-links");
    let victim = inst.dir.join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let state = inst.dir.join("state");
    std::os::unix::fs::symlink(&victim, state.join(format!(".exec-{id}.out"))).unwrap();
    let out = inst.run("clawdbot-exec", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "precious",
        "output written through a link"
    );
    assert_eq!(runs(&log), 1);
    inst.broker();
    assert_eq!(inst.json(&["show", &id])["request"]["state"], "Done");

    // A link in place of the lock file makes exec refuse to start, touching nothing.
    std::fs::remove_file(state.join("exec.lock")).unwrap();
    std::os::unix::fs::symlink(&victim, state.join("exec.lock")).unwrap();
    let out = inst.run("clawdbot-exec", &[]);
    assert!(!out.status.success());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(Path::new(&victim).exists());
}

#[test]
fn a_finished_run_leaves_a_mark_the_next_pass_takes() {
    let (inst, log, id) = approved("exec-mark");
    let marks = inst.dir.join("state/executed");
    let out = inst.run("clawdbot-exec", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(runs(&log), 1);
    assert!(
        marks.join(&id).is_file(),
        "the mark that starts the broker's pass"
    );
    inst.broker();
    assert_eq!(inst.json(&["show", &id])["request"]["state"], "Done");
    let left: Vec<_> = std::fs::read_dir(&marks).unwrap().collect();
    assert!(left.is_empty(), "every mark is taken: {left:?}");
}

#[test]
fn a_link_planted_where_the_mark_goes_is_not_followed() {
    let (inst, log, id) = approved("exec-mark-link");
    let marks = inst.dir.join("state/executed");
    let victim = inst.dir.join("victim");
    std::fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, marks.join(&id)).unwrap();
    let out = inst.run("clawdbot-exec", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(runs(&log), 1);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(marks.join(&id).is_symlink(), "left as it was");
    inst.broker();
    assert_eq!(inst.json(&["show", &id])["request"]["state"], "Done");
    assert!(!marks.join(&id).exists() && !marks.join(&id).is_symlink());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
}
