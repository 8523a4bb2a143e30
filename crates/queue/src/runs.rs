//! Runs: creating one with its first items, reading them, finishing and cancelling.

use dredge_core::{NewItem, UnixMillis};

use crate::codec::{Key, MARKER, decode, prefix};
use crate::error::Result;
use crate::queue::{Queue, run_id_from_key};
use crate::stored::{RunMeta, RunStatus};
use crate::types::{ItemCounts, NewRun, OutputCursor, RunId, RunInfo, RunState};

impl Queue {
    /// Creates a run (Running) together with its first items, in one durable batch.
    pub fn create_run(&self, run: NewRun, items: Vec<NewItem>) -> Result<RunId> {
        self.write_durably(|tx| {
            let id = RunId::new(run.started_at, tx.next_run_seq());
            let meta = RunMeta {
                job: run.job,
                lane: run.lane,
                spec_snapshot: run.spec_snapshot,
                started_at: run.started_at,
                deadline: run.deadline,
                max_attempts: run.max_attempts,
            };
            let status = RunStatus {
                state: RunState::Running,
                finished_at: None,
                counts: ItemCounts::default(),
                cursor: OutputCursor::default(),
                distinct_keys: 0,
            };
            tx.add_run(&id, meta, status)?;
            let unfinished = Key::new(prefix::UNFINISHED).tail(id.as_str()).done();
            tx.put(unfinished, &MARKER);
            for item in items {
                tx.create_item(&id, item)?;
            }
            Ok(id)
        })
    }

    pub fn run(&self, id: &RunId) -> Result<Option<RunInfo>> {
        let key = Key::new(prefix::RUN_META).tail(id.as_str()).done();
        if !self.inner.store()?.tree.contains_key(key)? {
            return Ok(None);
        }
        self.run_info(id).map(Some)
    }

    fn run_info(&self, id: &RunId) -> Result<RunInfo> {
        let meta = self.inner.meta(id)?;
        let status = self.run_status(id)?;
        Ok(RunInfo {
            id: id.clone(),
            job: meta.job.clone(),
            lane: meta.lane.clone(),
            spec_snapshot: meta.spec_snapshot.clone(),
            state: status.state,
            started_at: meta.started_at,
            finished_at: status.finished_at,
            deadline: meta.deadline,
            max_attempts: meta.max_attempts,
            counts: status.counts,
            cursor: status.cursor,
        })
    }

    /// Every run (of `job`, when given), oldest first.
    pub fn runs(&self, job: Option<&str>) -> Result<Vec<RunInfo>> {
        let mut out = Vec::new();
        for entry in self.inner.store()?.tree.scan_prefix([prefix::RUN_META]) {
            let (key, value) = entry?;
            let id = run_id_from_key(&key);
            if let Some(job) = job {
                let meta: RunMeta = decode("run", &value)?;
                if meta.job != job {
                    continue;
                }
            }
            out.push(self.run_info(&id)?);
        }
        Ok(out)
    }

    /// Runs still in the Running state, oldest first.
    pub fn unfinished_runs(&self) -> Result<Vec<RunInfo>> {
        self.unfinished_runs_ids()?
            .iter()
            .map(|id| self.run_info(id))
            .collect()
    }

    /// Sets a run's final state. Its waiting items stop being leasable; items already
    /// leased may still be staged, committed, released or killed.
    pub fn finish_run(&self, id: &RunId, state: RunState, at: UnixMillis) -> Result<()> {
        self.write_durably_scanning(|tx| {
            let status = tx.status_mut(id)?;
            status.state = state;
            let unfinished = Key::new(prefix::UNFINISHED).tail(id.as_str()).done();
            if state == RunState::Running {
                status.finished_at = None;
                tx.put(unfinished, &MARKER);
            } else {
                status.finished_at = Some(at);
                tx.delete(unfinished);
            }
            tx.relist_run(id)
        })
    }

    /// Cancels a run: `finish_run(id, Cancelled, at)`. Its ready and snoozed items stay
    /// in their state (and counts) but are never leased; in-flight (leased) items may
    /// still be staged and committed, or released/killed, as the worker decides.
    pub fn cancel_run(&self, id: &RunId, at: UnixMillis) -> Result<()> {
        self.finish_run(id, RunState::Cancelled, at)
    }
}
