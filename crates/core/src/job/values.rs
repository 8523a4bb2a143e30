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

/// A duration written as text: `"6h"`, `"10s"`, `"1h 30m"`; longer than zero and at
/// most ten years (anything longer is a typo, and would overflow time arithmetic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HumanDuration(pub Duration);

/// The longest duration any setting accepts.
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 86_400);

impl TryFrom<String> for HumanDuration {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match humantime::parse_duration(s.trim()) {
            Ok(d) if d.is_zero() => Err(format!("duration {s:?} must be longer than zero")),
            Ok(d) if d > MAX_DURATION => Err(format!(
                "duration {s:?} is too long: at most 10 years (\"3650d\")"
            )),
            Ok(d) => Ok(HumanDuration(d)),
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

/// A duration setting with its own range, `MIN_S..=MAX_S` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "HumanDuration")]
pub struct DurationIn<const MIN_S: u64, const MAX_S: u64>(pub HumanDuration);

impl<const MIN_S: u64, const MAX_S: u64> TryFrom<HumanDuration> for DurationIn<MIN_S, MAX_S> {
    type Error = String;
    fn try_from(d: HumanDuration) -> Result<Self, String> {
        let range = Duration::from_secs(MIN_S)..=Duration::from_secs(MAX_S);
        if range.contains(&d.0) {
            Ok(DurationIn(d))
        } else {
            Err(format!(
                "{} is out of range ({}..={})",
                String::from(d),
                humantime::format_duration(*range.start()),
                humantime::format_duration(*range.end())
            ))
        }
    }
}

/// An integer that must lie in `MIN..=MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "i64")]
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
            Err(format!("{v} is out of range ({MIN}..={MAX})"))
        }
    }
}

impl<const MIN: i64, const MAX: i64> From<Bounded<MIN, MAX>> for i64 {
    fn from(b: Bounded<MIN, MAX>) -> i64 {
        b.0
    }
}

impl<'de, const MIN: i64, const MAX: i64> Deserialize<'de> for Bounded<MIN, MAX> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_i64(IntegerVisitor::<MIN, MAX>)
    }
}

/// Says "expected an integer" (not "i64"), and checks the range.
struct IntegerVisitor<const MIN: i64, const MAX: i64>;

impl<const MIN: i64, const MAX: i64> serde::de::Visitor<'_> for IntegerVisitor<MIN, MAX> {
    type Value = Bounded<MIN, MAX>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an integer ({MIN}..={MAX})")
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Bounded::try_from(v).map_err(E::custom)
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        match i64::try_from(v) {
            Ok(v) => Bounded::try_from(v).map_err(E::custom),
            Err(_) => Err(E::custom(format!("{v} is out of range ({MIN}..={MAX})"))),
        }
    }
}

/// A request rate in requests per second: fractions allowed, `0.001..=10000`. A rate
/// outside this cannot be a real vendor quota, and would overflow the rate gate.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "f64")]
pub struct Rate(pub f64);

impl Rate {
    pub const MIN: f64 = 0.001;
    pub const MAX: f64 = 10_000.0;
}

impl TryFrom<f64> for Rate {
    type Error = String;
    fn try_from(r: f64) -> Result<Self, String> {
        if (Rate::MIN..=Rate::MAX).contains(&r) {
            Ok(Rate(r))
        } else {
            Err(format!(
                "{r} is out of range ({}..={}): give requests per second, e.g. 0.5 or 20",
                Rate::MIN,
                Rate::MAX
            ))
        }
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
/// A TOML value as JSON (lists and tables pass through): the parameters a job passes
/// through to a vendor as given.
pub fn toml_to_json(value: toml::Value) -> serde_json::Value {
    match value {
        toml::Value::String(s) => serde_json::Value::String(s),
        toml::Value::Integer(i) => serde_json::Value::from(i),
        toml::Value::Float(f) => serde_json::Value::from(f),
        toml::Value::Boolean(b) => serde_json::Value::Bool(b),
        toml::Value::Datetime(d) => serde_json::Value::String(d.to_string()),
        toml::Value::Array(a) => a.into_iter().map(toml_to_json).collect(),
        toml::Value::Table(t) => {
            serde_json::Value::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_params_become_json_unchanged() {
        let value: toml::Value =
            toml::from_str::<toml::Table>("v = { a = [1, \"x\"], b = { c = true } }").unwrap()["v"]
                .clone();
        assert_eq!(
            toml_to_json(value),
            serde_json::json!({"a": [1, "x"], "b": {"c": true}})
        );
    }
}
