//! The weekly Docker cleanup: dangling images, unused volumes, build cache and orphaned agent
//! sandbox containers, minus everything on the keep list (labels and name patterns), with the
//! bytes reclaimed. A dry run lists what would go.

use serde_json::Value;

use super::docker::{docker, inspect};
use super::{Ctx, Finding, Level};
use crate::jobs::watchdog::discover::matches;

/// Whether an object with these labels and names is on the keep list.
fn kept(ctx: &Ctx, labels: &Value, names: &[&str]) -> bool {
    let m = &ctx.config.maint;
    m.keep_labels.iter().any(|l| !labels[l].is_null())
        || names.iter().any(|n| {
            let n = n.trim_start_matches('/');
            m.keep_names
                .iter()
                .any(|p| matches(p.as_bytes(), n.as_bytes()))
        })
}

/// A size as the docker CLI prints it (`0B`, `12.5kB`, `1.2GB`; decimal units).
pub fn parse_size(text: &str) -> f64 {
    let text = text.trim();
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let number: f64 = text[..split].trim().parse().unwrap_or(0.0);
    let unit = match text[split..].trim() {
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        _ => 1.0,
    };
    number * unit
}

fn megabytes(bytes: f64) -> String {
    format!("{:.1} MB", bytes / 1e6)
}

/// Everything the cleanup did (or would do), one finding per kind.
pub fn docker_cleanup(ctx: &Ctx, dry_run: bool) -> Vec<Finding> {
    if let Err(why) = docker(ctx, &["version", "--format", "{{.Server.Version}}"]) {
        return if why.starts_with("cannot start") {
            Vec::new()
        } else {
            vec![Finding::new(
                "cleanup",
                "cleanup",
                Level::Warn,
                format!("no cleanup: the Docker engine does not answer: {why}"),
            )]
        };
    }
    vec![
        images(ctx, dry_run),
        volumes(ctx, dry_run),
        build_cache(ctx, dry_run),
        sandboxes(ctx, dry_run),
    ]
}

fn verb(dry_run: bool) -> &'static str {
    if dry_run { "would remove" } else { "removed" }
}

/// Remove (unless `dry_run`) each candidate; the finding says how many, how big, and what
/// failed or was kept.
fn sweep(
    ctx: &Ctx,
    what: &str,
    dry_run: bool,
    candidates: Vec<(String, String, f64)>,
    kept: usize,
    remove: &[&str],
) -> Finding {
    let (mut removed, mut bytes, mut failed) = (Vec::new(), 0.0, Vec::new());
    for (id, label, size) in candidates {
        let result = if dry_run {
            Ok(String::new())
        } else {
            let mut args = remove.to_vec();
            args.push(&id);
            docker(ctx, &args)
        };
        match result {
            Ok(_) => {
                crate::platform::failpoint::hit("maint::after-remove");
                removed.push(label);
                bytes += size;
            }
            Err(why) => failed.push(format!("{label}: {why}")),
        }
    }
    let level = if failed.is_empty() {
        Level::Ok
    } else {
        Level::Warn
    };
    let mut details: Vec<String> = removed
        .iter()
        .map(|r| format!("{} {r}", verb(dry_run)))
        .collect();
    details.extend(failed.iter().map(|f| format!("could not remove {f}")));
    Finding::new(
        "cleanup",
        format!("cleanup:{what}"),
        level,
        format!(
            "{} {} {what} ({}), kept {kept}",
            verb(dry_run),
            removed.len(),
            megabytes(bytes)
        ),
    )
    .details(details)
    .sample(bytes)
}

fn images(ctx: &Ctx, dry_run: bool) -> Finding {
    let ids = docker(
        ctx,
        &[
            "images",
            "--filter",
            "dangling=true",
            "--quiet",
            "--no-trunc",
        ],
    )
    .unwrap_or_default();
    let ids: Vec<&str> = ids.split_whitespace().collect();
    let objects = if ids.is_empty() {
        Vec::new()
    } else {
        inspect(ctx, &["image", "inspect"], &ids)
    };
    let (keep, go): (Vec<&Value>, Vec<&Value>) = objects
        .iter()
        .partition(|o| kept(ctx, &o["Config"]["Labels"], &[]));
    let candidates = go
        .iter()
        .map(|o| {
            let id = o["Id"].as_str().unwrap_or("").to_string();
            let short = id.trim_start_matches("sha256:").chars().take(12).collect();
            (id, short, o["Size"].as_f64().unwrap_or(0.0))
        })
        .collect();
    sweep(
        ctx,
        "dangling images",
        dry_run,
        candidates,
        keep.len(),
        &["rmi"],
    )
}

fn volumes(ctx: &Ctx, dry_run: bool) -> Finding {
    let names = docker(
        ctx,
        &["volume", "ls", "--quiet", "--filter", "dangling=true"],
    )
    .unwrap_or_default();
    let names: Vec<&str> = names.split_whitespace().collect();
    let objects = if names.is_empty() {
        Vec::new()
    } else {
        inspect(ctx, &["volume", "inspect"], &names)
    };
    let sizes = volume_sizes(ctx);
    let (keep, go): (Vec<&Value>, Vec<&Value>) = objects.iter().partition(|o| {
        let name = o["Name"].as_str().unwrap_or("");
        kept(ctx, &o["Labels"], &[name])
    });
    let candidates = go
        .iter()
        .map(|o| {
            let name = o["Name"].as_str().unwrap_or("").to_string();
            let size = sizes.get(&name).copied().unwrap_or(0.0);
            (name.clone(), name, size)
        })
        .collect();
    sweep(
        ctx,
        "unused volumes",
        dry_run,
        candidates,
        keep.len(),
        &["volume", "rm"],
    )
}

/// Volume sizes from `docker system df -v` (the only place the engine reports them).
fn volume_sizes(ctx: &Ctx) -> std::collections::BTreeMap<String, f64> {
    let text = docker(
        ctx,
        &["system", "df", "-v", "--format", "{{json .Volumes}}"],
    )
    .unwrap_or_default();
    serde_json::from_str::<Vec<Value>>(text.trim())
        .unwrap_or_default()
        .iter()
        .filter_map(|v| {
            Some((
                v["Name"].as_str()?.to_string(),
                parse_size(v["Size"].as_str()?),
            ))
        })
        .collect()
}

fn build_cache(ctx: &Ctx, dry_run: bool) -> Finding {
    let key = "cleanup:build cache";
    if dry_run {
        let text = docker(ctx, &["system", "df", "--format", "{{json .}}"]).unwrap_or_default();
        let size = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["Type"] == "Build Cache")
            .map_or(0.0, |v| {
                parse_size(v["Reclaimable"].as_str().unwrap_or("0B"))
            });
        return Finding::new(
            "cleanup",
            key,
            Level::Ok,
            format!("would prune the build cache ({})", megabytes(size)),
        );
    }
    match docker(ctx, &["builder", "prune", "--force"]) {
        Ok(text) => {
            let size = text
                .lines()
                .find_map(|l| l.strip_prefix("Total reclaimed space:"))
                .map_or(0.0, parse_size);
            Finding::new(
                "cleanup",
                key,
                Level::Ok,
                format!("pruned the build cache ({})", megabytes(size)),
            )
            .sample(size)
        }
        Err(why) => Finding::new(
            "cleanup",
            key,
            Level::Ok,
            format!("no build cache to prune ({why})"),
        ),
    }
}

/// Stopped sandbox containers (`[maint] sandbox_prefix`) older than `sandbox_age`.
fn sandboxes(ctx: &Ctx, dry_run: bool) -> Finding {
    let m = &ctx.config.maint;
    let ids = docker(
        ctx,
        &[
            "ps",
            "--all",
            "--quiet",
            "--no-trunc",
            "--filter",
            "status=exited",
            "--filter",
            "status=created",
            "--filter",
            "status=dead",
        ],
    )
    .unwrap_or_default();
    let ids: Vec<&str> = ids.split_whitespace().collect();
    let objects = if ids.is_empty() {
        Vec::new()
    } else {
        inspect(ctx, &["container", "inspect"], &ids)
    };
    let mut keep = 0;
    let mut candidates = Vec::new();
    for o in &objects {
        let name = o["Name"]
            .as_str()
            .unwrap_or("")
            .trim_start_matches('/')
            .to_string();
        if !name.starts_with(&m.sandbox_prefix) {
            continue;
        }
        let finished = o["State"]["FinishedAt"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|t| t.as_second())
            .filter(|t| *t > 0)
            .unwrap_or(0);
        if kept(ctx, &o["Config"]["Labels"], &[&name])
            || ctx.now - finished < m.sandbox_age.as_secs()
        {
            keep += 1;
            continue;
        }
        let id = o["Id"].as_str().unwrap_or("").to_string();
        candidates.push((id, name, 0.0));
    }
    sweep(
        ctx,
        "orphaned sandbox containers",
        dry_run,
        candidates,
        keep,
        &["rm"],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_sizes() {
        assert_eq!(parse_size("0B"), 0.0);
        assert_eq!(parse_size("12.5kB"), 12_500.0);
        assert_eq!(parse_size("1.2GB"), 1.2e9);
        assert_eq!(parse_size(" 3MB "), 3e6);
        assert_eq!(parse_size("garbage"), 0.0);
    }
}
