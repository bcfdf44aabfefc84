//! Checked values shared by several sections: sizes, URLs, absolute paths and time zones.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

/// A size limit, between 1 KiB and 16 MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxBytes(pub(super) u64);

impl MaxBytes {
    /// The limit in bytes.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for MaxBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = u64::deserialize(deserializer)?;
        if !(1024..=16_777_216).contains(&value) {
            return Err(serde::de::Error::custom(format!(
                "{value} is out of range: a size limit is between 1024 and 16777216 bytes"
            )));
        }
        Ok(MaxBytes(value))
    }
}

/// An `http://` or `https://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl(pub(super) String);

impl HttpUrl {
    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let url = String::deserialize(deserializer)?;
        let ok = (url.starts_with("http://") || url.starts_with("https://"))
            && !url.chars().any(|c| c.is_control() || c.is_whitespace());
        if !ok {
            return Err(serde::de::Error::custom(format!(
                "{url:?} is not an http:// or https:// URL"
            )));
        }
        Ok(HttpUrl(url))
    }
}

/// An absolute path from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbsPath(pub(super) PathBuf);

impl AbsPath {
    pub(super) fn from_static(path: &str) -> Self {
        AbsPath(PathBuf::from(path))
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl<'de> Deserialize<'de> for AbsPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let path = PathBuf::from(String::deserialize(deserializer)?);
        if !path.is_absolute() {
            return Err(serde::de::Error::custom(format!(
                "{} is not an absolute path",
                path.display()
            )));
        }
        Ok(AbsPath(path))
    }
}

/// A time zone by its IANA name.
#[derive(Debug, Clone)]
pub struct Zone {
    /// The IANA name, e.g. `Europe/Amsterdam`.
    pub name: String,
    /// The zone.
    pub tz: jiff::tz::TimeZone,
}

impl Zone {
    pub(super) fn system() -> Self {
        // A zone without an IANA name (TZ=CET-1CEST) would be written as one thing and named
        // another: UTC then, as named.
        match jiff::tz::TimeZone::try_system()
            .ok()
            .and_then(|tz| Some((tz.iana_name()?.to_string(), tz)))
        {
            Some((name, tz)) => Zone { name, tz },
            None => Zone {
                name: "UTC".into(),
                tz: jiff::tz::TimeZone::UTC,
            },
        }
    }
}

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        let tz = jiff::tz::TimeZone::get(&name).map_err(|_| {
            serde::de::Error::custom(format!(
                "unknown time zone {name:?}: use an IANA name such as Europe/Amsterdam"
            ))
        })?;
        Ok(Zone { name, tz })
    }
}

/// How much harm a request can do, in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    /// Read-only or trivially undone.
    Low,
    /// Disrupts a service briefly.
    Medium,
    /// Changes the system in ways that are hard to undo.
    High,
    /// Touches users, keys, secrets or the firewall.
    Critical,
}

impl Risk {
    /// The lower-case name, as in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
            Risk::Critical => "critical",
        }
    }

    /// Parse the lower-case name.
    pub fn parse(name: &str) -> Option<Risk> {
        [Risk::Low, Risk::Medium, Risk::High, Risk::Critical]
            .into_iter()
            .find(|r| r.as_str() == name)
    }
}

impl fmt::Display for Risk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}
