//! One call's changes: reads through the pending group's overlay (see `pending`),
//! keeps every index and run count in step with each item state change, and adds its
//! writes to the group, which is applied to sled as one atomic `sled::Batch`.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use dredge_core::{ItemStart, NewItem};

use crate::codec::{Key, MARKER, decode, encode, item_key, prefix, trailing_u64};
use crate::error::{QueueError, Result};
use crate::items::expect_leased;
use crate::queue::{Inner, Store, WriteState};
use crate::stored::{ItemRec, RunMeta, RunStatus, Stored};
use crate::types::{ItemId, Lease, RunId, RunState};

pub(crate) struct Tx<'a> {
    inner: &'a Inner,
    pub(crate) store: Arc<Store>,
    pub ws: &'a mut WriteState,
    /// Items this call read but did not change.
    read: HashMap<ItemId, ItemRec>,
}

/// The key under which a run remembers a dedupe key (its value: the item's id).
pub(crate) fn dedupe_key(run: &RunId, dedupe: &str) -> Vec<u8> {
    Key::new(prefix::DEDUPE)
        .str(run.as_str())
        .tail(dedupe)
        .done()
}

/// The prefix of every dedupe key of a run.
pub(crate) fn dedupe_key_prefix(run: &RunId) -> Vec<u8> {
    Key::new(prefix::DEDUPE).str(run.as_str()).done()
}

impl<'a> Tx<'a> {
    pub(crate) fn new(inner: &'a Inner, store: Arc<Store>, ws: &'a mut WriteState) -> Self {
        Tx {
            inner,
            store,
            ws,
            read: HashMap::new(),
        }
    }

    pub(crate) fn put(&mut self, key: Vec<u8>, value: impl Into<sled::IVec>) {
        self.ws.pending.put(key, value);
    }

    pub(crate) fn delete(&mut self, key: Vec<u8>) {
        self.ws.pending.delete(key);
    }

    /// The lease index key of `lane`'s earliest waiting item, pending changes included.
    pub(crate) fn first_ready(&self, lane: &str) -> Result<Option<Vec<u8>>> {
        let lane_prefix = Key::new(prefix::READY).str(lane).done();
        self.ws.pending.first_ready(&self.store.tree, &lane_prefix)
    }

    pub(crate) fn tree(&self) -> &sled::Tree {
        &self.store.tree
    }

    pub(crate) fn meta(&self, run: &RunId) -> Result<Arc<RunMeta>> {
        self.inner.meta(run)
    }

    /// Registers a run created in this transaction so later steps can see it.
    pub(crate) fn add_run(&mut self, run: &RunId, meta: RunMeta, status: RunStatus) -> Result<()> {
        let key = Key::new(prefix::RUN_META).tail(run.as_str()).done();
        self.put(key, encode("run", &meta)?);
        let mut metas = self
            .inner
            .metas
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        metas.insert(run.clone(), Arc::new(meta));
        drop(metas);
        self.ws.pending.statuses.insert(run.clone(), status);
        Ok(())
    }

    /// An item to change: it is written back when the transaction applies.
    pub(crate) fn item_mut(&mut self, id: ItemId) -> Result<&mut ItemRec> {
        match self.ws.pending.items.entry(id) {
            Entry::Occupied(changed) => Ok(changed.into_mut()),
            Entry::Vacant(slot) => {
                let rec = match self.read.remove(&id) {
                    Some(rec) => rec,
                    None => load(&self.store, id)?,
                };
                Ok(slot.insert(rec))
            }
        }
    }

    /// An item to read only.
    pub(crate) fn item(&mut self, id: ItemId) -> Result<&ItemRec> {
        if self.ws.pending.items.contains_key(&id) {
            return Ok(&self.ws.pending.items[&id]);
        }
        if !self.read.contains_key(&id) {
            let rec = load(&self.store, id)?;
            self.read.insert(id, rec);
        }
        Ok(&self.read[&id])
    }

    pub(crate) fn status_mut(&mut self, run: &RunId) -> Result<&mut RunStatus> {
        let statuses = &mut self.ws.pending.statuses;
        if !statuses.contains_key(run) {
            let status = self.inner.status(run)?;
            statuses.insert(run.clone(), status);
        }
        Ok(statuses.get_mut(run).expect("just inserted"))
    }

    /// Whether a run's waiting items may be leased: it runs and its job is not paused.
    fn leasable(&mut self, run: &RunId) -> Result<bool> {
        let running = self.status_mut(run)?.state == RunState::Running;
        let job = &self.meta(run)?.job;
        Ok(running && !self.ws.paused.contains(job))
    }

    /// Moves an item to `new`, keeping indexes and its run's counts in step.
    pub(crate) fn set_state(&mut self, id: ItemId, new: Stored) -> Result<()> {
        let rec = self.item_mut(id)?;
        let old = std::mem::replace(&mut rec.state, new.clone());
        let (run, scope) = (rec.run.clone(), rec.scope.clone());
        if matches!(old, Stored::Leased { .. }) {
            // The lease ends here, whoever ends it: its epoch no longer fences anything.
            self.ws.lease_epochs.remove(&id);
        }
        self.unindex(id, &run, scope.as_deref(), &old)?;
        let counts = &mut self.status_mut(&run)?.counts;
        let was = old.counter(counts);
        *was = was.saturating_sub(1);
        *new.counter(counts) += 1;
        self.index(id, &run, scope.as_deref(), &new)
    }

    fn unindex(
        &mut self,
        id: ItemId,
        run: &RunId,
        scope: Option<&str>,
        old: &Stored,
    ) -> Result<()> {
        match old {
            Stored::Ready { not_before } | Stored::Snoozed { until: not_before } => {
                let lane = self.meta(run)?.lane.clone();
                self.unlist(id, &lane, scope, *not_before);
                let waiting = Key::new(prefix::WAITING).str(run.as_str()).id(id);
                self.delete(waiting.done());
            }
            Stored::Leased { .. } => self.delete(Key::new(prefix::LEASED).id(id).done()),
            Stored::Staged { seq } => {
                self.delete(Key::new(prefix::STAGED).u64(*seq).done());
                self.delete(Key::new(prefix::RECORDS).id(id).done());
            }
            Stored::Done => {}
            Stored::Dead { .. } => {
                let dead = Key::new(prefix::DEAD).str(run.as_str()).id(id);
                self.delete(dead.done());
            }
        }
        Ok(())
    }

    fn index(&mut self, id: ItemId, run: &RunId, scope: Option<&str>, new: &Stored) -> Result<()> {
        match new {
            Stored::Ready { not_before } | Stored::Snoozed { until: not_before } => {
                let waiting = Key::new(prefix::WAITING).str(run.as_str()).id(id);
                self.put(waiting.done(), &MARKER);
                if self.leasable(run)? {
                    let lane = self.meta(run)?.lane.clone();
                    self.list(id, &lane, scope, *not_before)?;
                }
            }
            Stored::Leased { .. } => self.put(Key::new(prefix::LEASED).id(id).done(), &MARKER),
            Stored::Staged { seq } => {
                let key = Key::new(prefix::STAGED).u64(*seq).done();
                self.put(key, encode("staged entry", &(run, id))?);
            }
            Stored::Done => {}
            Stored::Dead { .. } => {
                let dead = Key::new(prefix::DEAD).str(run.as_str()).id(id);
                self.put(dead.done(), encode("dead entry", run)?);
            }
        }
        Ok(())
    }

    /// Removes an item of a finished run with every index entry of it (pruning).
    pub(crate) fn delete_item(&mut self, run: &RunId, id: ItemId) -> Result<()> {
        match self.item(id) {
            Ok(rec) => {
                let (scope, state) = (rec.scope.clone(), rec.state.clone());
                self.unindex(id, run, scope.as_deref(), &state)?;
            }
            Err(QueueError::UnknownItem(_)) => {}
            Err(e) => return Err(e),
        }
        self.ws.pending.items.remove(&id);
        self.read.remove(&id);
        self.delete(crate::codec::item_key(id));
        self.delete(crate::history::run_item_key(run, id));
        Ok(())
    }

    /// Removes a run's own keys (its items and dedupe keys are gone already).
    pub(crate) fn delete_run(&mut self, run: &RunId) -> Result<()> {
        let job = self.meta(run)?.job.clone();
        for kind in [
            prefix::RUN_META,
            prefix::RUN_STATUS,
            prefix::RUN_REASON,
            prefix::PLANNING,
            prefix::UNFINISHED,
            prefix::UNSETTLED,
        ] {
            self.delete(Key::new(kind).tail(run.as_str()).done());
        }
        self.delete(crate::history::job_run_key(&job, run));
        self.ws.pending.statuses.remove(run);
        self.ws.pending.reasons.remove(run);
        self.ws.pending.planning.remove(run);
        self.inner
            .metas
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(run);
        Ok(())
    }

    /// Puts a waiting item into the lease indexes.
    fn list(&mut self, id: ItemId, lane: &str, scope: Option<&str>, not_before: u64) -> Result<()> {
        let ready = Key::new(prefix::READY)
            .str(lane)
            .u64(not_before)
            .id(id)
            .done();
        self.ws.pending.ready_removed.remove(&ready);
        self.ws.pending.ready_added.insert(ready.clone());
        self.put(ready, &MARKER);
        if let Some(scope) = scope {
            let key = Key::new(prefix::SCOPE).str(lane).str(scope).id(id);
            self.put(key.done(), encode("scope entry", &not_before)?);
        }
        Ok(())
    }

    fn unlist(&mut self, id: ItemId, lane: &str, scope: Option<&str>, not_before: u64) {
        let ready = Key::new(prefix::READY)
            .str(lane)
            .u64(not_before)
            .id(id)
            .done();
        self.ws.pending.ready_added.remove(&ready);
        self.ws.pending.ready_removed.insert(ready.clone());
        self.delete(ready);
        if let Some(scope) = scope {
            let key = Key::new(prefix::SCOPE).str(lane).str(scope).id(id);
            self.delete(key.done());
        }
    }

    /// Brings the lease indexes of a run's waiting items in line with whether the run
    /// is leasable now (after a pause, resume, cancel, finish or retry). Scans the
    /// tree: only for calls made with `Queue::write_durably_scanning`.
    pub(crate) fn relist_run(&mut self, run: &RunId) -> Result<()> {
        let leasable = self.leasable(run)?;
        let lane = self.meta(run)?.lane.clone();
        let waiting = Key::new(prefix::WAITING).str(run.as_str()).done();
        let ids: Vec<ItemId> = self
            .store
            .tree
            .scan_prefix(waiting)
            .map(|entry| Ok(ItemId(trailing_u64(&entry?.0, 0)?)))
            .collect::<Result<_>>()?;
        for id in ids {
            let rec = self.item(id)?;
            let Some(not_before) = rec.state.waiting_since() else {
                continue;
            };
            let scope = rec.scope.clone();
            if leasable {
                self.list(id, &lane, scope.as_deref(), not_before)?;
            } else {
                self.unlist(id, &lane, scope.as_deref(), not_before);
            }
        }
        Ok(())
    }

    /// Creates an item in `run`, unless its dedupe key was already seen in the run, or
    /// the run already holds `cap` items with dedupe keys.
    pub(crate) fn create_item(&mut self, run: &RunId, new: NewItem) -> Result<Option<ItemId>> {
        let id = ItemId(self.ws.next_item);
        if let Some(dedupe) = &new.dedupe_key {
            let key = dedupe_key(run, dedupe);
            let pending = &self.ws.pending.dedupe_added;
            if pending.contains(&key) || self.store.tree.contains_key(&key)? {
                return Ok(None);
            }
            let status = self.status_mut(run)?;
            if new.cap.is_some_and(|cap| status.distinct_keys >= cap) {
                return Ok(None);
            }
            status.distinct_keys += 1;
            self.put(key.clone(), encode("dedupe entry", &id.0)?);
            self.ws.pending.dedupe_added.insert(key);
        }
        self.ws.next_item += 1;
        self.ws.pending.counters_changed[0] = true;
        self.put(crate::history::run_item_key(run, id), &MARKER);
        let (state, attempts, last_error) = match new.start {
            ItemStart::Ready {
                not_before,
                attempts,
            } => (
                Stored::Ready {
                    not_before: not_before.map_or(0, |t| t.0),
                },
                attempts,
                None,
            ),
            ItemStart::Dead { reason } => (
                Stored::Dead {
                    reason: reason.clone(),
                },
                0,
                Some(reason),
            ),
        };
        let rec = ItemRec {
            run: run.clone(),
            label: new.label,
            payload: new.payload,
            scope: new.scope,
            attempts,
            polls: 0,
            state: state.clone(),
            last_error,
            note: None,
        };
        let scope = rec.scope.clone();
        self.ws.pending.items.insert(id, rec);
        *state.counter(&mut self.status_mut(run)?.counts) += 1;
        self.index(id, run, scope.as_deref(), &state)?;
        Ok(Some(id))
    }

    /// Refuses unless `lease.id` is leased, under `lease.epoch` when one is given.
    pub(crate) fn expect_lease(&mut self, lease: Lease) -> Result<&mut ItemRec> {
        let current = self.ws.lease_epochs.get(&lease.id).copied();
        if let Some(epoch) = lease.epoch
            && current != Some(epoch)
        {
            // Checked first: the item may be waiting again, or leased to another worker.
            self.item(lease.id)?;
            return Err(QueueError::LeaseLost { id: lease.id });
        }
        let rec = self.item_mut(lease.id)?;
        expect_leased(lease.id, rec)?;
        Ok(rec)
    }

    pub(crate) fn next_stage_seq(&mut self) -> u64 {
        let seq = self.ws.next_stage;
        self.ws.next_stage += 1;
        self.ws.pending.counters_changed[2] = true;
        seq
    }

    pub(crate) fn next_run_seq(&mut self) -> u64 {
        let seq = self.ws.next_run;
        self.ws.next_run += 1;
        self.ws.pending.counters_changed[1] = true;
        seq
    }
}

fn load(store: &Store, id: ItemId) -> Result<ItemRec> {
    let bytes = store
        .tree
        .get(item_key(id))?
        .ok_or(QueueError::UnknownItem(id))?;
    decode("item", &bytes)
}
