//! The write group: changes made by calls under the write lock that sled has not been
//! given yet, and the overlay through which later calls read them.
//!
//! Why a group: in sled 0.34 every `apply_batch` takes a process-wide lock exclusively,
//! and `flush` holds the shared side of that lock for its whole I/O wait, so a batch
//! can never be applied while a flush runs. Applying each call's batch on its own thus
//! makes every call wait for the flush before it (measured: about 20 % of raw sled
//! insert+flush, BENCHMARKS.md). Instead, calls add their changes to one pending group
//! while a flush runs, and the next flush leader applies the whole group as one
//! `sled::Batch` (still atomic across a crash) and flushes once for all of them.
//! Leases, which need not be durable, always wait here for the next durable call: each
//! batch applied on its own also makes sled seal and write its log buffer.
//!
//! Readers under the write lock see the group through the overlay: the items and run
//! statuses it changed, the dedupe keys it added, and the lease index entries it added
//! or removed (so `lease_next` never hands out an item twice). Calls that scan other
//! indexes apply the group first (`Tx::settle`).

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::codec::{Key, encode, item_key, prefix};
use crate::error::Result;
use crate::queue::{NEXT_ITEM, NEXT_RUN, NEXT_STAGE, Store, encode_counter};
use crate::stored::{ItemRec, RunStatus};
use crate::types::{ItemId, RunId};

/// A group this large is applied at once instead of waiting for the next flush, so
/// savepoints (which clone the group) stay cheap.
const APPLY_AT_WRITES: usize = 4096;

/// Changes not yet applied to sled.
#[derive(Default, Clone)]
pub(crate) struct Pending {
    batch: sled::Batch,
    /// Keys put or deleted in `batch` (a key written twice counts twice).
    writes: usize,
    /// The current record of every item changed in the group.
    pub items: HashMap<ItemId, ItemRec>,
    /// The current status of every run touched in the group.
    pub statuses: HashMap<RunId, RunStatus>,
    /// Dedupe keys created in the group.
    pub dedupe_added: HashSet<Vec<u8>>,
    /// Lease index keys added in the group, sorted as sled sorts them.
    pub ready_added: BTreeSet<Vec<u8>>,
    /// Lease index keys removed in the group.
    pub ready_removed: HashSet<Vec<u8>>,
    /// Reasons of runs ended in the group (`None`: cleared).
    pub reasons: HashMap<RunId, Option<String>>,
    /// Planning cursors set (`Some`) or removed (`None`) in the group.
    pub planning: HashMap<RunId, Option<crate::planning::PlanCursor>>,
    /// Which id counters moved.
    pub counters_changed: [bool; 3],
    /// Some call in the group waits for it to be durable, and so will apply it.
    pub awaited: bool,
}

impl Pending {
    pub(crate) fn is_empty(&self) -> bool {
        self.writes == 0
            && self.items.is_empty()
            && self.statuses.is_empty()
            && self.counters_changed == [false; 3]
    }

    pub(crate) fn is_large(&self) -> bool {
        self.writes + self.items.len() >= APPLY_AT_WRITES
    }

    pub(crate) fn put(&mut self, key: Vec<u8>, value: impl Into<sled::IVec>) {
        self.batch.insert(key, value);
        self.writes += 1;
    }

    pub(crate) fn delete(&mut self, key: Vec<u8>) {
        self.batch.remove(key);
        self.writes += 1;
    }

    /// The first lease index key under `lane_prefix`, merging sled's index (`tree`)
    /// with the group's additions and removals. Ready keys sort by time then id, so
    /// the smaller of the two candidates is the lane's earliest waiting item.
    pub(crate) fn first_ready(
        &self,
        tree: &sled::Tree,
        lane_prefix: &[u8],
    ) -> Result<Option<Vec<u8>>> {
        let mut stored = None;
        for entry in tree.scan_prefix(lane_prefix) {
            let (key, _) = entry?;
            if !self.ready_removed.contains(key.as_ref()) {
                stored = Some(key.to_vec());
                break;
            }
        }
        let added = self
            .ready_added
            .range(lane_prefix.to_vec()..)
            .next()
            .filter(|key| key.starts_with(lane_prefix))
            .cloned();
        Ok(match (stored, added) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// Writes the group into sled as one atomic batch (not flushed) and returns how many
    /// item records it wrote. `counters` are the id counters' current values.
    pub(crate) fn apply(self, store: &Store, counters: [u64; 3]) -> Result<u64> {
        let mut batch = self.batch;
        for (id, rec) in &self.items {
            batch.insert(item_key(*id), encode("item", rec)?);
        }
        for (run, status) in &self.statuses {
            let key = Key::new(prefix::RUN_STATUS).tail(run.as_str()).done();
            batch.insert(key, encode("run status", status)?);
        }
        let names = [NEXT_ITEM, NEXT_RUN, NEXT_STAGE];
        for ((changed, name), value) in self.counters_changed.into_iter().zip(names).zip(counters) {
            if changed {
                let key = Key::new(prefix::META).tail(name).done();
                batch.insert(key, encode_counter(value)?);
            }
        }
        store.tree.apply_batch(batch)?;
        Ok(self.items.len() as u64)
    }
}
