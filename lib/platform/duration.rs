//! Durations written as in systemd and most configs: `30s`, `2m`, `24h`, `1h30m`, `7d`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A positive duration read from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConfigDuration(Duration);

impl ConfigDuration {
    /// A duration of whole seconds.
    pub const fn from_secs(secs: u64) -> Self {
        ConfigDuration(Duration::from_secs(secs))
    }

    /// The standard library duration.
    pub fn get(self) -> Duration {
        self.0
    }

    /// Whole seconds, as stored in the database.
    pub fn as_secs(self) -> i64 {
        i64::try_from(self.0.as_secs()).unwrap_or(i64::MAX)
    }
}

/// Why a duration could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid duration {text:?}: {why} (write it like 30s, 2m, 24h, 1h30m or 7d)")]
pub struct DurationError {
    text: String,
    why: &'static str,
}

impl FromStr for ConfigDuration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |why| DurationError {
            text: text.to_string(),
            why,
        };
        let mut rest = text.trim();
        if rest.is_empty() {
            return Err(fail("it is empty"));
        }
        let mut total: u64 = 0;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return Err(fail("expected a number"));
            }
            let number: u64 = rest[..digits]
                .parse()
                .map_err(|_| fail("number too large"))?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit = match rest[..unit_len].trim() {
                "ms" => return Err(fail("the smallest unit is the second")),
                "s" | "sec" => 1,
                "m" | "min" => 60,
                "h" => 3600,
                "d" => 86_400,
                "w" => 604_800,
                "" => return Err(fail("a unit is missing")),
                _ => return Err(fail("unknown unit")),
            };
            rest = rest[unit_len..].trim_start();
            total = number
                .checked_mul(unit)
                .and_then(|secs| total.checked_add(secs))
                .ok_or_else(|| fail("too large"))?;
        }
        if total == 0 {
            return Err(fail("it must be longer than zero"));
        }
        Ok(ConfigDuration(Duration::from_secs(total)))
    }
}

impl fmt::Display for ConfigDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut secs = self.0.as_secs();
        for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
            if secs >= size {
                write!(f, "{}{unit}", secs / size)?;
                secs %= size;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_forms() {
        for (text, secs) in [
            ("30s", 30),
            ("2m", 120),
            ("24h", 86_400),
            ("1h30m", 5400),
            ("1h 30m", 5400),
            ("7d", 604_800),
            ("2w", 1_209_600),
        ] {
            let parsed: ConfigDuration = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(parsed.get().as_secs(), secs, "{text}");
        }
    }

    #[test]
    fn rejects_nonsense_with_a_reason() {
        for (text, why) in [
            ("", "it is empty"),
            ("24", "a unit is missing"),
            ("h", "expected a number"),
            ("3 fortnights", "unknown unit"),
            ("0s", "it must be longer than zero"),
            ("-5m", "expected a number"),
            ("99999999999999999999999s", "number too large"),
            ("9999999999999999w", "too large"),
        ] {
            let err = text.parse::<ConfigDuration>().expect_err(text);
            assert_eq!(err.why, why, "{text}");
        }
    }

    #[test]
    fn displays_compactly() {
        let d: ConfigDuration = "1d2h3m4s".parse().unwrap();
        assert_eq!(d.to_string(), "1d2h3m4s");
        assert_eq!(ConfigDuration::from_secs(86_400).to_string(), "1d");
    }
}
