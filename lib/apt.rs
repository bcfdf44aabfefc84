//! What an apt action would really do. apt reads more than a package name: a trailing `-`
//! removes, a `.` or `?` may turn the name into a pattern that installs every match, and one
//! install can remove packages that conflict. So an action configured with `preview = "apt"`
//! is simulated (`apt-get -s`, which changes nothing and needs no privilege) when it is
//! filed, the operator is shown the exact packages it installs, upgrades and removes, and it is
//! simulated again just before it runs: if it would now remove a package the operator was not
//! shown, it does not run.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::command;

/// The most output of a simulation that is read.
const OUTPUT_LIMIT: u64 = 1 << 20;

/// How long a simulation may take.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// The packages a simulated apt run touches, by name, each with the version it would have
/// (or had, for a removal).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Newly installed.
    pub install: Vec<String>,
    /// Upgraded or downgraded.
    pub upgrade: Vec<String>,
    /// Removed or purged.
    pub remove: Vec<String>,
}

impl Plan {
    /// The removals not in `shown`, by package name.
    pub fn removals_beyond(&self, shown: &Plan) -> Vec<String> {
        let names: Vec<&str> = shown.remove.iter().map(|p| name(p)).collect();
        self.remove
            .iter()
            .filter(|p| !names.contains(&name(p)))
            .cloned()
            .collect()
    }

    /// One line each for the operator.
    pub fn describe(&self) -> String {
        let list = |what: &[String]| {
            if what.is_empty() {
                "nothing".to_string()
            } else {
                what.join(", ")
            }
        };
        format!(
            "installs {}; upgrades {}; removes {}",
            list(&self.install),
            list(&self.upgrade),
            list(&self.remove)
        )
    }
}

/// What a stored preview (`{"apt": PLAN}` or `{"apt_error": WHY}`) says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stored {
    /// The simulation's plan.
    Apt(Plan),
    /// Why the simulation failed.
    AptError(String),
}

impl Stored {
    /// Read a stored preview; `None` when it is not one.
    pub fn parse(json: &str) -> Option<Stored> {
        serde_json::from_str(json).ok()
    }

    /// One line for the operator.
    pub fn describe(&self) -> String {
        match self {
            Stored::Apt(plan) => format!("apt-get -s says it {}", plan.describe()),
            Stored::AptError(why) => format!(
                "apt-get -s failed, so it is not known what this installs or removes: {why}"
            ),
        }
    }
}

/// A package's name in a `name (version)` entry.
fn name(entry: &str) -> &str {
    entry.split(' ').next().unwrap_or(entry)
}

/// The simulation's argv: the action's own, with `-s` after `apt-get`. Only `apt-get` (by
/// path or name) is simulated; the configuration refuses `preview = "apt"` on anything else.
pub fn simulation(argv: &[String]) -> Option<Vec<String>> {
    let (program, rest) = argv.split_first()?;
    if program.rsplit('/').next() != Some("apt-get") {
        return None;
    }
    let mut out = vec![program.clone(), "-s".to_string()];
    out.extend(rest.iter().cloned());
    Some(out)
}

/// Simulate the action: what it would install, upgrade and remove, or why it cannot say.
pub fn simulate(argv: &[String]) -> Result<Plan, String> {
    let Some(sim) = simulation(argv) else {
        return Err("only apt-get can be simulated".into());
    };
    let output = command::capture(&sim, TIMEOUT, OUTPUT_LIMIT).map_err(|e| e.to_string())?;
    Ok(parse(&output))
}

/// Read `apt-get -s` output: `Inst NAME [OLD] (NEW …)` installs (or, with `[OLD]`, upgrades),
/// `Remv NAME [OLD]` and `Purg NAME [OLD]` remove; every other line is left.
pub fn parse(output: &str) -> Plan {
    let mut plan = Plan::default();
    for line in output.lines() {
        let mut words = line.split_whitespace();
        let (Some(verb), Some(package)) = (words.next(), words.next()) else {
            continue;
        };
        let rest: Vec<&str> = words.collect();
        let old = rest
            .first()
            .filter(|w| w.starts_with('['))
            .map(|w| w.trim_matches(['[', ']']));
        let new = rest
            .iter()
            .find(|w| w.starts_with('('))
            .map(|w| w.trim_start_matches('('));
        match verb {
            "Inst" => {
                let entry = format!("{package} ({})", new.unwrap_or("?"));
                if old.is_some() {
                    plan.upgrade.push(entry);
                } else {
                    plan.install.push(entry);
                }
            }
            "Remv" | "Purg" => plan
                .remove
                .push(format!("{package} ({})", old.unwrap_or("?"))),
            _ => {}
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "NOTE: This is only a simulation!\n\
        Reading package lists...\n\
        The following packages will be REMOVED:\n  curl\n\
        Remv curl [7.88.1-10+deb12u5]\n\
        Inst libcurl4 [7.88.1-10+deb12u5] (7.88.1-10+deb12u8 Debian-Security:12/stable-security [amd64])\n\
        Inst xz-utils (5.4.1-0.2 Debian:12/stable [amd64])\n\
        Purg old-thing [1.0]\n\
        Conf xz-utils (5.4.1-0.2 Debian:12/stable [amd64])\n";

    #[test]
    fn installs_upgrades_and_removals_are_told_apart() {
        let plan = parse(OUTPUT);
        assert_eq!(plan.install, ["xz-utils (5.4.1-0.2)"]);
        assert_eq!(plan.upgrade, ["libcurl4 (7.88.1-10+deb12u8)"]);
        assert_eq!(plan.remove, ["curl (7.88.1-10+deb12u5)", "old-thing (1.0)"]);
        let shown = Plan {
            remove: vec!["curl (7.88.1-10+deb12u4)".into()],
            ..Plan::default()
        };
        assert_eq!(plan.removals_beyond(&shown), ["old-thing (1.0)"]);
        assert!(plan.removals_beyond(&plan).is_empty());
    }

    #[test]
    fn only_apt_get_is_simulated() {
        let argv = ["/usr/bin/apt-get", "install", "-y", "curl"].map(String::from);
        assert_eq!(
            simulation(&argv).unwrap(),
            ["/usr/bin/apt-get", "-s", "install", "-y", "curl"]
        );
        assert!(simulation(&["apt".to_string(), "install".to_string()]).is_none());
        assert!(simulation(&[]).is_none());
    }
}
