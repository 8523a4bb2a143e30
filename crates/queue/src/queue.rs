//! The `Queue` handle: opening the database, recovery, and the write path every
//! mutating call goes through (one lock, one batch, then durability).

use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::codec::{Key, decode, encode, prefix};
use crate::error::{QueueError, Result};
use crate::flush::{Durability, Flusher};
use crate::pending::Pending;
use crate::stored::{RunMeta, RunStatus, Stored};
use crate::tx::Tx;
use crate::types::{ItemId, OutputCursor, Recovery, RunId};
use dredge_core::UnixMillis;

/// The durable queue. Cheap to clone; all clones share one database.
#[derive(Clone)]
pub struct Queue {
    pub(crate) inner: Arc<Inner>,
}

/// Tuning for `Queue::open_with`.
#[derive(Debug, Clone)]
pub struct QueueOptions {
    pub durability: Durability,
    /// How long open waits for the database lock before reporting `Locked`. sled
    /// releases its file lock from background threads a moment after the last handle
    /// is dropped, so a reopen in the same process (or right after a restart) must wait.
    pub lock_wait: Duration,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            durability: Durability::default(),
            lock_wait: Duration::from_secs(2),
        }
    }
}

pub(crate) struct Inner {
    pub path: PathBuf,
    /// The open database; swapped by `checkpoint` (empty only if a reopen failed).
    store: RwLock<Option<Arc<Store>>>,
    lock_wait: Duration,
    pub write: Mutex<WriteState>,
    pub metas: Mutex<HashMap<RunId, Arc<RunMeta>>>,
    flusher: Flusher,
    /// `fdatasync`s of sled's data file: one per durable round (see `Store::flush`).
    data_syncs: AtomicU64,
    /// See `Queue::fail_next_call_after_it_is_durable`.
    lose_next_answer: std::sync::atomic::AtomicBool,
}

/// The sled handles: the database (for flushes), the queue's one tree, and a handle on
/// sled's data file to make flushes reach stable storage.
pub(crate) struct Store {
    pub db: sled::Db,
    pub tree: sled::Tree,
    data_file: std::fs::File,
}

/// sled 0.34 keeps its log (every tree's pages) in this one file under its directory.
const SLED_DATA_FILE: &str = "db";

impl Store {
    fn open(path: &Path, lock_wait: Duration) -> Result<Store> {
        let db = open_db_waiting(path, lock_wait)?;
        let tree = db.open_tree("queue")?;
        let data_file = std::fs::File::open(path.join(SLED_DATA_FILE)).map_err(io_error)?;
        // A new database's files are new directory entries: make them survive a power
        // loss too (and the state directory's entry for the database directory).
        sync_dir(path)?;
        if let Some(parent) = path.parent() {
            sync_dir(parent)?;
        }
        Ok(Store {
            db,
            tree,
            data_file,
        })
    }

    /// Makes everything applied so far durable, power loss included. sled 0.34's
    /// `flush` ends in `sync_file_range`, which neither flushes the device's write
    /// cache nor the file's metadata (its own `sync_all` runs only every ~500 ms), so a
    /// call that returned "durable" could be lost to a power cut. The `fdatasync` of
    /// the data file after it closes that gap.
    fn flush(&self, syncs: &AtomicU64) -> Result<()> {
        self.db.flush()?;
        self.data_file.sync_data().map_err(io_error)?;
        syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn io_error(e: std::io::Error) -> QueueError {
    QueueError::Storage(sled::Error::Io(e).into())
}

fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error)
}

/// What writers share under the write lock: the id counters, the paused jobs and the
/// pending write group.
pub(crate) struct WriteState {
    pub next_item: u64,
    pub next_run: u64,
    pub next_stage: u64,
    pub paused: HashSet<String>,
    pub pending: Pending,
    /// The number the pending group will have once applied (groups count from 1).
    pub group: u64,
    /// Item records written to sled since the last open or checkpoint.
    item_writes: u64,
    /// The epoch of every current lease (see `Lease`). Leases never survive a reopen,
    /// so their fencing tokens live in memory only; the map holds in-flight items.
    pub lease_epochs: HashMap<ItemId, u64>,
    /// The last epoch handed out; epochs only grow while the process lives.
    pub last_epoch: u64,
}

/// What a call's failure rolls back to: the write state as it was before the call.
struct Savepoint {
    counters: [u64; 3],
    paused: HashSet<String>,
    pending: Pending,
    lease_epochs: HashMap<ItemId, u64>,
}

impl WriteState {
    fn from_tree(tree: &sled::Tree, last_epoch: u64) -> Result<WriteState> {
        Ok(WriteState {
            next_item: read_counter(tree, NEXT_ITEM)?,
            next_run: read_counter(tree, NEXT_RUN)?,
            next_stage: read_counter(tree, NEXT_STAGE)?,
            paused: read_paused(tree)?,
            pending: Pending::default(),
            group: 1,
            item_writes: 0,
            lease_epochs: HashMap::new(),
            last_epoch,
        })
    }

    fn savepoint(&self) -> Savepoint {
        Savepoint {
            counters: self.counters(),
            paused: self.paused.clone(),
            pending: self.pending.clone(),
            lease_epochs: self.lease_epochs.clone(),
        }
    }

    fn restore(&mut self, save: Savepoint) {
        [self.next_item, self.next_run, self.next_stage] = save.counters;
        self.paused = save.paused;
        self.pending = save.pending;
        self.lease_epochs = save.lease_epochs;
    }

    fn counters(&self) -> [u64; 3] {
        [self.next_item, self.next_run, self.next_stage]
    }

    /// Takes the pending group and its number, leaving an empty next group.
    fn take_pending(&mut self) -> (u64, Pending) {
        let group = self.group;
        self.group += 1;
        (group, std::mem::take(&mut self.pending))
    }
}

/// Run definitions kept in memory (each holds its job's spec snapshot).
const MAX_CACHED_METAS: usize = 1024;

pub(crate) const NEXT_ITEM: &str = "next_item";
pub(crate) const NEXT_RUN: &str = "next_run";
pub(crate) const NEXT_STAGE: &str = "next_stage";

impl Queue {
    /// Opens (or creates) the state database at `path` with group commit, reverts every
    /// lease, and reports what the writers must replay.
    pub fn open(path: impl AsRef<Path>) -> Result<(Queue, Recovery)> {
        Self::open_with(path, QueueOptions::default())
    }

    pub fn open_with(path: impl AsRef<Path>, options: QueueOptions) -> Result<(Queue, Recovery)> {
        let path = path.as_ref().to_path_buf();
        let store = Store::open(&path, options.lock_wait)?;
        let write = WriteState::from_tree(&store.tree, 0)?;
        let inner = Inner {
            path,
            store: RwLock::new(Some(Arc::new(store))),
            lock_wait: options.lock_wait,
            write: Mutex::new(write),
            metas: Mutex::new(HashMap::new()),
            flusher: Flusher::new(options.durability),
            data_syncs: AtomicU64::new(0),
            lose_next_answer: std::sync::atomic::AtomicBool::new(false),
        };
        let queue = Queue {
            inner: Arc::new(inner),
        };
        let recovery = queue.recover(&HashSet::new())?;
        queue.index_runs_by_job()?;
        Ok((queue, recovery))
    }

    /// Closes the database and opens it again as after a crash, without the process
    /// ending: changes not yet applied are dropped (their callers got an error), every
    /// lease except those in `keep` is reverted, and what the writers must replay is
    /// reported as by `open`.
    ///
    /// Why: after an I/O error (a full or read-only disk) sled 0.34 fails every later
    /// call until it is reopened, and whether the failed calls reached the disk is
    /// known only to what is on disk. `keep` names leases whose results the caller
    /// still holds in memory (records the writer could not commit yet): they stay
    /// leased, with the same epochs, so that holder can commit them once the disk
    /// takes writes again. A kept lease that never reached the disk (leases wait in
    /// the pending group) is taken again, until `lease_until`; a kept item found Done
    /// or dead is left as it is (its holder's commit is then refused or redundant).
    pub(crate) fn reopen(
        &self,
        keep: &HashSet<ItemId>,
        lease_until: UnixMillis,
    ) -> Result<Recovery> {
        let kept: HashMap<ItemId, u64>;
        {
            let mut state = self.lock_write();
            let mut slot = self
                .inner
                .store
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            let (group, dropped) = state.take_pending();
            if !dropped.is_empty() {
                self.inner.flusher.record_lost(
                    group,
                    &QueueError::Closed {
                        path: self.inner.path.clone(),
                    },
                );
            }
            drop(slot.take());
            let store = Store::open(&self.inner.path, self.inner.lock_wait)?;
            kept = state
                .lease_epochs
                .iter()
                .filter(|(id, _)| keep.contains(id))
                .map(|(id, epoch)| (*id, *epoch))
                .collect();
            let mut fresh = WriteState::from_tree(&store.tree, state.last_epoch)?;
            fresh.group = state.group;
            *state = fresh;
            self.inner
                .metas
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
            *slot = Some(Arc::new(store));
        }
        let recovery = self.recover(keep)?;
        self.readopt(&kept, lease_until)?;
        Ok(recovery)
    }

    /// The kept leases again, each under its old epoch: leased on disk already, or
    /// leased now if the lease had not reached the disk before the fault.
    fn readopt(&self, kept: &HashMap<ItemId, u64>, lease_until: UnixMillis) -> Result<()> {
        if kept.is_empty() {
            return Ok(());
        }
        self.write_durably(|tx| {
            for (&id, &epoch) in kept {
                let state = tx.item(id)?.state.clone();
                match state {
                    Stored::Leased { .. } => {}
                    Stored::Ready { .. } | Stored::Snoozed { .. } => {
                        let was = Box::new(state);
                        tx.set_state(
                            id,
                            Stored::Leased {
                                until: lease_until.0,
                                was,
                            },
                        )?;
                    }
                    Stored::Staged { .. } | Stored::Done | Stored::Dead { .. } => continue,
                }
                tx.ws.lease_epochs.insert(id, epoch);
            }
            Ok(())
        })
    }

    /// `fdatasync`s of sled's data file so far: one per durable round. (A seam for
    /// tests and metrics: durability that is not counted here did not happen.)
    pub fn data_syncs(&self) -> u64 {
        self.inner.data_syncs.load(Ordering::Relaxed)
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn recover(&self, keep: &HashSet<ItemId>) -> Result<Recovery> {
        let leases_reset = self.revert_leases(|id, _| !keep.contains(&id))?;
        Ok(Recovery {
            leases_reset,
            staged: self.staged_items()?,
            cursors: self.unfinished_cursors()?,
            cancelled: self.unsettled_cursors()?,
        })
    }

    /// Turns leased items for which `expired(id, until)` holds back into waiting ones.
    pub(crate) fn revert_leases(&self, expired: impl Fn(ItemId, u64) -> bool) -> Result<usize> {
        let reverted = self.write_durably_scanning(|tx| {
            let mut reverted = 0;
            let leased: Vec<ItemId> = tx
                .tree()
                .scan_prefix([prefix::LEASED])
                .map(|entry| Ok(ItemId(crate::codec::trailing_u64(&entry?.0, 0)?)))
                .collect::<Result<_>>()?;
            for id in leased {
                let state = tx.item(id)?.state.clone();
                if let Stored::Leased { until, was } = state
                    && expired(id, until)
                {
                    tx.set_state(id, *was)?;
                    reverted += 1;
                }
            }
            Ok(reverted)
        })?;
        Ok(reverted)
    }

    /// Staged-but-uncommitted items, in staging order.
    pub(crate) fn staged_items(&self) -> Result<Vec<(RunId, ItemId)>> {
        self.inner
            .store()?
            .tree
            .scan_prefix([prefix::STAGED])
            .map(|entry| decode("staged entry", &entry?.1))
            .collect()
    }

    fn unfinished_cursors(&self) -> Result<Vec<(RunId, OutputCursor)>> {
        self.unfinished_runs_ids()?
            .into_iter()
            .map(|run| {
                let status = self.run_status(&run)?;
                Ok((run, status.cursor))
            })
            .collect()
    }

    pub(crate) fn unfinished_runs_ids(&self) -> Result<Vec<RunId>> {
        self.run_ids_under(prefix::UNFINISHED)
    }

    fn unsettled_cursors(&self) -> Result<Vec<(RunId, OutputCursor)>> {
        self.run_ids_under(prefix::UNSETTLED)?
            .into_iter()
            .map(|run| {
                let status = self.run_status(&run)?;
                Ok((run, status.cursor))
            })
            .collect()
    }

    /// Up to 256 entries of the kind `kind` after the key `after`, in key order; empty
    /// once there are no more. Each chunk holds the database only while it is read, so
    /// a long listing never keeps the old handles alive across a `checkpoint`, which
    /// waits for them (while holding the write lock that readers of run statuses need).
    pub(crate) fn chunk_under(
        &self,
        kind: u8,
        after: Option<&[u8]>,
    ) -> Result<Vec<(sled::IVec, sled::IVec)>> {
        const CHUNK: usize = 256;
        let start = match after {
            Some(key) => Bound::Excluded(key.to_vec()),
            None => Bound::Included(vec![kind]),
        };
        let end = Bound::Excluded(vec![kind + 1]);
        let store = self.inner.store()?;
        let entries = store.tree.range::<Vec<u8>, _>((start, end)).take(CHUNK);
        Ok(entries.collect::<std::result::Result<_, _>>()?)
    }

    fn run_ids_under(&self, kind: u8) -> Result<Vec<RunId>> {
        self.inner
            .store()?
            .tree
            .scan_prefix([kind])
            .map(|entry| Ok(run_id_from_key(&entry?.0)))
            .collect()
    }

    /// Runs `f` under the write lock, adding its changes to the pending group, which is
    /// applied at once unless a flush is running (then the flush leader applies it).
    /// Not durable: only for leases, which never survive a restart anyway.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        let (out, _) = self.write_in_group(false, false, f)?;
        Ok(out)
    }

    /// Like `write`, then returns only once the change is on disk.
    pub(crate) fn write_durably<T>(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        let (out, group) = self.write_in_group(true, false, f)?;
        self.make_durable(group)?;
        Ok(out)
    }

    /// Like `write_durably`, for calls that scan an index other than the lease index:
    /// the pending group is applied first, so the tree holds every change made so far.
    pub(crate) fn write_durably_scanning<T>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        let (out, group) = self.write_in_group(true, true, f)?;
        self.make_durable(group)?;
        Ok(out)
    }

    /// Runs `f`; on error, the write state is rolled back to before it. Returns `f`'s
    /// value and the group its changes belong to.
    fn write_in_group<T>(
        &self,
        durable: bool,
        settle_first: bool,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T>,
    ) -> Result<(T, u64)> {
        // The store after the lock: `checkpoint` swaps it while holding the lock, and
        // must not find old handles still held by waiting writers.
        let mut state = self.lock_write();
        let store = self.inner.store()?;
        if settle_first {
            self.apply_pending(&mut state, &store)?;
        }
        let save = state.savepoint();
        let out = match f(&mut Tx::new(&self.inner, store.clone(), &mut state)) {
            Ok(out) => out,
            Err(error) => {
                state.restore(save);
                return Err(error);
            }
        };
        let group = state.group;
        state.pending.awaited |= durable;
        // A write nobody waits for (a lease) stays in the group until a durable call
        // applies it: in sled 0.34 every applied batch seals and writes the log buffer
        // on its own (a pwrite and a sync_file_range), which made leases the daemon's
        // largest single cost. Nothing is lost by waiting: readers see the group
        // through the overlay, scanning calls apply it first, and a lease never
        // survives a restart anyway. Each leased item ends in a durable call (commit,
        // release, kill), so a lease waits at most as long as its item runs.
        let apply_now =
            self.inner.flusher.mode == Durability::FlushPerCall || state.pending.is_large();
        if apply_now {
            self.apply_pending(&mut state, &store)?;
        }
        Ok((out, group))
    }

    /// Closes and reopens the sled database, with every write held off meanwhile.
    ///
    /// Why: sled 0.34 writes its recovery snapshot only while opening and otherwise
    /// replays, at open, every log byte written since. Without checkpoints, opening
    /// after a crash takes time in proportion to everything written since the daemon
    /// started (11–19 s after a million items were added); with one every ~100,000
    /// item writes, each checkpoint took 0.3–1 s and the next open about 0.1 s (see
    /// BENCHMARKS.md). Leases are kept: this is not a recovery. Readers still holding the
    /// old handles delay the reopen by at most the options' `lock_wait`.
    pub(crate) fn checkpoint(&self) -> Result<()> {
        let waited = Instant::now();
        let mut writers_held_off = self.lock_write();
        let mut slot = self
            .inner
            .store
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let started = Instant::now();
        let mut flushed_at = started;
        if let Some(old) = slot.take() {
            let flushed = self
                .apply_pending(&mut writers_held_off, &old)
                .and_then(|_| old.flush(&self.inner.data_syncs));
            if let Err(e) = flushed {
                // Keep working on the old handles; a storage fault is handled by the
                // caller (`reopen`), not by leaving the queue without a database.
                *slot = Some(old);
                return Err(e);
            }
            flushed_at = Instant::now();
            drop(old);
        }
        let closed_at = Instant::now();
        // If the reopen fails (readers hold the old handles longer than `lock_wait`),
        // the slot stays empty and the next call reopens it (`Inner::store`).
        *slot = Some(Arc::new(Store::open(
            &self.inner.path,
            self.inner.lock_wait,
        )?));
        writers_held_off.item_writes = 0;
        let ms = |d: Duration| d.as_millis() as u64;
        tracing::info!(
            waited_for_lock_ms = ms(started - waited),
            flush_ms = ms(flushed_at - started),
            close_ms = ms(closed_at - flushed_at),
            open_ms = ms(closed_at.elapsed()),
            "queue checkpointed"
        );
        Ok(())
    }

    /// Item records written since the last open or checkpoint: what the next open
    /// would replay, roughly. The daemon checkpoints when this passes ~100,000.
    pub(crate) fn item_writes_since_checkpoint(&self) -> u64 {
        let state = self.lock_write();
        // The pending group's items will be written too.
        state.item_writes + state.pending.items.len() as u64
    }

    /// Returns once `group` is on disk (see `flush`).
    /// Flushes what is applied (for work done at open, outside the write groups).
    pub(crate) fn flush_now(&self) -> Result<()> {
        self.inner.store()?.flush(&self.inner.data_syncs)
    }

    fn make_durable(&self, group: u64) -> Result<()> {
        self.make_durable_in_fact(group)?;
        if self.inner.lose_next_answer.swap(false, Ordering::Relaxed) {
            return Err(io_error(std::io::Error::other(
                "injected: the call reached the disk, but its caller is told it failed",
            )));
        }
        Ok(())
    }

    /// A seam for fault tests: the next durable call reaches the disk and then reports
    /// a storage error, as a flush that fails after sled wrote the batch would. (What a
    /// caller may do with an error whose outcome is unknown is what this tests.)
    pub fn fail_next_call_after_it_is_durable(&self) {
        self.inner.lose_next_answer.store(true, Ordering::Relaxed);
    }

    fn make_durable_in_fact(&self, group: u64) -> Result<()> {
        if self.inner.flusher.mode == Durability::FlushPerCall {
            // The call's group was applied before the write lock was released.
            self.inner.store()?.flush(&self.inner.data_syncs)?;
            return Ok(());
        }
        let apply = || {
            let mut state = self.lock_write();
            let store = self.inner.store()?;
            self.apply_pending(&mut state, &store)
        };
        let flush = || self.inner.store()?.flush(&self.inner.data_syncs);
        self.inner.flusher.wait_for(group, apply, flush)
    }

    /// Applies the pending group to sled (not flushed); returns the number of the last
    /// group applied. The group is gone either way: on failure it is recorded as lost,
    /// so that every caller waiting for it learns its change was not saved.
    fn apply_pending(&self, state: &mut WriteState, store: &Store) -> Result<u64> {
        let counters = state.counters();
        let (group, pending) = state.take_pending();
        if pending.is_empty() {
            return Ok(group);
        }
        match pending.apply(store, counters) {
            Ok(written) => {
                state.item_writes += written;
                Ok(group)
            }
            Err(error) => {
                self.inner.flusher.record_lost(group, &error);
                Err(error)
            }
        }
    }

    /// A run's status as of every call made so far (pending changes included).
    pub(crate) fn run_status(&self, run: &RunId) -> Result<RunStatus> {
        let state = self.lock_write();
        match state.pending.statuses.get(run) {
            Some(status) => Ok(status.clone()),
            None => self.inner.status(run),
        }
    }

    pub(crate) fn lock_write(&self) -> MutexGuard<'_, WriteState> {
        self.inner
            .write
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Inner {
    /// The last handle is gone: leases still in the pending group are applied, so the
    /// next open counts and reverts them like any other (sled flushes on close).
    fn drop(&mut self) {
        let Ok(store) = self.store() else {
            return;
        };
        let state = self.write.get_mut().unwrap_or_else(PoisonError::into_inner);
        if !state.pending.is_empty() {
            let counters = state.counters();
            let (_, pending) = state.take_pending();
            if let Err(error) = pending.apply(&store, counters) {
                tracing::error!(%error, "leases pending at close could not be written; the next open finds those items waiting");
            }
        }
    }
}

impl Inner {
    /// The current sled handles. Callers hold them only briefly, so `checkpoint` can
    /// close the database. If a checkpoint could not reopen it, this reopens it now:
    /// the queue is never closed for good.
    pub(crate) fn store(&self) -> Result<Arc<Store>> {
        if let Some(store) = self
            .store
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            return Ok(store);
        }
        let mut slot = self.store.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(store) = slot.clone() {
            return Ok(store);
        }
        let store = Arc::new(Store::open(&self.path, self.lock_wait).map_err(|e| {
            tracing::error!(error = %e, "the state database could not be reopened");
            QueueError::Closed {
                path: self.path.clone(),
            }
        })?);
        *slot = Some(store.clone());
        Ok(store)
    }

    /// A run's definition (cached: it never changes).
    pub(crate) fn meta(&self, run: &RunId) -> Result<Arc<RunMeta>> {
        let mut metas = self.metas.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(meta) = metas.get(run) {
            return Ok(meta.clone());
        }
        let key = Key::new(prefix::RUN_META).tail(run.as_str()).done();
        let bytes = self
            .store()?
            .tree
            .get(key)?
            .ok_or_else(|| QueueError::UnknownRun(run.clone()))?;
        let meta = Arc::new(decode::<RunMeta>("run", &bytes)?);
        if metas.len() >= MAX_CACHED_METAS {
            // Bounded: a listing of 100,000 historic runs must not keep them all. Runs
            // created in a group not yet applied are only here: they stay.
            let tree = &self.store()?.tree;
            metas.retain(|id, _| {
                let key = Key::new(prefix::RUN_META).tail(id.as_str()).done();
                !tree.contains_key(key).unwrap_or(false)
            });
        }
        metas.insert(run.clone(), meta.clone());
        Ok(meta)
    }

    /// A run's status as applied to sled (writers read pending changes first).
    pub(crate) fn status(&self, run: &RunId) -> Result<RunStatus> {
        let key = Key::new(prefix::RUN_STATUS).tail(run.as_str()).done();
        let bytes = self
            .store()?
            .tree
            .get(key)?
            .ok_or_else(|| QueueError::UnknownRun(run.clone()))?;
        decode("run status", &bytes)
    }
}

/// The run id of a `prefix + run` key.
pub(crate) fn run_id_from_key(key: &[u8]) -> RunId {
    RunId(String::from_utf8_lossy(&key[1..]).into_owned())
}

/// Opens sled, retrying while the lock is held, for at most `lock_wait`.
fn open_db_waiting(path: &Path, lock_wait: Duration) -> Result<sled::Db> {
    let deadline = Instant::now() + lock_wait;
    loop {
        match open_db(path) {
            Err(QueueError::Locked { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// sled's page cache. Its default (1 GiB) lets a daemon that has written a million
/// records hold on to them long after they were committed and deleted (measured:
/// ~1 KiB RSS per record, never returned; BENCHMARKS.md). sled's in-memory nodes take
/// several times the size it accounts for them: at 64 MiB, planning 300,000 items
/// grew the daemon by ~240 MiB until the next checkpoint; at 8 MiB by ~130 MiB, at the
/// same speed. The queue's working set is the ready index's first pages and the items
/// in flight, far below either.
const CACHE_BYTES: u64 = 8 * 1024 * 1024;

fn open_db(path: &Path) -> Result<sled::Db> {
    sled::Config::new().path(path).cache_capacity(CACHE_BYTES).open().map_err(|source| {
        let locked = matches!(&source, sled::Error::Io(e) if e.to_string().contains("could not acquire lock"));
        if locked {
            QueueError::Locked {
                path: path.to_path_buf(),
            }
        } else {
            QueueError::Open {
                path: path.to_path_buf(),
                source: source.into(),
            }
        }
    })
}

fn read_counter(tree: &sled::Tree, name: &str) -> Result<u64> {
    let key = Key::new(prefix::META).tail(name).done();
    match tree.get(key)? {
        Some(bytes) => decode("counter", &bytes),
        None => Ok(1),
    }
}

fn read_paused(tree: &sled::Tree) -> Result<HashSet<String>> {
    tree.scan_prefix([prefix::PAUSED])
        .map(|entry| Ok(String::from_utf8_lossy(&entry?.0[1..]).into_owned()))
        .collect()
}

pub(crate) fn encode_counter(value: u64) -> Result<Vec<u8>> {
    encode("counter", &value)
}
