//! Counters for the `metrics` method (Prometheus text exposition). Queue depths are
//! read from the queue when asked; everything else is counted as it happens.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

#[derive(Default)]
pub(super) struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, String), u64>>,
}

/// Help text per metric name.
const HELP: &[(&str, &str)] = &[
    (
        "dredge_records_written_total",
        "Records appended and committed to run files",
    ),
    (
        "dredge_outcomes_total",
        "Item executions by vendor and outcome",
    ),
    (
        "dredge_failures_total",
        "Transient failures by vendor and class",
    ),
    (
        "dredge_snoozes_total",
        "Snoozes requested by vendors, by scope",
    ),
    (
        "dredge_token_refreshes_total",
        "Executions that refreshed an access token",
    ),
    ("dredge_dead_items_total", "Items that died"),
    ("dredge_runs_started_total", "Runs started"),
    (
        "dredge_job_scans_total",
        "Reads of the jobs directory (file events, periodic rescans, reloads)",
    ),
];

impl Metrics {
    pub(super) fn add(&self, name: &'static str, labels: String, n: u64) {
        let mut c = self.counters.lock().expect("metrics poisoned");
        *c.entry((name, labels)).or_default() += n;
    }

    pub(super) fn records_written(&self, job: &str, n: u64) {
        self.add(
            "dredge_records_written_total",
            format!("job=\"{}\"", escape(job)),
            n,
        );
    }

    /// Render all counters, plus `gauges` (name, labels, value) computed by the caller.
    pub(super) fn render(&self, gauges: &[(&str, String, u64)]) -> String {
        let counters = self.counters.lock().expect("metrics poisoned");
        let mut out = String::new();
        for (name, help) in HELP {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for ((n, labels), v) in counters.iter().filter(|((n, _), _)| n == name) {
                if labels.is_empty() {
                    let _ = writeln!(out, "{n} {v}");
                } else {
                    let _ = writeln!(out, "{n}{{{labels}}} {v}");
                }
            }
        }
        let mut last = "";
        for (name, labels, v) in gauges {
            if *name != last {
                let _ = writeln!(out, "# TYPE {name} gauge");
                last = name;
            }
            let _ = writeln!(out, "{name}{{{labels}}} {v}");
        }
        out
    }
}

/// Escape a label value (Prometheus text format).
pub(super) fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_in_exposition_format() {
        let m = Metrics::default();
        m.records_written("news", 3);
        m.records_written("news", 2);
        let text = m.render(&[("dredge_items", "state=\"ready\"".into(), 7)]);
        assert!(
            text.contains("dredge_records_written_total{job=\"news\"} 5"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE dredge_items gauge\ndredge_items{state=\"ready\"} 7"),
            "{text}"
        );
    }
}
