//! How much history dredge keeps of a job: its runs' records in the queue (items, dead
//! items) and, when asked, their output files. Daemon-wide in the config's
//! `[retention]`, overridden per job by a `[retention]` table in the job file.
//!
//! A finished run goes once more than `keep_runs` newer runs of its job exist, or once
//! it ended longer than `keep_for` ago; the newest finished run of a job always stays.
//! Output files are deleted only with `delete_outputs = true`: they are the product,
//! and many deployments move them away themselves.

use std::time::Duration;

use serde::Deserialize;

use super::values::{Bounded, DurationIn};

/// The largest `keep_runs` (in effect: keep every run).
pub const MAX_KEEP_RUNS: i64 = 10_000_000;
/// The shortest `keep_for`: a run's history must outlive a look at `dredge runs`.
pub const MIN_KEEP_FOR_S: u64 = 3600;
const MAX_KEEP_FOR_S: u64 = 10 * 365 * 86_400;

/// A job's history policy, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub keep_runs: u64,
    pub keep_for: Duration,
    pub delete_outputs: bool,
}

impl Default for Retention {
    /// 100 runs and 90 days: a job every five minutes keeps about eight hours of runs,
    /// a daily job about three months. Outputs stay.
    fn default() -> Self {
        Retention {
            keep_runs: 100,
            keep_for: Duration::from_secs(90 * 86_400),
            delete_outputs: false,
        }
    }
}

/// A `[retention]` table as written: every key optional, each one overriding the
/// policy below it (the daemon's for a job, the default for the daemon).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionTable {
    /// Runs of the job to keep, the newest first (1..=10,000,000).
    pub keep_runs: Option<Bounded<1, MAX_KEEP_RUNS>>,
    /// Finished runs younger than this stay (1h..=10 years).
    pub keep_for: Option<DurationIn<MIN_KEEP_FOR_S, MAX_KEEP_FOR_S>>,
    /// Delete a pruned run's output file (and attachments) too.
    pub delete_outputs: Option<bool>,
}

/// A job's override of the daemon's policy (what its `[retention]` table said).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionOverride {
    pub keep_runs: Option<u64>,
    pub keep_for: Option<Duration>,
    pub delete_outputs: Option<bool>,
}

impl From<RetentionTable> for RetentionOverride {
    fn from(t: RetentionTable) -> Self {
        RetentionOverride {
            keep_runs: t.keep_runs.map(|n| n.get() as u64),
            keep_for: t.keep_for.map(|d| d.0.0),
            delete_outputs: t.delete_outputs,
        }
    }
}

impl RetentionOverride {
    /// This override over `base`.
    pub fn over(self, base: Retention) -> Retention {
        Retention {
            keep_runs: self.keep_runs.unwrap_or(base.keep_runs),
            keep_for: self.keep_for.unwrap_or(base.keep_for),
            delete_outputs: self.delete_outputs.unwrap_or(base.delete_outputs),
        }
    }
}
