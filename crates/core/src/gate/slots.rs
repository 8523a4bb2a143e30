//! A concurrency limit whose size can change while permits are out: growing adds
//! permits at once; shrinking takes the free ones and forgets as many of those in
//! flight as it still owes when they come back. No request in flight is cut short and
//! none is counted twice.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug)]
pub(super) struct Slots {
    semaphore: Arc<Semaphore>,
    sizing: Mutex<Sizing>,
}

#[derive(Debug)]
struct Sizing {
    size: usize,
    /// Permits in flight to forget when they come back (a shrink that found them out).
    owed: usize,
}

/// Held while a request is in flight.
#[derive(Debug)]
pub(super) struct Slot {
    permit: Option<OwnedSemaphorePermit>,
    slots: Arc<Slots>,
}

impl Slots {
    pub(super) fn new(size: usize) -> Self {
        Slots {
            semaphore: Arc::new(Semaphore::new(size)),
            sizing: Mutex::new(Sizing { size, owed: 0 }),
        }
    }

    pub(super) async fn acquire(self: &Arc<Self>) -> Slot {
        let permit = self
            .semaphore
            .clone()
            .acquire_owned()
            .await
            .expect("the gate's semaphore is never closed");
        Slot {
            permit: Some(permit),
            slots: self.clone(),
        }
    }

    /// Makes the limit `size` (at least 1).
    pub(super) fn resize(&self, size: usize) {
        let size = size.clamp(1, Semaphore::MAX_PERMITS);
        let mut sizing = self.sizing.lock().unwrap_or_else(PoisonError::into_inner);
        if size >= sizing.size {
            let grow = size - sizing.size;
            let repaid = grow.min(sizing.owed);
            sizing.owed -= repaid;
            self.semaphore.add_permits(grow - repaid);
        } else {
            let shrink = sizing.size - size;
            let taken = self.semaphore.forget_permits(shrink);
            sizing.owed += shrink - taken;
        }
        sizing.size = size;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut sizing = self
            .slots
            .sizing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if sizing.owed > 0
            && let Some(permit) = self.permit.take()
        {
            sizing.owed -= 1;
            permit.forget();
        }
    }
}
