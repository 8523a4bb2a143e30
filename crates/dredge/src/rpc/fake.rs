//! A fake `Api` and a served socket in a temp dir, for tests of the server and
//! of the CLI commands.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::{Barrier, oneshot};
use tokio::task::JoinHandle;

use crate::protocol::*;

/// Canned answers; job or run `"missing"` is not found, `"boom"` panics.
#[derive(Default)]
pub(crate) struct FakeApi {
    /// When set, `status` waits here, so an answer proves that many calls were
    /// in flight at once.
    pub status_barrier: Option<Arc<Barrier>>,
}

/// How many runs the fake's history holds: `...-0001` (oldest) to `...-0005`.
pub(crate) const FAKE_RUNS: u32 = 5;

pub(crate) fn sample_run(job: &str) -> RunSummary {
    numbered_run(job, 1)
}

/// Run `n` of the fake's history; the ids sort by `n`, as run ids sort by time.
pub(crate) fn numbered_run(job: &str, n: u32) -> RunSummary {
    let id = format!("20261123T110000Z-{n:04}");
    RunSummary {
        output: format!("/state/out/{job}/{id}.jsonl.partial"),
        id,
        job: job.into(),
        state: "running".into(),
        items: ItemCounts {
            ready: 2,
            done: 8,
            ..ItemCounts::default()
        },
        records: 80,
        started_at: "2026-11-23T11:00:00Z".into(),
        finished_at: None,
        reason: None,
    }
}

fn sample_status() -> StatusInfo {
    StatusInfo {
        version: "test".into(),
        pid: 1,
        uptime_secs: 5,
        state_dir: "/state".into(),
        jobs_dir: "/jobs".into(),
        queue: ItemCounts::default(),
        runs_active: 0,
        jobs: 1,
        accounts: vec![],
        invalid_job_files: vec![InvalidJobFile {
            path: "/jobs/bad.toml".into(),
            error: "/jobs/bad.toml:1:1: expected `=`".into(),
        }],
        storage: None,
        queue_backend: None,
        cluster: None,
        warnings: Vec::new(),
    }
}

fn check(name: &str) -> Result<(), ApiError> {
    match name {
        "missing" => Err(ApiError::not_found(format!("no job or run named {name:?}"))),
        "boom" => panic!("fake api asked to panic"),
        _ => Ok(()),
    }
}

fn ack(what: &str) -> Result<Ack, ApiError> {
    Ok(Ack {
        message: what.into(),
    })
}

#[async_trait]
impl Api for FakeApi {
    async fn status(&self, _: Status) -> Result<StatusInfo, ApiError> {
        if let Some(barrier) = &self.status_barrier {
            barrier.wait().await;
        }
        Ok(sample_status())
    }
    async fn jobs_list(&self, _: JobsList) -> Result<Vec<JobInfo>, ApiError> {
        Ok(vec![])
    }
    async fn job_run(&self, JobRun { job }: JobRun) -> Result<RunStarted, ApiError> {
        check(&job)?;
        Ok(RunStarted {
            run: format!("run-of-{job}"),
        })
    }
    async fn job_pause(&self, JobPause { job }: JobPause) -> Result<Ack, ApiError> {
        check(&job)?;
        ack(&format!("paused {job}"))
    }
    async fn job_resume(&self, JobResume { job }: JobResume) -> Result<Ack, ApiError> {
        check(&job)?;
        ack(&format!("resumed {job}"))
    }
    /// Pages through a history of `FAKE_RUNS` runs as the daemon does: newest first,
    /// before `before`, at most `limit`.
    async fn runs_list(&self, params: RunsList) -> Result<Vec<RunSummary>, ApiError> {
        let job = params.job.as_deref().unwrap_or("all");
        Ok((1..=FAKE_RUNS)
            .rev()
            .map(|n| numbered_run(job, n))
            .filter(|r| params.before.as_ref().is_none_or(|before| r.id < *before))
            .take(params.limit())
            .collect())
    }
    async fn run_get(&self, RunGet { run }: RunGet) -> Result<RunSummary, ApiError> {
        check(&run)?;
        Ok(sample_run("weather"))
    }
    async fn run_cancel(&self, RunCancel { run }: RunCancel) -> Result<Ack, ApiError> {
        check(&run)?;
        ack(&format!("cancelled {run}"))
    }
    async fn dead_list(&self, DeadList { job }: DeadList) -> Result<Vec<DeadItemInfo>, ApiError> {
        Ok(vec![DeadItemInfo {
            run: "r1".into(),
            job: job.unwrap_or_else(|| "all".into()),
            what: "https://example.com/1".into(),
            error: "404".into(),
            attempts: 1,
        }])
    }
    async fn run_retry(&self, RunRetry { run }: RunRetry) -> Result<Ack, ApiError> {
        check(&run)?;
        ack(&format!("requeued dead items of {run}"))
    }
    async fn reload(&self, _: Reload) -> Result<Ack, ApiError> {
        ack("reloaded")
    }
    async fn metrics(&self, _: Metrics) -> Result<MetricsText, ApiError> {
        Ok(MetricsText {
            text: "dredge_up 1\n".into(),
        })
    }
}

/// A server on a socket in its own temp dir; stops when dropped.
pub(crate) struct Served {
    pub path: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Served {
    pub(crate) async fn start(api: FakeApi) -> Served {
        Self::start_with(api, super::Options::default()).await
    }

    pub(crate) async fn start_with(api: FakeApi, options: super::Options) -> Served {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("run").join("dredge.sock");
        let listener = super::bind(&path, None).expect("bind");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(super::serve(listener, Arc::new(api), options, async {
            let _ = stopped.await;
        }));
        Served {
            path,
            stop: Some(stop),
            task,
            _dir: dir,
        }
    }

    /// Asks the server to stop and waits (bounded) until it has.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = &mut self.task;
        tokio::time::timeout(std::time::Duration::from_secs(10), task)
            .await
            .expect("server stops within 10 s")
            .expect("server task ends cleanly");
    }
}
