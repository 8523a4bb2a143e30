//! Durability: making an applied batch survive a crash before the call returns Ok.
//!
//! Per call, every committer pays one `fsync`. With group commit, committers that
//! arrive while a flush is running wait for the next one, which covers all of them: a
//! flush started after a batch was applied makes that batch durable (sled writes its
//! log in order), so one leader flushes for everyone applied before it started.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};

use crate::error::Result;

/// How durable calls reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Each call flushes on its own.
    FlushPerCall,
    /// Concurrent calls share flushes (a flush leader flushes for all waiting).
    #[default]
    GroupCommit,
}

pub struct Flusher {
    mode: Durability,
    /// Batches applied so far (a ticket is this count right after one's own apply).
    applied: AtomicU64,
    state: Mutex<FlushState>,
    flushed_cv: Condvar,
}

#[derive(Default)]
struct FlushState {
    /// Every ticket up to this one is durable.
    flushed: u64,
    flushing: bool,
}

impl Flusher {
    pub fn new(mode: Durability) -> Self {
        Flusher {
            mode,
            applied: AtomicU64::new(0),
            state: Mutex::new(FlushState::default()),
            flushed_cv: Condvar::new(),
        }
    }

    /// Call right after a batch was applied; returns once it is on disk.
    pub fn make_durable(&self, db: &sled::Db) -> Result<()> {
        let ticket = self.applied.fetch_add(1, Ordering::SeqCst) + 1;
        match self.mode {
            Durability::FlushPerCall => {
                db.flush()?;
                Ok(())
            }
            Durability::GroupCommit => self.wait_or_lead(db, ticket),
        }
    }

    fn wait_or_lead(&self, db: &sled::Db, ticket: u64) -> Result<()> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if state.flushed >= ticket {
                return Ok(());
            }
            if !state.flushing {
                state.flushing = true;
                // Everything applied before this read is covered by the flush below.
                let target = self.applied.load(Ordering::SeqCst);
                drop(state);
                let result = db.flush();
                state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                state.flushing = false;
                if result.is_ok() {
                    state.flushed = state.flushed.max(target);
                }
                self.flushed_cv.notify_all();
                result?;
                continue;
            }
            state = self
                .flushed_cv
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}
