//! Keeping the daemon in step with its files and its clock: reloading the config and
//! the job directory, and firing scheduled runs.

use std::sync::Arc;

use dredge_core::UnixMillis;
use dredge_core::job::{JobSpec, Schedule};
use dredge_queue::ScheduleState;

use super::jobs::JobChange;
use super::runs::{self, StartError, Trigger};
use super::state::{Lane, Shared};
use super::{accounts, executors};
use crate::config::DaemonConfig;

/// Re-read the config and every job file. A config that fails to load keeps the
/// running one (and its error is logged and shown in status).
pub(super) async fn reload(shared: &Arc<Shared>) {
    let path = shared.config().path.clone();
    match DaemonConfig::load(&path) {
        Ok(new) => {
            *shared.config_error.lock().expect("config error poisoned") = None;
            apply_config(shared, new);
        }
        Err(e) => {
            tracing::error!("config not reloaded, keeping the running one: {e}");
            *shared.config_error.lock().expect("config error poisoned") = Some(e);
        }
    }
    rescan_jobs(shared).await;
}

/// Swap in a new config: lanes for new accounts, fresh executors (and a cleared
/// `auth_failed`) for changed ones. Paths that need a restart are only logged.
pub(super) fn apply_config(shared: &Arc<Shared>, new: DaemonConfig) {
    for w in &new.warnings {
        tracing::warn!("{}: {w}", new.path.display());
    }
    let old = shared.config();
    accounts::log_broken(Some(&old), &new);
    if old.state_dir != new.state_dir || old.socket != new.socket {
        tracing::warn!("state_dir and socket changes take effect after a restart");
    }
    if old.queue != new.queue {
        tracing::warn!(
            running = shared.queue_config.backend(),
            "a [queue] change takes effect after a restart"
        );
    }
    // Executors are built before the lanes lock is taken: building one runs vendor
    // code, and nothing that runs under the lock may be able to poison it.
    let running: Vec<String> = shared
        .lanes
        .lock()
        .expect("lanes poisoned")
        .keys()
        .cloned()
        .collect();
    let built: Vec<_> = new
        .accounts
        .iter()
        .filter(|(name, account)| {
            old.accounts.get(*name) != Some(*account) || !running.contains(name)
        })
        .map(|(name, account)| {
            let executor = executors::build(account)
                .inspect_err(|why| tracing::warn!(account = %name, "{why}"))
                .ok();
            (name, account, executor)
        })
        .collect();
    let mut lanes = shared.lanes.lock().expect("lanes poisoned");
    for (name, account, executor) in built {
        match lanes.get(name) {
            Some(lane) => {
                *lane.executor.write().expect("lane poisoned") = executor;
                *lane.auth_failed.lock().expect("lane poisoned") = None;
                lane.wake.notify_one();
            }
            None => {
                let lane = Arc::new(Lane::new(
                    name,
                    account.vendor(),
                    account.limits().max_concurrency,
                    executor,
                ));
                lanes.insert(name.clone(), lane.clone());
                tokio::spawn(super::lanes::run(shared.clone(), lane));
            }
        }
    }
    for (name, lane) in lanes.iter() {
        if !new.accounts.contains_key(name) {
            // A broken account was logged as such above.
            if !new.broken_accounts.contains_key(name) {
                tracing::warn!(account = %name, "account removed from the config: its items wait");
            }
            *lane.executor.write().expect("lane poisoned") = None;
        }
    }
    drop(lanes);
    *shared.config.write().expect("config poisoned") = Arc::new(new);
}

/// Re-read the job directory and act on what changed.
pub(super) async fn rescan_jobs(shared: &Arc<Shared>) {
    shared
        .metrics
        .add("dredge_job_scans_total", String::new(), 1);
    let config = shared.config();
    let accounts = config.account_index();
    let unsupported = |spec: &JobSpec| {
        if let Some(why) = accounts::problem_of(&config, spec) {
            return Some(why);
        }
        let vendor = spec.vendor();
        let lanes = shared.lanes.lock().expect("lanes poisoned");
        let any = lanes
            .values()
            .any(|l| l.vendor == vendor && l.executor().is_some());
        (!any).then(|| format!("no usable {vendor} account: the {vendor} executor is not available in this build, or its account failed to start"))
    };
    // Files are read and parsed off the async threads and outside the jobs lock: a
    // slow or huge file must not stall the socket or the lanes.
    let scan = {
        let (dir, rules) = (config.jobs_dir.clone(), config.files.clone());
        tokio::task::spawn_blocking(move || super::jobs::scan(&dir, &accounts, &rules)).await
    };
    let Ok(scan) = scan else {
        tracing::error!("the job directory scan panicked; keeping the loaded jobs");
        return;
    };
    let changes =
        shared
            .jobs
            .lock()
            .expect("jobs poisoned")
            .apply(&config.jobs_dir, scan, unsupported);
    for change in changes {
        match change {
            JobChange::Removed(name) => {
                shared
                    .timetable
                    .lock()
                    .expect("timetable poisoned")
                    .remove(&name);
            }
            JobChange::Updated(name) => on_job_updated(shared, &name).await,
        }
    }
    shared.sched_wake.notify_one();
}

async fn on_job_updated(shared: &Arc<Shared>, name: &str) {
    let Some((spec, hash)) = shared
        .jobs
        .lock()
        .expect("jobs poisoned")
        .valid
        .get(name)
        .map(|j| (j.spec.clone(), j.hash))
    else {
        return;
    };
    let state = shared
        .queue
        .schedule_state(name)
        .ok()
        .flatten()
        .unwrap_or_default();
    match (&spec.schedule, spec.enabled) {
        (Some(schedule), true) => schedule_job(shared, &spec, schedule.clone(), state),
        (None, true) => {
            shared
                .timetable
                .lock()
                .expect("timetable poisoned")
                .remove(name);
            run_if_content_is_new(shared, name, hash, state).await;
        }
        (_, false) => shared
            .timetable
            .lock()
            .expect("timetable poisoned")
            .remove(name),
    }
}

fn schedule_job(shared: &Shared, spec: &JobSpec, schedule: Schedule, mut state: ScheduleState) {
    let now = UnixMillis::now();
    if state.last_fire.is_none() {
        // First time scheduled: remember since when, so downtime before the first
        // fire is caught up too.
        state.last_fire = Some(now);
        if let Err(e) = shared.queue.set_schedule_state(spec.name.as_str(), &state) {
            tracing::error!(job = %spec.name, error = %e, "cannot persist schedule state");
        }
    }
    shared.timetable.lock().expect("timetable poisoned").upsert(
        spec.name.as_str(),
        schedule,
        spec.catch_up,
        state.last_fire,
        now,
    );
}

/// A job without a schedule runs once per new content of its file — never merely
/// because the daemon restarted. The content hash is recorded in the batch that creates
/// the run: a crash right after leaves both, and a start that fails records nothing,
/// so that content runs at the next rescan (for instance once its input file is fixed).
async fn run_if_content_is_new(shared: &Arc<Shared>, name: &str, hash: u64, state: ScheduleState) {
    if state.content_hash == Some(hash) {
        return;
    }
    match runs::start(shared, name, false, Trigger::Content(hash)).await {
        Ok(_) | Err(StartError::AlreadyStarted(_)) => {}
        Err(StartError::Active { .. }) => {
            shared
                .queued_fires
                .lock()
                .expect("fires poisoned")
                .insert(name.to_string());
        }
        Err(e) => {
            tracing::error!(job = %name, "run not started (tried again at the next rescan): {e}")
        }
    }
}

/// Fire scheduled runs until shutdown, sleeping until the next fire or a wake-up.
pub(super) async fn scheduler(shared: Arc<Shared>) {
    loop {
        let next = shared
            .timetable
            .lock()
            .expect("timetable poisoned")
            .next_wakeup();
        let wait = next.map_or(std::time::Duration::from_secs(3600), |t| {
            UnixMillis::now().until(t)
        });
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shared.sched_wake.notified() => {}
            _ = shared.shutdown.cancelled() => return,
        }
        let due = shared
            .timetable
            .lock()
            .expect("timetable poisoned")
            .take_due(UnixMillis::now());
        for fire in due {
            if fire.catch_up {
                tracing::info!(job = %fire.job, missed = %fire.at.to_rfc3339(), "catch-up run for fires missed while the daemon was down");
            }
            fire_job(&shared, &fire.job, fire.at).await;
        }
        start_queued_fires(&shared).await;
    }
}

async fn fire_job(shared: &Arc<Shared>, job: &str, at: UnixMillis) {
    let overlap = shared
        .jobs
        .lock()
        .expect("jobs poisoned")
        .valid
        .get(job)
        .map(|j| j.spec.overlap);
    // A fire that starts a run is recorded with it, in one batch; one that does not is
    // recorded on its own below, so it is not caught up again after a restart.
    let recorded = match runs::start(shared, job, false, Trigger::Fire(at)).await {
        Ok(_) | Err(StartError::AlreadyStarted(_)) => true,
        Err(StartError::Active { run, .. }) if fired_already(shared, job, at) => {
            tracing::info!(job, active = %run, "fire started by another daemon sharing the queue");
            true
        }
        Err(StartError::Active { run, .. }) => {
            if overlap == Some(dredge_core::job::Overlap::Queue) {
                tracing::info!(job, active = %run, "fire queued behind the active run");
                shared
                    .queued_fires
                    .lock()
                    .expect("fires poisoned")
                    .insert(job.to_string());
            } else {
                tracing::info!(job, active = %run, "fire skipped: a run is still active (overlap = \"skip\")");
            }
            false
        }
        Err(e) => {
            tracing::error!(job, "scheduled run not started: {e}");
            false
        }
    };
    if recorded {
        return;
    }
    let mut state = shared
        .queue
        .schedule_state(job)
        .ok()
        .flatten()
        .unwrap_or_default();
    state.last_fire = Some(at);
    if let Err(e) = shared.queue.set_schedule_state(job, &state) {
        tracing::error!(job, error = %e, "cannot persist the last fire");
    }
}

/// Whether the queue records a fire of `job` at or after `at` already: another daemon
/// sharing the queue started it (its run is the active one), so this daemon neither
/// queues it nor records it again.
fn fired_already(shared: &Shared, job: &str, at: UnixMillis) -> bool {
    shared.queue.cluster().is_some()
        && shared
            .queue
            .schedule_state(job)
            .ok()
            .flatten()
            .and_then(|s| s.last_fire)
            .is_some_and(|last| last >= at)
}

/// For a job without a schedule, its current content (recorded when its run starts).
fn content_trigger(shared: &Shared, job: &str) -> Trigger {
    let jobs = shared.jobs.lock().expect("jobs poisoned");
    match jobs.valid.get(job) {
        Some(j) if j.spec.schedule.is_none() => Trigger::Content(j.hash),
        _ => Trigger::Manual,
    }
}

async fn start_queued_fires(shared: &Arc<Shared>) {
    let queued: Vec<String> = shared
        .queued_fires
        .lock()
        .expect("fires poisoned")
        .iter()
        .cloned()
        .collect();
    for job in queued {
        if runs::active_run(shared, &job).is_some() {
            continue;
        }
        shared
            .queued_fires
            .lock()
            .expect("fires poisoned")
            .remove(&job);
        // A queued content change is recorded with its run.
        let trigger = content_trigger(shared, &job);
        match runs::start(shared, &job, false, trigger).await {
            Ok(_) | Err(StartError::AlreadyStarted(_)) => {}
            Err(e) => tracing::error!(job, "queued run not started: {e}"),
        }
    }
}

#[cfg(test)]
mod tests;
