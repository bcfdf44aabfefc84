//! The Docker engine and its containers, through the `docker` CLI's JSON output.

use serde_json::Value;

use super::{Ctx, Finding, Level};
use crate::platform::command;

/// The most output read from one docker command.
const OUTPUT_MAX: u64 = 16 << 20;

/// Run the docker CLI; its standard output, or why it failed.
pub fn docker(ctx: &Ctx, args: &[&str]) -> Result<String, String> {
    let mut argv = vec![ctx.config.maint.docker.clone()];
    argv.extend(args.iter().map(|a| a.to_string()));
    command::capture(&argv, ctx.config.maint.check_timeout.get(), OUTPUT_MAX)
}

/// `docker … inspect IDS` as JSON objects (none when it fails).
pub fn inspect(ctx: &Ctx, command: &[&str], ids: &[&str]) -> Vec<Value> {
    let mut args = command.to_vec();
    args.extend(ids);
    docker(ctx, &args)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// Every container's `docker inspect` object; `None` when Docker is absent or silent.
fn all_containers(ctx: &Ctx) -> Option<Vec<Value>> {
    let ids = docker(ctx, &["ps", "--all", "--quiet", "--no-trunc"]).ok()?;
    let ids: Vec<&str> = ids.split_whitespace().collect();
    Some(if ids.is_empty() {
        Vec::new()
    } else {
        inspect(ctx, &["container", "inspect"], &ids)
    })
}

fn name_of(c: &Value) -> String {
    c["Name"]
        .as_str()
        .unwrap_or("?")
        .trim_start_matches('/')
        .to_string()
}

/// Containers whose log driver keeps everything (json-file or local without max-size).
pub fn container_logs(ctx: &Ctx) -> Vec<Finding> {
    let Some(all) = all_containers(ctx) else {
        return Vec::new();
    };
    let unbounded: Vec<String> = all
        .iter()
        .filter(|c| {
            let log = &c["HostConfig"]["LogConfig"];
            let driver = log["Type"].as_str().unwrap_or("");
            matches!(driver, "json-file" | "local" | "") && log["Config"]["max-size"].is_null()
        })
        .map(name_of)
        .collect();
    if unbounded.is_empty() {
        return vec![Finding::new(
            "logs",
            "logs:containers",
            Level::Ok,
            "every container's log has a size limit",
        )];
    }
    vec![
        Finding::new(
            "logs",
            "logs:containers",
            Level::Warn,
            format!(
                "{} container(s) log without a size limit (set log-opts max-size)",
                unbounded.len()
            ),
        )
        .details(unbounded),
    ]
}

/// Images older than `[maint] image_max_age`.
pub fn image_age(ctx: &Ctx) -> Vec<Finding> {
    let Ok(text) = docker(ctx, &["images", "--format", "{{json .}}"]) else {
        return Vec::new();
    };
    let limit = ctx.config.maint.image_max_age.as_secs();
    let old: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|i| {
            let created = i["CreatedAt"].as_str()?;
            // "2026-01-02 10:00:00 +0000 UTC": the zone name after the offset is redundant.
            let stamp = created.rsplit_once(' ').map_or(created, |(t, _)| t);
            let at = jiff::Timestamp::strptime("%Y-%m-%d %H:%M:%S %z", stamp).ok()?;
            let days = (ctx.now - at.as_second()) / 86_400;
            let name = format!("{}:{}", i["Repository"].as_str()?, i["Tag"].as_str()?);
            (ctx.now - at.as_second() > limit).then(|| format!("{name} ({days} days)"))
        })
        .collect();
    let level = if old.is_empty() {
        Level::Ok
    } else {
        Level::Warn
    };
    vec![
        Finding::new(
            "images",
            "images:age",
            level,
            format!("{} image(s) older than {} days", old.len(), limit / 86_400),
        )
        .details(old),
    ]
}

/// Containers without a memory limit, and those near theirs.
pub fn container_resources(ctx: &Ctx) -> Vec<Finding> {
    let Some(all) = all_containers(ctx) else {
        return Vec::new();
    };
    let unlimited: Vec<String> = all
        .iter()
        .filter(|c| c["HostConfig"]["Memory"].as_i64().unwrap_or(0) == 0)
        .map(name_of)
        .collect();
    let mut out = vec![
        Finding::new(
            "resources",
            "resources:unlimited",
            if unlimited.is_empty() {
                Level::Ok
            } else {
                Level::Warn
            },
            format!(
                "{} of {} container(s) have no memory limit",
                unlimited.len(),
                all.len()
            ),
        )
        .details(unlimited),
    ];
    let stats =
        docker(ctx, &["stats", "--no-stream", "--format", "{{json .}}"]).unwrap_or_default();
    for s in stats
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
    {
        let percent: f64 = s["MemPerc"]
            .as_str()
            .unwrap_or("0")
            .trim_end_matches('%')
            .parse()
            .unwrap_or(0.0);
        let name = s["Name"].as_str().unwrap_or("?");
        let limited = all
            .iter()
            .any(|c| name_of(c) == name && c["HostConfig"]["Memory"].as_i64().unwrap_or(0) > 0);
        if limited && percent >= ctx.config.maint.container_memory_warn {
            out.push(Finding::new(
                "resources",
                format!("resources:{name}"),
                Level::Warn,
                format!(
                    "{name} uses {percent:.0}% of its memory limit ({})",
                    s["MemUsage"].as_str().unwrap_or("")
                ),
            ));
        }
    }
    out
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
