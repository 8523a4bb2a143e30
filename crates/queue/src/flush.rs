//! Durability: making a call's changes survive a crash before the call returns Ok.
//!
//! Calls add their changes to the pending write group (see `pending`). A call that must
//! be durable waits here until its group is flushed. The first waiter to find no flush
//! running leads: it applies the whole pending group to sled as one batch, flushes, and
//! wakes everyone whose group that covered. Calls arriving during the flush join the
//! next group, so N concurrent committers pay for one apply and one `fsync` per round,
//! not N of each.

use std::collections::HashSet;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use crate::error::{QueueError, Result};

/// How durable calls reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Each call applies its own batch and flushes on its own.
    FlushPerCall,
    /// Concurrent calls share one batch and one flush per round (group commit).
    #[default]
    GroupCommit,
}

pub(crate) struct Flusher {
    pub mode: Durability,
    state: Mutex<FlushState>,
    flushed_cv: Condvar,
}

#[derive(Default)]
struct FlushState {
    /// Every group up to this one is durable.
    flushed: u64,
    flushing: bool,
    /// Groups whose apply failed; their callers get an error.
    lost: HashSet<u64>,
}

impl Flusher {
    pub(crate) fn new(mode: Durability) -> Self {
        Flusher {
            mode,
            state: Mutex::new(FlushState::default()),
            flushed_cv: Condvar::new(),
        }
    }

    /// Records that `group` could not be applied: its callers get an error.
    pub(crate) fn record_lost(&self, group: u64, error: &QueueError) {
        tracing::error!(group, %error, "a queue write group could not be applied");
        self.lock().lost.insert(group);
    }

    /// Returns once `group` is on disk. `apply` applies the pending group and returns the
    /// number of the last group applied (recording a failure with `record_lost`);
    /// `flush` makes everything applied durable.
    pub(crate) fn wait_for(
        &self,
        group: u64,
        apply: impl Fn() -> Result<u64>,
        flush: impl Fn() -> Result<()>,
    ) -> Result<()> {
        let mut state = self.lock();
        loop {
            if state.lost.contains(&group) {
                return Err(lost(group));
            }
            if state.flushed >= group {
                return Ok(());
            }
            if state.flushing {
                state = self
                    .flushed_cv
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            let (next, flush_failed) = self.lead(state, &apply, &flush);
            if let Some(error) = flush_failed {
                return Err(error);
            }
            state = next;
        }
    }

    /// One round: apply the pending group, flush, wake the waiters. Returns the state
    /// lock again and the flush's error, if it failed (a failed apply is recorded in
    /// `lost` for the callers of that group instead).
    fn lead<'a>(
        &'a self,
        mut state: MutexGuard<'a, FlushState>,
        apply: &impl Fn() -> Result<u64>,
        flush: &impl Fn() -> Result<()>,
    ) -> (MutexGuard<'a, FlushState>, Option<QueueError>) {
        state.flushing = true;
        drop(state);
        let applied = apply();
        let flushed = match &applied {
            Ok(_) => flush(),
            Err(_) => Ok(()),
        };
        let mut state = self.lock();
        state.flushing = false;
        let flush_failed = match (applied, flushed) {
            (Ok(group), Ok(())) => {
                state.flushed = state.flushed.max(group);
                None
            }
            (Ok(_), Err(error)) => Some(error),
            // Recorded in `lost` by `apply`.
            (Err(_), _) => None,
        };
        self.flushed_cv.notify_all();
        (state, flush_failed)
    }

    fn lock(&self) -> MutexGuard<'_, FlushState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn lost(group: u64) -> QueueError {
    QueueError::GroupLost { group }
}
