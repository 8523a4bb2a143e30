//! The daemon's side of the status socket: `Api` answered from shared state.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use dredge_core::UnixMillis;
use dredge_queue::{RunId, RunInfo, RunState};

use super::control;
use super::health::is_storage_error;
use super::output::RunPaths;
use super::runs::{self, StartError};
use super::state::Shared;
use super::writer::WriterMsg;
use crate::protocol::QueueBackendStatus;
use crate::protocol::{
    AccountStatus, Ack, Api, ApiError, DeadItemInfo, DeadList, InvalidJobFile, ItemCounts, JobInfo,
    JobPause, JobResume, JobRun, JobsList, Metrics, MetricsText, Reload, RunCancel, RunGet,
    RunRetry, RunStarted, RunSummary, RunsList, Status, StatusInfo, StorageStatus,
};
use crate::queue_config::QueueConfig;

pub(super) struct DaemonApi(pub Arc<Shared>);

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e.to_string())
}

/// Run queue calls off the async threads (sled flushes block).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(internal)?
}

impl DaemonApi {
    fn summary(&self, run: RunInfo) -> RunSummary {
        let out = self.0.config().output_dir.clone();
        let paths = RunPaths::new(&out, &run.job, &run.id);
        let c = run.counts;
        RunSummary {
            id: run.id.to_string(),
            job: run.job,
            state: run.state.as_str().to_string(),
            items: ItemCounts {
                ready: c.ready,
                leased: c.leased,
                snoozed: c.snoozed,
                staged: c.staged,
                done: c.done,
                dead: c.dead,
            },
            records: run.cursor.records,
            output: paths.current().display().to_string(),
            started_at: run.started_at.to_rfc3339(),
            finished_at: run.finished_at.map(UnixMillis::to_rfc3339),
            reason: run.reason,
        }
    }

    fn known_job(&self, job: &str) -> Result<(), ApiError> {
        let jobs = self.0.jobs.lock().expect("jobs poisoned");
        if jobs.valid.contains_key(job) {
            Ok(())
        } else {
            Err(ApiError::not_found(format!(
                "no job named {job:?} is loaded"
            )))
        }
    }

    fn run_id(&self, run: &str) -> Result<RunInfo, ApiError> {
        self.0
            .queue
            .run(&RunId(run.to_string()))
            .map_err(internal)?
            .ok_or_else(|| ApiError::not_found(format!("no run {run:?} (see `dredge runs`)")))
    }
}

#[async_trait]
impl Api for DaemonApi {
    async fn status(&self, _: Status) -> Result<StatusInfo, ApiError> {
        let shared = self.0.clone();
        let config = shared.config();
        // Status answers even when the queue cannot be read (its server gone): the
        // fault is what the operator needs to see.
        let q = shared.queue.clone();
        let (runs, unread) = match tokio::task::spawn_blocking(move || q.unfinished_runs())
            .await
            .map_err(internal)?
        {
            Ok(runs) => (runs, None),
            Err(e) => {
                if is_storage_error(&e) {
                    shared.health.report("reading the queue", &e);
                }
                (Vec::new(), Some(e))
            }
        };
        let mut queue = ItemCounts::default();
        for r in &runs {
            queue.ready += r.counts.ready;
            queue.leased += r.counts.leased;
            queue.snoozed += r.counts.snoozed;
            queue.staged += r.counts.staged;
            queue.done += r.counts.done;
            queue.dead += r.counts.dead;
        }
        let now = UnixMillis::now();
        let mut accounts: Vec<AccountStatus> = shared
            .lanes
            .lock()
            .expect("lanes poisoned")
            .values()
            .map(|lane| {
                let (state, detail, until) = if let Some((kind, why)) = lane.auth_failure() {
                    (kind.as_str(), Some(why), None)
                } else if lane.executor().is_none() {
                    (
                        "unavailable",
                        Some("no executor for this account".to_string()),
                        None,
                    )
                } else if let Some((until, why)) = lane.closed_at(now) {
                    ("snoozed", Some(why), Some(until.to_rfc3339()))
                } else {
                    ("ok", None, None)
                };
                AccountStatus {
                    name: lane.account.clone(),
                    vendor: lane.vendor.key().to_string(),
                    state: state.to_string(),
                    detail,
                    until,
                    in_flight: lane.in_flight(),
                }
            })
            .collect();
        super::accounts::add_statuses(&config, &mut accounts);
        let cluster = super::cluster::status(&shared).await;
        let jobs = shared.jobs.lock().expect("jobs poisoned");
        Ok(StatusInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            uptime_secs: shared.started.elapsed().as_secs(),
            state_dir: config.state_dir.display().to_string(),
            jobs_dir: config.jobs_dir.display().to_string(),
            queue,
            runs_active: runs.len(),
            jobs: jobs.valid.len(),
            accounts,
            // A config that failed to reload is listed first, with the rejected files.
            invalid_job_files: shared
                .config_error
                .lock()
                .expect("config error poisoned")
                .iter()
                .chain(jobs.invalid.values())
                .map(|e| InvalidJobFile {
                    path: e.path.display().to_string(),
                    error: e.to_string(),
                })
                .collect(),
            storage: shared.health.fault().map(|f| StorageStatus {
                state: f.kind.to_string(),
                detail: f.detail,
                since: f.since.to_rfc3339(),
            }),
            queue_backend: Some(queue_backend(&shared.queue_config)),
            cluster,
            warnings: unread
                .map(|e| format!("the queue cannot be read now, so its counts show 0: {e}"))
                .into_iter()
                .chain(
                    config
                        .warnings
                        .iter()
                        .map(|w| format!("{}: {w}", config.path.display())),
                )
                .chain(
                    shared
                        .queue_warnings
                        .iter()
                        .map(|w| format!("[queue]: {w}")),
                )
                .chain(jobs.valid.values().flat_map(|j| {
                    let path = j.path.display().to_string();
                    j.spec
                        .warnings()
                        .into_iter()
                        .map(move |w| format!("{path}: {w}"))
                }))
                .collect(),
        })
    }

    async fn jobs_list(&self, _: JobsList) -> Result<Vec<JobInfo>, ApiError> {
        let shared = self.0.clone();
        blocking(move || jobs_of(&shared)).await
    }

    async fn job_run(&self, JobRun { job }: JobRun) -> Result<RunStarted, ApiError> {
        match runs::start(&self.0, &job, true, runs::Trigger::Manual).await {
            Ok(run) => Ok(RunStarted {
                run: run.to_string(),
            }),
            Err(e @ StartError::UnknownJob(_)) => Err(ApiError::not_found(e.to_string())),
            Err(e @ StartError::Active { .. }) => Err(ApiError::conflict(e.to_string())),
            Err(e) => Err(internal(e)),
        }
    }

    async fn job_pause(&self, JobPause { job }: JobPause) -> Result<Ack, ApiError> {
        self.known_job(&job)?;
        let (q, j) = (self.0.queue.clone(), job.clone());
        blocking(move || q.pause_job(&j).map_err(internal)).await?;
        Ok(Ack {
            message: format!("job {job} paused: no new items are leased; calls in flight finish"),
        })
    }

    async fn job_resume(&self, JobResume { job }: JobResume) -> Result<Ack, ApiError> {
        self.known_job(&job)?;
        let (q, j) = (self.0.queue.clone(), job.clone());
        blocking(move || q.resume_job(&j).map_err(internal)).await?;
        for lane in self.0.lanes.lock().expect("lanes poisoned").values() {
            lane.wake.notify_one();
        }
        Ok(Ack {
            message: format!("job {job} resumed"),
        })
    }

    async fn runs_list(&self, params: RunsList) -> Result<Vec<RunSummary>, ApiError> {
        let q = self.0.queue.clone();
        let limit = params.limit();
        let before = params.before.map(RunId);
        let runs = blocking(move || {
            q.runs_page(params.job.as_deref(), before.as_ref(), limit)
                .map_err(internal)
        })
        .await?;
        Ok(runs.into_iter().map(|r| self.summary(r)).collect())
    }

    async fn run_get(&self, RunGet { run }: RunGet) -> Result<RunSummary, ApiError> {
        Ok(self.summary(self.run_id(&run)?))
    }

    async fn run_cancel(&self, RunCancel { run }: RunCancel) -> Result<Ack, ApiError> {
        let info = self.run_id(&run)?;
        if info.state != RunState::Running {
            return Err(ApiError::conflict(format!(
                "run {run} already ended ({})",
                info.state.as_str()
            )));
        }
        let (q, id) = (self.0.queue.clone(), info.id.clone());
        blocking(move || q.cancel_run(&id, UnixMillis::now()).map_err(internal)).await?;
        self.0.writer().send(WriterMsg::Close(info.id.clone()));
        Ok(Ack {
            message: format!("run {run} cancelled; its partial output stays as .partial"),
        })
    }

    async fn dead_list(&self, DeadList { job }: DeadList) -> Result<Vec<DeadItemInfo>, ApiError> {
        let q = self.0.queue.clone();
        let dead = blocking(move || q.dead_items(job.as_deref()).map_err(internal)).await?;
        Ok(dead
            .into_iter()
            .map(|d| DeadItemInfo {
                run: d.run.to_string(),
                job: d.job,
                what: d.label,
                error: d.reason,
                attempts: d.attempts,
            })
            .collect())
    }

    async fn run_retry(&self, RunRetry { run }: RunRetry) -> Result<Ack, ApiError> {
        let info = self.run_id(&run)?;
        if info.counts.dead == 0 {
            return Ok(Ack {
                message: format!("0 dead item(s) of run {run} requeued"),
            });
        }
        if info.state != RunState::Running {
            // The file first: once the items are requeued they may complete at once,
            // and their records need an open file (a writer that found the run's file
            // renamed would only stage them).
            reopen_output(&self.0, &info)?;
            let (done, wait) = tokio::sync::oneshot::channel();
            self.0.writer().send(WriterMsg::Barrier(done));
            let _ = wait.await;
        }
        let (q, id) = (self.0.queue.clone(), info.id.clone());
        let n = blocking(move || q.retry_dead(&id).map_err(internal)).await?;
        if let Some(lane) = self.0.lane(&info.lane) {
            lane.wake.notify_one();
        }
        Ok(Ack {
            message: format!("{n} dead item(s) of run {run} requeued"),
        })
    }

    async fn reload(&self, _: Reload) -> Result<Ack, ApiError> {
        control::reload(&self.0).await;
        let invalid = self.0.jobs.lock().expect("jobs poisoned").invalid.len();
        Ok(Ack {
            message: format!("reloaded; {invalid} file(s) rejected (see dredge status)"),
        })
    }

    async fn metrics(&self, _: Metrics) -> Result<MetricsText, ApiError> {
        let status = self.status(Status {}).await?;
        let q = status.queue;
        let gauges: Vec<(&str, String, u64)> = [
            ("ready", q.ready),
            ("leased", q.leased),
            ("snoozed", q.snoozed),
            ("staged", q.staged),
            ("dead", q.dead),
        ]
        .into_iter()
        .map(|(s, v)| ("dredge_items", format!("state=\"{s}\""), v))
        .chain(std::iter::once((
            "dredge_runs_active",
            String::new(),
            status.runs_active as u64,
        )))
        // 1 while the storage cannot be written, labelled with why.
        .chain(std::iter::once(match &status.storage {
            Some(fault) => (
                "dredge_storage_fault",
                format!("state=\"{}\"", fault.state),
                1,
            ),
            None => ("dredge_storage_fault", String::new(), 0),
        }))
        .collect();
        Ok(MetricsText {
            text: self.0.metrics.render(&gauges),
        })
    }
}

/// The loaded jobs with their state and last run. Reads the unfinished runs once and
/// each job's newest run (one `runs_page` entry), never the whole history.
fn jobs_of(shared: &Shared) -> Result<Vec<JobInfo>, ApiError> {
    let paused = shared.queue.paused_jobs().map_err(internal)?;
    let running: HashSet<String> = shared
        .queue
        .unfinished_runs()
        .map_err(internal)?
        .into_iter()
        .filter(|r| r.state == RunState::Running)
        .map(|r| r.job)
        .collect();
    let loaded: Vec<_> = shared
        .jobs
        .lock()
        .expect("jobs poisoned")
        .valid
        .values()
        .cloned()
        .collect();
    let mut out = Vec::with_capacity(loaded.len());
    for job in loaded {
        let name = job.spec.name.to_string();
        let last_run = shared
            .queue
            .runs_page(Some(&name), None, 1)
            .map_err(internal)?
            .pop()
            .map(|r| r.id.to_string());
        let state = if !job.spec.enabled {
            "disabled"
        } else if paused.contains(&name) {
            "paused"
        } else if running.contains(&name) {
            "running"
        } else {
            "idle"
        };
        out.push(JobInfo {
            vendor: job.spec.vendor().key().to_string(),
            account: job.spec.account.clone(),
            schedule: job.spec.schedule.as_ref().map(|s| s.as_str().to_string()),
            next_fire: shared
                .timetable
                .lock()
                .expect("timetable poisoned")
                .next_fire(&name)
                .map(UnixMillis::to_rfc3339),
            last_run,
            state: state.to_string(),
            file: job.path.display().to_string(),
            name,
        });
    }
    Ok(out)
}

/// A finished run whose dead items were requeued writes on: its `.jsonl` goes back to
/// `.partial` until it ends again.
fn reopen_output(shared: &Shared, info: &RunInfo) -> Result<(), ApiError> {
    let out = shared.config().output_dir.clone();
    let paths = RunPaths::new(&out, &info.job, &info.id);
    super::output::restore_partial(&paths).map_err(internal)?;
    let vendor = shared.spec_of(&info.id).map_err(internal)?.vendor();
    let reopened =
        super::output::RunFile::reopen(paths, info.cursor, &info.job, &info.id, vendor.key())
            .map_err(internal)?;
    if let super::output::Reopened::Open(file) = reopened {
        shared
            .writer()
            .send(WriterMsg::Open(info.id.clone(), *file));
    }
    Ok(())
}

#[cfg(test)]
mod tests;

/// The `[queue]` the daemon started with, without its URL.
fn queue_backend(queue: &QueueConfig) -> QueueBackendStatus {
    match queue {
        QueueConfig::Sled => QueueBackendStatus {
            backend: queue.backend().into(),
            schema: None,
            node: None,
        },
        QueueConfig::Postgres(pg) => QueueBackendStatus {
            backend: queue.backend().into(),
            schema: Some(pg.schema.clone()),
            node: Some(pg.node.clone()),
        },
    }
}
