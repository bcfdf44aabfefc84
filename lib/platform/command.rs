//! Running a configured command: no shell, a clean environment, a time limit, and the start of
//! its output kept for the log.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The most output kept.
const OUTPUT_MAX: u64 = 4096;

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// It exited with this status.
    Exited(i32),
    /// It was killed by a signal.
    Signalled,
    /// It ran past the limit and was killed.
    TimedOut,
    /// It could not be started; why.
    NotStarted(String),
}

/// What a command did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// How it ended.
    pub ended: Ended,
    /// The start of its standard output and error, merged.
    pub output: String,
}

impl Outcome {
    /// Whether it exited with status 0.
    pub fn success(&self) -> bool {
        self.ended == Ended::Exited(0)
    }

    /// A short description for the log and reports.
    pub fn describe(&self) -> String {
        let how = match &self.ended {
            Ended::Exited(code) => format!("exit status {code}"),
            Ended::Signalled => "killed by a signal".into(),
            Ended::TimedOut => "no exit within the time limit; killed".into(),
            Ended::NotStarted(why) => format!("could not start: {why}"),
        };
        let output = self.output.trim();
        if output.is_empty() {
            how
        } else {
            format!(
                "{how}: {}",
                output.lines().take(3).collect::<Vec<_>>().join(" / ")
            )
        }
    }
}

/// A command with a clean environment (a fixed PATH, C.UTF-8), run in `/` with stdin closed:
/// nothing of the caller's environment leaks into what root runs.
pub fn clean(program: &str, args: &[String]) -> Command {
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("LANG", "C.UTF-8")
        .current_dir("/")
        .stdin(Stdio::null());
    command
}

/// Run `argv` with at most `timeout`.
pub fn run(argv: &[String], timeout: Duration) -> Outcome {
    let Some((program, args)) = argv.split_first() else {
        return Outcome {
            ended: Ended::NotStarted("an empty command".into()),
            output: String::new(),
        };
    };
    let (reader, writer) = match std::io::pipe() {
        Ok(pair) => pair,
        Err(e) => return not_started(e),
    };
    let spawned = writer
        .try_clone()
        .and_then(|err| clean(program, args).stdout(writer).stderr(err).spawn());
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => return not_started(e),
    };
    // Read from a thread: a command that fills the pipe must not stall the time limit.
    let collector = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let mut limited = reader.take(OUTPUT_MAX);
        let _ = limited.read_to_end(&mut bytes);
        // Drain the rest so the command never blocks on a full pipe.
        let _ = std::io::copy(&mut limited.into_inner(), &mut std::io::sink());
        String::from_utf8_lossy(&bytes).into_owned()
    });
    let started = Instant::now();
    let ended = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.code().map_or(Ended::Signalled, Ended::Exited),
            Ok(None) if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break Ended::TimedOut;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => break Ended::NotStarted(e.to_string()),
        }
    };
    // A killed command's children may hold the pipe open: do not wait for them.
    let output = if ended == Ended::TimedOut {
        String::new()
    } else {
        collector.join().unwrap_or_default()
    };
    Outcome { ended, output }
}

/// Run `argv` and return its standard output (at most `max` bytes), or why it failed (its
/// exit status and the start of its standard error). For commands whose output is parsed.
pub fn capture(argv: &[String], timeout: Duration, max: u64) -> Result<String, String> {
    capture_as(argv, timeout, max, None, &[0])
}

/// [`capture`], run as another user (uid, gid, no supplementary group) when `user` says so,
/// taking the output of every exit status in `answers` as an answer.
pub fn capture_as(
    argv: &[String],
    timeout: Duration,
    max: u64,
    user: Option<(u32, u32)>,
    answers: &[i32],
) -> Result<String, String> {
    use std::os::unix::process::CommandExt;
    let Some((program, args)) = argv.split_first() else {
        return Err("an empty command".into());
    };
    let mut command = clean(program, args);
    if let Some((uid, gid)) = user {
        // Run from root, std also drops every supplementary group.
        command.uid(uid).gid(gid);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    // Each pipe is read by a thread that hands its bytes over a channel, so that a pipe held
    // open by someone else (a child's child, or another process of the same user) cannot hold
    // this past the time limit: what has not arrived by then is not waited for.
    let reader = |pipe: Option<Box<dyn Read + Send>>, cap: u64| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(pipe) = pipe {
                let mut limited = pipe.take(cap);
                let _ = limited.read_to_end(&mut bytes);
                let _ = tx.send(String::from_utf8_lossy(&bytes).into_owned());
                let _ = std::io::copy(&mut limited.into_inner(), &mut std::io::sink());
            } else {
                let _ = tx.send(String::new());
            }
        });
        rx
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        max,
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        OUTPUT_MAX,
    );
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{program}: no answer within {} s",
                    timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("{program}: {e}")),
        }
    };
    let left =
        |started: Instant| timeout.saturating_sub(started.elapsed()) + Duration::from_millis(100);
    let Ok(stdout) = out.recv_timeout(left(started)) else {
        return Err(format!(
            "{program}: its output did not end within {} s (held open by another process?)",
            timeout.as_secs()
        ));
    };
    let stderr = err.recv_timeout(left(started)).unwrap_or_default();
    if status.code().is_some_and(|c| answers.contains(&c)) {
        Ok(stdout)
    } else {
        let first = stderr.lines().next().unwrap_or("").trim().to_string();
        Err(format!("{program} exited with {status}: {first}"))
    }
}

fn not_started(e: std::io::Error) -> Outcome {
    Outcome {
        ended: Ended::NotStarted(e.to_string()),
        output: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn an_output_held_open_by_another_process_is_not_waited_for() {
        // The shell answers and exits; a process it left behind keeps the pipe open.
        let started = Instant::now();
        let answer = capture(
            &argv(&["sh", "-c", "echo partial; sleep 5 & exit 0"]),
            Duration::from_secs(1),
            1024,
        );
        assert!(started.elapsed() < Duration::from_secs(3), "waited");
        assert!(answer.unwrap_err().contains("did not end"));
    }

    #[test]
    fn exit_status_and_output() {
        let ok = run(
            &argv(&["sh", "-c", "echo hello; echo oops >&2"]),
            Duration::from_secs(5),
        );
        assert!(ok.success());
        assert!(ok.output.contains("hello") && ok.output.contains("oops"));
        let failed = run(&argv(&["sh", "-c", "exit 3"]), Duration::from_secs(5));
        assert_eq!(failed.ended, Ended::Exited(3));
        let missing = run(&argv(&["/nonexistent/program"]), Duration::from_secs(5));
        assert!(matches!(missing.ended, Ended::NotStarted(_)));
    }

    #[test]
    fn time_limit() {
        let slow = run(&argv(&["sleep", "5"]), Duration::from_millis(200));
        assert_eq!(slow.ended, Ended::TimedOut);
    }
}
