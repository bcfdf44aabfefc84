//! What an apt action would really do. apt reads more than a package name: a trailing `-`
//! removes, a `.` or `?` may turn the name into a pattern that installs every match, and one
//! install can remove packages that conflict. So an action configured with `preview = "apt"`
//! is simulated (`apt-get -s`, which changes nothing and needs no privilege) when it is
//! filed, the operator is shown the exact packages it installs, upgrades and removes, and it is
//! simulated again just before it runs: if it would now remove a package the operator was not
//! shown, it does not run.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::platform::command;

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

    /// What a stored preview says, for the operator, even when it cannot be read.
    pub fn describe_json(json: &str) -> String {
        Stored::parse(json).map_or_else(
            || "a simulation was made but cannot be read".to_string(),
            |p| p.describe(),
        )
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

/// Why a simulation gives no plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimulationError {
    /// A word apt reads as something other than one package of that exact name (a pattern,
    /// an operator): the request names no package.
    #[error(
        "apt does not read {0:?} as one package: no package of that exact name is installed by it or was installed before"
    )]
    NotAPackage(String),
    /// apt-get failed, or could not be started.
    #[error("{0}")]
    Failed(String),
}

/// Simulate the action: what it would install, upgrade and remove, or why it cannot say.
/// Every package word of the argv must be what apt acts on, by its exact name: a name apt
/// read as a pattern (`l.b`) or with an operator (`curl-`) matches no `Inst` or `Remv` line of
/// its own.
pub fn simulate(argv: &[String]) -> Result<Plan, SimulationError> {
    let Some(sim) = simulation(argv) else {
        return Err(SimulationError::Failed(
            "only apt-get can be simulated".into(),
        ));
    };
    // One byte more than the limit is read, so that a cut (which could hide a removal) is
    // told from a whole answer.
    let output =
        command::capture(&sim, TIMEOUT, OUTPUT_LIMIT + 1).map_err(SimulationError::Failed)?;
    if output.len() as u64 > OUTPUT_LIMIT {
        return Err(SimulationError::Failed(format!(
            "apt-get -s said more than {OUTPUT_LIMIT} bytes; not read"
        )));
    }
    let plan = parse(&output);
    let acted_on = |word: &str| {
        let named = |entries: &[String]| entries.iter().any(|e| name(e) == word);
        named(&plan.install)
            || named(&plan.upgrade)
            || named(&plan.remove)
            || output.contains(&format!("\n{word} is already the newest version"))
            || output.contains(&format!("Package '{word}' is not installed"))
    };
    match packages(argv).into_iter().find(|word| !acted_on(word)) {
        Some(word) => Err(SimulationError::NotAPackage(word)),
        None => Ok(plan),
    }
}

/// apt-get's options that take the next word as their argument.
const WITH_ARGUMENT: [&str; 9] = [
    "-o",
    "-c",
    "-t",
    "-a",
    "--option",
    "--config-file",
    "--target-release",
    "--default-release",
    "--host-architecture",
];

/// The package words of an apt-get argv: the words after its command word (`install`) that
/// are not options, each up to a `=VERSION` or `/RELEASE`.
fn packages(argv: &[String]) -> Vec<String> {
    let mut words = argv.iter().skip(1);
    let mut command = None;
    let mut packages = Vec::new();
    while let Some(word) = words.next() {
        if WITH_ARGUMENT.contains(&word.as_str()) {
            words.next();
        } else if word.starts_with('-') {
            continue;
        } else if command.is_none() {
            command = Some(word);
        } else {
            let name = word.split(['=', '/']).next().unwrap_or(word);
            packages.push(name.to_string());
        }
    }
    packages
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
    fn package_words_are_told_from_options_and_their_arguments() {
        let argv = [
            "apt-get",
            "-o",
            "Dir::Cache=/x",
            "install",
            "-y",
            "-t",
            "bookworm",
            "curl",
            "xz=5.4",
            "libc6/stable",
        ]
        .map(String::from);
        assert_eq!(packages(&argv), ["curl", "xz", "libc6"]);
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
