//! `clawdbot doctor`: checks the configuration, the directories and their modes, the
//! credentials (as the units that use them would have them) and the mail transport, and says
//! how to fix each problem. It warns about what works but cannot be what a host wants: mail
//! that only goes to files, a sender in a documentation domain, replies that cannot arrive.

mod units;
mod wazuh;

use std::fmt::Write as _;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::Serialize;

use crate::channels::mail::Sender;
use crate::platform::config::{BridgeMode, Config, DEFAULT_PATH, Transport};
use crate::platform::credentials;

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// Whether it passed (a warning passes).
    pub ok: bool,
    /// Whether it passed with a warning: it works, but is likely not what is wanted.
    pub warning: bool,
    /// What was found.
    pub message: String,
    /// How to fix it (empty when it passed).
    pub fix: String,
}

fn pass(name: impl Into<String>, message: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        ok: true,
        warning: false,
        message: message.into(),
        fix: String::new(),
    }
}

fn warn(name: impl Into<String>, message: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        warning: true,
        fix: fix.into(),
        ..pass(name, message)
    }
}

fn fail(name: impl Into<String>, message: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        ok: false,
        fix: fix.into(),
        ..pass(name, message)
    }
}

/// Run every check on a loaded configuration.
pub fn run(config: &Config) -> Vec<Check> {
    let mut checks = vec![config_check(config)];
    for (dir, what) in crate::broker::directories(config) {
        checks.push(directory(&dir, what));
    }
    checks.push(operators(config));
    checks.extend(smtp_credential(config));
    checks.push(transport(config));
    checks.extend(sender(config));
    checks.push(replies(config));
    checks.push(bridge(config));
    checks.extend(bridge_deliveries(config));
    let under_units = runs_under_the_units(config);
    checks.extend(calendars(config, under_units));
    checks.push(reset_action(config));
    checks.extend(admin_agent(config));
    if under_units && crate::core::task::enabled(config) {
        let dirs: Vec<&Path> = units::UNIT_DIRS.iter().map(Path::new).collect();
        checks.push(task_unit(&dirs));
    }
    checks.extend(wazuh::checks(
        config,
        &wazuh::Host {
            ossec: Path::new(wazuh::OSSEC),
            shipped: Path::new(wazuh::SHIPPED),
            wazuh_gid: gid_of("wazuh"),
            broker_uid: ids_of("clawdbot", None, &[]).map(|(uid, _)| uid),
        },
    ));
    if under_units {
        let dirs: Vec<&Path> = units::UNIT_DIRS.iter().map(Path::new).collect();
        checks.extend(unit_credentials(config, &dirs));
    }
    checks
}

/// Whether the packaged units run with this configuration: theirs is the default file.
fn runs_under_the_units(config: &Config) -> bool {
    config
        .sources
        .first()
        .is_none_or(|file| file == Path::new(DEFAULT_PATH))
}

/// Every credential a service needs, checked as its unit gives it: loaded by the unit's
/// `LoadCredential=`, from a file that exists; or, for an absolute path in the configuration,
/// readable by the user the service runs as.
fn unit_credentials(config: &Config, dirs: &[&Path]) -> Vec<Check> {
    let mut needed: Vec<(&str, &str)> = config
        .bridge
        .secrets
        .iter()
        .map(|secret| ("clawdbot-broker.service", secret.as_str()))
        .collect();
    if config.mail.transport == Transport::Smtp && config.mail.smtp.username.is_some() {
        needed.push((
            "clawdbot-broker.service",
            &config.mail.smtp.password_credential,
        ));
    }
    if config.mail.transport == Transport::Gmail {
        needed.push(("clawdbot-broker.service", &config.gmail.credential));
        needed.push(("clawdbot-mailpoll.service", &config.gmail.credential));
    }
    if config.bridge.mode == BridgeMode::Http {
        needed.push(("clawdbot-broker.service", &config.bridge.token_credential));
    }
    if !config.telegram.operators.is_empty() {
        needed.push((
            "clawdbot-telegram.service",
            &config.telegram.token_credential,
        ));
    }
    needed
        .into_iter()
        .filter_map(|(unit, credential)| as_the_unit(dirs, unit, credential))
        .collect()
}

/// Whether `unit`'s service can have `credential`; `None` where the unit is not installed.
fn as_the_unit(dirs: &[&Path], unit: &str, credential: &str) -> Option<Check> {
    let loaded = units::read(dirs, unit)?;
    let name = format!("{unit} credential {credential}");
    let user = loaded.user.clone().unwrap_or_else(|| "root".into());
    if credential.starts_with('/') {
        return Some(readable_by(&name, Path::new(credential), &loaded, unit));
    }
    let edit = format!(
        "systemctl edit {unit}, and add under [Service]: LoadCredential={credential}:/etc/credstore/clawdbot.{credential}"
    );
    Some(match loaded.source(credential) {
        None => fail(
            name,
            format!(
                "{unit} does not load it: its service runs as {user} and reads credentials only from its unit"
            ),
            edit,
        ),
        Some(ref source) if let Some(found) = source.paths.iter().find(|p| p.is_file()) => {
            pass(name, format!("loaded by {unit} from {}", found.display()))
        }
        Some(source) => fail(
            name,
            format!(
                "{unit} loads it from {}, which does not exist{}",
                source.paths[0].display(),
                if source.optional {
                    ""
                } else {
                    ": the unit fails to start"
                }
            ),
            format!(
                "install -m 600 /dev/stdin {} (then type the secret, and Ctrl-D)",
                source.paths[0].display()
            ),
        ),
    })
}

/// A secret file the service opens itself, as `user`: the file must be that user's and
/// readable by it (the service refuses a secret its group can read), and every directory
/// above it searchable by it, through its own or any of its groups (`/etc/credstore` is
/// root's alone).
fn readable_by(name: &str, path: &Path, loaded: &units::Unit, unit: &str) -> Check {
    let user = loaded.user.as_deref().unwrap_or("root");
    let fix = format!(
        "keep it in /etc/credstore and load it with LoadCredential= (systemctl edit {unit}), or give {user} the file and a path it can walk"
    );
    let Some((uid, groups)) = ids_of(user, loaded.group.as_deref(), &loaded.supplementary) else {
        return fail(
            name,
            format!("{unit} runs as {user} (with its groups), one of which does not exist"),
            fix,
        );
    };
    match closed_to(path, uid, &groups) {
        Ok(()) if uid == 0 => pass(name, format!("{unit} runs as root")),
        Ok(()) => pass(name, format!("{user} owns it and can reach it")),
        Err(why) => fail(name, format!("{why}, while {unit} runs as {user}"), fix),
    }
}

/// Why the user `uid`, with `groups`, cannot open `path` as a private file of its own: the
/// file is missing or not its own, or a directory above it is not searchable by it.
fn closed_to(path: &Path, uid: u32, groups: &[u32]) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if uid == 0 {
        return Ok(());
    }
    if meta.uid() != uid || meta.mode() & 0o400 == 0 {
        return Err(format!(
            "owned by uid {} with mode {:04o}, a private file the service's user cannot read",
            meta.uid(),
            meta.mode() & 0o7777
        ));
    }
    let searchable = |m: &std::fs::Metadata| {
        let bit = if m.uid() == uid {
            0o100
        } else if groups.contains(&m.gid()) {
            0o010
        } else {
            0o001
        };
        m.mode() & bit != 0
    };
    match path
        .ancestors()
        .skip(1)
        .find(|dir| !std::fs::metadata(dir).is_ok_and(|m| searchable(&m)))
    {
        Some(dir) => Err(format!("{} is closed to its user", dir.display())),
        None => Ok(()),
    }
}

/// The uid of a user name and every group a service running as it has, as systemd gives
/// them: `Group=` (else the user's own group) first, the groups the group database lists the
/// user in, and `SupplementaryGroups=`.
fn ids_of(user: &str, group: Option<&str>, supplementary: &[String]) -> Option<(u32, Vec<u32>)> {
    let name = std::ffi::CString::new(user).ok()?;
    // SAFETY: getpwnam reads a NUL-terminated name and returns a pointer into static storage
    // (or null), read at once and not kept; doctor is single-threaded.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if entry.is_null() {
        return None;
    }
    // SAFETY: checked for null; pw_uid and pw_gid are plain integer fields.
    let (uid, own) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
    let gid = match group {
        Some(group) => gid_of(group)?,
        None => own,
    };
    let extra = supplementary
        .iter()
        .map(|g| gid_of(g))
        .collect::<Option<Vec<u32>>>()?;
    let mut groups = vec![gid; 64];
    loop {
        let mut count = libc::c_int::try_from(groups.len()).ok()?;
        // SAFETY: `groups` holds `count` writable gids; getgrouplist writes at most that many
        // and sets `count` to how many the user has (more than given when it returns -1).
        let found =
            unsafe { libc::getgrouplist(name.as_ptr(), gid, groups.as_mut_ptr(), &mut count) };
        let count = usize::try_from(count).ok()?;
        if found >= 0 {
            groups.truncate(count);
            groups.extend(extra);
            return Some((uid, groups));
        }
        if count <= groups.len() {
            return None;
        }
        groups.resize(count, gid);
    }
}

/// The gid of a group name (or a number), from the system's group database.
fn gid_of(group: &str) -> Option<u32> {
    if let Ok(gid) = group.parse::<u32>() {
        return Some(gid);
    }
    let name = std::ffi::CString::new(group).ok()?;
    // SAFETY: getgrnam reads a NUL-terminated name and returns a pointer into static storage
    // (or null), read at once and not kept; doctor is single-threaded.
    let entry = unsafe { libc::getgrnam(name.as_ptr()) };
    // SAFETY: checked for null; gr_gid is a plain integer field.
    (!entry.is_null()).then(|| unsafe { (*entry).gr_gid })
}

/// The sender: mail that only goes to files, or comes from a documentation domain, works but
/// reaches nobody.
fn sender(config: &Config) -> Vec<Check> {
    let mut checks = Vec::new();
    if config.mail.transport == Transport::File {
        checks.push(warn(
            "mail delivery",
            format!(
                "transport = \"file\": mail only goes to .eml files in {}; the operator gets nothing",
                config.paths.outbox().display()
            ),
            "set [mail] transport = \"smtp\", \"sendmail\" or \"gmail\" (docs/setup.md, step 2)",
        ));
    }
    let domain = config.mail.from.email.domain().to_ascii_lowercase();
    // The documentation domains (RFC 2606), and names that are no domain at all (localhost).
    let nowhere = ["example.org", "example.com", "example.net"]
        .iter()
        .any(|d| domain == *d || domain.ends_with(&format!(".{d}")))
        || domain.ends_with(".example")
        || !domain.contains('.');
    if nowhere {
        checks.push(warn(
            "mail sender",
            format!(
                "from = {}, not a domain mail can come from: it is refused or lost, and replies to it go nowhere",
                config.mail.from
            ),
            "set [mail] from to an address of a domain you send from",
        ));
    }
    checks
}

/// Whether the operator's replies can arrive by the configured path: a reply counts only with
/// the trusted server's Authentication-Results, and the default trusts Gmail's alone.
fn replies(config: &Config) -> Check {
    let gmail = config.mail.transport == Transport::Gmail
        || credentials::read_configured(&config.gmail.credential).is_ok();
    let trusted = &config.replies.trusted_authserv_id;
    if !config.replies.require_authentication_results {
        return warn(
            "replies",
            "require_authentication_results = false: a reply is believed without its server's word, and command mails (run …) are refused",
            "set [replies] require_authentication_results = true",
        );
    }
    if trusted == "mx.google.com" && !gmail {
        return warn(
            "replies",
            "only replies checked by Gmail (mx.google.com) count, and no Gmail credential is set up: a reply through your own mail server will be refused",
            "clawdbot-mailpoll authorize (docs/setup.md, step 3a), or set [replies] trusted_authserv_id to your server's authserv-id (step 3b)",
        );
    }
    pass(
        "replies",
        format!("counted when {trusted} checked them (dmarc=pass)"),
    )
}

/// The action the watchdog files a session reset under: configured, with parameters it fills.
fn reset_action(config: &Config) -> Check {
    let check = "watchdog reset_action";
    match crate::jobs::watchdog::reset_action(config) {
        Ok(None) => pass(
            check,
            "off: a stuck OpenClaw session is only reported, with the command to run",
        ),
        Ok(Some((name, _))) => pass(
            check,
            format!("{name}: a stuck OpenClaw session is proposed for a reset by mail"),
        ),
        Err(problem) => fail(
            check,
            problem,
            "configure [actions.openclaw_session_reset] as in /usr/share/doc/clawdbot/docs/agent.md, or set [watchdog] reset_action = \"\"",
        ),
    }
}

/// The admin agent's command, when one is configured or a use asks for it: a program that
/// exists and may be run (tasks, freeform requests and answers all start it).
fn admin_agent(config: &Config) -> Option<Check> {
    let agent = &config.agent;
    let name = "agent command";
    let Some(program) = agent.command.first() else {
        return agent
            .uses
            .contains(&crate::platform::config::AgentUse::Task)
            .then(|| {
                warn(
                    name,
                    "[agent] uses has \"task\" but no command: tasks are off",
                    "set [agent] command, e.g. [\"claude\", \"-p\", \"--output-format\", \"json\"]",
                )
            });
    };
    let found = if program.contains('/') {
        Some(std::path::PathBuf::from(program))
    } else {
        std::env::var_os("PATH")
            .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin".into())
            .to_string_lossy()
            .split(':')
            .map(|dir| Path::new(dir).join(program))
            .find(|p| p.is_file())
    };
    let uses: Vec<&str> = agent.uses.iter().map(|u| u.as_str()).collect();
    match found.map(|p| (std::fs::metadata(&p), p)) {
        Some((Ok(meta), path)) if meta.is_file() && meta.mode() & 0o111 != 0 => {
            pass(name, format!("{} for {}", path.display(), uses.join(", ")))
        }
        Some((Ok(meta), path)) => fail(
            name,
            format!(
                "{} (mode {:04o}) cannot be run",
                path.display(),
                meta.mode() & 0o7777
            ),
            format!("chmod +x {}", path.display()),
        ),
        Some((Err(e), path)) => fail(
            name,
            format!("{}: {e}", path.display()),
            "install the admin agent, or fix [agent] command",
        ),
        None => fail(
            name,
            format!("{program} is not on PATH"),
            "install the admin agent, or give [agent] command its absolute path",
        ),
    }
    .into()
}

/// With tasks on, the runner's unit and the path unit that starts it.
fn task_unit(dirs: &[&Path]) -> Check {
    let name = "task unit";
    let missing: Vec<&str> = ["clawdbot-task.service", "clawdbot-task.path"]
        .into_iter()
        .filter(|unit| !dirs.iter().any(|dir| dir.join(unit).is_file()))
        .collect();
    if missing.is_empty() {
        pass(
            name,
            "clawdbot-task.path starts clawdbot-task.service for each queued task",
        )
    } else {
        fail(
            name,
            format!("{} missing: queued tasks never run", missing.join(" and ")),
            "reinstall the clawdbot package",
        )
    }
}

/// Each calendar account's credential, and the directory `availability.json` goes into.
fn calendars(config: &Config, under_units: bool) -> Vec<Check> {
    let accounts = &config.calendar.accounts;
    let mut checks: Vec<Check> = accounts
        .iter()
        .map(|account| calendar_account(account, under_units))
        .collect();
    if let Some(dir) = config.calendar.output.path().parent()
        && !accounts.is_empty()
    {
        checks.push(directory(dir, "calendar output"));
    }
    checks
}

/// One calendar account's credential. Under the units it must be a regular file of the
/// directory the unit loads: systemd loads a directory's regular files only, and skips a link
/// that root, reading it here, would follow.
fn calendar_account(
    account: &crate::platform::config::CalendarAccount,
    under_units: bool,
) -> Check {
    let name = format!("calendar account {}", account.name);
    let credential = account.credential();
    let file = crate::jobs::calendar::authorize::place(&credential);
    // Google's desktop clients have a secret; Microsoft's public clients none.
    let secret = match account.kind {
        crate::platform::config::CalendarKind::Google => " --client-secret SECRET",
        crate::platform::config::CalendarKind::Graph => "",
    };
    let authorize = format!(
        "clawdbot-calendar authorize {} --client-id ID{secret} --output {file}",
        account.name
    );
    // The unit loads /etc/credstore/clawdbot.calendar/ only: other names work by hand, not
    // under systemd.
    if !credential.starts_with('/') && !credential.starts_with("calendar_") {
        return fail(
            name,
            format!(
                "credential {credential:?} is not in /etc/credstore/clawdbot.calendar/, the only place clawdbot-calendar.service reads"
            ),
            "leave credential unset (calendar_NAME.json: /etc/credstore/clawdbot.calendar/NAME.json), or add its LoadCredential= in a drop-in",
        );
    }
    // Under the units, the file of the directory the unit loads, and nothing else: root
    // would also find a link there, or a flat /etc/credstore file the unit never loads.
    let read = if under_units && !credential.starts_with('/') {
        match std::fs::symlink_metadata(&file) {
            Ok(meta) if !meta.file_type().is_file() => {
                return fail(
                    name,
                    format!(
                        "{file} is not a regular file (a link or a directory): clawdbot-calendar.service loads only the directory's regular files"
                    ),
                    format!("put the credential itself there: {authorize}"),
                );
            }
            Ok(_) => credentials::read_private(Path::new(&file)),
            Err(e) => {
                return fail(
                    name,
                    format!(
                        "{file}: {e}; clawdbot-calendar.service loads the account's credential from there"
                    ),
                    authorize,
                );
            }
        }
    } else {
        credentials::read_configured(&credential)
    };
    match read {
        Err(e @ credentials::CredentialError::Missing { .. }) => {
            fail(name, e.to_string(), authorize)
        }
        Err(e @ credentials::CredentialError::TooOpen { .. }) => {
            fail(name, e.to_string(), format!("chmod 600 {file}"))
        }
        Err(e) => fail(name, e.to_string(), format!("check {file}")),
        Ok(secret) => {
            match serde_json::from_str::<crate::channels::oauth::Credential>(secret.expose()) {
                Ok(_) => pass(name, format!("credential {credential} present and private")),
                Err(e) => fail(
                    name,
                    format!("{file} is not what authorize writes: {e}"),
                    format!("rm {file}; then {authorize}"),
                ),
            }
        }
    }
}

fn bridge(config: &Config) -> Check {
    let name = format!("bridge ({} mode)", config.bridge.mode);
    match crate::channels::bridge::keys(config) {
        Ok(keys) => pass(name, format!("{} signing secret(s) load", keys.len())),
        Err(e) => fail(
            name,
            e.to_string(),
            "clawdbot-bridge keygen --output FILE; name it in [bridge] secrets",
        ),
    }
}

/// Messages the gateway keeps refusing because of one of its settings (none before the state
/// database exists).
fn bridge_deliveries(config: &Config) -> Option<Check> {
    let name = "bridge deliveries";
    let store = match crate::core::inspect::open(config) {
        Err(crate::core::inspect::InspectError::NoDatabase(_)) => return None,
        Err(e) => return Some(fail(name, e.to_string(), "see the error")),
        Ok(store) => store,
    };
    let pending = match store.undelivered_bridge_messages() {
        Ok(messages) => messages,
        Err(e) => return Some(fail(name, e.to_string(), "see the error")),
    };
    let held: Vec<_> = pending
        .iter()
        .filter(|m| m.state == "pending")
        .filter_map(|m| Some((m, m.last_error.as_deref()?)))
        .filter(|(_, error)| error.contains(crate::channels::bridge::GATEWAY_HOLDS))
        .collect();
    Some(match held.last() {
        None => pass(
            name,
            format!("{} message(s) waiting for delivery", pending.len()),
        ),
        Some((last, error)) => fail(
            name,
            format!(
                "{} message(s) held by the gateway's configuration; the last, {}: {error}",
                held.len(),
                last.id
            ),
            "change the OpenClaw setting named, then run clawdbot-bridge resend",
        ),
    })
}

fn config_check(config: &Config) -> Check {
    let sources = if config.sources.is_empty() {
        "built-in defaults (no configuration file)".to_string()
    } else {
        config
            .sources
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let actions = config
        .actions
        .keys()
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if config.actions.is_empty() {
        return fail(
            "config",
            format!("loaded from {sources}; no actions configured"),
            "add [actions.NAME] tables; `clawdbot init DIR` writes examples",
        );
    }
    pass(
        "config",
        format!("loaded from {sources}; actions: {actions}"),
    )
}

fn directory(dir: &Path, what: &str) -> Check {
    let name = format!("{what} {}", dir.display());
    match std::fs::metadata(dir) {
        Err(e) => fail(
            name,
            e.to_string(),
            format!(
                "mkdir -p {} (the package's tmpfiles.d creates it)",
                dir.display()
            ),
        ),
        Ok(m) if !m.is_dir() => fail(
            name,
            "is not a directory",
            "move the file away and create the directory",
        ),
        Ok(m) if m.mode() & 0o002 != 0 => fail(
            name,
            format!("mode {:04o}: anyone can write here", m.mode() & 0o7777),
            format!("chmod o-w {}", dir.display()),
        ),
        Ok(m) => {
            let probe = dir.join(".clawdbot-doctor");
            match std::fs::write(&probe, b"") {
                Ok(()) => {
                    let _ = std::fs::remove_file(&probe);
                    pass(name, format!("mode {:04o}, writable", m.mode() & 0o7777))
                }
                Err(e) => fail(
                    name,
                    format!("not writable: {e}"),
                    format!("chown clawdbot {}", dir.display()),
                ),
            }
        }
    }
}

fn operators(config: &Config) -> Check {
    if config.operator.emails.is_empty() {
        return fail(
            "operators",
            "no operator address",
            "set emails = [\"you@example.org\"] under [operator]",
        );
    }
    let list = config
        .operator
        .emails
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    pass(
        "operators",
        format!("{list}; time zone {}", config.operator.timezone.name),
    )
}

fn smtp_credential(config: &Config) -> Option<Check> {
    let smtp = &config.mail.smtp;
    if config.mail.transport != Transport::Smtp || smtp.username.is_none() {
        return None;
    }
    let name = format!("credential {}", smtp.password_credential);
    Some(
        match credentials::read_configured(&smtp.password_credential) {
            Ok(_) => pass(name, "present and private"),
            Err(e) => fail(
                name,
                e.to_string(),
                format!(
                    "install -m 600 /dev/stdin {}/clawdbot.{}",
                    credentials::CREDSTORE,
                    smtp.password_credential
                ),
            ),
        },
    )
}

fn transport(config: &Config) -> Check {
    let name = format!("mail transport {}", config.mail.transport);
    match Sender::new(config)
        .map_err(|e| e.to_string())
        .and_then(|s| s.probe())
    {
        Ok(message) => pass(name, message),
        Err(message) => fail(
            name,
            message,
            "check [mail] in the configuration and that the relay or command is reachable",
        ),
    }
}

/// Render checks for a person: one line each, fixes indented below failures.
pub fn render(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        let label = match (c.ok, c.warning) {
            (false, _) => "FAIL",
            (true, true) => "WARN",
            (true, false) => "ok  ",
        };
        let _ = writeln!(out, "{label} {}: {}", c.name, c.message);
        if !c.ok || c.warning {
            let _ = writeln!(out, "     fix: {}", c.fix);
        }
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    let warned = checks.iter().filter(|c| c.warning).count();
    let _ = writeln!(
        out,
        "\n{} checks, {failed} problem(s), {warned} warning(s).",
        checks.len()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_agent_must_be_a_program_that_runs() {
        use std::os::unix::fs::PermissionsExt;
        let dir =
            std::env::temp_dir().join(format!("clawdbot-doctor-agent-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("agent.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        let with = |command: &str, uses: &str| {
            admin_agent(&config(&format!(
                "[agent]\ncommand = [{command:?}]\nuses = [{uses}]\n"
            )))
        };
        let path = script.display().to_string();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(!with(&path, "\"task\"").unwrap().ok);
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let found = with(&path, "\"task\"").unwrap();
        assert!(found.ok && found.message.contains("task"), "{found:?}");
        assert!(!with("no-such-agent-here", "\"task\"").unwrap().ok);
        assert!(
            admin_agent(&config("[agent]\nuses = [\"task\"]\n"))
                .unwrap()
                .warning
        );
        assert!(admin_agent(&config("")).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn config(text: &str) -> Config {
        Config::from_text(Path::new("/etc/clawdbot/clawdbot.toml"), text).unwrap()
    }

    fn unit_dir(tag: &str, broker: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("clawdbot-doctor-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("clawdbot-broker.service"), broker).unwrap();
        dir
    }

    #[test]
    fn a_credential_root_can_read_but_the_unit_does_not_load_is_a_problem() {
        let dir = unit_dir(
            "unloaded",
            "[Service]\nUser=clawdbot\nLoadCredential=bridge-secret:/nonexistent/clawdbot.bridge-secret\n",
        );
        let config = config(
            "[mail]\ntransport = \"smtp\"\n[mail.smtp]\nhost = \"mx\"\nusername = \"u\"\npassword_credential = \"relay-password\"\n",
        );
        let checks = unit_credentials(&config, &[&dir]);
        let by_name = |n: &str| checks.iter().find(|c| c.name.ends_with(n)).unwrap();
        let password = by_name("credential relay-password");
        assert!(!password.ok, "{password:?}");
        assert!(
            password.message.contains("does not load it"),
            "{password:?}"
        );
        assert!(
            password.fix.contains("LoadCredential=relay-password:"),
            "{password:?}"
        );
        let secret = by_name("credential bridge-secret");
        assert!(
            !secret.ok && secret.message.contains("the unit fails to start"),
            "{secret:?}"
        );
    }

    #[test]
    fn a_credential_the_unit_loads_from_an_existing_file_passes() {
        let store =
            std::env::temp_dir().join(format!("clawdbot-doctor-store-{}", std::process::id()));
        std::fs::create_dir_all(&store).unwrap();
        let secret = store.join("bridge-secret");
        std::fs::write(&secret, "s").unwrap();
        let dir = unit_dir(
            "loaded",
            &format!(
                "[Service]\nUser=clawdbot\nLoadCredential=bridge-secret:{}\n",
                secret.display()
            ),
        );
        let checks = unit_credentials(&config(""), &[&dir]);
        assert_eq!(checks.len(), 1, "{checks:?}");
        assert!(checks[0].ok && !checks[0].warning, "{checks:?}");
        // Not installed: nothing to check.
        let empty = unit_dir("none", "");
        std::fs::remove_file(empty.join("clawdbot-broker.service")).unwrap();
        assert!(unit_credentials(&config(""), &[&empty]).is_empty());
    }

    #[test]
    fn an_absolute_secret_must_belong_to_the_user_the_service_runs_as() {
        use std::os::unix::fs::PermissionsExt;
        let file = std::env::temp_dir().join(format!("clawdbot-doctor-abs-{}", std::process::id()));
        std::fs::write(&file, "s").unwrap();
        let as_user = |user: &str| units::Unit {
            user: Some(user.into()),
            ..units::Unit::default()
        };
        assert!(
            !readable_by("c", &file, &as_user("nobody"), "x.service").ok,
            "root's file"
        );
        assert!(readable_by("c", &file, &as_user("root"), "x.service").ok);
        assert!(
            !readable_by(
                "c",
                Path::new("/nonexistent/secret"),
                &as_user("root"),
                "x.service"
            )
            .ok
        );
        // The user's own file, in a directory closed to it, then opened to it.
        let nobody = ids_of("nobody", None, &[]).unwrap().0;
        let dir =
            std::env::temp_dir().join(format!("clawdbot-doctor-closed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let inside = dir.join("secret");
        std::fs::write(&inside, "s").unwrap();
        std::os::unix::fs::chown(&inside, Some(nobody), None).unwrap();
        std::fs::set_permissions(&inside, std::fs::Permissions::from_mode(0o600)).unwrap();
        let check = readable_by("c", &inside, &as_user("nobody"), "x.service");
        assert!(
            !check.ok && check.message.contains("is closed to its user"),
            "{check:?}"
        );
        // A directory its group may search, and the user one of that group's members.
        std::os::unix::fs::chown(&dir, None, Some(4242)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o710)).unwrap();
        let open_above = dir
            .ancestors()
            .skip(1)
            .all(|d| std::fs::metadata(d).is_ok_and(|m| m.mode() & 0o001 != 0));
        assert!(closed_to(&inside, nobody, &[65534]).is_err());
        assert_eq!(
            closed_to(&inside, nobody, &[65534, 4242]).is_ok(),
            open_above
        );
        assert!(ids_of("root", None, &[]).unwrap().1.contains(&0));
        // Group= and SupplementaryGroups= of the unit count, as systemd gives them.
        let with_group = units::Unit {
            supplementary: vec!["4242".into()],
            ..as_user("nobody")
        };
        assert_eq!(
            readable_by("c", &inside, &with_group, "x.service").ok,
            open_above
        );
        assert!(ids_of("nobody", Some("no-such-group-x"), &[]).is_none());
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711)).unwrap();
        assert_eq!(
            readable_by("c", &inside, &as_user("nobody"), "x.service").ok,
            open_above
        );
    }

    #[test]
    fn mail_to_files_or_from_a_documentation_domain_and_unreachable_replies_warn() {
        let checks = [sender(&config("")), vec![replies(&config(""))]].concat();
        let names: Vec<_> = checks
            .iter()
            .filter(|c| c.warning)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            names,
            ["mail delivery", "mail sender", "replies"],
            "{checks:?}"
        );
        assert!(checks.iter().all(|c| c.ok));
        let set_up = config(
            "[mail]\ntransport = \"sendmail\"\nfrom = \"clawdbot@host.lan.net\"\n[replies]\ntrusted_authserv_id = \"mx.lan.net\"\n",
        );
        let checks = [sender(&set_up), vec![replies(&set_up)]].concat();
        assert!(checks.iter().all(|c| c.ok && !c.warning), "{checks:?}");
        let text = render(&[warn("w", "m", "f")]);
        assert!(
            text.contains("WARN w: m\n     fix: f") && text.contains("0 problem(s), 1 warning(s)"),
            "{text}"
        );
    }
}
