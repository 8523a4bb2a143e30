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

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dredge_core::{NewItem, Record, UnixMillis};
use dredge_queue::{ItemId, RunId, RunState, WrittenItem};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use super::output::{Reopened, RunFile, RunPaths};
use super::state::Shared;

/// What the writer is asked to do.
pub enum WriterMsg {
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
    /// Answered once everything sent before it has been written and committed.
    Barrier(tokio::sync::oneshot::Sender<()>),
}

/// A staged item on its way to the run's file (its records are in the queue).
pub struct StagedItem {
    pub run: RunId,
    pub item: ItemId,
}

/// A leased item whose records go straight to the run's file: appended and fsynced
/// from memory, then the item is Done in the same queue commit (`commit_written`).
/// Until then the item stays leased, so a crash runs it again.
pub struct WriteNow {
    pub run: RunId,
    pub item: ItemId,
    pub records: Vec<Record>,
    pub follow_ups: Vec<NewItem>,
    /// Called once the item's follow-ups exist (committed, or staged instead).
    pub on_commit: Option<Box<dyn FnOnce() + Send>>,
    /// The item's share of [`BUDGET_KIB`], given back when it is written or staged.
    _budget: OwnedSemaphorePermit,
}

/// Records a lane could not hand to the writer (it stopped): to be staged.
pub struct Unwritten {
    pub records: Vec<Record>,
    pub follow_ups: Vec<NewItem>,
}

/// How many KiB of records may wait for the writer at once. Lanes wait for room beyond
/// that, so a writer slower than the vendors (a slow disk) bounds memory, not the queue.
pub const BUDGET_KIB: u32 = 32 * 1024;

/// Handle to the writer thread.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::UnboundedSender<WriterMsg>,
    budget: Arc<Semaphore>,
}

impl Writer {
    pub fn send(&self, msg: WriterMsg) {
        // The writer lives as long as the daemon; a send after it stopped is shutdown.
        let _ = self.tx.send(msg);
    }

    /// Hand the leased `item`'s records to the writer, which appends them, fsyncs and
    /// commits the item Done (or stages them when it cannot). Waits only for room in
    /// the budget. `Err` gives them back when the writer has stopped.
    pub async fn write_now(
        &self,
        run: RunId,
        item: ItemId,
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
        let budget = (self.budget.clone().acquire_many_owned(kib).await)
            .expect("the writer's budget is never closed");
        let msg = WriteNow {
            run,
            item,
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
pub fn spawn(shared: Arc<Shared>) -> (Writer, std::thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = std::thread::Builder::new()
        .name("dredge-writer".into())
        .spawn(move || WriterThread::new(shared).run(rx))
        .expect("cannot start the writer thread");
    let budget = Arc::new(Semaphore::new(BUDGET_KIB as usize));
    (Writer { tx, budget }, handle)
}

struct WriterThread {
    shared: Arc<Shared>,
    files: HashMap<RunId, RunFile>,
    /// Items whose write failed (disk full...): retried after a pause, from the queue.
    stalled: Vec<StagedItem>,
}

const MAX_BATCH: usize = 4096;

/// Shortest time between the starts of two write rounds. Under load, what arrives
/// meanwhile joins the next round, so at most ~50 rounds a second pay an fsync and a
/// queue flush each (measured: 100,000 records took ~270 rounds without it). An idle
/// writer starts a round as soon as something arrives, so a lone item waits not at all.
const ROUND_EVERY: Duration = Duration::from_millis(20);

impl WriterThread {
    fn new(shared: Arc<Shared>) -> Self {
        WriterThread {
            shared,
            files: HashMap::new(),
            stalled: Vec::new(),
        }
    }

    fn run(mut self, mut rx: mpsc::UnboundedReceiver<WriterMsg>) {
        let mut last_round: Option<Instant> = None;
        loop {
            let first = if self.stalled.is_empty() {
                match rx.blocking_recv() {
                    Some(m) => Some(m),
                    None => return,
                }
            } else {
                std::thread::sleep(Duration::from_secs(1));
                rx.try_recv().ok()
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
            self.process(batch);
        }
    }

    fn process(&mut self, batch: Vec<WriterMsg>) {
        let mut work: BTreeMap<RunId, RunWork> = BTreeMap::new();
        for item in std::mem::take(&mut self.stalled) {
            work.entry(item.run).or_default().staged.push(item.item);
        }
        let mut checks = Vec::new();
        let mut barriers = Vec::new();
        for msg in batch {
            match msg {
                WriterMsg::Open(run, file) => {
                    self.files.insert(run, file);
                }
                WriterMsg::Staged(item) => work.entry(item.run).or_default().staged.push(item.item),
                WriterMsg::Write(now) => work.entry(now.run.clone()).or_default().now.push(now),
                WriterMsg::Check(run) => checks.push(run),
                WriterMsg::Close(run) => {
                    self.files.remove(&run);
                }
                WriterMsg::Barrier(done) => barriers.push(done),
            }
        }
        for (run, work) in work {
            self.write_run(&run, work);
            checks.push(run);
        }
        checks.sort();
        checks.dedup();
        for run in checks {
            self.finish_if_complete(&run);
        }
        for done in barriers {
            let _ = done.send(());
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
        let out = self.shared.config().state_dir.join("out");
        let paths = RunPaths::new(&out, &info.job, run);
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
        let shared = self.shared.clone();
        let Some(file) = self.file_for(run) else {
            // Cancelled or finished: staged items stay staged, never written twice; the
            // others are staged the same way.
            self.stage_instead(work.now, false);
            return;
        };
        let committed_before = file.cursor_committed();
        let RunWork { staged, now } = work;
        let result = (|| -> anyhow::Result<(u64, Vec<dredge_queue::StageResult>)> {
            let mut count = 0u64;
            for &id in &staged {
                let records = shared.queue.staged_records(id)?;
                count += records.len() as u64;
                file.append(&records)?;
            }
            for item in &now {
                count += item.records.len() as u64;
                file.append(&item.records)?;
            }
            let cursor = file.sync()?;
            let written = now.iter().map(|w| WrittenItem {
                id: w.item,
                follow_ups: w.follow_ups.clone(),
            });
            let results = shared
                .queue
                .commit_written(run, &staged, written.collect(), cursor)?;
            file.mark_committed(cursor);
            Ok((count, results))
        })();
        match result {
            Ok((count, results)) => {
                shared.metrics.records_written(file.job(), count);
                for (item, result) in now.into_iter().zip(results) {
                    if result.deduplicated > 0 {
                        tracing::debug!(item = %item.item, deduplicated = result.deduplicated, "follow-ups already in the run");
                    }
                    if let Some(wake) = item.on_commit {
                        wake();
                    }
                }
            }
            Err(e) => {
                tracing::error!(run = %run, error = %format!("{e:#}"), "cannot write run output; retrying in 1 s");
                if let Err(e) = file.rollback_to(committed_before) {
                    tracing::error!(run = %run, error = %e, "cannot roll back the run's file; reopening it at the committed cursor");
                    self.files.remove(run);
                }
                let again = staged.into_iter().map(|item| StagedItem {
                    run: run.clone(),
                    item,
                });
                self.stalled.extend(again);
                self.stage_instead(now, true);
            }
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
        if info.state != RunState::Running || info.counts.open() > 0 {
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
                self.shared.run_finished(&info.job);
            }
            Err(e) => tracing::error!(run = %run, error = %e, "cannot rename the run's file"),
        }
    }
}

/// What arrived for one run in a batch.
#[derive(Default)]
struct RunWork {
    staged: Vec<ItemId>,
    now: Vec<WriteNow>,
}

impl WriterThread {
    /// Stage items that could not be written now, so they are written later (`retry`:
    /// with the stalled ones) or stay staged (a cancelled run). An item that cannot
    /// even be staged stays leased, and runs again after a restart.
    fn stage_instead(&mut self, items: Vec<WriteNow>, retry: bool) {
        for item in items {
            match self
                .shared
                .queue
                .stage(item.item, &item.records, item.follow_ups)
            {
                Ok(_) => {
                    if retry {
                        self.stalled.push(StagedItem {
                            run: item.run,
                            item: item.item,
                        });
                    }
                    if let Some(wake) = item.on_commit {
                        wake();
                    }
                }
                Err(e) => tracing::error!(run = %item.run, item = %item.item, error = %e,
                    "cannot stage an item's records; it stays leased and runs again after a restart"),
            }
        }
    }
}
