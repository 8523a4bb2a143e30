//! Runs: creating one with its first items, reading them, finishing and cancelling.

use dredge_core::{NewItem, UnixMillis};

use crate::codec::{Key, MARKER, decode, encode, prefix};
use crate::error::{QueueError, Result};
use crate::planning::PlanCursor;
use crate::queue::{Queue, run_id_from_key};
use crate::stored::{RunMeta, RunStatus};
use crate::types::{ItemCounts, NewRun, OutputCursor, RunId, RunInfo, RunState, ScheduleState};

impl Queue {
    /// Creates a run (Running) with its first items, its job's schedule state and its
    /// planning cursor when given, in one durable batch (see
    /// `QueueBackend::create_planned_run`).
    pub(crate) fn create_run_inner(
        &self,
        run: NewRun,
        items: Vec<NewItem>,
        schedule: Option<ScheduleState>,
        rest: Option<PlanCursor>,
    ) -> Result<RunId> {
        self.write_durably(|tx| {
            if let Some(mut schedule) = schedule {
                let key = Key::new(prefix::SCHEDULE).tail(&run.job).done();
                refuse_if_started(tx, &key, &run.job, &schedule)?;
                let id = RunId::new(run.started_at, tx.ws.next_run);
                schedule.last_run = Some(id);
                tx.put(key, encode("schedule state", &schedule)?);
            }
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
            tx.put(crate::history::job_run_key(&meta.job, &id), &MARKER);
            tx.add_run(&id, meta, status)?;
            let unfinished = Key::new(prefix::UNFINISHED).tail(id.as_str()).done();
            tx.put(unfinished, &MARKER);
            for item in items {
                tx.create_item(&id, item)?;
            }
            if rest.is_some() {
                tx.set_plan_cursor(&id, rest)?;
            }
            Ok(id)
        })
    }
}

/// Refuses (`AlreadyStarted`) a run whose schedule fire or content `job`'s stored state
/// records already (`ScheduleState::already_started`). Reads the applied state: schedule
/// states change only in durable calls, which one daemon's scheduler makes one at a time.
fn refuse_if_started(
    tx: &crate::tx::Tx<'_>,
    key: &[u8],
    job: &str,
    wanted: &ScheduleState,
) -> Result<()> {
    let Some(bytes) = tx.tree().get(key)? else {
        return Ok(());
    };
    let stored: ScheduleState = decode("schedule state", &bytes)?;
    if stored.already_started(wanted) {
        return Err(QueueError::AlreadyStarted {
            job: job.to_string(),
        });
    }
    Ok(())
}

impl Queue {
    /// A run as of every call made so far: a run created in a group not yet applied
    /// (whose items may already be leased) is found through the run cache.
    pub(crate) fn run(&self, id: &RunId) -> Result<Option<RunInfo>> {
        match self.inner.meta(id).and_then(|_| self.run_info(id)) {
            Ok(info) => Ok(Some(info)),
            Err(QueueError::UnknownRun(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn run_info(&self, id: &RunId) -> Result<RunInfo> {
        let meta = self.inner.meta(id)?;
        let status = self.run_status(id)?;
        let reason = self.run_reason(id)?;
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
            reason,
            planning: self.plan_cursor(id)?,
        })
    }

    /// Why dredge ended the run, pending changes included.
    fn run_reason(&self, id: &RunId) -> Result<Option<String>> {
        if let Some(reason) = self.lock_write().pending.reasons.get(id) {
            return Ok(reason.clone());
        }
        let key = Key::new(prefix::RUN_REASON).tail(id.as_str()).done();
        match self.inner.store()?.tree.get(key)? {
            Some(bytes) => Ok(Some(decode::<String>("run reason", &bytes)?)),
            None => Ok(None),
        }
    }

    /// Every run (of `job`, when given), oldest first. Read in chunks (see
    /// `Queue::chunk_under`): a long listing never holds up a checkpoint.
    pub(crate) fn runs(&self, job: Option<&str>) -> Result<Vec<RunInfo>> {
        let mut out = Vec::new();
        let mut after: Option<sled::IVec> = None;
        loop {
            let chunk = self.chunk_under(prefix::RUN_META, after.as_deref())?;
            let Some((last, _)) = chunk.last() else {
                return Ok(out);
            };
            after = Some(last.clone());
            for (key, value) in &chunk {
                if let Some(job) = job
                    && decode::<RunMeta>("run", value)?.job != job
                {
                    continue;
                }
                out.push(self.run_info(&run_id_from_key(key))?);
            }
        }
    }

    /// One page of runs (of `job`, when given), newest first: at most `limit` runs
    /// started before `before` (exclusive; `None` starts at the newest). The next page
    /// starts before the last run of this one.
    pub(crate) fn runs_page(
        &self,
        job: Option<&str>,
        before: Option<&RunId>,
        limit: usize,
    ) -> Result<Vec<RunInfo>> {
        let ids = match job {
            Some(job) => self.job_runs_before(job, before, limit)?,
            None => self.runs_before(before, limit)?,
        };
        ids.iter().map(|id| self.run_info(id)).collect()
    }

    /// Up to `limit` of `job`'s run ids before `before`, newest first (job index).
    fn job_runs_before(
        &self,
        job: &str,
        before: Option<&RunId>,
        limit: usize,
    ) -> Result<Vec<RunId>> {
        let start = Key::new(prefix::JOB_RUNS).str(job).done();
        let end = match before {
            Some(run) => crate::history::job_run_key(job, run),
            None => [start.as_slice(), &[0xFF]].concat(),
        };
        let store = self.inner.store()?;
        store
            .tree
            .range(start.clone()..end)
            .rev()
            .take(limit)
            .map(|entry| {
                let (key, _) = entry?;
                Ok(RunId(
                    String::from_utf8_lossy(&key[start.len()..]).into_owned(),
                ))
            })
            .collect()
    }

    /// Up to `limit` run ids before `before`, newest first.
    fn runs_before(&self, before: Option<&RunId>, limit: usize) -> Result<Vec<RunId>> {
        let before = before.map(|b| Key::new(prefix::RUN_META).tail(b.as_str()).done());
        let store = self.inner.store()?;
        let end = before.unwrap_or_else(|| vec![prefix::RUN_META + 1]);
        store
            .tree
            .range(vec![prefix::RUN_META]..end)
            .rev()
            .take(limit)
            .map(|entry| Ok(run_id_from_key(&entry?.0)))
            .collect()
    }

    /// Runs still in the Running state, oldest first.
    pub(crate) fn unfinished_runs(&self) -> Result<Vec<RunInfo>> {
        self.unfinished_runs_ids()?
            .iter()
            .map(|id| self.run_info(id))
            .collect()
    }

    /// `finish_run`, recording why dredge itself ended the run (shown with the run).
    pub(crate) fn end_run(
        &self,
        id: &RunId,
        state: RunState,
        at: UnixMillis,
        reason: Option<&str>,
    ) -> Result<()> {
        self.write_durably_scanning(|tx| {
            let status = tx.status_mut(id)?;
            status.state = state;
            let unfinished = Key::new(prefix::UNFINISHED).tail(id.as_str()).done();
            let unsettled = Key::new(prefix::UNSETTLED).tail(id.as_str()).done();
            if state == RunState::Running {
                status.finished_at = None;
                tx.put(unfinished, &MARKER);
            } else {
                status.finished_at = Some(at);
                tx.delete(unfinished);
            }
            if state == RunState::Cancelled {
                tx.put(unsettled, &MARKER);
            } else {
                tx.delete(unsettled);
            }
            let reason_key = Key::new(prefix::RUN_REASON).tail(id.as_str()).done();
            match reason {
                Some(reason) => tx.put(reason_key, encode("run reason", &reason)?),
                None => tx.delete(reason_key),
            }
            if state != RunState::Running {
                // Its remaining inputs are never planned.
                tx.set_plan_cursor(id, None)?;
            }
            tx.ws
                .pending
                .reasons
                .insert(id.clone(), reason.map(str::to_string));
            tx.relist_run(id)
        })
    }

    /// A cancelled run's file was cut back to its committed cursor: recovery need not
    /// look at it again.
    pub(crate) fn settle_cancelled(&self, id: &RunId) -> Result<()> {
        self.write_durably(|tx| {
            tx.delete(Key::new(prefix::UNSETTLED).tail(id.as_str()).done());
            Ok(())
        })
    }
}
