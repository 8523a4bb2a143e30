//! Run writers: which node appends a run's records to its file. Not built yet: every
//! call says so.

use dredge_queue::{ItemId, QueueError, Result, RunId, WrittenChunk};

use crate::queue::PgQueue;

fn not_yet(run: &RunId) -> QueueError {
    QueueError::NotRunWriter { run: run.clone() }
}

impl PgQueue {
    pub(crate) fn take_writer(&self, run: &RunId) -> Result<Option<u64>> {
        Err(not_yet(run))
    }

    pub(crate) fn release_writer(&self, run: &RunId) -> Result<()> {
        Err(not_yet(run))
    }

    pub(crate) fn holds_writer(&self, run: &RunId) -> Result<bool> {
        Err(not_yet(run))
    }

    pub(crate) fn staged_of(&self, run: &RunId, _limit: usize) -> Result<Vec<ItemId>> {
        Err(not_yet(run))
    }

    pub(crate) fn written_of(
        &self,
        run: &RunId,
        _from_seq: u64,
        _limit: usize,
    ) -> Result<Vec<WrittenChunk>> {
        Err(not_yet(run))
    }

    pub(crate) fn writers(&self) -> Result<Vec<(RunId, String)>> {
        Ok(Vec::new())
    }
}
