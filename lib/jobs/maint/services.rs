//! Services around the suite: failed systemd units, the Wazuh agent, and the suite's own
//! health (stuck requests, failing mail, a silent poller or watchdog).

use std::time::Duration;

use super::{Ctx, Finding, Level};
use crate::core::state::State;
use crate::core::store::Store;
use crate::platform::command;

/// Failed units of every type, as systemd lists them.
pub fn failed_units(ctx: &Ctx) -> Vec<Finding> {
    let argv: Vec<String> = [
        "systemctl",
        "list-units",
        "--failed",
        "--all",
        "--plain",
        "--no-legend",
        "--no-pager",
    ]
    .map(String::from)
    .to_vec();
    let output = match command::capture(&argv, ctx.config.maint.check_timeout.get(), 1 << 20) {
        Ok(output) => output,
        Err(why) => {
            return vec![Finding::new(
                "units",
                "units",
                Level::Warn,
                format!("cannot ask systemd: {why}"),
            )];
        }
    };
    let failed = failed_list(&output);
    if failed.is_empty() {
        return vec![Finding::new("units", "units", Level::Ok, "no failed units")];
    }
    failed
        .into_iter()
        .map(|(unit, description)| {
            Finding::new(
                "units",
                format!("unit:{unit}"),
                Level::Crit,
                format!("{unit} failed: {description}"),
            )
            .details(vec![format!(
                "journalctl -u {unit} -n 50; systemctl reset-failed {unit} once fixed"
            )])
        })
        .collect()
}

/// `UNIT LOAD ACTIVE SUB DESCRIPTION` lines: each failed unit and its description.
pub fn failed_list(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_start_matches(['●', '*', ' ']);
            let mut words = line.split_whitespace();
            let unit = words.next()?.to_string();
            let rest: Vec<&str> = words.collect();
            (rest.len() >= 3 && rest[1] == "failed").then(|| (unit, rest[3..].join(" ")))
        })
        .collect()
}

/// The Wazuh agent's state file: `status='connected'` and a recent `last_keepalive`.
pub fn wazuh(ctx: &Ctx) -> Vec<Finding> {
    let path = ctx.config.maint.wazuh_state.path();
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    wazuh_findings(
        &text,
        ctx.now,
        ctx.config.maint.wazuh_keepalive.get(),
        &ctx.config.operator.timezone.tz,
    )
}

/// Judge a `wazuh-agentd.state` text (its times are the host's local time).
pub fn wazuh_findings(
    text: &str,
    now: i64,
    limit: Duration,
    tz: &jiff::tz::TimeZone,
) -> Vec<Finding> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .map(|v| v.trim().trim_matches('\'').to_string())
    };
    let status = field("status").unwrap_or_else(|| "unknown".into());
    if status != "connected" {
        return vec![Finding::new(
            "wazuh",
            "wazuh",
            Level::Crit,
            format!("the Wazuh agent is {status}"),
        )];
    }
    let keepalive = field("last_keepalive")
        .and_then(|t| jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", &t).ok())
        .and_then(|dt| dt.to_zoned(tz.clone()).ok())
        .map(|z| now - z.timestamp().as_second());
    match keepalive {
        Some(age) if age > limit.as_secs() as i64 => vec![Finding::new(
            "wazuh",
            "wazuh",
            Level::Warn,
            format!("the Wazuh agent's last keepalive was {age} s ago"),
        )],
        Some(age) => vec![Finding::new(
            "wazuh",
            "wazuh",
            Level::Ok,
            format!("Wazuh agent connected, keepalive {age} s ago"),
        )],
        None => vec![Finding::new(
            "wazuh",
            "wazuh",
            Level::Warn,
            "the Wazuh agent reports no keepalive",
        )],
    }
}

/// The suite's own health.
pub fn suite(ctx: &Ctx) -> Vec<Finding> {
    match suite_findings(ctx) {
        Ok(findings) => findings,
        Err(e) => vec![Finding::new(
            "suite",
            "suite",
            Level::Crit,
            format!("cannot read the state database: {e}"),
        )],
    }
}

/// Calendars that need a person (crit: a refused grant, a missing credential) or whose data
/// is older than `stale` seconds (warn).
/// Calendars of configured accounts that need a person (crit: a refused grant, a missing
/// credential) or whose data is older than `[maint] calendar_stale` (warn), whether the last
/// run failed or no run came.
fn calendars(store: &mut Store, ctx: &Ctx) -> Result<Vec<Finding>, crate::core::store::StoreError> {
    let stale = ctx.config.maint.calendar_stale.as_secs();
    let configured = |account: &str| {
        ctx.config
            .calendar
            .accounts
            .iter()
            .any(|a| a.name == account)
    };
    let rows = store.read(|tx| tx.calendar_sources())?;
    Ok(rows
        .into_iter()
        .filter(|row| configured(&row.account))
        .filter_map(|row| {
            let age = row.fetched_at.map(|at| ctx.now - at);
            let level = match (row.needs_person, age) {
                (true, _) => Level::Crit,
                (false, Some(age)) if age <= stale => return None,
                (false, _) => Level::Warn,
            };
            let since = age.map_or_else(
                || "never fetched".to_string(),
                |age| format!("data {} old", crate::platform::time::age(age)),
            );
            let why = row.error.unwrap_or_else(|| {
                "no run since; is clawdbot-calendar.timer active, and its credential directory filled?".into()
            });
            Some(Finding::new(
                "suite",
                format!("calendar:{}:{}", row.account, row.calendar),
                level,
                format!("calendar {} of {} ({since}): {why}", row.name, row.account),
            ))
        })
        .collect())
}

fn suite_findings(ctx: &Ctx) -> Result<Vec<Finding>, crate::core::store::StoreError> {
    let m = &ctx.config.maint;
    let mut store = Store::open(&ctx.config.paths.database())?;
    let mut out = Vec::new();
    let stuck_after = m.stuck_after.as_secs();
    for row in store.open_requests()? {
        let age = ctx.now - row.updated_at;
        // Waiting for the operator is the normal open state; expiry handles it.
        if age > stuck_after && row.state != State::PendingReply {
            out.push(Finding::new(
                "suite",
                format!("stuck:{}", row.id),
                Level::Warn,
                format!(
                    "request {} has been {} for {}",
                    row.id,
                    row.state.as_str(),
                    crate::platform::time::age(age)
                ),
            ));
        }
    }
    let (failing, last_error) = store.write(|tx| tx.failing_mails())?;
    if failing > 0 {
        out.push(
            Finding::new(
                "suite",
                "outbox",
                Level::Crit,
                format!("{failing} mail(s) in the outbox keep failing"),
            )
            .details(last_error.into_iter().collect()),
        );
    }
    let setting =
        |store: &mut Store, key: &str| -> Result<Option<i64>, crate::core::store::StoreError> {
            Ok(store
                .write(|tx| tx.setting(key))?
                .and_then(|v| v.parse().ok()))
        };
    if let Some(at) = setting(&mut store, crate::channels::gmail::poll::LAST_SUCCESS)?
        && ctx.now - at > m.mailpoll_stale.as_secs()
    {
        out.push(Finding::new(
            "suite",
            "mailpoll",
            Level::Warn,
            format!(
                "the last successful Gmail poll was {} ago",
                crate::platform::time::age(ctx.now - at)
            ),
        ));
    }
    if let Some(at) = setting(&mut store, crate::jobs::watchdog::LAST_PASS)?
        && ctx.now - at > m.watchdog_stale.as_secs()
    {
        out.push(Finding::new(
            "suite",
            "watchdog",
            Level::Warn,
            format!(
                "the last watchdog pass was {} ago",
                crate::platform::time::age(ctx.now - at)
            ),
        ));
    }
    out.extend(calendars(&mut store, ctx)?);
    if out.is_empty() {
        out.push(Finding::new(
            "suite",
            "suite",
            Level::Ok,
            "no stuck requests, the outbox flows",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_units_from_systemctl() {
        let text = "● nginx.service loaded failed failed A high performance web server\nbackup.timer loaded failed failed Nightly backup\nfoo.service loaded active running Fine\n";
        assert_eq!(
            failed_list(text),
            [
                (
                    "nginx.service".to_string(),
                    "A high performance web server".to_string()
                ),
                ("backup.timer".to_string(), "Nightly backup".to_string())
            ]
        );
    }

    #[test]
    fn wazuh_state() {
        let tz = jiff::tz::TimeZone::UTC;
        let now = jiff::civil::date(2026, 11, 26)
            .at(7, 0, 0, 0)
            .to_zoned(tz.clone())
            .unwrap()
            .timestamp()
            .as_second();
        let ok = "# State file\nstatus='connected'\nlast_keepalive='2026-11-26 06:59:30'\nmsg_count='12'\n";
        assert_eq!(
            wazuh_findings(ok, now, Duration::from_secs(300), &tz)[0].level,
            Level::Ok
        );
        let old = "status='connected'\nlast_keepalive='2026-11-26 06:00:00'\n";
        assert_eq!(
            wazuh_findings(old, now, Duration::from_secs(300), &tz)[0].level,
            Level::Warn
        );
        let down = "status='disconnected'\nlast_keepalive='2026-11-26 06:59:30'\n";
        assert_eq!(
            wazuh_findings(down, now, Duration::from_secs(300), &tz)[0].level,
            Level::Crit
        );
    }
}
