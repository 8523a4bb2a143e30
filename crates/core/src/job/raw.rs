//! The keys every job file has, as written, before cross-field rules turn them into a
//! `JobSpec` (each vendor's table is its crate's, `section.rs`). Field docs here are
//! the reference users read (README "Job files").

use serde::Deserialize;
use toml::Spanned;

use super::values::{Bounded, DurationIn};
use super::vendors::Vendor;
use super::{CatchUp, Overlap, Schedule};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJob {
    /// `octoparse | oxylabs | wds | autoextract | zyte`
    pub vendor: Spanned<Vendor>,
    /// Optional when exactly one account of that vendor exists.
    pub account: Option<Spanned<String>>,
    /// 5-field cron, 6-field with seconds, or @hourly/@daily/@weekly. Absent: one run
    /// when the file first appears or its content changes.
    pub schedule: Option<Schedule>,
    #[serde(default)]
    pub catch_up: CatchUp,
    #[serde(default)]
    pub overlap: Overlap,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Attempts per item for transient errors (1..=1000, default 8).
    pub max_attempts: Option<Bounded<1, 1000>>,
    /// Items unfinished this long after their run started are dead (default 6h).
    pub deadline: Option<DurationIn<1, { 10 * 365 * 86_400 }>>,
    /// How much of the job's history to keep (over the daemon's `[retention]`).
    #[serde(default)]
    pub retention: super::retention::RetentionTable,
}

/// `RawJob`'s keys as serde lists them; the vendor tables come after them.
pub(super) const RAW_JOB_KEYS: &[&str] = &[
    "vendor",
    "account",
    "schedule",
    "catch_up",
    "overlap",
    "enabled",
    "max_attempts",
    "deadline",
    "retention",
];

fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listed_keys_are_the_ones_serde_takes_in_its_order() {
        let e = toml::from_str::<RawJob>("vendor = \"wds\"\nzz = 1\n").unwrap_err();
        let listed: Vec<String> = RAW_JOB_KEYS.iter().map(|k| format!("`{k}`")).collect();
        let expected = format!("expected one of {}", listed.join(", "));
        assert!(e.message().ends_with(&expected), "{}", e.message());
    }
}
