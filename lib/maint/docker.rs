//! The Docker engine and its containers, through the `docker` CLI's JSON output.

use serde_json::Value;

use super::{Ctx, Finding, Level};
use crate::command;

/// The most output read from one docker command.
const OUTPUT_MAX: u64 = 16 << 20;

fn docker(ctx: &Ctx, args: &[&str]) -> Result<String, String> {
    let mut argv = vec![ctx.config.maint.docker.clone()];
    argv.extend(args.iter().map(|a| a.to_string()));
    command::capture(&argv, ctx.config.maint.check_timeout.get(), OUTPUT_MAX)
}

/// Whether the engine answers, and the warnings of `docker info`.
pub fn daemon(ctx: &Ctx) -> Vec<Finding> {
    let info = match docker(ctx, &["info", "--format", "{{json .}}"]) {
        Ok(text) => text,
        Err(why) if why.starts_with("cannot start") => {
            return vec![Finding::new(
                "docker",
                "docker",
                Level::Ok,
                "Docker is not installed",
            )];
        }
        Err(why) => {
            return vec![Finding::new(
                "docker",
                "docker",
                Level::Crit,
                format!("the Docker engine does not answer: {why}"),
            )];
        }
    };
    let info: Value = serde_json::from_str(info.trim()).unwrap_or(Value::Null);
    let version = info["ServerVersion"].as_str().unwrap_or("?");
    if info["ServerVersion"].is_null() {
        return vec![Finding::new(
            "docker",
            "docker",
            Level::Crit,
            "the Docker engine does not answer",
        )];
    }
    let mut out = vec![Finding::new(
        "docker",
        "docker",
        Level::Ok,
        format!(
            "Docker {version} answers: {} containers, {} running, {} images",
            info["Containers"], info["ContainersRunning"], info["Images"]
        ),
    )];
    for (i, warning) in info["Warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Some(text) = warning.as_str() {
            out.push(Finding::new(
                "docker",
                format!("docker:warning:{i}"),
                Level::Warn,
                text.to_string(),
            ));
        }
    }
    out
}

/// Container health: unhealthy, restarting, exited non-zero, OOM-killed, restarts rising.
pub fn containers(ctx: &Ctx) -> Vec<Finding> {
    let ids = match docker(ctx, &["ps", "--all", "--quiet", "--no-trunc"]) {
        Ok(text) => text,
        Err(why) if why.starts_with("cannot start") => return Vec::new(),
        Err(why) => {
            return vec![Finding::new(
                "containers",
                "containers",
                Level::Warn,
                format!("cannot list containers: {why}"),
            )];
        }
    };
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if ids.is_empty() {
        return vec![Finding::new(
            "containers",
            "containers",
            Level::Ok,
            "no containers",
        )];
    }
    let mut args = vec!["inspect"];
    args.extend(&ids);
    let inspected = match docker(ctx, &args) {
        Ok(text) => serde_json::from_str::<Vec<Value>>(&text).unwrap_or_default(),
        Err(why) => {
            return vec![Finding::new(
                "containers",
                "containers",
                Level::Warn,
                format!("cannot inspect containers: {why}"),
            )];
        }
    };
    let mut out: Vec<Finding> = inspected.iter().flat_map(|c| judge(ctx, c)).collect();
    let bad = out.iter().filter(|f| f.level > Level::Ok).count();
    out.push(Finding::new(
        "containers",
        "containers",
        Level::Ok,
        format!("{} containers, {bad} finding(s)", inspected.len()),
    ));
    out
}

/// The findings for one container's `docker inspect` object; the restart count is always
/// returned as a sample, so that a rise since the last run can be seen.
pub fn judge(ctx: &Ctx, c: &Value) -> Vec<Finding> {
    let name = c["Name"]
        .as_str()
        .unwrap_or("?")
        .trim_start_matches('/')
        .to_string();
    let state = &c["State"];
    let key = format!("container:{name}");
    let restarts = c["RestartCount"].as_f64().unwrap_or(0.0);
    let sample_key = format!("restarts:{name}");
    let before = ctx
        .samples
        .get(&sample_key)
        .and_then(|s| s.last())
        .map(|(_, v)| *v);
    let mut problems: Vec<(&str, Level, String)> = Vec::new();
    if state["Health"]["Status"].as_str() == Some("unhealthy") {
        let last = state["Health"]["Log"]
            .as_array()
            .and_then(|l| l.last())
            .and_then(|l| l["Output"].as_str())
            .unwrap_or("")
            .trim()
            .chars()
            .take(120)
            .collect::<String>();
        problems.push((
            "unhealthy",
            Level::Crit,
            format!("{name} is unhealthy: {last}"),
        ));
    }
    // Caught between two restarts a looping container looks running: a high restart count
    // with a start in the last minutes gives it away.
    let started = state["StartedAt"]
        .as_str()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map_or(i64::MAX, |t| ctx.now - t.as_second());
    if state["Restarting"].as_bool() == Some(true) || (restarts >= 3.0 && started < 600) {
        problems.push((
            "restarting",
            Level::Crit,
            format!("{name} is in a restart loop ({restarts} restarts)"),
        ));
    }
    if state["OOMKilled"].as_bool() == Some(true) {
        problems.push((
            "oom",
            Level::Crit,
            format!("{name} was killed for lack of memory (OOM)"),
        ));
    }
    let exit = state["ExitCode"].as_i64().unwrap_or(0);
    if state["Status"].as_str() == Some("exited") && exit != 0 {
        problems.push((
            "exited",
            Level::Warn,
            format!("{name} exited with status {exit}"),
        ));
    }
    if let Some(before) = before
        && restarts > before
    {
        problems.push((
            "restarts-rising",
            Level::Warn,
            format!(
                "{name} restarted {} times since the last run",
                restarts - before
            ),
        ));
    }
    let mut out: Vec<Finding> = problems
        .into_iter()
        .map(|(what, level, summary)| {
            Finding::new("containers", format!("{key}:{what}"), level, summary)
        })
        .collect();
    out.push(
        Finding::new(
            "containers",
            sample_key,
            Level::Ok,
            format!(
                "{name}: {} ({restarts} restarts)",
                state["Status"].as_str().unwrap_or("?")
            ),
        )
        .sample(restarts),
    );
    out
}
