//! Which container `{gateway}` in `[watchdog] stop` and `start` stands for. OpenClaw's own
//! `docker-compose.yml` gives the service `openclaw-gateway` no `container_name`, so Compose
//! names its container after the directory it was started from
//! (`<project>-openclaw-gateway-1`); its labels name the service and project instead.

use std::time::Duration;

use crate::platform::command;
use crate::platform::config::Watchdog;

/// The word in a stop or start command replaced by the gateway container's id.
pub const PLACEHOLDER: &str = "{gateway}";

/// The label Compose puts the service name in.
const SERVICE_LABEL: &str = "com.docker.compose.service";
/// The label Compose puts the project name in.
const PROJECT_LABEL: &str = "com.docker.compose.project";
/// A container started with `docker compose run` carries `oneoff=True`: never the gateway.
const SERVICE_CONTAINER: &str = "label=com.docker.compose.oneoff=False";

/// Whether a stop or start command names the container by `{gateway}`.
pub fn uses_placeholder(argv: &[String]) -> bool {
    argv.iter().any(|a| a.contains(PLACEHOLDER))
}

/// `argv` with `{gateway}` replaced by a container id.
pub fn fill(argv: &[String], id: &str) -> Vec<String> {
    argv.iter().map(|a| a.replace(PLACEHOLDER, id)).collect()
}

/// The id of the gateway's one container, asked of `program` (`docker`, or a CLI that speaks
/// its `ps`); `None` if there is none. `running`: only a running container counts (to stop
/// it or run a command in it); otherwise a stopped one does too. `only`: that container, if it
/// is still one of the gateway's. Several are refused rather than guessed between:
/// `gateway_project` picks one.
pub fn find(
    program: &str,
    w: &Watchdog,
    running: bool,
    only: Option<&str>,
    timeout: Duration,
) -> Result<Option<String>, String> {
    let mut query: Vec<String> = [program, "ps", "--quiet", "--no-trunc"]
        .map(String::from)
        .to_vec();
    if !running {
        query.push("--all".into());
    }
    let mut filters = vec![
        format!("label={SERVICE_LABEL}={}", w.gateway_service),
        SERVICE_CONTAINER.to_string(),
    ];
    if !w.gateway_project.is_empty() {
        filters.push(format!("label={PROJECT_LABEL}={}", w.gateway_project));
    }
    if let Some(id) = only {
        if !is_container_id(id) {
            return Ok(None);
        }
        filters.push(format!("id={id}"));
    }
    for filter in filters {
        query.extend(["--filter".to_string(), filter]);
    }
    // Standard output only: a warning on standard error must not pass for an id.
    let output = command::capture(&query, timeout, LIST_MAX).map_err(|why| {
        format!(
            "cannot look for the {}: {why} ({})",
            wanted(w),
            query.join(" ")
        )
    })?;
    let ids: Vec<&str> = output.split_whitespace().collect();
    if let Some(bad) = ids.iter().find(|id| !is_container_id(id)) {
        return Err(format!(
            "{} printed {}, not a container id",
            query.join(" "),
            crate::core::request::excerpt(bad)
        ));
    }
    match ids.as_slice() {
        [] => Ok(None),
        [id] if only.is_some_and(|only| only != *id) => Ok(None),
        [id] => Ok(Some((*id).to_string())),
        many => Err(format!(
            "{} containers of the {}; set [watchdog] gateway_project to the one to use",
            many.len(),
            wanted(w)
        )),
    }
}

/// The container looked for, in words.
pub fn wanted(w: &Watchdog) -> String {
    match w.gateway_project.as_str() {
        "" => format!("compose service {}", w.gateway_service),
        project => format!("compose service {} of project {project}", w.gateway_service),
    }
}

/// Why `gateway-exec` could not run its command.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The container could not be found.
    #[error("{0}")]
    NotFound(String),
    /// No container of the service is running.
    #[error("no container of the {0} is running")]
    NotRunning(String),
    /// The command could not be started.
    #[error("cannot run {program}: {source}")]
    Start {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
}

impl crate::platform::exit::ExitStatus for ExecError {
    fn exit(&self) -> crate::platform::exit::Exit {
        // Each leaves the command not run for want of the container or of docker itself.
        crate::platform::exit::Exit::Unavailable
    }
}

/// Replace this process with `docker exec CONTAINER COMMAND…` in the gateway's running
/// container, so that the command's output and exit status are this process's own.
pub fn exec(w: &Watchdog, command: &[String]) -> Result<std::convert::Infallible, ExecError> {
    use std::os::unix::process::CommandExt;
    const DOCKER: &str = "docker";
    let Some(id) = find(DOCKER, w, true, None, LOOKUP_TIMEOUT).map_err(ExecError::NotFound)? else {
        return Err(ExecError::NotRunning(wanted(w)));
    };
    let mut args = vec!["exec".to_string(), id];
    args.extend(command.iter().cloned());
    let source = command::clean(DOCKER, &args).exec();
    Err(ExecError::Start {
        program: DOCKER.into(),
        source,
    })
}

/// The most of `ps`'s output read: far more than any number of ids worth reading.
const LIST_MAX: u64 = 64 * 1024;

/// How long looking for the container may take in `gateway-exec`.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(30);

/// A full container id: 64 lowercase hexadecimal digits.
pub fn is_container_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::config::valid_compose_name;

    #[test]
    fn only_compose_names_and_full_ids_pass() {
        for good in ["openclaw-gateway", "OpenClaw", "a_b.c", "2"] {
            assert!(valid_compose_name(good), "{good}");
        }
        for bad in ["", "-x", ".x", "a b", "a=b", "a,label=x", "é"] {
            assert!(!valid_compose_name(bad), "{bad}");
        }
        assert!(is_container_id(&"ab12".repeat(16)));
        assert!(!is_container_id(&"AB12".repeat(16)));
        assert!(!is_container_id("ab12"));
    }

    #[test]
    fn the_placeholder_is_filled_wherever_it_stands() {
        let argv = ["docker", "stop", "{gateway}", "--name={gateway}"].map(String::from);
        assert!(uses_placeholder(&argv));
        assert_eq!(fill(&argv, "ab"), ["docker", "stop", "ab", "--name=ab"]);
        assert!(!uses_placeholder(&["systemctl".into(), "stop".into()]));
    }
}
