//! History: runs indexed by job (paging a job's runs newest first), items indexed by
//! run (finding a finished run's items), and pruning a finished run away.
//!
//! Why indexes: a job that runs every five minutes makes 100,000 runs a year, and
//! listing its newest runs must not read all of them; pruning a run must find its items
//! without reading every item of every run. Both indexes are plain keys written in the
//! batch that creates the run or item. A database written before they existed gets the
//! run index at open (once; runs are few) and the item index a chunk at a time from
//! `index_legacy_items`, which the daemon calls off the hot path before it prunes.
//!
//! Pruning removes a run in small durable batches (`prune_run` with a key budget), so
//! the write lock is never held for long. What to prune is the caller's policy; the
//! queue refuses to prune a run that is running, has items in flight, or whose file
//! recovery has not settled yet.

use dredge_core::UnixMillis;

use crate::codec::{Key, MARKER, decode, encode, prefix, trailing_u64};
use crate::error::{QueueError, Result};
use crate::queue::Queue;
use crate::stored::RunMeta;
use crate::tx::dedupe_key_prefix;
use crate::types::{ItemId, RunId, RunState};

/// META key: present once every run has its job index entry; its value is the first
/// item id created with an item index entry (older items are indexed by
/// `index_legacy_items`).
const INDEXED_FROM: &str = "history_indexed_from";
/// META key: legacy items below this id have their item index entry.
const LEGACY_SWEPT: &str = "legacy_items_swept";

pub(crate) fn job_run_key(job: &str, run: &RunId) -> Vec<u8> {
    Key::new(prefix::JOB_RUNS)
        .str(job)
        .tail(run.as_str())
        .done()
}

pub(crate) fn run_item_key(run: &RunId, id: ItemId) -> Vec<u8> {
    Key::new(prefix::RUN_ITEMS).str(run.as_str()).id(id).done()
}

fn meta_key(name: &str) -> Vec<u8> {
    Key::new(prefix::META).tail(name).done()
}

/// What one `prune_run` call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pruned {
    /// The run and everything of it is gone (or was never there).
    Gone,
    /// Part of it is gone; call again.
    More,
    /// Not pruned, and why.
    Kept(&'static str),
}

impl Queue {
    /// At open: gives every run of a database written before the job index its entry,
    /// in one pass over the runs, and records from which item on items are indexed.
    pub(crate) fn index_runs_by_job(&self) -> Result<()> {
        let store = self.inner.store()?;
        if store.tree.get(meta_key(INDEXED_FROM))?.is_some() {
            return Ok(());
        }
        let mut after: Option<sled::IVec> = None;
        loop {
            let chunk = self.chunk_under(prefix::RUN_META, after.as_deref())?;
            let Some((last, _)) = chunk.last() else {
                break;
            };
            after = Some(last.clone());
            let mut batch = sled::Batch::default();
            for (key, value) in &chunk {
                let run = crate::queue::run_id_from_key(key);
                let meta: RunMeta = decode("run", value)?;
                batch.insert(job_run_key(&meta.job, &run), &MARKER);
            }
            store.tree.apply_batch(batch)?;
        }
        let from = self.lock_write().next_item;
        store
            .tree
            .insert(meta_key(INDEXED_FROM), encode("counter", &from)?)?;
        self.flush_now()
    }

    /// Gives up to `max` items created before the item index their entry, in one
    /// durable batch. True once no such item is left.
    pub(crate) fn index_legacy_items(&self, max: usize) -> Result<bool> {
        let store = self.inner.store()?;
        let below: u64 = match store.tree.get(meta_key(INDEXED_FROM))? {
            Some(bytes) => decode("counter", &bytes)?,
            None => return Ok(true),
        };
        let swept: u64 = match store.tree.get(meta_key(LEGACY_SWEPT))? {
            Some(bytes) => decode("counter", &bytes)?,
            None => 1,
        };
        if swept >= below {
            return Ok(true);
        }
        let start = Key::new(prefix::ITEM).u64(swept).done();
        let end = Key::new(prefix::ITEM).u64(below).done();
        let chunk: Vec<(sled::IVec, sled::IVec)> = store
            .tree
            .range(start..end)
            .take(max)
            .collect::<std::result::Result<_, _>>()?;
        let next = match chunk.last() {
            Some((key, _)) if chunk.len() == max => trailing_u64(key, 0)? + 1,
            _ => below,
        };
        self.write_durably(|tx| {
            for (key, value) in &chunk {
                let rec: crate::stored::ItemRec = decode("item", value)?;
                let id = ItemId(trailing_u64(key, 0)?);
                tx.put(run_item_key(&rec.run, id), &MARKER);
            }
            tx.put(meta_key(LEGACY_SWEPT), encode("counter", &next)?);
            Ok(())
        })?;
        Ok(next >= below)
    }

    /// The ids of `job`'s runs, newest first (keys only: cheap for 100,000 runs).
    pub(crate) fn job_run_ids(&self, job: &str) -> Result<Vec<RunId>> {
        let start = Key::new(prefix::JOB_RUNS).str(job).done();
        let store = self.inner.store()?;
        let mut ids: Vec<RunId> = store
            .tree
            .scan_prefix(&start)
            .map(|entry| {
                let (key, _) = entry?;
                Ok(RunId(
                    String::from_utf8_lossy(&key[start.len()..]).into_owned(),
                ))
            })
            .collect::<Result<_>>()?;
        ids.reverse();
        Ok(ids)
    }

    /// Every job that has runs, in name order.
    pub(crate) fn jobs_with_runs(&self) -> Result<Vec<String>> {
        let store = self.inner.store()?;
        let mut jobs = Vec::new();
        let mut from = vec![prefix::JOB_RUNS];
        loop {
            let Some(entry) = store.tree.range(from.clone()..).next() else {
                break;
            };
            let (key, _) = entry?;
            if key.first() != Some(&prefix::JOB_RUNS) || key.len() < 5 {
                break;
            }
            let len = u32::from_be_bytes(key[1..5].try_into().expect("4 bytes")) as usize;
            let Some(name) = key.get(5..5 + len) else {
                break;
            };
            jobs.push(String::from_utf8_lossy(name).into_owned());
            // Skip the job's other runs: the next key with a greater name.
            from = key[..5 + len].to_vec();
            from.push(0xFF);
        }
        Ok(jobs)
    }

    /// How many keys the database holds (tests, and a figure for operators).
    pub fn key_count(&self) -> Result<usize> {
        Ok(self.inner.store()?.tree.len())
    }

    /// A run's state and when it ended, without its definition (cheap to ask for
    /// every run of a job).
    pub(crate) fn run_end(&self, id: &RunId) -> Result<Option<(RunState, Option<UnixMillis>)>> {
        match self.run_status(id) {
            Ok(status) => Ok(Some((status.state, status.finished_at))),
            Err(QueueError::UnknownRun(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Removes up to `max` keys of a finished run (its items with their index entries,
    /// then its dedupe keys, then the run), in one durable batch. `max = 0` only says
    /// whether the run may be pruned (`More`) or must stay (`Kept`).
    pub(crate) fn prune_run(&self, run: &RunId, max: usize) -> Result<Pruned> {
        let store = self.inner.store()?;
        self.write_durably_scanning(|tx| {
            let status = match tx.status_mut(run) {
                Ok(status) => status,
                Err(QueueError::UnknownRun(_)) => return Ok(Pruned::Gone),
                Err(e) => return Err(e),
            };
            if status.state == RunState::Running {
                return Ok(Pruned::Kept("it is running"));
            }
            if status.counts.leased + status.counts.staged > 0 {
                return Ok(Pruned::Kept("items of it are still in flight"));
            }
            let unsettled = Key::new(prefix::UNSETTLED).tail(run.as_str()).done();
            if store.tree.contains_key(&unsettled)? {
                return Ok(Pruned::Kept("its output file is not settled yet"));
            }
            if max == 0 {
                return Ok(Pruned::More);
            }
            let items = Key::new(prefix::RUN_ITEMS).str(run.as_str()).done();
            let ids: Vec<ItemId> = store
                .tree
                .scan_prefix(&items)
                .take(max)
                .map(|entry| Ok(ItemId(trailing_u64(&entry?.0, 0)?)))
                .collect::<Result<_>>()?;
            if !ids.is_empty() {
                for id in ids {
                    tx.delete_item(run, id)?;
                }
                return Ok(Pruned::More);
            }
            let dedupe = dedupe_key_prefix(run);
            let keys: Vec<sled::IVec> = store
                .tree
                .scan_prefix(&dedupe)
                .take(max)
                .map(|entry| Ok(entry?.0))
                .collect::<Result<_>>()?;
            if !keys.is_empty() {
                for key in keys {
                    tx.delete(key.to_vec());
                }
                return Ok(Pruned::More);
            }
            tx.delete_run(run)?;
            Ok(Pruned::Gone)
        })
    }
}

#[cfg(test)]
mod tests {
    use dredge_core::NewItem;

    use super::*;
    use crate::QueueBackend;
    use crate::types::NewRun;

    fn new_run(job: &str) -> NewRun {
        NewRun {
            job: job.into(),
            lane: "l".into(),
            spec_snapshot: vec![],
            started_at: UnixMillis(1_000),
            deadline: None,
            max_attempts: 3,
        }
    }

    /// A database as a dredge before the history indexes left it.
    fn drop_history_indexes(q: &Queue) {
        let tree = &q.inner.store().unwrap().tree;
        for kind in [prefix::JOB_RUNS, prefix::RUN_ITEMS] {
            for key in tree.scan_prefix([kind]).keys() {
                tree.remove(key.unwrap()).unwrap();
            }
        }
        tree.remove(meta_key(INDEXED_FROM)).unwrap();
    }

    #[test]
    fn an_older_database_gets_both_indexes_and_its_runs_can_be_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q");
        let (q, _) = Queue::open(&path).unwrap();
        let items = |n: usize| {
            (0..n)
                .map(|i| NewItem::ready(format!("i{i}"), vec![]))
                .collect()
        };
        let old = q.create_run(new_run("a"), items(9)).unwrap();
        q.create_run(new_run("b"), items(3)).unwrap();
        drop_history_indexes(&q);
        q.flush_now().unwrap();
        drop(q);
        let (q, _) = Queue::open(&path).unwrap();
        assert_eq!(q.job_run_ids("a").unwrap(), std::slice::from_ref(&old));
        let newer = q.create_run(new_run("a"), items(2)).unwrap();
        let mut calls = 0;
        while !q.index_legacy_items(4).unwrap() {
            calls += 1;
        }
        assert_eq!(calls, 2, "12 legacy items, 4 per call");
        q.finish_run(&old, RunState::Succeeded, UnixMillis(2_000))
            .unwrap();
        while q.prune_run(&old, 5).unwrap() == Pruned::More {}
        assert_eq!(q.job_run_ids("a").unwrap(), [newer]);
        let left = q
            .inner
            .store()
            .unwrap()
            .tree
            .scan_prefix([prefix::ITEM])
            .count();
        assert_eq!(left, 5, "the other runs' items stay");
    }
}
