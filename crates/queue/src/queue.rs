//! The `Queue` handle: opening the database, recovery, and the write path every
//! mutating call goes through (one lock, one batch, then durability).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::codec::{Key, decode, encode, prefix};
use crate::error::{QueueError, Result};
use crate::flush::{Durability, Flusher};
use crate::pending::Pending;
use crate::stored::{RunMeta, RunStatus, Stored};
use crate::tx::Tx;
use crate::types::{ItemId, OutputCursor, Recovery, RunId};

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
}

/// The sled handles: the database (for flushes) and the queue's one tree.
pub(crate) struct Store {
    pub db: sled::Db,
    pub tree: sled::Tree,
}

impl Store {
    fn open(path: &Path, lock_wait: Duration) -> Result<Store> {
        let db = open_db_waiting(path, lock_wait)?;
        let tree = db.open_tree("queue")?;
        Ok(Store { db, tree })
    }
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
}

/// What a call's failure rolls back to: the write state as it was before the call.
struct Savepoint {
    counters: [u64; 3],
    paused: HashSet<String>,
    pending: Pending,
}

impl WriteState {
    fn savepoint(&self) -> Savepoint {
        Savepoint {
            counters: self.counters(),
            paused: self.paused.clone(),
            pending: self.pending.clone(),
        }
    }

    fn restore(&mut self, save: Savepoint) {
        [self.next_item, self.next_run, self.next_stage] = save.counters;
        self.paused = save.paused;
        self.pending = save.pending;
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
        let tree = &store.tree;
        let write = WriteState {
            next_item: read_counter(tree, NEXT_ITEM)?,
            next_run: read_counter(tree, NEXT_RUN)?,
            next_stage: read_counter(tree, NEXT_STAGE)?,
            paused: read_paused(tree)?,
            pending: Pending::default(),
            group: 1,
            item_writes: 0,
        };
        let inner = Inner {
            path,
            store: RwLock::new(Some(Arc::new(store))),
            lock_wait: options.lock_wait,
            write: Mutex::new(write),
            metas: Mutex::new(HashMap::new()),
            flusher: Flusher::new(options.durability),
        };
        let queue = Queue {
            inner: Arc::new(inner),
        };
        let recovery = queue.recover()?;
        Ok((queue, recovery))
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn recover(&self) -> Result<Recovery> {
        let leases_reset = self.revert_leases(|_| true)?;
        Ok(Recovery {
            leases_reset,
            staged: self.staged_items()?,
            cursors: self.unfinished_cursors()?,
        })
    }

    /// Turns leased items for which `expired(until)` holds back into waiting ones.
    pub(crate) fn revert_leases(&self, expired: impl Fn(u64) -> bool) -> Result<usize> {
        let reverted = self.write_durably_scanning(|tx| {
            let mut reverted = 0;
            for entry in self.inner.store()?.tree.scan_prefix([prefix::LEASED]) {
                let (key, _) = entry?;
                let id = ItemId(crate::codec::trailing_u64(&key, 0)?);
                let state = tx.item(id)?.state.clone();
                if let Stored::Leased { until, was } = state
                    && expired(until)
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
    pub fn staged_items(&self) -> Result<Vec<(RunId, ItemId)>> {
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
        self.inner
            .store()?
            .tree
            .scan_prefix([prefix::UNFINISHED])
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
    pub fn checkpoint(&self) -> Result<()> {
        let mut writers_held_off = self.lock_write();
        let mut slot = self
            .inner
            .store
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = slot.take() {
            self.apply_pending(&mut writers_held_off, &old)?;
            old.db.flush()?;
        }
        *slot = Some(Arc::new(Store::open(
            &self.inner.path,
            self.inner.lock_wait,
        )?));
        writers_held_off.item_writes = 0;
        Ok(())
    }

    /// Item records written since the last open or checkpoint: what the next open
    /// would replay, roughly. The daemon checkpoints when this passes ~100,000.
    pub fn item_writes_since_checkpoint(&self) -> u64 {
        let state = self.lock_write();
        // The pending group's items will be written too.
        state.item_writes + state.pending.items.len() as u64
    }

    /// Returns once `group` is on disk (see `flush`).
    fn make_durable(&self, group: u64) -> Result<()> {
        if self.inner.flusher.mode == Durability::FlushPerCall {
            // The call's group was applied before the write lock was released.
            self.inner.store()?.db.flush()?;
            return Ok(());
        }
        let apply = || {
            let mut state = self.lock_write();
            let store = self.inner.store()?;
            self.apply_pending(&mut state, &store)
        };
        let flush = || -> Result<()> {
            self.inner.store()?.db.flush()?;
            Ok(())
        };
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
    /// close the database.
    pub fn store(&self) -> Result<Arc<Store>> {
        let slot = self.store.read().unwrap_or_else(PoisonError::into_inner);
        slot.clone().ok_or_else(|| QueueError::Closed {
            path: self.path.clone(),
        })
    }

    /// A run's definition (cached: it never changes).
    pub fn meta(&self, run: &RunId) -> Result<Arc<RunMeta>> {
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
        metas.insert(run.clone(), meta.clone());
        Ok(meta)
    }

    /// A run's status as applied to sled (writers read pending changes first).
    pub fn status(&self, run: &RunId) -> Result<RunStatus> {
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
/// ~1 KiB RSS per record, never returned; BENCHMARKS.md). The queue's working set is
/// the ready index and in-flight items, far below this.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

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
                source,
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
