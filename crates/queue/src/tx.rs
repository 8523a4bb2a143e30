//! One write transaction: reads through an overlay of what it already changed, keeps
//! every index and run count in step with each item state change, and ends as a single
//! `sled::Batch` (atomic across all keys, since everything lives in one tree).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use dredge_core::{ItemStart, NewItem};

use crate::codec::{Key, MARKER, decode, encode, item_key, prefix, trailing_u64};
use crate::error::{QueueError, Result};
use crate::queue::{Inner, NEXT_ITEM, NEXT_RUN, NEXT_STAGE, Store, WriteState, encode_counter};
use crate::stored::{ItemRec, RunMeta, RunStatus, Stored};
use crate::types::{ItemId, RunId, RunState};

pub(crate) struct Tx<'a> {
    inner: &'a Inner,
    store: Arc<Store>,
    pub ws: &'a mut WriteState,
    pub batch: sled::Batch,
    items: HashMap<ItemId, ItemRec>,
    /// Items changed in this transaction (only these are written back).
    dirty: HashSet<ItemId>,
    statuses: HashMap<RunId, RunStatus>,
    dedupe_seen: HashSet<Vec<u8>>,
    /// Which id counters moved (only those are written back).
    counters_changed: [bool; 3],
}

/// The key under which a run remembers a dedupe key (its value: the item's id).
pub(crate) fn dedupe_key(run: &RunId, dedupe: &str) -> Vec<u8> {
    Key::new(prefix::DEDUPE)
        .str(run.as_str())
        .tail(dedupe)
        .done()
}

impl<'a> Tx<'a> {
    pub fn new(inner: &'a Inner, store: Arc<Store>, ws: &'a mut WriteState) -> Self {
        Tx {
            inner,
            store,
            ws,
            batch: sled::Batch::default(),
            items: HashMap::new(),
            dirty: HashSet::new(),
            statuses: HashMap::new(),
            dedupe_seen: HashSet::new(),
            counters_changed: [false; 3],
        }
    }

    pub fn tree(&self) -> &sled::Tree {
        &self.store.tree
    }

    pub fn meta(&self, run: &RunId) -> Result<Arc<RunMeta>> {
        self.inner.meta(run)
    }

    /// Registers a run created in this transaction so later steps can see it.
    pub fn add_run(&mut self, run: &RunId, meta: RunMeta, status: RunStatus) -> Result<()> {
        let key = Key::new(prefix::RUN_META).tail(run.as_str()).done();
        self.batch.insert(key, encode("run", &meta)?);
        let mut metas = self
            .inner
            .metas
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        metas.insert(run.clone(), Arc::new(meta));
        drop(metas);
        self.statuses.insert(run.clone(), status);
        Ok(())
    }

    /// An item to change: it is written back when the transaction applies.
    pub fn item_mut(&mut self, id: ItemId) -> Result<&mut ItemRec> {
        self.load(id)?;
        self.dirty.insert(id);
        Ok(self.items.get_mut(&id).expect("just loaded"))
    }

    /// An item to read only.
    pub fn item(&mut self, id: ItemId) -> Result<&ItemRec> {
        self.load(id)?;
        Ok(&self.items[&id])
    }

    fn load(&mut self, id: ItemId) -> Result<()> {
        if !self.items.contains_key(&id) {
            let bytes = self
                .store
                .tree
                .get(item_key(id))?
                .ok_or(QueueError::UnknownItem(id))?;
            self.items.insert(id, decode("item", &bytes)?);
        }
        Ok(())
    }

    pub fn status_mut(&mut self, run: &RunId) -> Result<&mut RunStatus> {
        if !self.statuses.contains_key(run) {
            let status = self.inner.status(run)?;
            self.statuses.insert(run.clone(), status);
        }
        Ok(self.statuses.get_mut(run).expect("just inserted"))
    }

    /// Whether a run's waiting items may be leased: it runs and its job is not paused.
    fn leasable(&mut self, run: &RunId) -> Result<bool> {
        let running = self.status_mut(run)?.state == RunState::Running;
        let job = &self.meta(run)?.job;
        Ok(running && !self.ws.paused.contains(job))
    }

    /// Moves an item to `new`, keeping indexes and its run's counts in step.
    pub fn set_state(&mut self, id: ItemId, new: Stored) -> Result<()> {
        let rec = self.item_mut(id)?;
        let old = std::mem::replace(&mut rec.state, new.clone());
        let (run, scope) = (rec.run.clone(), rec.scope.clone());
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
                self.batch.remove(waiting.done());
            }
            Stored::Leased { .. } => self.batch.remove(Key::new(prefix::LEASED).id(id).done()),
            Stored::Staged { seq } => {
                self.batch.remove(Key::new(prefix::STAGED).u64(*seq).done());
                self.batch.remove(Key::new(prefix::RECORDS).id(id).done());
            }
            Stored::Done => {}
            Stored::Dead { .. } => {
                let dead = Key::new(prefix::DEAD).str(run.as_str()).id(id);
                self.batch.remove(dead.done());
            }
        }
        Ok(())
    }

    fn index(&mut self, id: ItemId, run: &RunId, scope: Option<&str>, new: &Stored) -> Result<()> {
        match new {
            Stored::Ready { not_before } | Stored::Snoozed { until: not_before } => {
                let waiting = Key::new(prefix::WAITING).str(run.as_str()).id(id);
                self.batch.insert(waiting.done(), &MARKER);
                if self.leasable(run)? {
                    let lane = self.meta(run)?.lane.clone();
                    self.list(id, &lane, scope, *not_before)?;
                }
            }
            Stored::Leased { .. } => self
                .batch
                .insert(Key::new(prefix::LEASED).id(id).done(), &MARKER),
            Stored::Staged { seq } => {
                let key = Key::new(prefix::STAGED).u64(*seq).done();
                self.batch.insert(key, encode("staged entry", &(run, id))?);
            }
            Stored::Done => {}
            Stored::Dead { .. } => {
                let dead = Key::new(prefix::DEAD).str(run.as_str()).id(id);
                self.batch.insert(dead.done(), encode("dead entry", run)?);
            }
        }
        Ok(())
    }

    /// Puts a waiting item into the lease indexes.
    fn list(&mut self, id: ItemId, lane: &str, scope: Option<&str>, not_before: u64) -> Result<()> {
        let ready = Key::new(prefix::READY).str(lane).u64(not_before).id(id);
        self.batch.insert(ready.done(), &MARKER);
        if let Some(scope) = scope {
            let key = Key::new(prefix::SCOPE).str(lane).str(scope).id(id);
            self.batch
                .insert(key.done(), encode("scope entry", &not_before)?);
        }
        Ok(())
    }

    fn unlist(&mut self, id: ItemId, lane: &str, scope: Option<&str>, not_before: u64) {
        let ready = Key::new(prefix::READY).str(lane).u64(not_before).id(id);
        self.batch.remove(ready.done());
        if let Some(scope) = scope {
            let key = Key::new(prefix::SCOPE).str(lane).str(scope).id(id);
            self.batch.remove(key.done());
        }
    }

    /// Brings the lease indexes of a run's waiting items in line with whether the run
    /// is leasable now (after a pause, resume, cancel, finish or retry).
    pub fn relist_run(&mut self, run: &RunId) -> Result<()> {
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
    pub fn create_item(&mut self, run: &RunId, new: NewItem) -> Result<Option<ItemId>> {
        let id = ItemId(self.ws.next_item);
        if let Some(dedupe) = &new.dedupe_key {
            let key = dedupe_key(run, dedupe);
            if self.dedupe_seen.contains(&key) || self.store.tree.contains_key(&key)? {
                return Ok(None);
            }
            let status = self.status_mut(run)?;
            if new.cap.is_some_and(|cap| status.distinct_keys >= cap) {
                return Ok(None);
            }
            status.distinct_keys += 1;
            self.batch
                .insert(key.clone(), encode("dedupe entry", &id.0)?);
            self.dedupe_seen.insert(key);
        }
        self.ws.next_item += 1;
        self.counters_changed[0] = true;
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
        self.items.insert(id, rec);
        self.dirty.insert(id);
        *state.counter(&mut self.status_mut(run)?.counts) += 1;
        self.index(id, run, scope.as_deref(), &state)?;
        Ok(Some(id))
    }

    pub fn next_stage_seq(&mut self) -> u64 {
        let seq = self.ws.next_stage;
        self.ws.next_stage += 1;
        self.counters_changed[2] = true;
        seq
    }

    pub fn next_run_seq(&mut self) -> u64 {
        let seq = self.ws.next_run;
        self.ws.next_run += 1;
        self.counters_changed[1] = true;
        seq
    }

    /// Writes every changed record into the batch and applies it atomically; returns
    /// how many item records it wrote.
    pub fn apply(mut self) -> Result<u64> {
        for id in &self.dirty {
            self.batch
                .insert(item_key(*id), encode("item", &self.items[id])?);
        }
        for (run, status) in &self.statuses {
            let key = Key::new(prefix::RUN_STATUS).tail(run.as_str()).done();
            self.batch.insert(key, encode("run status", status)?);
        }
        let counters = [
            (NEXT_ITEM, self.ws.next_item),
            (NEXT_RUN, self.ws.next_run),
            (NEXT_STAGE, self.ws.next_stage),
        ];
        for (changed, (name, value)) in self.counters_changed.into_iter().zip(counters) {
            if changed {
                let key = Key::new(prefix::META).tail(name).done();
                self.batch.insert(key, encode_counter(value)?);
            }
        }
        self.store.tree.apply_batch(self.batch)?;
        Ok(self.dirty.len() as u64)
    }
}
