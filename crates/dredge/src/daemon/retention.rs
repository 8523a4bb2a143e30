//! Bounded history: right after a run of a job ends, and for every job every
//! `PRUNE_EVERY` (which catches runs that aged past `keep_for`), finished runs beyond
//! their job's retention policy are removed from the queue (and their output files,
//! when the policy says `delete_outputs`), a few hundred keys per durable batch, on a
//! blocking thread.
//!
//! Why this shape: a job every five minutes makes 100,000 runs a year, each with its
//! items and dead items. Pruning them in one go would hold the queue's write lock for
//! seconds; small batches let lanes and the socket in between. The policy is the
//! current job file's `[retention]` over the daemon's (a job whose file is gone falls
//! back to the daemon's), so editing it takes effect at the next round.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use dredge_core::UnixMillis;
use dredge_core::job::Retention;
use dredge_queue::{Pruned, QueueBackend, RunId, RunState};

use super::health::is_storage_error;
use super::output::RunPaths;
use super::state::Shared;

/// How often every job's history is pruned (the first round runs a minute after
/// start). A job whose run ends is pruned right then too (`Shared::run_finished`).
const PRUNE_EVERY: Duration = Duration::from_secs(600);
/// Keys removed per queue batch.
const KEYS_PER_BATCH: usize = 500;

pub(super) async fn run(shared: Arc<Shared>) {
    let mut next_full = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let full = tokio::select! {
            _ = tokio::time::sleep_until(next_full) => true,
            _ = shared.prune_wake.notified() => false,
            _ = shared.shutdown.cancelled() => return,
        };
        if full {
            next_full = tokio::time::Instant::now() + PRUNE_EVERY;
        }
        if shared.health.is_faulted() {
            continue;
        }
        let jobs = if full {
            None
        } else {
            Some(std::mem::take(
                &mut *shared.ended_jobs.lock().expect("ended jobs poisoned"),
            ))
        };
        let s = shared.clone();
        let round = move || prune_round(&s, jobs, UnixMillis::now());
        match tokio::task::spawn_blocking(round).await {
            Ok(Ok(0)) => {}
            Ok(Ok(pruned)) => tracing::info!(runs = pruned, "old runs pruned"),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "pruning old runs failed");
                if is_storage_error(&e) {
                    shared.health.report("pruning old runs", &e);
                }
            }
            Err(e) => tracing::error!(error = %e, "the pruning task failed"),
        }
    }
}

/// One pass over the runs of `jobs` (every job with runs when `None`); returns how
/// many runs were removed.
pub(super) fn prune_round(
    shared: &Shared,
    jobs: Option<HashSet<String>>,
    now: UnixMillis,
) -> dredge_queue::Result<usize> {
    let queue = &shared.queue;
    // Items written before the item index existed get their entries first.
    while !queue.index_legacy_items(KEYS_PER_BATCH)? {
        if shared.shutdown.is_cancelled() {
            return Ok(0);
        }
    }
    let jobs = match jobs {
        Some(jobs) => jobs.into_iter().collect(),
        None => queue.jobs_with_runs()?,
    };
    let mut pruned = 0;
    for job in jobs {
        let policy = policy_of(shared, &job);
        for run in runs_beyond(queue.as_ref(), &job, &policy, now)? {
            if shared.shutdown.is_cancelled() || shared.health.is_faulted() {
                return Ok(pruned);
            }
            if prune(shared, &job, &run, policy.delete_outputs)? {
                pruned += 1;
            }
        }
    }
    Ok(pruned)
}

fn policy_of(shared: &Shared, job: &str) -> Retention {
    let base = shared.config().retention;
    let jobs = shared.jobs.lock().expect("jobs poisoned");
    jobs.valid
        .get(job)
        .map_or(base, |j| j.spec.retention.over(base))
}

/// The job's finished runs that its policy no longer keeps: beyond the newest
/// `keep_runs` runs, or ended longer than `keep_for` ago. The newest finished run
/// always stays.
fn runs_beyond(
    queue: &dyn QueueBackend,
    job: &str,
    policy: &Retention,
    now: UnixMillis,
) -> dredge_queue::Result<Vec<RunId>> {
    let mut out = Vec::new();
    let mut newest_finished_seen = false;
    for (newer, run) in queue.job_run_ids(job)?.into_iter().enumerate() {
        let Some((state, finished_at)) = queue.run_end(&run)? else {
            continue;
        };
        if state == RunState::Running {
            continue;
        }
        if !newest_finished_seen {
            newest_finished_seen = true;
            continue;
        }
        let too_many = newer as u64 >= policy.keep_runs;
        let too_old = finished_at
            .is_some_and(|end| now.0.saturating_sub(end.0) > policy.keep_for.as_millis() as u64);
        if too_many || too_old {
            out.push(run);
        }
    }
    Ok(out)
}

/// Removes one run; false when the queue keeps it for now (items in flight...).
fn prune(
    shared: &Shared,
    job: &str,
    run: &RunId,
    delete_outputs: bool,
) -> dredge_queue::Result<bool> {
    if let Pruned::Kept(why) = shared.queue.prune_run(run, 0)? {
        tracing::debug!(run = %run, why, "run kept for now");
        return Ok(false);
    }
    if delete_outputs {
        delete_output(shared, job, run);
    }
    loop {
        match shared.queue.prune_run(run, KEYS_PER_BATCH)? {
            Pruned::Gone => break,
            Pruned::More => {}
            Pruned::Kept(_) => return Ok(false),
        }
    }
    shared.metrics.add(
        "dredge_runs_pruned_total",
        format!("job=\"{}\"", super::metrics::escape(job)),
        1,
    );
    Ok(true)
}

/// The run's output file (final or partial) and attachments, if any.
fn delete_output(shared: &Shared, job: &str, run: &RunId) {
    let paths = RunPaths::new(&shared.config().output_dir, job, run);
    for file in [&paths.done, &paths.partial] {
        match std::fs::remove_file(file) {
            Ok(()) => tracing::info!(file = %file.display(), "output of a pruned run deleted"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(file = %file.display(), error = %e, "cannot delete a pruned run's output")
            }
        }
    }
    if paths.attachments.is_dir()
        && let Err(e) = std::fs::remove_dir_all(&paths.attachments)
    {
        tracing::warn!(dir = %paths.attachments.display(), error = %e, "cannot delete a pruned run's attachments");
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::DaemonConfig;
    use crate::daemon::test_support::{load_news_job_from, new_run, writer_in};

    const HOUR_MS: u64 = 3_600_000;

    /// A shared daemon state whose config says `retention`.
    fn with_retention(dir: &Path, retention: &str) -> Arc<Shared> {
        let (shared, _writer) = writer_in(dir);
        let text = format!(
            "state_dir = \"state\"\njobs_dir = \"jobs\"\nsocket = \"state/s.sock\"\n\n\
             [retention]\n{retention}\n\n[accounts.a]\nvendor = \"autoextract\"\napi_key = \"k\"\n"
        );
        let config = DaemonConfig::parse(&dir.join("dredge.toml"), &text).unwrap();
        *shared.config.write().unwrap() = Arc::new(config);
        shared
    }

    /// `n` runs of the job `news`, each ended an hour after the one before, oldest first.
    fn ended_runs(shared: &Shared, n: usize) -> Vec<RunId> {
        (0..n)
            .map(|i| {
                let run = new_run(shared, 2);
                let at = UnixMillis(1_000_000_000_000 + i as u64 * HOUR_MS);
                shared.queue.finish_run(&run, RunState::Failed, at).unwrap();
                run
            })
            .collect()
    }

    fn left(shared: &Shared) -> Vec<RunId> {
        let mut runs = shared.queue.job_run_ids("news").unwrap();
        runs.reverse();
        runs
    }

    #[test]
    fn runs_beyond_keep_runs_go_and_the_newer_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let shared = with_retention(dir.path(), "keep_runs = 3");
        let runs = ended_runs(&shared, 5);
        let running = new_run(&shared, 1);
        let now = UnixMillis(1_000_000_000_000 + 6 * HOUR_MS);
        assert_eq!(prune_round(&shared, None, now).unwrap(), 3);
        // The running run counts among the newest three.
        assert_eq!(left(&shared), [runs[3].clone(), runs[4].clone(), running]);
        assert_eq!(
            prune_round(&shared, None, now).unwrap(),
            0,
            "a second round finds nothing"
        );
    }

    #[test]
    fn runs_older_than_keep_for_go_but_the_newest_finished_one_stays() {
        let dir = tempfile::tempdir().unwrap();
        let shared = with_retention(dir.path(), "keep_for = \"2h\"");
        let runs = ended_runs(&shared, 4);
        // 10 hours after the last ended: all are too old, the newest stays anyway.
        let now = UnixMillis(1_000_000_000_000 + 13 * HOUR_MS);
        assert_eq!(prune_round(&shared, None, now).unwrap(), 3);
        assert_eq!(left(&shared), [runs[3].clone()]);
    }

    #[test]
    fn a_job_files_retention_overrides_the_daemons_key_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let shared = with_retention(dir.path(), "keep_runs = 50\nkeep_for = \"1h\"");
        let text = "vendor = \"autoextract\"\n[retention]\nkeep_runs = 2\n\
                    [autoextract]\npage_type = \"article\"\nurls = [\"https://a.com/1\"]\n";
        load_news_job_from(&shared, text);
        let policy = policy_of(&shared, "news");
        assert_eq!(policy.keep_runs, 2, "the job's own");
        assert_eq!(policy.keep_for, Duration::from_secs(3600), "the daemon's");
        assert_eq!(policy_of(&shared, "gone").keep_runs, 50);
    }

    #[test]
    fn outputs_are_deleted_only_when_the_policy_says_so() {
        for (delete, kept) in [(false, true), (true, false)] {
            let dir = tempfile::tempdir().unwrap();
            let policy = format!("keep_runs = 1\ndelete_outputs = {delete}");
            let shared = with_retention(dir.path(), &policy);
            let runs = ended_runs(&shared, 2);
            let out = shared.config().output_dir.clone();
            let paths = RunPaths::new(&out, "news", &runs[0]);
            std::fs::create_dir_all(&paths.attachments).unwrap();
            std::fs::write(&paths.done, "{}\n").unwrap();
            let now = UnixMillis(1_000_000_000_000 + 3 * HOUR_MS);
            assert_eq!(prune_round(&shared, None, now).unwrap(), 1);
            assert_eq!(paths.done.exists(), kept, "delete_outputs = {delete}");
            assert_eq!(
                paths.attachments.exists(),
                kept,
                "delete_outputs = {delete}"
            );
        }
    }
}
