//! Starting runs: from a schedule fire, a new job file content, or `dredge run`.

use std::sync::Arc;

use dredge_core::{Executor, JobSpec, NewItem, UnixMillis};
use dredge_queue::{NewRun, PlanCursor, QueueError, RunId, RunState, ScheduleState};

use super::failpoint;
use super::health::is_storage_error;
use super::inputs;
use super::output::{RunFile, RunPaths};
use super::planner::PlannedChunk;
use super::snapshot;
use super::state::Shared;
use super::writer::WriterMsg;

/// Why a run was not started.
#[derive(Debug, thiserror::Error)]
pub(super) enum StartError {
    #[error(
        "no job named {0:?} is loaded (see `dredge jobs`, and `dredge status` for rejected files)"
    )]
    UnknownJob(String),
    #[error("a run of {job} is already active ({run}); it overlaps = \"skip\"")]
    Active { job: String, run: String },
    #[error("job {0} is disabled (enabled = false)")]
    Disabled(String),
    /// Another daemon sharing the queue started this fire's (or content's) run.
    #[error("another daemon started this run of job {0}")]
    AlreadyStarted(String),
    #[error("{0}")]
    Failed(String),
}

/// What starting a run records about the job's schedule, in the same queue batch that
/// creates the run (so a crash leaves both or neither).
#[derive(Debug, Clone, Copy)]
pub(super) enum Trigger {
    /// `dredge run`, a queued fire: nothing to record.
    Manual,
    /// A schedule fire at this time.
    Fire(UnixMillis),
    /// A job without a schedule whose file has this new content.
    Content(u64),
}

impl Trigger {
    fn apply(self, state: &mut ScheduleState) {
        match self {
            Trigger::Manual => {}
            Trigger::Fire(at) => state.last_fire = Some(at),
            Trigger::Content(hash) => state.content_hash = Some(hash),
        }
    }
}

/// Start a run of `job` now with its current definition.
pub(super) async fn start(
    shared: &Arc<Shared>,
    job: &str,
    manual: bool,
    trigger: Trigger,
) -> Result<RunId, StartError> {
    let spec = {
        let jobs = shared.jobs.lock().expect("jobs poisoned");
        jobs.valid
            .get(job)
            .map(|j| j.spec.clone())
            .ok_or_else(|| StartError::UnknownJob(job.to_string()))?
    };
    if !spec.enabled && !manual {
        return Err(StartError::Disabled(job.to_string()));
    }
    if let Some(run) = active_run(shared, job) {
        return Err(StartError::Active {
            job: job.to_string(),
            run: run.to_string(),
        });
    }
    let shared2 = shared.clone();
    tokio::task::spawn_blocking(move || create(&shared2, spec, trigger))
        .await
        .map_err(|e| StartError::Failed(e.to_string()))?
}

/// The job's running run, if any. Read from the unfinished runs only: a job with a
/// year of finished runs must not make every start (and `jobs.list`) read them all.
pub(super) fn active_run(shared: &Shared, job: &str) -> Option<RunId> {
    shared
        .queue
        .unfinished_runs()
        .ok()?
        .into_iter()
        .find(|r| r.job == job && r.state == RunState::Running)
        .map(|r| r.id)
}

fn create(shared: &Shared, spec: Arc<JobSpec>, trigger: Trigger) -> Result<RunId, StartError> {
    let fail = |m: String| {
        tracing::error!(job = %spec.name, "cannot start a run: {m}");
        StartError::Failed(m)
    };
    let lane = shared
        .lane(&spec.account)
        .ok_or_else(|| fail(format!("account {} is not configured", spec.account)))?;
    let executor = lane
        .executor()
        .ok_or_else(|| fail(format!("account {} has no executor", spec.account)))?;
    let planned = plan_first_chunk(shared, &spec, executor.as_ref()).map_err(fail)?;
    let started_at = UnixMillis::now();
    let new_run = NewRun {
        job: spec.name.to_string(),
        lane: spec.account.clone(),
        spec_snapshot: snapshot::encode(&spec).map_err(|e| fail(e.to_string()))?,
        started_at,
        deadline: Some(started_at.after(spec.deadline)),
        max_attempts: spec.max_attempts,
    };
    let item_count = planned.total;
    let schedule = match trigger {
        Trigger::Manual => None,
        _ => {
            let mut state = shared
                .queue
                .schedule_state(spec.name.as_str())
                .map_err(|e| fail(e.to_string()))?
                .unwrap_or_default();
            trigger.apply(&mut state);
            Some(state)
        }
    };
    let rest = planned.rest;
    let chunk = planned.chunk;
    let copy = rest.as_ref().map(|c| c.input.clone());
    let created = shared
        .queue
        .create_planned_run(new_run, planned.items, schedule, rest);
    if created.is_err()
        && let Some(copy) = &copy
    {
        inputs::remove(&inputs::dir_of(&shared.config().state_dir), copy);
    }
    let run = created.map_err(|e| {
        if let QueueError::AlreadyStarted { .. } = e {
            tracing::info!(job = %spec.name, "{e}");
            return StartError::AlreadyStarted(spec.name.to_string());
        }
        if is_storage_error(&e) {
            shared.health.report("creating a run", &e);
        }
        fail(e.to_string())
    })?;
    failpoint::crash_if(failpoint::AFTER_CREATE_RUN);
    let paths = RunPaths::new(&shared.config().output_dir, spec.name.as_str(), &run);
    let file = RunFile::create(paths, spec.name.as_str(), &run, spec.vendor().key())
        .map_err(|e| fail(format!("cannot create the run's output file: {e}")))?;
    shared.writer().send(WriterMsg::Open(run.clone(), file));
    // A run with no items ends at once; otherwise this is a no-op.
    shared.writer().send(WriterMsg::Check(run.clone()));
    shared.metrics.add(
        "dredge_runs_started_total",
        format!("job=\"{}\"", super::metrics::escape(spec.name.as_str())),
        1,
    );
    tracing::info!(job = %spec.name, run = %run, items = item_count, "run started");
    lane.wake.notify_one();
    if copy.is_some() {
        if let Some(chunk) = chunk {
            let mut cache = shared.plan_cache.lock().expect("plan cache poisoned");
            cache.insert(run.clone(), chunk);
        }
        shared.plan_wake.notify_one();
    }
    Ok(run)
}

/// A new run's first items, and where planning the rest resumes when its inputs are
/// more than one chunk (see `planner.rs`).
pub(super) struct Planned {
    pub items: Vec<NewItem>,
    pub rest: Option<PlanCursor>,
    /// Inputs in all (items, for a job without an input list).
    total: u64,
    /// The rest of the first chunk, for the planner.
    chunk: Option<PlannedChunk>,
}

/// Plans the first chunk now, so that a job its executor refuses fails at its start
/// (an empty list, a job of another vendor) and a small run is created whole. A job's
/// input list is copied first (see `inputs.rs`): the rest is planned from the copy.
pub(super) fn plan_first_chunk(
    shared: &Shared,
    spec: &JobSpec,
    executor: &dyn Executor,
) -> Result<Planned, String> {
    let Some(list) = spec.work.inputs() else {
        let items = executor.plan(spec, &[]).map_err(|e| e.to_string())?;
        let total = items.len() as u64;
        return Ok(Planned {
            items,
            rest: None,
            total,
            chunk: None,
        });
    };
    let config = shared.config();
    let dir = inputs::dir_of(&config.state_dir);
    let copy = inputs::copy(list, &config.files, &dir)
        .map_err(|e| format!("cannot read the job's {e}"))?;
    if copy.total == 0 {
        // The executor says what an empty list means for its vendor (an error, so far).
        inputs::remove(&dir, &copy.name);
        let items = executor.plan(spec, &[]).map_err(|e| e.to_string())?;
        return Ok(Planned {
            items,
            rest: None,
            total: 0,
            chunk: None,
        });
    }
    let start = PlanCursor {
        input: copy.name.clone(),
        offset: 0,
        planned: 0,
        items_done: 0,
        total: copy.total,
    };
    let planned = PlannedChunk::plan(&dir, &copy.name, 0, 0, spec, executor).map(|mut chunk| {
        let (items, rest) = chunk.next_batch(&start);
        let chunk = rest.is_some().then_some(chunk);
        Planned {
            items,
            rest,
            total: copy.total,
            chunk,
        }
    });
    if !matches!(&planned, Ok(p) if p.rest.is_some()) {
        inputs::remove(&dir, &copy.name);
    }
    planned
}
