//! Per-vendor counts read from the daemon's `metrics` answer (Prometheus text). The
//! daemon keeps its counters in memory, so a restart starts them at zero again: what
//! the killed daemon had counted (as of the last poll, at most 200 ms before the kill)
//! is carried over and added.

use std::collections::BTreeMap;

/// What the daemon counted for one vendor's job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct VendorCounts {
    /// The vendor asked us to wait ("domain occupied", `Retry-After`, quota) and we did.
    pub snoozes: u64,
    /// "Not ready yet" answers (WDS `202 Accepted`, Oxylabs `pending`): polled again later.
    pub polls: u64,
    /// Transient failures retried with backoff (5xx, `server_error`, timeouts).
    pub retries: u64,
    /// Access tokens refreshed after the vendor rejected one.
    pub token_refreshes: u64,
}

/// Metric series (name and labels) → value, over the daemon's lifetimes.
#[derive(Debug, Default)]
pub(super) struct Counters {
    earlier_daemons: BTreeMap<String, u64>,
    this_daemon: BTreeMap<String, u64>,
}

impl Counters {
    /// Take the latest `metrics` text of the running daemon.
    pub(super) fn update(&mut self, text: &str) {
        self.this_daemon = parse(text);
    }

    /// The daemon was restarted: what it had counted stays counted.
    pub(super) fn daemon_restarted(&mut self) {
        for (series, value) in std::mem::take(&mut self.this_daemon) {
            *self.earlier_daemons.entry(series).or_default() += value;
        }
    }

    pub(super) fn vendor(&self, vendor: &str) -> VendorCounts {
        let label = format!("vendor=\"{vendor}\"");
        VendorCounts {
            snoozes: self.sum("dredge_snoozes_total{", &[&label]),
            polls: self.sum("dredge_outcomes_total{", &[&label, "outcome=\"not_ready\""]),
            retries: self.sum("dredge_failures_total{", &[&label]),
            token_refreshes: self.sum("dredge_token_refreshes_total{", &[&label]),
        }
    }

    /// Sum of the series named `prefix…` whose labels contain every one of `labels`.
    fn sum(&self, prefix: &str, labels: &[&str]) -> u64 {
        self.earlier_daemons
            .iter()
            .chain(&self.this_daemon)
            .filter(|(series, _)| {
                series.starts_with(prefix) && labels.iter().all(|l| series.contains(l))
            })
            .map(|(_, value)| value)
            .sum()
    }
}

/// `name{labels} value` lines; comments and anything unreadable are skipped.
fn parse(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_string(), value.trim().parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# TYPE dredge_snoozes_total counter\n\
        dredge_snoozes_total{vendor=\"autoextract\",scope=\"domain\"} 4\n\
        dredge_snoozes_total{vendor=\"autoextract\",scope=\"account\"} 1\n\
        dredge_outcomes_total{vendor=\"wds\",outcome=\"not_ready\"} 7\n\
        dredge_outcomes_total{vendor=\"wds\",outcome=\"done\"} 9\n\
        dredge_failures_total{vendor=\"wds\",class=\"server\"} 2\n";

    #[test]
    fn counts_are_summed_per_vendor_over_scopes_and_classes() {
        let mut c = Counters::default();
        c.update(TEXT);
        assert_eq!(c.vendor("autoextract").snoozes, 5);
        assert_eq!(c.vendor("wds").polls, 7);
        assert_eq!(c.vendor("wds").retries, 2);
        assert_eq!(c.vendor("octoparse"), VendorCounts::default());
    }

    #[test]
    fn counts_of_a_killed_daemon_are_kept_after_its_restart() {
        let mut c = Counters::default();
        c.update(TEXT);
        c.daemon_restarted();
        c.update("dredge_outcomes_total{vendor=\"wds\",outcome=\"not_ready\"} 1\n");
        assert_eq!(c.vendor("wds").polls, 8);
        assert_eq!(c.vendor("autoextract").snoozes, 5);
    }
}
