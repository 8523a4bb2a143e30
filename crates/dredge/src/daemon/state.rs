//! What the daemon's tasks share: the queue, the loaded jobs, one lane per account,
//! the writer, counters, and the signals that wake tasks up.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Instant;

use dredge_core::retry::AccountStop;
use dredge_core::{Executor, JobSpec, UnixMillis, Vendor};
use dredge_queue::{QueueBackend, RunId};
use dredge_scheduler::Timetable;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use super::executors::Built;
use super::health::StorageHealth;
use super::jobs::JobTable;
use super::metrics::Metrics;
use super::writer::Writer;
use crate::config::DaemonConfig;

pub(super) struct Shared {
    pub config: RwLock<Arc<DaemonConfig>>,
    /// The queue, through its seam: the backend is chosen once, at start (`mod.rs`).
    pub queue: Arc<dyn QueueBackend>,
    /// The `[queue]` the daemon started with (a reload does not change the backend).
    pub queue_config: crate::queue_config::QueueConfig,
    /// What about the queue's backend may break the exactly-once contract (PostgreSQL
    /// with `fsync` off): shown in `status` for as long as the daemon runs.
    pub queue_warnings: Vec<String>,
    pub jobs: Mutex<JobTable>,
    /// Why the last reload of the daemon config failed (the running one is kept).
    pub config_error: Mutex<Option<dredge_core::FileError>>,
    pub timetable: Mutex<Timetable>,
    pub lanes: Mutex<HashMap<String, Arc<Lane>>>,
    pub writer: OnceLock<Writer>,
    pub metrics: Metrics,
    pub started: Instant,
    /// Cancelled on SIGTERM/SIGINT: stop leasing, let in-flight calls finish.
    pub shutdown: CancellationToken,
    /// Wakes the scheduler loop (jobs changed, a run ended).
    pub sched_wake: Notify,
    /// Wakes the reload task (SIGHUP, `dredge reload`, file events).
    pub reload_wake: Notify,
    /// Wakes the planner (a run with inputs left to plan started).
    pub plan_wake: Notify,
    /// Jobs a run of which finished since the last pruning round, and the wake-up of
    /// the pruner (see `retention.rs`): a job's history is trimmed right after its run
    /// ends, not up to ten minutes later.
    pub ended_jobs: Mutex<HashSet<String>>,
    pub prune_wake: Notify,
    /// The planned rest of each planning run's current chunk (see `planner.rs`).
    pub plan_cache: Mutex<HashMap<RunId, super::planner::PlannedChunk>>,
    /// Job specs of runs, decoded once from their snapshots.
    specs: Mutex<HashMap<RunId, Arc<JobSpec>>>,
    /// Jobs with `overlap = "queue"` whose fire arrived while a run was active.
    pub queued_fires: Mutex<HashSet<String>>,
    /// Whether the storage takes writes (a full disk stops all leasing).
    pub health: StorageHealth,
    /// The daemons sharing a PostgreSQL queue, as the heartbeat last saw them.
    pub cluster: super::cluster::Membership,
}

/// One account's worker lane: its executor, concurrency, gate and health.
pub(super) struct Lane {
    pub account: String,
    pub vendor: Vendor,
    pub executor: RwLock<Option<Built>>,
    /// Items in flight at once (the account's `max_concurrency`).
    pub slots: Arc<Semaphore>,
    /// The whole account waits until then (429 with a delay...).
    pub closed_until: Mutex<Option<(UnixMillis, String)>>,
    /// Scopes (target domains) the vendor closed, until when. Deferring the queued
    /// items of a scope misses items that join it later (a retry released after the
    /// snooze, a follow-up committed after it), so a leased item is checked here too.
    pub scope_gates: Mutex<HashMap<String, UnixMillis>>,
    /// Credentials rejected or the account suspended: nothing is leased until the
    /// config changes. The kind names the state in `dredge status`.
    pub auth_failed: Mutex<Option<(AccountStop, String)>>,
    pub wake: Notify,
    pub in_flight: AtomicUsize,
}

impl Lane {
    pub(super) fn new(
        account: &str,
        vendor: Vendor,
        concurrency: usize,
        executor: Option<Built>,
    ) -> Self {
        Lane {
            account: account.to_string(),
            vendor,
            executor: RwLock::new(executor),
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
            closed_until: Mutex::new(None),
            scope_gates: Mutex::new(HashMap::new()),
            auth_failed: Mutex::new(None),
            wake: Notify::new(),
            in_flight: AtomicUsize::new(0),
        }
    }

    pub(super) fn executor(&self) -> Option<Arc<dyn Executor>> {
        self.built().map(|b| b.executor)
    }

    pub(super) fn built(&self) -> Option<Built> {
        self.executor.read().expect("lane poisoned").clone()
    }

    pub(super) fn close_until(&self, until: UnixMillis, reason: String) {
        let mut g = self.closed_until.lock().expect("lane poisoned");
        if g.as_ref().is_none_or(|(u, _)| *u < until) {
            *g = Some((until, reason));
        }
    }

    /// Close `scope` until `until`, or later if it is already closed for longer: the
    /// latest time the vendor named wins.
    pub(super) fn close_scope(&self, scope: &str, until: UnixMillis) {
        let now = UnixMillis::now();
        let mut gates = self.scope_gates.lock().expect("lane poisoned");
        gates.retain(|_, u| *u > now);
        let gate = gates.entry(scope.to_string()).or_insert(until);
        *gate = (*gate).max(until);
    }

    /// When `scope`'s gate opens, if it is closed at `now`.
    pub(super) fn scope_closed(&self, scope: &str, now: UnixMillis) -> Option<UnixMillis> {
        let gates = self.scope_gates.lock().expect("lane poisoned");
        gates.get(scope).copied().filter(|u| *u > now)
    }

    /// When the account gate opens, if it is closed now.
    pub(super) fn closed_at(&self, now: UnixMillis) -> Option<(UnixMillis, String)> {
        self.closed_until
            .lock()
            .expect("lane poisoned")
            .clone()
            .filter(|(u, _)| *u > now)
    }

    pub(super) fn stop_auth(&self, kind: AccountStop, reason: String) {
        *self.auth_failed.lock().expect("lane poisoned") = Some((kind, reason));
    }

    pub(super) fn auth_failure(&self) -> Option<(AccountStop, String)> {
        self.auth_failed.lock().expect("lane poisoned").clone()
    }

    pub(super) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }
}

/// Run specs kept decoded at most (far more than runs active at once).
const MAX_CACHED_SPECS: usize = 1024;

impl Shared {
    pub(super) fn new(
        config: DaemonConfig,
        queue: Arc<dyn QueueBackend>,
        queue_warnings: Vec<String>,
    ) -> Self {
        Shared {
            queue_config: config.queue.clone(),
            queue_warnings,
            config: RwLock::new(Arc::new(config)),
            queue,
            jobs: Mutex::new(JobTable::default()),
            config_error: Mutex::new(None),
            timetable: Mutex::new(Timetable::new()),
            lanes: Mutex::new(HashMap::new()),
            writer: OnceLock::new(),
            metrics: Metrics::default(),
            started: Instant::now(),
            shutdown: CancellationToken::new(),
            sched_wake: Notify::new(),
            reload_wake: Notify::new(),
            plan_wake: Notify::new(),
            ended_jobs: Mutex::new(HashSet::new()),
            prune_wake: Notify::new(),
            plan_cache: Mutex::new(HashMap::new()),
            specs: Mutex::new(HashMap::new()),
            queued_fires: Mutex::new(HashSet::new()),
            health: StorageHealth::default(),
            cluster: super::cluster::Membership::default(),
        }
    }

    /// Wakes every lane (leasing may resume).
    pub(super) fn wake_lanes(&self) {
        for lane in self.lanes.lock().expect("lanes poisoned").values() {
            lane.wake.notify_one();
        }
    }

    /// Items in flight over all lanes.
    pub(super) fn in_flight(&self) -> usize {
        self.lanes
            .lock()
            .expect("lanes poisoned")
            .values()
            .map(|l| l.in_flight())
            .sum()
    }

    pub(super) fn config(&self) -> Arc<DaemonConfig> {
        self.config.read().expect("config poisoned").clone()
    }

    pub(super) fn writer(&self) -> &Writer {
        self.writer
            .get()
            .expect("the writer starts before anything uses it")
    }

    pub(super) fn lane(&self, account: &str) -> Option<Arc<Lane>> {
        self.lanes
            .lock()
            .expect("lanes poisoned")
            .get(account)
            .cloned()
    }

    /// The job spec a run started with.
    pub(super) fn spec_of(&self, run: &RunId) -> anyhow::Result<Arc<JobSpec>> {
        if let Some(spec) = self.specs.lock().expect("specs poisoned").get(run) {
            return Ok(spec.clone());
        }
        let info = self
            .queue
            .run(run)?
            .ok_or_else(|| anyhow::anyhow!("run {run} is not in the queue"))?;
        let spec: JobSpec = super::snapshot::decode(&info.spec_snapshot)?;
        let spec = Arc::new(spec);
        let mut specs = self.specs.lock().expect("specs poisoned");
        if specs.len() >= MAX_CACHED_SPECS {
            // Bounded: a daemon making a run every five minutes for a year must not
            // keep every spec. Runs still going decode theirs again on next use.
            specs.clear();
        }
        specs.insert(run.clone(), spec.clone());
        Ok(spec)
    }

    /// Called by the writer when a run of `job` ended: a queued fire may start now, and
    /// the job's history is trimmed to its retention policy.
    pub(super) fn run_finished(&self, job: &str) {
        self.ended_jobs
            .lock()
            .expect("ended jobs poisoned")
            .insert(job.to_string());
        self.prune_wake.notify_one();
        if self
            .queued_fires
            .lock()
            .expect("fires poisoned")
            .contains(job)
        {
            self.sched_wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::test_support::{new_run, writer_in};

    #[test]
    fn the_decoded_spec_cache_stays_bounded_over_many_runs() {
        let dir = tempfile::tempdir().unwrap();
        let (shared, _writer) = writer_in(dir.path());
        for _ in 0..MAX_CACHED_SPECS + 10 {
            let run = new_run(&shared, 1);
            let spec = shared.spec_of(&run).unwrap();
            assert!(Arc::ptr_eq(&spec, &shared.spec_of(&run).unwrap()), "cached");
            assert!(shared.specs.lock().unwrap().len() <= MAX_CACHED_SPECS);
        }
    }
}
