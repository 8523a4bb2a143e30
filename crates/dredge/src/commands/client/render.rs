//! The human views of the socket's answers: pure functions from result to text.

use chrono::{DateTime, Utc};

use super::table::{one_line, printable, span, table, when};
use crate::cli::DEFAULT_RUNS_LIMIT;
use crate::protocol::{
    AccountStatus, ClusterStatus, DeadItemInfo, InvalidJobFile, ItemCounts, JobInfo,
    QueueBackendStatus, RunSummary, RunsList, StatusInfo,
};

pub(super) fn status(s: &StatusInfo, now: DateTime<Utc>) -> String {
    let q = &s.queue;
    let mut out = format!(
        "dredge {}  pid {}  up {}\n",
        s.version,
        s.pid,
        span(s.uptime_secs)
    );
    if let Some(fault) = &s.storage {
        out += &format!(
            "STORAGE    {} since {}: {} (nothing is leased; resumes by itself once writes succeed)\n",
            fault.state,
            when(Some(&fault.since), now),
            one_line(&fault.detail)
        );
    }
    out += &format!("state dir  {}\n", s.state_dir);
    if let Some(q) = &s.queue_backend {
        out += &queue_backend(q);
    }
    out += &format!("jobs dir   {}\n", s.jobs_dir);
    out += &format!("jobs {}  active runs {}\n", s.jobs, s.runs_active);
    out += &format!(
        "queue      ready {}  leased {}  snoozed {}  staged {}  done {}  dead {}\n",
        q.ready, q.leased, q.snoozed, q.staged, q.done, q.dead
    );
    out.push('\n');
    out.push_str(&accounts(&s.accounts, now));
    if let Some(c) = &s.cluster {
        out.push('\n');
        out.push_str(&cluster(c, now));
    }
    if !s.invalid_job_files.is_empty() {
        out.push('\n');
        out.push_str(&invalid_files(&s.invalid_job_files));
    }
    if !s.warnings.is_empty() {
        out.push_str("\nwarnings\n");
        for w in &s.warnings {
            out += &format!("  {}\n", one_line(w));
        }
    }
    out
}

/// `queue on   postgres schema dredge, node worker-1` (sled: `queue on   sled`).
fn queue_backend(q: &QueueBackendStatus) -> String {
    let mut line = format!("queue on   {}", printable(&q.backend));
    if let Some(schema) = &q.schema {
        line += &format!(" schema {}", printable(schema));
    }
    if let Some(node) = &q.node {
        line += &format!(", node {}", printable(node));
    }
    line.push('\n');
    line
}

/// The daemons sharing the queue, this one marked `*`, with the runs each writes.
fn cluster(c: &ClusterStatus, now: DateTime<Utc>) -> String {
    let mut out = format!(
        "cluster    {} daemons; this one takes {} of each account's limits\n",
        c.nodes.len(),
        printable(&c.share)
    );
    let rows: Vec<Vec<String>> = c
        .nodes
        .iter()
        .map(|n| {
            let mark = if n.this { " *" } else { "" };
            let writes = if n.writes.is_empty() {
                "-".to_string()
            } else {
                n.writes.join(" ")
            };
            vec![
                format!("{}{mark}", n.node),
                n.host.clone(),
                n.pid.to_string(),
                when(Some(&n.started_at), now),
                when(Some(&n.heartbeat_at), now),
                writes,
            ]
        })
        .collect();
    out += &table(
        &["NODE", "HOST", "PID", "STARTED", "HEARTBEAT", "WRITES"],
        &rows,
    );
    out
}

fn accounts(accounts: &[AccountStatus], now: DateTime<Utc>) -> String {
    if accounts.is_empty() {
        return "no accounts configured\n".into();
    }
    let rows: Vec<Vec<String>> = accounts
        .iter()
        .map(|a| {
            let mut detail = a.detail.as_deref().map(one_line).unwrap_or_default();
            if let Some(until) = &a.until {
                let until = format!("until {}", when(Some(until), now));
                detail = if detail.is_empty() {
                    until
                } else {
                    format!("{detail} ({until})")
                };
            }
            vec![
                a.name.clone(),
                a.vendor.clone(),
                a.state.clone(),
                a.in_flight.to_string(),
                detail,
            ]
        })
        .collect();
    table(
        &["ACCOUNT", "VENDOR", "STATE", "IN FLIGHT", "DETAIL"],
        &rows,
    )
}

/// Each rejected file with its error lines (`PATH:LINE:COL: message`), indented.
fn invalid_files(files: &[InvalidJobFile]) -> String {
    let mut out = format!("invalid job files ({}):\n", files.len());
    for f in files {
        let error = if f.error.starts_with(&f.path) {
            f.error.clone()
        } else {
            format!("{}: {}", f.path, f.error)
        };
        for line in printable(&error).lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out
}

pub(super) fn jobs(jobs: &[JobInfo], now: DateTime<Utc>) -> String {
    if jobs.is_empty() {
        return "no jobs\n".into();
    }
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            vec![
                j.name.clone(),
                j.vendor.clone(),
                j.account.clone(),
                j.schedule.clone().unwrap_or_else(|| "on change".into()),
                when(j.next_fire.as_deref(), now),
                when(j.last_run.as_deref(), now),
                j.state.clone(),
            ]
        })
        .collect();
    table(
        &[
            "JOB",
            "VENDOR",
            "ACCOUNT",
            "SCHEDULE",
            "NEXT FIRE",
            "LAST RUN",
            "STATE",
        ],
        &rows,
    )
}

pub(super) fn runs(runs: &[RunSummary], now: DateTime<Utc>) -> String {
    if runs.is_empty() {
        return "no runs\n".into();
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let i = &r.items;
            vec![
                r.id.clone(),
                r.job.clone(),
                r.state.clone(),
                format!("{}/{}", i.done, total(i)),
                i.ready.to_string(),
                i.leased.to_string(),
                i.snoozed.to_string(),
                i.dead.to_string(),
                r.records.to_string(),
                when(Some(&r.started_at), now),
                when(r.finished_at.as_deref(), now),
                match &r.reason {
                    Some(why) => format!("{} ({})", r.output, one_line(why)),
                    None => r.output.clone(),
                },
            ]
        })
        .collect();
    let headers = [
        "RUN", "JOB", "STATE", "DONE", "READY", "LEASED", "SNOOZED", "DEAD", "RECORDS", "STARTED",
        "FINISHED", "OUTPUT",
    ];
    table(&headers, &rows)
}

/// The last line of a full page of runs: the command that shows the page before it.
/// Empty when the page is not full (nothing older is left).
pub(super) fn older_runs(page: &RunsList, runs: &[RunSummary]) -> String {
    let Some(last) = runs.last().filter(|_| runs.len() >= page.limit()) else {
        return String::new();
    };
    let mut command = String::from("dredge runs");
    if let Some(job) = &page.job {
        command += &format!(" {job}");
    }
    command += &format!(" --before {}", last.id);
    if page.limit() != usize::from(DEFAULT_RUNS_LIMIT) {
        command += &format!(" --limit {}", page.limit());
    }
    format!("older runs: {command}\n")
}

fn total(i: &ItemCounts) -> u64 {
    i.ready + i.leased + i.snoozed + i.staged + i.done + i.dead
}

pub(super) fn dead(items: &[DeadItemInfo]) -> String {
    if items.is_empty() {
        return "no dead items\n".into();
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|d| {
            vec![
                d.run.clone(),
                d.job.clone(),
                d.attempts.to_string(),
                one_line(&d.what),
                one_line(&d.error),
            ]
        })
        .collect();
    table(&["RUN", "JOB", "ATTEMPTS", "WHAT", "LAST ERROR"], &rows)
}

#[cfg(test)]
mod tests;
