//! Connection slots: at most `max` connections at once. When all are taken, the one
//! that has waited longest for its next request line is closed to make room, so
//! clients that connect and never finish a line cannot lock out `dredge status`;
//! only when every connection is busy answering is a newcomer turned away.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio_util::sync::CancellationToken;

#[derive(Debug)]
struct Slot {
    /// Since when it waits for a request line; `None` while a request is answered.
    idle_since: Option<Instant>,
    close: CancellationToken,
}

#[derive(Debug, Default)]
struct Table {
    next_id: u64,
    slots: HashMap<u64, Slot>,
}

/// The slots of one server.
#[derive(Debug, Clone)]
pub(super) struct Slots {
    max: usize,
    table: Arc<Mutex<Table>>,
}

/// A connection's slot; dropping it frees the slot.
#[derive(Debug)]
pub(super) struct SlotGuard {
    id: u64,
    table: Arc<Mutex<Table>>,
    /// Cancelled when the connection is closed to make room.
    pub close: CancellationToken,
}

impl Slots {
    pub(super) fn new(max: usize) -> Self {
        Slots {
            max: max.max(1),
            table: Arc::default(),
        }
    }

    /// A slot for a new connection, closing the longest-idle one when all are taken;
    /// `None` when every connection is busy.
    pub(super) fn take(&self) -> Option<SlotGuard> {
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if table.slots.len() >= self.max {
            let oldest = table
                .slots
                .iter()
                .filter_map(|(id, s)| s.idle_since.map(|t| (t, *id)))
                .min()?;
            if let Some(slot) = table.slots.remove(&oldest.1) {
                slot.close.cancel();
            }
        }
        table.next_id += 1;
        let id = table.next_id;
        let close = CancellationToken::new();
        let slot = Slot {
            idle_since: Some(Instant::now()),
            close: close.clone(),
        };
        table.slots.insert(id, slot);
        Some(SlotGuard {
            id,
            table: Arc::clone(&self.table),
            close,
        })
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.table.lock().unwrap().slots.len()
    }
}

impl SlotGuard {
    /// The connection waits for a request line (it may be closed to make room).
    pub(super) fn idle(&self) {
        self.set(Some(Instant::now()));
    }

    /// The connection answers a request (it is not closed to make room).
    pub(super) fn busy(&self) {
        self.set(None);
    }

    fn set(&self, idle_since: Option<Instant>) {
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = table.slots.get_mut(&self.id) {
            slot.idle_since = idle_since;
        }
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        table.slots.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_table_closes_the_longest_idle_connection() {
        let slots = Slots::new(2);
        let first = slots.take().unwrap();
        let second = slots.take().unwrap();
        let third = slots.take().expect("room is made");
        assert!(first.close.is_cancelled(), "the oldest idle one goes");
        assert!(!second.close.is_cancelled() && !third.close.is_cancelled());
        assert_eq!(slots.len(), 2);
    }

    #[test]
    fn busy_connections_are_never_closed_and_a_full_busy_table_refuses() {
        let slots = Slots::new(2);
        let a = slots.take().unwrap();
        let b = slots.take().unwrap();
        a.busy();
        b.busy();
        assert!(slots.take().is_none());
        b.idle();
        let c = slots.take().expect("b was idle");
        assert!(b.close.is_cancelled() && !a.close.is_cancelled());
        drop(c);
        assert_eq!(slots.len(), 1, "a dropped guard frees its slot");
    }
}
