//! What operators act on: dead items and their requeue, paused jobs, and each job's
//! schedule bookkeeping.

use crate::codec::{Key, MARKER, decode, encode, prefix, trailing_u64};
use crate::error::Result;
use crate::queue::Queue;
use crate::stored::{RunStatus, Stored};
use crate::types::{DeadItem, ItemId, ItemState, RunId, RunState, ScheduleState};

impl Queue {
    /// Dead items (of `job`, when given), by run then id. Cost: the dead items only.
    /// Read in chunks (see `Queue::chunk_under`).
    pub(crate) fn dead_items(&self, job: Option<&str>) -> Result<Vec<DeadItem>> {
        let mut out = Vec::new();
        let mut after: Option<sled::IVec> = None;
        loop {
            let chunk = self.chunk_under(prefix::DEAD, after.as_deref())?;
            let Some((last, _)) = chunk.last() else {
                return Ok(out);
            };
            after = Some(last.clone());
            for (key, value) in &chunk {
                let run: RunId = decode("dead entry", value)?;
                let meta = self.inner.meta(&run)?;
                if job.is_some_and(|job| job != meta.job) {
                    continue;
                }
                let id = ItemId(trailing_u64(key, 0)?);
                let Some(info) = self.item(id)? else {
                    continue;
                };
                let ItemState::Dead { reason } = info.state else {
                    continue;
                };
                out.push(DeadItem {
                    id,
                    run,
                    job: meta.job.clone(),
                    label: info.label,
                    reason,
                    attempts: info.attempts,
                });
            }
        }
    }

    /// Moves every dead item of `run` back to Ready with attempts reset, and a finished
    /// run back to Running. Returns how many items moved (nothing changes when none).
    pub(crate) fn retry_dead(&self, run: &RunId) -> Result<usize> {
        self.write_durably_scanning(|tx| {
            let dead_prefix = Key::new(prefix::DEAD).str(run.as_str()).done();
            let ids: Vec<ItemId> = tx
                .tree()
                .scan_prefix(dead_prefix)
                .map(|entry| Ok(ItemId(trailing_u64(&entry?.0, 0)?)))
                .collect::<Result<_>>()?;
            if ids.is_empty() {
                tx.meta(run)?;
                return Ok(0);
            }
            let status: &mut RunStatus = tx.status_mut(run)?;
            if status.state != RunState::Running {
                status.state = RunState::Running;
                status.finished_at = None;
                let unfinished = Key::new(prefix::UNFINISHED).tail(run.as_str()).done();
                tx.put(unfinished, &MARKER);
                tx.relist_run(run)?;
            }
            for &id in &ids {
                tx.item_mut(id)?.attempts = 0;
                tx.set_state(id, Stored::Ready { not_before: 0 })?;
            }
            Ok(ids.len())
        })
    }

    /// Stops leasing the job's items (kept across restarts) until `resume_job`.
    pub(crate) fn pause_job(&self, job: &str) -> Result<()> {
        self.set_paused(job, true)
    }

    pub(crate) fn resume_job(&self, job: &str) -> Result<()> {
        self.set_paused(job, false)
    }

    fn set_paused(&self, job: &str, paused: bool) -> Result<()> {
        let runs = self.unfinished_runs_ids()?;
        self.write_durably_scanning(|tx| {
            let key = Key::new(prefix::PAUSED).tail(job).done();
            if paused {
                tx.ws.paused.insert(job.to_string());
                tx.put(key, &MARKER);
            } else {
                tx.ws.paused.remove(job);
                tx.delete(key);
            }
            for run in &runs {
                if tx.meta(run)?.job == job {
                    tx.relist_run(run)?;
                }
            }
            Ok(())
        })
    }

    /// Paused jobs, sorted.
    pub(crate) fn paused_jobs(&self) -> Vec<String> {
        let mut jobs: Vec<String> = self.lock_write().paused.iter().cloned().collect();
        jobs.sort();
        jobs
    }

    pub(crate) fn schedule_state(&self, job: &str) -> Result<Option<ScheduleState>> {
        let key = Key::new(prefix::SCHEDULE).tail(job).done();
        match self.inner.store()?.tree.get(key)? {
            Some(bytes) => decode("schedule state", &bytes).map(Some),
            None => Ok(None),
        }
    }

    pub(crate) fn set_schedule_state(&self, job: &str, state: &ScheduleState) -> Result<()> {
        self.write_durably(|tx| {
            let key = Key::new(prefix::SCHEDULE).tail(job).done();
            tx.put(key, encode("schedule state", state)?);
            Ok(())
        })
    }
}
