//! Small value types of job files. Each parses its text once, so a `JobSpec` that
//! exists is valid: parse, don't validate. Errors raised here are reported by the toml
//! deserializer at the value's line and column.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A job's name: its file stem, `[a-z0-9][a-z0-9_-]*`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobName(String);

impl JobName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for JobName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let mut chars = s.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let rest_ok =
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if first_ok && rest_ok {
            Ok(JobName(s))
        } else {
            Err(format!(
                "job name {s:?} is not allowed: rename the file so its stem matches [a-z0-9][a-z0-9_-]* (lower case letters, digits, '_' and '-')"
            ))
        }
    }
}

impl From<JobName> for String {
    fn from(n: JobName) -> String {
        n.0
    }
}

impl fmt::Display for JobName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A duration written as text: `"6h"`, `"10s"`, `"1h 30m"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HumanDuration(pub Duration);

impl TryFrom<String> for HumanDuration {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match humantime::parse_duration(s.trim()) {
            Ok(d) if !d.is_zero() => Ok(HumanDuration(d)),
            Ok(_) => Err(format!("duration {s:?} must be longer than zero")),
            Err(e) => Err(format!(
                "{s:?} is not a duration ({e}): write it like \"30s\", \"10m\" or \"6h\""
            )),
        }
    }
}

impl From<HumanDuration> for String {
    fn from(d: HumanDuration) -> String {
        humantime::format_duration(d.0).to_string()
    }
}

/// An integer that must lie in `MIN..=MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Bounded<const MIN: i64, const MAX: i64>(i64);

impl<const MIN: i64, const MAX: i64> Bounded<MIN, MAX> {
    pub fn get(self) -> i64 {
        self.0
    }
}

impl<const MIN: i64, const MAX: i64> TryFrom<i64> for Bounded<MIN, MAX> {
    type Error = String;
    fn try_from(v: i64) -> Result<Self, String> {
        if (MIN..=MAX).contains(&v) {
            Ok(Bounded(v))
        } else {
            Err(format!(
                "{v} is out of range: use a value from {MIN} to {MAX}"
            ))
        }
    }
}

impl<const MIN: i64, const MAX: i64> From<Bounded<MIN, MAX>> for i64 {
    fn from(b: Bounded<MIN, MAX>) -> i64 {
        b.0
    }
}

/// A WDS selector: `css: a.next` or `xpath: //span[@class='price']` (prefix
/// case-insensitive), kept exactly as written because the server parses the prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Selector(String);

impl Selector {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Selector {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let lower = s.trim_start().to_ascii_lowercase();
        let body = ["css:", "xpath:"]
            .iter()
            .find_map(|p| lower.strip_prefix(p));
        match body {
            Some(b) if !b.trim().is_empty() => Ok(Selector(s)),
            Some(_) => Err(format!("selector {s:?} is empty after its prefix")),
            None => Err(format!(
                "selector {s:?} must start with \"css:\" or \"xpath:\" (e.g. \"css: a.next\")"
            )),
        }
    }
}

impl From<Selector> for String {
    fn from(s: Selector) -> String {
        s.0
    }
}

/// An absolute http(s) URL, checked when the job loads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HttpUrl(String);

impl HttpUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for HttpUrl {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match url::Url::parse(&s) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                Ok(HttpUrl(s))
            }
            Ok(_) => Err(format!("{s:?} is not an http:// or https:// URL")),
            Err(e) => Err(format!("{s:?} is not a URL: {e}")),
        }
    }
}

impl From<HttpUrl> for String {
    fn from(u: HttpUrl) -> String {
        u.0
    }
}
