//! The output writer: one OS thread that appends records to their runs' files, fsyncs,
//! and then commits the items and the new cursor in the queue — in that order, which is
//! what makes output exactly-once (ARCHITECTURE "stage, then commit").
//!
//! Records usually come straight from a lane (`WriteNow`): appended from memory, and
//! the leased item is Done in the same commit, so they are never written to the queue.
//! Staged records (a run whose file was not open, a failed write, recovery after a
//! crash) are read back from the queue.
//!
//! It batches whatever arrived together (group commit: one fsync and one queue flush
//! per run per batch) and is the only place a run is finished, so the rename to
//! `RUN.jsonl` happens strictly after the last commit.
//!
//! When a write or a commit fails, nothing is thrown away: the records stay in memory
//! (`held`, still leased and within the budget) and staged items stay staged. A write
//! known not to be committed is cut off the file; a commit whose outcome is unknown
//! (the storage failed while or after sled got it) is never cut: the file handle is
//! dropped and, once the storage doctor sees writes succeed again, `Recover` reopens
//! the queue and cuts each file back to what the reopened queue says was committed —
//! the same recovery as after a crash, with the held records written again after it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dredge_core::{NewItem, Record, UnixMillis};
use dredge_queue::{ItemId, Lease, QueueError, RunId, RunState, WrittenItem};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

mod cluster;

use super::health::is_storage_error;
use super::output::{OutputRemoved, Reopened, RunFile};
use super::recovery;
use super::state::Shared;

/// What the writer is asked to do.
pub(super) enum WriterMsg {
    /// A new (or recovered) run's open file.
    Open(RunId, RunFile),
    /// This item's records are staged in the queue: append and commit them.
    Staged(StagedItem),
    /// Write this leased item's records now and finish it in the commit.
    Write(WriteNow),
    /// Something changed in the run (an item died): finish it if nothing is left.
    Check(RunId),
    /// The run was cancelled: close its file, leave it `.partial`.
    Close(RunId),
    /// Answered once everything sent before it has been written and committed (or
    /// held, during a storage fault).
    Barrier(tokio::sync::oneshot::Sender<()>),
    /// Writes succeed again (the storage doctor checked): reopen the queue, recover
    /// every run's file and write what is held. Answers whether that worked.
    Recover(tokio::sync::oneshot::Sender<Result<(), String>>),
    /// Several daemons: look for runs nobody writes (and write what is staged).
    Tick,
}

/// A staged item on its way to the run's file (its records are in the queue).
pub(super) struct StagedItem {
    pub run: RunId,
    pub item: ItemId,
}

/// A leased item whose records go straight to the run's file: appended and fsynced
/// from memory, then the item is Done in the same queue commit (`commit_written`).
/// Until then the item stays leased, so a crash runs it again.
pub(super) struct WriteNow {
    pub run: RunId,
    pub item: ItemId,
    /// The item's lease epoch: a commit after the lease was taken back is refused.
    pub epoch: u64,
    pub records: Vec<Record>,
    pub follow_ups: Vec<NewItem>,
    /// Called once the item's follow-ups exist (committed, or staged instead).
    pub on_commit: Option<Box<dyn FnOnce() + Send>>,
    /// The item's share of [`BUDGET_KIB`], given back when it is written or staged.
    _budget: OwnedSemaphorePermit,
}

/// Records a lane could not hand to the writer (it stopped): to be staged.
pub(super) struct Unwritten {
    pub records: Vec<Record>,
    pub follow_ups: Vec<NewItem>,
}

/// How many KiB of records may wait for the writer at once. Lanes wait for room beyond
/// that, so a writer slower than the vendors (a slow disk) bounds memory, not the queue.
pub(super) const BUDGET_KIB: u32 = 32 * 1024;

/// Handle to the writer thread.
#[derive(Clone)]
pub(super) struct Writer {
    tx: mpsc::UnboundedSender<WriterMsg>,
    budget: Arc<Semaphore>,
    /// Leases whose records wait for room in the budget (held results fill it during a
    /// storage fault): recovery keeps them too, and the storage doctor does not wait
    /// for their lanes, which wait for it.
    waiting: Arc<std::sync::Mutex<HashSet<ItemId>>>,
}

impl Writer {
    /// How many lanes wait for room in the budget now.
    pub(super) fn waiting_for_room(&self) -> usize {
        self.waiting_set().len()
    }

    fn waiting_set(&self) -> std::sync::MutexGuard<'_, HashSet<ItemId>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn send(&self, msg: WriterMsg) {
        // The writer lives as long as the daemon; a send after it stopped is shutdown.
        let _ = self.tx.send(msg);
    }

    /// Hand the leased `item`'s records to the writer, which appends them, fsyncs and
    /// commits the item Done (or stages them when it cannot). Waits only for room in
    /// the budget. `Err` gives them back when the writer has stopped.
    pub(super) async fn write_now(
        &self,
        run: RunId,
        lease: Lease,
        records: Vec<Record>,
        follow_ups: Vec<NewItem>,
        on_commit: Option<Box<dyn FnOnce() + Send>>,
    ) -> Result<(), Unwritten> {
        let bytes: usize = records
            .iter()
            .map(|r| r.data.len() + r.source.len() + 64)
            .sum();
        let kib = u32::try_from(bytes / 1024)
            .unwrap_or(u32::MAX)
            .clamp(1, BUDGET_KIB);
        self.waiting_set().insert(lease.id);
        let budget = self.budget.clone().acquire_many_owned(kib).await;
        self.waiting_set().remove(&lease.id);
        let budget = budget.expect("the writer's budget is never closed");
        let msg = WriteNow {
            run,
            item: lease.id,
            epoch: lease.epoch.unwrap_or_default(),
            records,
            follow_ups,
            on_commit,
            _budget: budget,
        };
        match self.tx.send(WriterMsg::Write(msg)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::SendError(WriterMsg::Write(msg))) => Err(Unwritten {
                records: msg.records,
                follow_ups: msg.follow_ups,
            }),
            Err(_) => unreachable!("the message sent is a Write"),
        }
    }
}

/// Start the writer thread; it stops when every `Writer` handle is dropped.
pub(super) fn spawn(shared: Arc<Shared>) -> (Writer, std::thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let waiting = Arc::new(std::sync::Mutex::new(HashSet::new()));
    let thread_waiting = waiting.clone();
    let handle = std::thread::Builder::new()
        .name("dredge-writer".into())
        .spawn(move || WriterThread::new(shared, thread_waiting).run(rx))
        .expect("cannot start the writer thread");
    let budget = Arc::new(Semaphore::new(BUDGET_KIB as usize));
    (
        Writer {
            tx,
            budget,
            waiting,
        },
        handle,
    )
}

struct WriterThread {
    shared: Arc<Shared>,
    files: HashMap<RunId, RunFile>,
    /// Staged items whose write failed: written again in a later round.
    stalled: Vec<StagedItem>,
    /// Records whose write or commit failed, kept in memory (their items stay leased)
    /// until they can be written: a vendor answer is never fetched twice because the
    /// disk was full (some reads cannot be repeated).
    held: Vec<WriteNow>,
    /// `Writer::waiting`: leases whose records are on their way here.
    waiting: Arc<std::sync::Mutex<HashSet<ItemId>>>,
    /// Several daemons: a `Tick` asked to look for runs nobody writes.
    adopt_due: bool,
}

const MAX_BATCH: usize = 4096;

/// Shortest time between the starts of two write rounds. Under load, what arrives
/// meanwhile joins the next round, so at most ~50 rounds a second pay an fsync and a
/// queue flush each (measured: 100,000 records took ~270 rounds without it). An idle
/// writer starts a round as soon as something arrives, so a lone item waits not at all.
const ROUND_EVERY: Duration = Duration::from_millis(20);

/// How long held or stalled work waits before it is tried again (outside a storage
/// fault, when the storage doctor drives the retries).
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// Why a run's round failed.
enum RoundError {
    /// Appending or syncing the file failed: nothing of the round was committed.
    File(std::io::Error),
    /// The queue refused or failed the commit (after the records were synced).
    Commit(QueueError),
    /// Reading staged records failed (before anything was appended).
    Read(QueueError),
}

impl WriterThread {
    fn new(shared: Arc<Shared>, waiting: Arc<std::sync::Mutex<HashSet<ItemId>>>) -> Self {
        WriterThread {
            shared,
            files: HashMap::new(),
            stalled: Vec::new(),
            held: Vec::new(),
            waiting,
            adopt_due: true,
        }
    }

    fn run(mut self, mut rx: mpsc::UnboundedReceiver<WriterMsg>) {
        let mut last_round: Option<Instant> = None;
        loop {
            let waiting = !self.stalled.is_empty() || !self.held.is_empty();
            let retry_soon = waiting && !self.shared.health.is_faulted();
            let first = if retry_soon {
                std::thread::sleep(RETRY_EVERY);
                rx.try_recv().ok()
            } else {
                match rx.blocking_recv() {
                    Some(m) => Some(m),
                    None => return,
                }
            };
            if let Some(wait) = last_round.and_then(|t| ROUND_EVERY.checked_sub(t.elapsed())) {
                std::thread::sleep(wait);
            }
            last_round = Some(Instant::now());
            let mut batch: Vec<WriterMsg> = first.into_iter().collect();
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(m) => batch.push(m),
                    Err(_) => break,
                }
            }
            self.process(batch, &mut rx);
        }
    }

    fn process(&mut self, batch: Vec<WriterMsg>, rx: &mut mpsc::UnboundedReceiver<WriterMsg>) {
        let mut work: BTreeMap<RunId, RunWork> = BTreeMap::new();
        let mut checks = Vec::new();
        let mut barriers = Vec::new();
        let mut recovers = Vec::new();
        let shared = self.shared.clone();
        let cluster = shared.queue.cluster();
        for msg in batch {
            match msg {
                WriterMsg::Open(run, file) => match cluster {
                    Some(cluster) => self.open_on_cluster(cluster, run, file),
                    None => self.open(run, file),
                },
                // On a cluster, the queue says what is staged (`cluster_work`).
                WriterMsg::Staged(_) if cluster.is_some() => {}
                WriterMsg::Staged(item) => work.entry(item.run).or_default().staged.push(item.item),
                WriterMsg::Write(now) => work.entry(now.run.clone()).or_default().now.push(now),
                WriterMsg::Check(run) => checks.push(run),
                WriterMsg::Close(run) => self.close(&run),
                WriterMsg::Barrier(done) => barriers.push(done),
                WriterMsg::Recover(done) => recovers.push(done),
                WriterMsg::Tick => self.adopt_due = true,
            }
        }
        if recovers.is_empty() && !self.shared.health.is_faulted() {
            if let Some(cluster) = cluster {
                work = self.cluster_work(cluster, &mut checks);
            }
            self.write_round(work, checks);
        } else {
            self.park_work(work);
        }
        if !recovers.is_empty() {
            // Lanes have stopped; whatever they sent before the fault is taken in first,
            // so that its leases are kept too.
            while let Ok(msg) = rx.try_recv() {
                self.absorb(msg, &mut barriers);
            }
            let result = self.recover();
            for done in recovers {
                let _ = done.send(result.clone());
            }
        }
        for done in barriers {
            let _ = done.send(());
        }
    }

    /// One message taken in during a fault: nothing is written.
    fn absorb(&mut self, msg: WriterMsg, barriers: &mut Vec<tokio::sync::oneshot::Sender<()>>) {
        match msg {
            WriterMsg::Open(run, file) => self.open(run, file),
            WriterMsg::Staged(item) => self.stalled.push(item),
            WriterMsg::Write(now) => self.held.push(now),
            WriterMsg::Close(run) => self.close(&run),
            WriterMsg::Barrier(done) => barriers.push(done),
            WriterMsg::Check(_) | WriterMsg::Recover(_) | WriterMsg::Tick => {}
        }
    }

    /// A new run's file. A file already open for the run wins: the writer may have
    /// reopened it on demand at the committed cursor (a lane's records arrived before
    /// the `Open`), and a second handle at cursor 0 would repeat seqs and move the
    /// committed cursor back.
    fn open(&mut self, run: RunId, file: RunFile) {
        if self.files.contains_key(&run) {
            tracing::debug!(run = %run, "run file already open; the later handle is dropped");
            return;
        }
        self.files.insert(run, file);
    }

    /// A cancelled run: its file is cut back to the committed records and closed.
    fn close(&mut self, run: &RunId) {
        if let Some(file) = self.files.remove(run) {
            self.release_run(run);
            if let Err(e) = file.settle() {
                tracing::error!(run = %run, error = %e, "cannot cut the cancelled run's file back; recovery does it at the next start");
                return;
            }
        }
        if let Err(e) = self.shared.queue.settle_cancelled(run) {
            tracing::error!(run = %run, error = %e, "cannot record that the cancelled run's file is settled");
        }
    }

    fn park_work(&mut self, work: BTreeMap<RunId, RunWork>) {
        for (run, w) in work {
            self.park(&run, w.staged, w.now);
        }
    }

    fn park(&mut self, run: &RunId, staged: Vec<ItemId>, now: Vec<WriteNow>) {
        let staged = staged.into_iter().map(|item| StagedItem {
            run: run.clone(),
            item,
        });
        self.stalled.extend(staged);
        self.held.extend(now);
    }

    /// Write what arrived, with what is held or stalled from earlier rounds first.
    fn write_round(&mut self, work: BTreeMap<RunId, RunWork>, mut checks: Vec<RunId>) {
        // Earlier work first, staged items in staging order.
        let mut merged: BTreeMap<RunId, RunWork> = BTreeMap::new();
        for item in std::mem::take(&mut self.stalled) {
            merged.entry(item.run).or_default().staged.push(item.item);
        }
        for now in std::mem::take(&mut self.held) {
            merged.entry(now.run.clone()).or_default().now.push(now);
        }
        for (run, new) in work {
            let entry = merged.entry(run).or_default();
            entry.staged.extend(new.staged);
            entry.now.extend(new.now);
        }
        for (run, work) in merged {
            self.write_run(&run, work);
            checks.push(run);
        }
        if self.shared.health.is_faulted() {
            return;
        }
        checks.sort();
        checks.dedup();
        for run in checks {
            self.finish_if_complete(&run);
        }
    }

    /// The run's open file; a running run whose file is not open yet (its `Open` has
    /// not arrived) is reopened at its committed cursor — the writer is the file's only
    /// writer, so the queue's cursor is the truth.
    fn file_for(&mut self, run: &RunId) -> Option<&mut RunFile> {
        if !self.files.contains_key(run) {
            let file = self.reopen(run)?;
            self.files.insert(run.clone(), file);
        }
        self.files.get_mut(run)
    }

    fn reopen(&self, run: &RunId) -> Option<RunFile> {
        let info = self.shared.queue.run(run).ok().flatten()?;
        if info.state != RunState::Running {
            return None;
        }
        let vendor = self.shared.spec_of(run).ok()?.vendor();
        let paths = recovery::paths_of(&self.shared, &info);
        // A running run writes to `.partial`. Found renamed, it was finished and then
        // had its dead items requeued (`dredge retry`): its file goes back to
        // `.partial` here too, so records that beat the retry's own reopen are
        // appended, not left staged.
        if let Err(e) = super::output::restore_partial(&paths) {
            tracing::error!(run = %run, error = %e, "cannot rename the run's file back to .partial");
            return None;
        }
        match RunFile::reopen(paths, info.cursor, &info.job, run, vendor.key()) {
            Ok(Reopened::Open(file)) => Some(*file),
            Ok(Reopened::AlreadyRenamed) => None,
            Err(e) => {
                tracing::error!(run = %run, error = %e, "cannot reopen the run's output file");
                None
            }
        }
    }

    /// Append the run's records (staged ones read from the queue, then those to write
    /// now), fsync, then commit them all with the new cursor in one queue call.
    fn write_run(&mut self, run: &RunId, work: RunWork) {
        let RunWork { staged, now } = work;
        if self.file_for(run).is_none() {
            // Cancelled or finished: staged items stay staged, never written twice; the
            // others are staged the same way.
            self.stage_instead(now);
            return;
        }
        let mut file = self.files.remove(run).expect("file_for opened it");
        let shared = self.shared.clone();
        let committed_before = file.cursor_committed();
        // Whether the handle stays: not when the file's end is in doubt.
        let keep = match append_and_commit(&shared, &mut file, run, &staged, &now) {
            Ok(count) => {
                shared.metrics.records_written(file.job(), count);
                for item in now {
                    if let Some(wake) = item.on_commit {
                        wake();
                    }
                }
                true
            }
            Err(RoundError::File(e)) => {
                if let Some(removed) = OutputRemoved::of(&e) {
                    recovery::fail_run(&shared, run, &removed.to_string());
                    self.stage_instead(now);
                    return;
                }
                // Nothing was committed: the appended tail may be cut off.
                let cut = file.rollback_to(committed_before);
                if let Err(e) = &cut {
                    tracing::error!(run = %run, error = %e, "cannot cut the run's file back; it is reopened at the committed cursor");
                }
                self.park(run, staged, now);
                shared
                    .health
                    .report(&format!("writing the output of run {run}"), &e);
                cut.is_ok()
            }
            Err(RoundError::Read(e)) => {
                self.park(run, staged, now);
                self.report_queue_error(run, &e);
                file.rollback_to(committed_before).is_ok()
            }
            Err(RoundError::Commit(e)) if e.outcome_unknown() => {
                // Whether the commit landed is known only to what is on disk, after a
                // reopen: the file is never cut on a guess. Recovery decides.
                self.park(run, staged, now);
                self.report_queue_error(run, &e);
                false
            }
            Err(RoundError::Commit(QueueError::LeaseLost { id })) => {
                // That item was taken back and runs again: its result is dropped, the
                // others are written in the next round.
                tracing::warn!(run = %run, item = %id, "an item's lease was taken back before its records were committed; they are dropped and the item runs again");
                let now = now.into_iter().filter(|w| w.item != id).collect();
                self.park(run, staged, now);
                file.rollback_to(committed_before).is_ok()
            }
            Err(RoundError::Commit(e)) => {
                tracing::error!(run = %run, error = %e, "the queue refused the run's commit; reopening its file at the committed cursor and trying again");
                self.park(run, staged, now);
                false
            }
        };
        if keep {
            self.files.insert(run.clone(), file);
        }
    }

    fn report_queue_error(&self, run: &RunId, e: &QueueError) {
        if is_storage_error(e) {
            self.shared
                .health
                .report(&format!("committing run {run}"), e);
        } else {
            tracing::error!(run = %run, error = %e, "cannot write run output; trying again");
        }
    }

    fn finish_if_complete(&mut self, run: &RunId) {
        let info = match self.shared.queue.run(run) {
            Ok(Some(info)) => info,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(run = %run, error = %e, "cannot read run state");
                return;
            }
        };
        if !info.is_complete() {
            return;
        }
        let Some(file) = self.files.remove(run) else {
            return;
        };
        let state = if info.counts.dead > 0 {
            RunState::Failed
        } else {
            RunState::Succeeded
        };
        match file.finish() {
            Ok(path) => {
                if let Err(e) = self.shared.queue.finish_run(run, state, UnixMillis::now()) {
                    tracing::error!(run = %run, error = %e, "cannot record the run's end");
                    return;
                }
                tracing::info!(run = %run, job = %info.job, state = state.as_str(), records = info.cursor.records,
                    dead = info.counts.dead, output = %path.display(), "run finished");
                self.release_run(run);
                self.shared.run_finished(&info.job);
            }
            Err(e) => match OutputRemoved::of(&e) {
                Some(removed) => recovery::fail_run(&self.shared, run, &removed.to_string()),
                None => {
                    tracing::error!(run = %run, error = %e, "cannot rename the run's file");
                    self.shared
                        .health
                        .report(&format!("finishing the output of run {run}"), &e);
                }
            },
        }
    }

    /// After a storage fault: reopen the queue keeping the held leases, cut every
    /// run's file back to what the reopened queue committed, then write what is held
    /// and staged. Ok once all of it is written.
    fn recover(&mut self) -> Result<(), String> {
        let mut keep: HashSet<ItemId> = self.held.iter().map(|w| w.item).collect();
        keep.extend(
            self.waiting
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter(),
        );
        // Held leases last as long as a lane's would, from now.
        let until = UnixMillis::now().after(Duration::from_secs(3600));
        let recovered = (self.shared.queue)
            .reopen(&keep, until)
            .map_err(|e| e.to_string())?;
        self.files.clear();
        let shared = self.shared.clone();
        if let Some(cluster) = shared.queue.cluster() {
            // This daemon's runs are taken again (its writer locks outlive a storage
            // fault unless their session broke) and their files reopened at the
            // committed cursor; what any daemon staged is read from the queue.
            let mut checks = Vec::new();
            self.adopt_due = true;
            let work = self.cluster_work(cluster, &mut checks);
            self.write_round(work, checks);
            return Ok(());
        }
        for (run, file) in recovery::reopen_files(&self.shared, &recovered) {
            self.files.insert(run, file);
        }
        self.stalled = recovered
            .staged
            .iter()
            .map(|(run, item)| StagedItem {
                run: run.clone(),
                item: *item,
            })
            .collect();
        // A held item whose unknown commit did land is Done: its records are in the
        // file below the committed cursor already.
        let queue = self.shared.queue.clone();
        self.held.retain(|w| {
            !matches!(queue.item(w.item), Ok(Some(info)) if info.state == dredge_queue::ItemState::Done)
        });
        tracing::info!(
            leases_reset = recovered.leases_reset,
            staged = self.stalled.len(),
            held = self.held.len(),
            runs = recovered.cursors.len(),
            "queue reopened after a storage fault; run files cut back to their committed cursors"
        );
        let checks = recovered
            .cursors
            .iter()
            .map(|(run, _)| run.clone())
            .collect();
        self.write_round(BTreeMap::new(), checks);
        if self.held.is_empty() && self.stalled.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} result(s) still cannot be written",
                self.held.len() + self.stalled.len()
            ))
        }
    }
}

/// Append a run's staged and in-memory records, fsync, and commit them in one queue
/// call. Returns how many records were written.
fn append_and_commit(
    shared: &Shared,
    file: &mut RunFile,
    run: &RunId,
    staged: &[ItemId],
    now: &[WriteNow],
) -> Result<u64, RoundError> {
    let mut count = 0u64;
    for &id in staged {
        let records = shared.queue.staged_records(id).map_err(RoundError::Read)?;
        count += records.len() as u64;
        file.append(&records).map_err(RoundError::File)?;
    }
    for item in now {
        count += item.records.len() as u64;
        file.append(&item.records).map_err(RoundError::File)?;
    }
    let cursor = file.sync().map_err(RoundError::File)?;
    let written = now.iter().map(|w| WrittenItem {
        id: w.item,
        follow_ups: w.follow_ups.clone(),
        epoch: Some(w.epoch),
    });
    let results = shared
        .queue
        .commit_written(run, staged, written.collect(), cursor)
        .map_err(RoundError::Commit)?;
    file.mark_committed(cursor);
    for (item, result) in now.iter().zip(results) {
        if result.deduplicated > 0 {
            tracing::debug!(item = %item.item, deduplicated = result.deduplicated, "follow-ups already in the run");
        }
    }
    Ok(count)
}

/// What arrived for one run in a batch.
#[derive(Default)]
struct RunWork {
    staged: Vec<ItemId>,
    now: Vec<WriteNow>,
}

impl WriterThread {
    /// Stage items whose run's file is closed (cancelled, finished, stopped): their
    /// records stay in the queue, never appended. An item that cannot even be staged
    /// stays leased and runs again after recovery.
    fn stage_instead(&mut self, items: Vec<WriteNow>) {
        for item in items {
            let lease = Lease {
                id: item.item,
                epoch: Some(item.epoch),
            };
            match self
                .shared
                .queue
                .stage(lease, &item.records, item.follow_ups)
            {
                Ok(_) => {
                    if let Some(wake) = item.on_commit {
                        wake();
                    }
                }
                Err(e) => {
                    tracing::error!(run = %item.run, item = %item.item, error = %e,
                        "cannot stage an item's records; it stays leased and runs again after recovery");
                    if is_storage_error(&e) {
                        self.shared.health.report("staging records", &e);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::daemon::output::RunPaths;
    use crate::daemon::test_support::{new_run, records, writer_in, writer_on_sled};

    async fn write_next(shared: &Shared, writer: &Writer, run: &RunId, n: usize) {
        let far = UnixMillis::now().after(Duration::from_secs(600));
        let leased = shared
            .queue
            .lease_next("a", UnixMillis::now(), far)
            .unwrap()
            .expect("an item to lease");
        let done = writer
            .write_now(run.clone(), leased.lease(), records(n), vec![], None)
            .await;
        assert!(done.is_ok());
    }

    async fn barrier(writer: &Writer) {
        let (done, wait) = tokio::sync::oneshot::channel();
        writer.send(WriterMsg::Barrier(done));
        wait.await.unwrap();
    }

    fn seqs(path: &Path) -> Vec<u64> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    }

    #[tokio::test]
    async fn a_write_that_beats_its_runs_open_keeps_seqs_contiguous_and_the_cursor_growing() {
        let dir = tempfile::tempdir().unwrap();
        let (shared, writer) = writer_in(dir.path());
        // Three items: the run stays open (two are written), so its file stays `.partial`.
        let run = new_run(&shared, 3);
        // The lane's records arrive before `create` sent the run's file.
        write_next(&shared, &writer, &run, 3).await;
        barrier(&writer).await;
        let after_first = shared.queue.run(&run).unwrap().unwrap().cursor;
        assert_eq!(after_first.records, 3);
        // Now the late `Open`, a handle at cursor 0.
        let paths = RunPaths::new(&shared.config().output_dir, "news", &run);
        let late = RunFile::create(paths.clone(), "news", &run, "autoextract").unwrap();
        writer.send(WriterMsg::Open(run.clone(), late));
        write_next(&shared, &writer, &run, 2).await;
        barrier(&writer).await;
        let after_second = shared.queue.run(&run).unwrap().unwrap().cursor;
        assert!(after_second.bytes > after_first.bytes, "{after_second:?}");
        assert_eq!(after_second.records, 5);
        assert_eq!(seqs(&paths.partial), vec![1, 2, 3, 4, 5]);
        assert_eq!(
            std::fs::metadata(&paths.partial).unwrap().len(),
            after_second.bytes
        );
    }

    #[tokio::test]
    async fn records_of_a_retried_run_that_beat_its_reopen_are_appended_to_the_restored_partial() {
        let dir = tempfile::tempdir().unwrap();
        let (shared, writer) = writer_in(dir.path());
        let run = new_run(&shared, 2);
        write_next(&shared, &writer, &run, 1).await;
        let far = UnixMillis::now().after(Duration::from_secs(600));
        let doomed = shared
            .queue
            .lease_next("a", UnixMillis::now(), far)
            .unwrap()
            .unwrap();
        shared.queue.kill(doomed.lease(), "404").unwrap();
        writer.send(WriterMsg::Check(run.clone()));
        barrier(&writer).await;
        let paths = RunPaths::new(&shared.config().output_dir, "news", &run);
        assert!(
            paths.done.exists() && !paths.partial.exists(),
            "the run ended"
        );
        // `dredge retry`, with the requeued item done before anyone reopened the file.
        assert_eq!(shared.queue.retry_dead(&run).unwrap(), 1);
        write_next(&shared, &writer, &run, 2).await;
        barrier(&writer).await;
        let info = shared.queue.run(&run).unwrap().unwrap();
        assert_eq!(info.state, RunState::Succeeded, "{info:?}");
        assert_eq!(info.counts.staged, 0, "nothing left staged");
        assert_eq!(seqs(&paths.done), vec![1, 2, 3]);
    }

    #[tokio::test]
    async fn a_commit_whose_outcome_is_unknown_never_cuts_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (shared, writer, sled) = writer_on_sled(dir.path());
        let run = new_run(&shared, 2);
        // The commit lands, but the writer is told it failed (a flush error after sled
        // wrote the batch): the records below the committed cursor must stay.
        sled.fail_next_call_after_it_is_durable();
        write_next(&shared, &writer, &run, 3).await;
        barrier(&writer).await;
        let committed = shared.queue.run(&run).unwrap().unwrap().cursor;
        assert_eq!(committed.records, 3, "the commit landed");
        assert!(
            shared.health.is_faulted(),
            "an unknown outcome is a storage fault"
        );
        let paths = RunPaths::new(&shared.config().output_dir, "news", &run);
        assert_eq!(
            std::fs::metadata(&paths.partial).unwrap().len(),
            committed.bytes,
            "committed records cut off the file"
        );
    }

    #[tokio::test]
    async fn a_removed_output_file_stops_only_its_run_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let (shared, writer) = writer_in(dir.path());
        let run = new_run(&shared, 2);
        write_next(&shared, &writer, &run, 1).await;
        barrier(&writer).await;
        let paths = RunPaths::new(&shared.config().output_dir, "news", &run);
        std::fs::remove_file(&paths.partial).unwrap();
        write_next(&shared, &writer, &run, 1).await;
        barrier(&writer).await;
        let info = shared.queue.run(&run).unwrap().unwrap();
        assert_eq!(info.state, RunState::Failed);
        let reason = info.reason.unwrap_or_default();
        assert!(reason.contains("output file removed"), "{reason}");
        assert_eq!(
            info.cursor.records, 1,
            "nothing committed into the unlinked file"
        );
        assert!(!shared.health.is_faulted(), "not a storage fault");
    }

    /// The `n` field of each line of the run's file, in file order.
    fn numbers(path: &Path) -> Vec<u64> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["data"]["n"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    }

    #[tokio::test]
    async fn staged_and_handed_records_reach_the_file_once_in_seq_order_and_end_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let (shared, writer) = writer_in(dir.path());
        let run = new_run(&shared, 2);
        // The first item's records are staged in the queue, the second's handed over.
        let far = UnixMillis::now().after(Duration::from_secs(600));
        let staged = shared
            .queue
            .lease_next("a", UnixMillis::now(), far)
            .unwrap()
            .unwrap();
        shared
            .queue
            .stage(staged.lease(), &records(2), vec![])
            .unwrap();
        writer.send(WriterMsg::Staged(StagedItem {
            run: run.clone(),
            item: staged.id,
        }));
        write_next(&shared, &writer, &run, 3).await;
        barrier(&writer).await;
        let info = shared.queue.run(&run).unwrap().unwrap();
        assert_eq!(info.state, RunState::Succeeded, "{info:?}");
        let paths = RunPaths::new(&shared.config().output_dir, "news", &run);
        assert!(!paths.partial.exists(), "renamed once complete");
        assert_eq!(seqs(&paths.done), vec![1, 2, 3, 4, 5]);
        assert_eq!(numbers(&paths.done), vec![0, 1, 0, 1, 2]);
        assert_eq!(info.cursor.records, 5);
    }

    #[tokio::test]
    async fn a_result_whose_lease_was_taken_back_is_dropped_and_the_others_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let (shared, writer) = writer_in(dir.path());
        let run = new_run(&shared, 2);
        let far = UnixMillis::now().after(Duration::from_secs(600));
        let lost = shared
            .queue
            .lease_next("a", UnixMillis::now(), far)
            .unwrap()
            .unwrap();
        let kept = shared
            .queue
            .lease_next("a", UnixMillis::now(), far)
            .unwrap()
            .unwrap();
        // Its worker is gone (as the reclaimer or a panic would decide): the item
        // runs again, and the result of that lease must never be committed.
        shared.queue.abandon(lost.lease(), "worker gone").unwrap();
        let stale = writer
            .write_now(run.clone(), lost.lease(), records(1), vec![], None)
            .await;
        assert!(stale.is_ok());
        let done = writer
            .write_now(run.clone(), kept.lease(), records(2), vec![], None)
            .await;
        assert!(done.is_ok());
        barrier(&writer).await;
        // A round that held the other result writes it after the dropped one.
        barrier(&writer).await;
        let info = shared.queue.run(&run).unwrap().unwrap();
        assert_eq!(info.cursor.records, 2, "{info:?}");
        let paths = RunPaths::new(&shared.config().output_dir, "news", &run);
        assert_eq!(
            numbers(&paths.partial),
            vec![0, 1],
            "only the kept lease's records"
        );
        let lost = shared.queue.item(lost.id).unwrap().unwrap();
        assert!(
            matches!(lost.state, dredge_queue::ItemState::Ready { .. }),
            "{lost:?}"
        );
        let kept = shared.queue.item(kept.id).unwrap().unwrap();
        assert_eq!(kept.state, dredge_queue::ItemState::Done);
    }
}
