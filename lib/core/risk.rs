//! Deterministic risk assessment: the action's configured level, raised (never lowered) by rules
//! that look at what will actually run.

use serde::Serialize;

pub use crate::platform::config::Risk;

/// A risk level with the reasons that led to it, first the configured one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assessment {
    /// The final level.
    pub risk: Risk,
    /// Why, one line each.
    pub reasons: Vec<String>,
}

/// A rule: if any word of what will run matches, the risk is at least `floor`.
struct Rule {
    floor: Risk,
    what: &'static str,
    matches: fn(&[String]) -> Option<String>,
}

const RULES: &[Rule] = &[
    Rule {
        floor: Risk::Critical,
        what: "touches users, groups or keys",
        matches: |words| {
            any_word(
                words,
                &[
                    "useradd",
                    "userdel",
                    "usermod",
                    "adduser",
                    "deluser",
                    "passwd",
                    "chpasswd",
                    "groupadd",
                    "groupdel",
                    "gpasswd",
                    "visudo",
                    "ssh-keygen",
                    "ssh-copy-id",
                    "authorized_keys",
                    "sudoers",
                ],
            )
        },
    },
    Rule {
        floor: Risk::Critical,
        what: "touches a secrets path",
        matches: |words| {
            any_fragment(
                words,
                &[
                    "/etc/shadow",
                    "/etc/gshadow",
                    "/etc/credstore",
                    "/.ssh",
                    "id_rsa",
                    "id_ed25519",
                    ".env",
                    "secret",
                    "password",
                    "token",
                    "private",
                    ".pem",
                    ".key",
                ],
            )
        },
    },
    Rule {
        floor: Risk::High,
        what: "changes the firewall",
        matches: |words| {
            any_word(
                words,
                &[
                    "iptables",
                    "ip6tables",
                    "nft",
                    "ufw",
                    "firewall-cmd",
                    "nftables",
                ],
            )
        },
    },
    Rule {
        floor: Risk::High,
        what: "removes packages",
        matches: |words| {
            let pkg = any_word(
                words,
                &["apt", "apt-get", "dpkg", "aptitude", "snap", "pip"],
            );
            let verb = any_word(
                words,
                &[
                    "remove",
                    "purge",
                    "autoremove",
                    "uninstall",
                    "--remove",
                    "--purge",
                ],
            );
            pkg.and(verb)
        },
    },
    Rule {
        floor: Risk::High,
        what: "gives apt a removal (a trailing -) or a pattern, not a package name",
        matches: |words| {
            any_word(words, &["apt", "apt-get", "aptitude"])?;
            words
                .iter()
                .filter(|w| !w.starts_with('-'))
                .find(|w| {
                    let single_plus = w.ends_with('+') && !w.ends_with("++");
                    w.ends_with('-')
                        || w.ends_with('.')
                        || single_plus
                        || w.contains(['?', '*', '[', ']', '^', '$', '|', '~', '(', ')', '!'])
                })
                .cloned()
        },
    },
    Rule {
        floor: Risk::High,
        what: "is destructive",
        matches: |words| {
            any_word(
                words,
                &[
                    "rm", "rmdir", "delete", "remove", "purge", "prune", "drop", "kill", "pkill",
                    "killall", "wipe", "wipefs", "mkfs", "dd", "truncate", "shred", "reset",
                    "format", "destroy", "down", "rmi", "shutdown", "reboot", "poweroff",
                ],
            )
        },
    },
    Rule {
        floor: Risk::High,
        what: "exposes something to the network",
        matches: |words| {
            any_word(
                words,
                &["-p", "--publish", "--network=host", "expose", "listen"],
            )
            .or_else(|| any_fragment(words, &["0.0.0.0", "[::]", "--publish="]))
        },
    },
];

fn any_word(words: &[String], list: &[&str]) -> Option<String> {
    words
        .iter()
        .find(|w| {
            let base = w.rsplit('/').next().unwrap_or(w);
            list.iter()
                .any(|l| l.eq_ignore_ascii_case(base) || l.eq_ignore_ascii_case(w))
        })
        .cloned()
}

fn any_fragment(words: &[String], list: &[&str]) -> Option<String> {
    words
        .iter()
        .find(|w| {
            let lower = w.to_ascii_lowercase();
            list.iter().any(|l| lower.contains(l))
        })
        .cloned()
}

/// Assess an action request: `argv` is what will run.
pub fn assess_action(kind: &str, configured: Risk, argv: &[String]) -> Assessment {
    let mut assessment = Assessment {
        risk: configured,
        reasons: vec![format!("action {kind} is configured as {configured}")],
    };
    raise(&mut assessment, argv);
    assessment
}

/// Assess a freeform request: it runs whatever the admin agent decides, so it starts high and
/// is raised further by what its text mentions.
pub fn assess_freeform(text: &str) -> Assessment {
    let mut assessment = Assessment {
        risk: Risk::High,
        reasons: vec!["freeform requests are carried out by the admin agent as it sees fit".into()],
    };
    let words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '"' | '\'' | '(' | ')'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    raise(&mut assessment, &words);
    assessment
}

fn raise(assessment: &mut Assessment, words: &[String]) {
    for rule in RULES {
        if let Some(word) = (rule.matches)(words) {
            assessment.reasons.push(format!(
                "it {} ({word:?}): at least {}",
                rule.what, rule.floor
            ));
            assessment.risk = assessment.risk.max(rule.floor);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn configured_level_stands_when_nothing_matches() {
        let a = assess_action(
            "restart_container",
            Risk::Medium,
            &argv(&["docker", "restart", "searxng"]),
        );
        assert_eq!(a.risk, Risk::Medium);
        assert_eq!(a.reasons.len(), 1);
    }

    #[test]
    fn rules_raise_and_say_why() {
        for (words, risk, needle) in [
            (
                &["apt-get", "remove", "-y", "nginx"][..],
                Risk::High,
                "removes packages",
            ),
            (&["/usr/sbin/useradd", "bob"][..], Risk::Critical, "users"),
            (&["cat", "/etc/shadow"][..], Risk::Critical, "secrets"),
            (&["ufw", "allow", "22"][..], Risk::High, "firewall"),
            (
                &["docker", "run", "-p", "80:80", "x"][..],
                Risk::High,
                "network",
            ),
            (
                &["docker", "system", "prune"][..],
                Risk::High,
                "destructive",
            ),
        ] {
            let a = assess_action("x", Risk::Low, &argv(words));
            assert_eq!(a.risk, risk, "{words:?}");
            assert!(
                a.reasons.iter().any(|r| r.contains(needle)),
                "{words:?}: {:?}",
                a.reasons
            );
        }
    }

    #[test]
    fn rules_never_lower() {
        let a = assess_action("x", Risk::Critical, &argv(&["docker", "restart", "a"]));
        assert_eq!(a.risk, Risk::Critical);
    }

    #[test]
    fn freeform_starts_high_and_reads_the_text() {
        assert_eq!(
            assess_freeform("please update the dashboard").risk,
            Risk::High
        );
        let a = assess_freeform("add my key to /root/.ssh/authorized_keys");
        assert_eq!(a.risk, Risk::Critical);
    }
}
