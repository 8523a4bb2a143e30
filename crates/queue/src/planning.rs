//! Runs planned a chunk at a time: a run of a million inputs is created with its first
//! chunk of items and a planning cursor, and the rest arrives in small batches.
//!
//! Why: sled 0.34 keeps every node version a batch touches until the batch is applied,
//! so one batch of a million items cost gigabytes, held the write lock for seconds and
//! stalled every other lane. Chunks keep both flat. The cursor moves in the same batch
//! as the items it planned, so a crash between chunks neither loses nor repeats an
//! input: planning resumes where the last durable chunk left it. A run with a cursor is
//! never complete (see [`RunInfo::is_complete`]), and ending a run removes its cursor.
//!
//! What a cursor points into (a copy of the run's inputs) is the caller's business:
//! the queue stores the cursor, it never reads files.

use dredge_core::NewItem;
use serde::{Deserialize, Serialize};

use crate::codec::{Key, decode, encode, prefix};
use crate::error::Result;
use crate::queue::{Queue, run_id_from_key};
use crate::tx::Tx;
use crate::types::{NewRun, RunId, RunState, ScheduleState};

/// Where planning of a run's remaining inputs resumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanCursor {
    /// The caller's name for the run's input copy (a file name, for the daemon).
    pub input: String,
    /// Byte offset of the next unplanned input in that copy.
    pub offset: u64,
    /// Inputs planned so far (the chunks before `offset`).
    pub planned: u64,
    /// Items of the chunk at `offset` added already: planning is deterministic, so a
    /// chunk planned again after a restart yields the same items, and these are
    /// skipped. (A chunk's items are added a few hundred per batch: one batch of a
    /// chunk's thousands of items would cost sled hundreds of MiB.)
    pub items_done: u64,
    /// Inputs in all.
    pub total: u64,
}

fn cursor_key(run: &RunId) -> Vec<u8> {
    Key::new(prefix::PLANNING).tail(run.as_str()).done()
}

impl Tx<'_> {
    /// The run's cursor, pending changes included.
    pub(crate) fn plan_cursor(&self, run: &RunId) -> Result<Option<PlanCursor>> {
        if let Some(cursor) = self.ws.pending.planning.get(run) {
            return Ok(cursor.clone());
        }
        match self.store.tree.get(cursor_key(run))? {
            Some(bytes) => Ok(Some(decode("planning cursor", &bytes)?)),
            None => Ok(None),
        }
    }

    /// Sets (`Some`) or removes the run's cursor.
    pub(crate) fn set_plan_cursor(
        &mut self,
        run: &RunId,
        cursor: Option<PlanCursor>,
    ) -> Result<()> {
        match &cursor {
            Some(c) => self.put(cursor_key(run), encode("planning cursor", c)?),
            None => self.delete(cursor_key(run)),
        }
        self.ws.pending.planning.insert(run.clone(), cursor);
        Ok(())
    }
}

impl Queue {
    /// `create_run_with`, and when `rest` is given the run keeps a planning cursor: it
    /// is not complete until `plan_more` has planned the last chunk.
    pub(crate) fn create_planned_run(
        &self,
        run: NewRun,
        first: Vec<NewItem>,
        schedule: Option<ScheduleState>,
        rest: Option<PlanCursor>,
    ) -> Result<RunId> {
        self.create_run_inner(run, first, schedule, rest)
    }

    /// Adds the next chunk of a planned run's items and moves its cursor to `next`
    /// (`None`: planning is over), in one durable batch. Returns false, and changes
    /// nothing, when the run is no longer running (cancelled or failed meanwhile) or
    /// has no cursor: its remaining inputs are not planned.
    pub(crate) fn plan_more(
        &self,
        run: &RunId,
        items: Vec<NewItem>,
        next: Option<PlanCursor>,
    ) -> Result<bool> {
        self.write_durably(|tx| {
            if tx.plan_cursor(run)?.is_none() || tx.status_mut(run)?.state != RunState::Running {
                return Ok(false);
            }
            for item in items {
                tx.create_item(run, item)?;
            }
            tx.set_plan_cursor(run, next)?;
            Ok(true)
        })
    }

    /// Every run whose planning is not over, with its cursor, oldest first.
    pub(crate) fn planning_runs(&self) -> Result<Vec<(RunId, PlanCursor)>> {
        let store = self.inner.store()?;
        store
            .tree
            .scan_prefix([prefix::PLANNING])
            .map(|entry| {
                let (key, value) = entry?;
                Ok((run_id_from_key(&key), decode("planning cursor", &value)?))
            })
            .collect()
    }

    /// The run's planning cursor, if its planning is not over (pending changes
    /// included: a run whose items may already be leased is seen as it is).
    pub(crate) fn plan_cursor(&self, run: &RunId) -> Result<Option<PlanCursor>> {
        let ws = self.lock_write();
        if let Some(cursor) = ws.pending.planning.get(run) {
            return Ok(cursor.clone());
        }
        drop(ws);
        match self.inner.store()?.tree.get(cursor_key(run))? {
            Some(bytes) => Ok(Some(decode("planning cursor", &bytes)?)),
            None => Ok(None),
        }
    }
}
