//! Maintenance in tiers (docs/maintenance.md). Each check is a small function returning
//! findings (`ok`, `warn`, `crit`, a one-line summary and details); it runs on its own thread
//! with a time limit, so a check that hangs or fails becomes a finding, never the end of the
//! tier. A daily report is mailed only when something is wrong and differs from the last run;
//! weekly and monthly reports always are. Every report is kept as JSON in
//! `STATE_DIR/reports/TIER-DATE.json` for 90 days.

mod cleanup;
mod docker;
mod files;
mod host;
mod monthly;
mod packages;
mod ports;
mod services;

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::core::outbox;
use crate::core::store::{Store, StoreError};
use crate::platform::atomic::FileError;
use crate::platform::config::Config;
use crate::platform::dir::Dir;
use crate::platform::exit::{Exit, ExitStatus};
use crate::platform::time::{self, UnixTime};

/// How long reports are kept.
const REPORT_DAYS: u64 = 90;

/// Why a tier could not run (a check's own failure is a finding instead).
#[derive(Debug, thiserror::Error)]
pub enum MaintError {
    /// The state database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The report could not be kept.
    #[error(transparent)]
    File(#[from] FileError),
    /// `--only` named a check this tier does not have.
    #[error("the {tier} tier has no check {name:?} (it has: {known})")]
    UnknownCheck {
        /// The tier.
        tier: Tier,
        /// The name asked for.
        name: String,
        /// The tier's checks.
        known: String,
    },
}

impl ExitStatus for MaintError {
    fn exit(&self) -> Exit {
        match self {
            MaintError::Store(e) => e.exit(),
            MaintError::File(e) => e.exit_or(Exit::CantCreat),
            MaintError::UnknownCheck { .. } => Exit::Usage,
        }
    }
}

/// A maintenance tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Checks; mail only when something is wrong and changed.
    Daily,
    /// Cleanup and slower checks; always a report.
    Weekly,
    /// Database care, audits, inventories; always a report.
    Monthly,
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Tier::Daily => "daily",
            Tier::Weekly => "weekly",
            Tier::Monthly => "monthly",
        })
    }
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Fine.
    Ok,
    /// Look soon.
    Warn,
    /// Act now.
    Crit,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Crit => "crit",
        }
    }
}

/// One thing a check found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The check that found it.
    pub check: String,
    /// What it is about, stable from run to run (e.g. `disk:/var`), for change detection.
    pub key: String,
    /// How serious.
    pub level: Level,
    /// One line.
    pub summary: String,
    /// More lines, if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    /// A measured value kept as a sample for trends (disk bytes used, load per core).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<f64>,
}

impl Finding {
    /// A finding without details or sample.
    pub fn new(
        check: &str,
        key: impl Into<String>,
        level: Level,
        summary: impl Into<String>,
    ) -> Self {
        Finding {
            check: check.to_string(),
            key: key.into(),
            level,
            summary: summary.into(),
            details: Vec::new(),
            sample: None,
        }
    }

    /// With details.
    pub fn details(mut self, details: Vec<String>) -> Self {
        self.details = details;
        self
    }

    /// With a sample for trends.
    pub fn sample(mut self, value: f64) -> Self {
        self.sample = Some(value);
        self
    }
}

/// What a check is given: the configuration, the levels of the last run (for hysteresis) and
/// the stored samples (for trends).
pub struct Ctx {
    /// The configuration.
    pub config: Config,
    /// Each finding key's level in the last run of this tier.
    pub previous: BTreeMap<String, Level>,
    /// Samples by key, oldest first: (time, value).
    pub samples: BTreeMap<String, Vec<(UnixTime, f64)>>,
    /// Now.
    pub now: UnixTime,
    /// Clean nothing up; only say what would go.
    pub dry_run: bool,
}

impl Ctx {
    /// The level a key had in the last run.
    pub fn was(&self, key: &str) -> Level {
        self.previous.get(key).copied().unwrap_or(Level::Ok)
    }
}

/// One check: a name, its tiers, the function.
struct Check {
    name: &'static str,
    tiers: &'static [Tier],
    run: fn(&Ctx) -> Vec<Finding>,
}

const D: &[Tier] = &[Tier::Daily];
const W: &[Tier] = &[Tier::Weekly];
const M: &[Tier] = &[Tier::Monthly];

const CHECKS: &[Check] = &[
    Check {
        name: "disk",
        tiers: D,
        run: host::disk,
    },
    Check {
        name: "memory",
        tiers: D,
        run: host::memory,
    },
    Check {
        name: "load",
        tiers: D,
        run: host::load,
    },
    Check {
        name: "units",
        tiers: D,
        run: services::failed_units,
    },
    Check {
        name: "ports",
        tiers: D,
        run: ports::listening,
    },
    Check {
        name: "docker",
        tiers: D,
        run: docker::daemon,
    },
    Check {
        name: "containers",
        tiers: D,
        run: docker::containers,
    },
    Check {
        name: "wazuh",
        tiers: D,
        run: services::wazuh,
    },
    Check {
        name: "suite",
        tiers: D,
        run: services::suite,
    },
    Check {
        name: "cleanup",
        tiers: W,
        run: |ctx| cleanup::docker_cleanup(ctx, ctx.dry_run),
    },
    Check {
        name: "stale",
        tiers: W,
        run: files::stale,
    },
    Check {
        name: "logs",
        tiers: W,
        run: |ctx| [files::journal(ctx), docker::container_logs(ctx)].concat(),
    },
    Check {
        name: "images",
        tiers: W,
        run: docker::image_age,
    },
    Check {
        name: "apt",
        tiers: W,
        run: packages::apt,
    },
    Check {
        name: "restart",
        tiers: W,
        run: packages::restart_needed,
    },
    Check {
        name: "sqlite",
        tiers: M,
        run: monthly::sqlite,
    },
    Check {
        name: "breakdown",
        tiers: M,
        run: files::breakdown,
    },
    Check {
        name: "resources",
        tiers: M,
        run: docker::container_resources,
    },
    Check {
        name: "security",
        tiers: M,
        run: monthly::security,
    },
    Check {
        name: "packages",
        tiers: M,
        run: monthly::packages,
    },
    Check {
        name: "uptime",
        tiers: M,
        run: monthly::uptime,
    },
];

/// The names of a tier's checks.
pub fn checks(tier: Tier) -> Vec<&'static str> {
    CHECKS
        .iter()
        .filter(|c| c.tiers.contains(&tier))
        .map(|c| c.name)
        .collect()
}

/// A tier's report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// The tier.
    pub tier: Tier,
    /// When it ran (UTC, RFC 3339).
    pub at: String,
    /// The host.
    pub host: String,
    /// Every finding, most serious first.
    pub findings: Vec<Finding>,
    /// What changed since the last run of the tier.
    pub changes: Vec<String>,
    /// Whether a mail was queued.
    pub mailed: bool,
    /// Nothing was cleaned, mailed or stored.
    pub dry_run: bool,
}

impl Report {
    /// The most serious level in the report.
    pub fn worst(&self) -> Level {
        self.findings
            .iter()
            .map(|f| f.level)
            .max()
            .unwrap_or(Level::Ok)
    }
}

/// Options of a run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Change nothing: no cleanup, no mail, nothing stored.
    pub dry_run: bool,
    /// Only these checks.
    pub only: Vec<String>,
}

/// Run a tier.
pub fn run(config: &Config, tier: Tier, options: &Options) -> Result<Report, MaintError> {
    let known = checks(tier);
    if let Some(bad) = options.only.iter().find(|n| !known.contains(&n.as_str())) {
        return Err(MaintError::UnknownCheck {
            tier,
            name: bad.clone(),
            known: known.join(", "),
        });
    }
    if !options.dry_run {
        config.has_operator("the report is kept in reports/, not mailed");
    }
    let mut store = Store::open(&config.paths.database())?;
    let now = time::now();
    let mut memory = remembered(&mut store, tier)?;
    let ran: Vec<&str> = CHECKS
        .iter()
        .filter(|c| c.tiers.contains(&tier))
        .filter(|c| options.only.is_empty() || options.only.iter().any(|n| n == c.name))
        .map(|c| c.name)
        .collect();
    // A run limited by --only compares (and later replaces) only what its checks found.
    let previous: BTreeMap<String, Level> = memory
        .iter()
        .filter(|(_, r)| ran.contains(&r.check.as_str()))
        .map(|(k, r)| (k.clone(), r.level))
        .collect();
    let samples = store.write(|tx| tx.samples(now - 30 * 86_400))?;
    let ctx = Arc::new(Ctx {
        config: config.clone(),
        previous: previous.clone(),
        samples,
        now,
        dry_run: options.dry_run,
    });
    let mut findings = Vec::new();
    for check in CHECKS.iter().filter(|c| ran.contains(&c.name)) {
        crate::core::journal::status(&format!("{tier}: {}", check.name));
        findings.extend(run_check(check, &ctx, patience(config, tier)));
    }
    findings.sort_by(|a, b| (b.level, &a.check, &a.key).cmp(&(a.level, &b.check, &b.key)));
    let changes = changes(&previous, &findings);
    let mut report = Report {
        tier,
        at: time::rfc3339(now),
        host: hostname(),
        findings,
        changes,
        mailed: false,
        dry_run: options.dry_run,
    };
    if !options.dry_run {
        memory.retain(|_, r| !ran.contains(&r.check.as_str()));
        memory.extend(report.findings.iter().map(|f| {
            let r = Remembered {
                check: f.check.clone(),
                level: f.level,
            };
            (f.key.clone(), r)
        }));
        keep(config, &mut store, &mut report, now, &memory)?;
    }
    Ok(report)
}

/// A check's time limit: `[maint] check_timeout`, ten times that for the weekly and monthly
/// tiers, whose cleanup, walks and VACUUM take longer.
fn patience(config: &Config, tier: Tier) -> Duration {
    let limit = config.maint.check_timeout.get();
    match tier {
        Tier::Daily => limit,
        Tier::Weekly | Tier::Monthly => limit * 10,
    }
}

/// Run one check on its own thread; a panic or a timeout becomes a `crit` finding.
fn run_check(check: &Check, ctx: &Arc<Ctx>, limit: Duration) -> Vec<Finding> {
    let (tx, rx) = mpsc::channel();
    let ctx = Arc::clone(ctx);
    let run = check.run;
    let spawned = std::thread::Builder::new()
        .name(check.name.to_string())
        .spawn(move || {
            let _ = tx.send(run(&ctx));
        });
    let failed = |why: String| {
        log::error!("check {} {why}", check.name);
        vec![Finding::new(
            check.name,
            format!("{}:check", check.name),
            Level::Crit,
            format!("the {} check {why}", check.name),
        )]
    };
    if let Err(e) = spawned {
        return failed(format!("could not start: {e}"));
    }
    match rx.recv_timeout(limit) {
        Ok(findings) => findings,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            failed(format!("did not finish within {} s", limit.as_secs()))
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => failed("failed (see the journal)".into()),
    }
}

/// A finding's level as remembered for the next run, with the check that made it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Remembered {
    check: String,
    level: Level,
}

fn levels_key(tier: Tier) -> String {
    format!("maint.{tier}.levels")
}

/// The last known level of every finding key of this tier.
fn remembered(store: &mut Store, tier: Tier) -> Result<BTreeMap<String, Remembered>, StoreError> {
    let text = store.write(|tx| tx.setting(&levels_key(tier)))?;
    Ok(text
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default())
}

/// What changed since the last run: new problems, worse, better, gone.
fn changes(previous: &BTreeMap<String, Level>, findings: &[Finding]) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for f in findings {
        seen.insert(f.key.as_str());
        let was = previous.get(&f.key).copied().unwrap_or(Level::Ok);
        if was != f.level {
            out.push(format!(
                "{}: {} → {}: {}",
                f.key,
                was.as_str(),
                f.level.as_str(),
                f.summary
            ));
        }
    }
    for (key, level) in previous {
        if *level != Level::Ok && !seen.contains(key.as_str()) {
            out.push(format!("{key}: {} → gone", level.as_str()));
        }
    }
    out
}

/// Store the levels, samples and report; queue the mail if it is due.
fn keep(
    config: &Config,
    store: &mut Store,
    report: &mut Report,
    now: UnixTime,
    memory: &BTreeMap<String, Remembered>,
) -> Result<(), MaintError> {
    let wanted = match report.tier {
        Tier::Daily => report.worst() > Level::Ok && !report.changes.is_empty(),
        Tier::Weekly | Tier::Monthly => true,
    };
    let (subject, text) = mail_text(report);
    let tier = report.tier;
    let findings = &report.findings;
    let mailed = store.write(|tx| {
        let levels = serde_json::to_string(memory).unwrap_or_default();
        tx.set_setting(&levels_key(tier), Some(&levels))?;
        for f in findings {
            if let Some(value) = f.sample {
                tx.add_sample(&f.key, value, now)?;
            }
        }
        tx.prune_samples(now - 30 * 86_400)?;
        if !wanted {
            return Ok(false);
        }
        outbox::mail_notice(tx, config, &format!("maint {tier}"), &subject, &text, now)
    })?;
    report.mailed = mailed;
    save(config, report, now)
}

/// Keep the report as JSON, and drop reports older than [`REPORT_DAYS`].
fn save(config: &Config, report: &Report, now: UnixTime) -> Result<(), MaintError> {
    let path = reports_dir(config);
    // The state directory belongs to the unprivileged user: no link may steer root's writes
    // and removals elsewhere, nor have a directory made behind it.
    let dir = Dir::create_all(&path, 0o750).map_err(|e| FileError::new("cannot open", &path, e))?;
    let name = format!("{}-{}.json", report.tier, time::utc_date(now));
    let json = serde_json::to_vec_pretty(report).unwrap_or_default();
    dir.write_atomic(std::ffi::OsStr::new(&name), &json, 0o640)
        .map_err(|e| FileError::new("cannot write", &path.join(&name), e))?;
    dir.remove_older(Duration::from_secs(REPORT_DAYS * 86_400));
    Ok(())
}

/// Where reports are kept.
pub fn reports_dir(config: &Config) -> PathBuf {
    config.paths.state_dir.path().join("reports")
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "this host".into())
}

/// The mail: a headline, what changed, then sections with `crit` first.
pub fn mail_text(report: &Report) -> (String, String) {
    let count = |level| report.findings.iter().filter(|f| f.level == level).count();
    let (crit, warn) = (count(Level::Crit), count(Level::Warn));
    let headline = match (crit, warn) {
        (0, 0) => format!("{} {}: all clear", report.host, report.tier),
        (0, w) => format!("{} {}: {w} warning(s)", report.host, report.tier),
        (c, w) => format!(
            "{} {}: {c} critical, {w} warning(s)",
            report.host, report.tier
        ),
    };
    let mut text = format!("{headline}\n");
    if !report.changes.is_empty() {
        text.push_str("\nChanged since the last run:\n");
        for c in &report.changes {
            let _ = writeln!(text, "  {c}");
        }
    }
    for level in [Level::Crit, Level::Warn, Level::Ok] {
        let of_level: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.level == level)
            .collect();
        if of_level.is_empty() {
            continue;
        }
        let _ = writeln!(text, "\n{}:", level.as_str().to_uppercase());
        for f in of_level {
            let _ = writeln!(text, "  [{}] {}", f.check, f.summary);
            for d in &f.details {
                let _ = writeln!(text, "      {d}");
            }
        }
    }
    text.push_str("\nThe whole report is kept as JSON in the state directory (reports/).");
    (headline, text)
}

/// The report as text for the terminal.
pub fn describe(report: &Report) -> String {
    let (_, text) = mail_text(report);
    let note = match (report.dry_run, report.mailed) {
        (true, _) => "\n(dry run: nothing cleaned, mailed or stored)\n",
        (false, true) => "\n(mailed to the operator)\n",
        (false, false) => "\n(not mailed)\n",
    };
    format!("{text}{note}")
}
