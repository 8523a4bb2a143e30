//! The output writer: one OS thread that appends staged records to their runs' files,
//! fsyncs, and then commits the items and the new cursor in the queue — in that order,
//! which is what makes output exactly-once (ARCHITECTURE "stage, then commit").
//!
//! It batches whatever arrived together (group commit: one fsync and one queue flush
//! per run per batch) and is the only place a run is finished, so the rename to
//! `RUN.jsonl` happens strictly after the last commit.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use dredge_core::{Record, UnixMillis};
use dredge_queue::{ItemId, RunId, RunState};
use tokio::sync::mpsc;

use super::output::{Reopened, RunFile, RunPaths};
use super::state::Shared;

/// What the writer is asked to do.
pub enum WriterMsg {
    /// A new (or recovered) run's open file.
    Open(RunId, RunFile),
    /// This item's records are staged in the queue: append and commit them.
    Staged(StagedItem),
    /// Something changed in the run (an item died): finish it if nothing is left.
    Check(RunId),
    /// The run was cancelled: close its file, leave it `.partial`.
    Close(RunId),
    /// Answered once everything sent before it has been written and committed.
    Barrier(tokio::sync::oneshot::Sender<()>),
}

/// A staged item on its way to the run's file.
pub struct StagedItem {
    pub run: RunId,
    pub item: ItemId,
    /// The records just staged, when the sender could hand them over: the writer then
    /// need not read them back from the queue. `None` after a restart, or when the
    /// writer already holds [`HELD_BYTES`] of records (the queue keeps them instead).
    records: Option<Held>,
}

impl StagedItem {
    /// An item whose records the writer reads from the queue.
    pub fn in_queue(run: RunId, item: ItemId) -> Self {
        StagedItem {
            run,
            item,
            records: None,
        }
    }
}

/// Records the writer holds in memory, counted against [`HELD_BYTES`] until dropped.
struct Held {
    records: Vec<Record>,
    bytes: usize,
    budget: Arc<AtomicUsize>,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// Most record bytes handed to the writer in memory at once. A writer that falls behind
/// (slow disk) then reads the rest from the queue, so memory stays bounded.
pub const HELD_BYTES: usize = 16 << 20;

/// Handle to the writer thread.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::UnboundedSender<WriterMsg>,
    held: Arc<AtomicUsize>,
}

impl Writer {
    pub fn send(&self, msg: WriterMsg) {
        // The writer lives as long as the daemon; a send after it stopped is shutdown.
        let _ = self.tx.send(msg);
    }

    /// Hand over an item `Queue::stage` just made durable with exactly `records`.
    pub fn send_staged(&self, run: RunId, item: ItemId, records: Vec<Record>) {
        let bytes: usize = records.iter().map(record_bytes).sum();
        let held = if self.held.fetch_add(bytes, Ordering::Relaxed) + bytes <= HELD_BYTES {
            Some(Held {
                records,
                bytes,
                budget: self.held.clone(),
            })
        } else {
            self.held.fetch_sub(bytes, Ordering::Relaxed);
            None
        };
        self.send(WriterMsg::Staged(StagedItem {
            run,
            item,
            records: held,
        }));
    }

    /// Record bytes the writer holds in memory now.
    #[cfg(test)]
    pub fn held_bytes(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }
}

fn record_bytes(record: &Record) -> usize {
    record.data.len() + record.source.len() + record.item.len() + 64
}

/// Start the writer thread; it stops when every `Writer` handle is dropped.
pub fn spawn(shared: Arc<Shared>) -> (Writer, std::thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = std::thread::Builder::new()
        .name("dredge-writer".into())
        .spawn(move || WriterThread::new(shared).run(rx))
        .expect("cannot start the writer thread");
    let held = Arc::new(AtomicUsize::new(0));
    (Writer { tx, held }, handle)
}

struct WriterThread {
    shared: Arc<Shared>,
    files: HashMap<RunId, RunFile>,
    /// Items whose write failed (disk full...): retried after a pause, from the queue.
    stalled: Vec<StagedItem>,
}

const MAX_BATCH: usize = 4096;

impl WriterThread {
    fn new(shared: Arc<Shared>) -> Self {
        WriterThread {
            shared,
            files: HashMap::new(),
            stalled: Vec::new(),
        }
    }

    fn run(mut self, mut rx: mpsc::UnboundedReceiver<WriterMsg>) {
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
        let mut staged: BTreeMap<RunId, Vec<StagedItem>> = BTreeMap::new();
        for item in std::mem::take(&mut self.stalled) {
            staged.entry(item.run.clone()).or_default().push(item);
        }
        let mut checks = Vec::new();
        let mut barriers = Vec::new();
        for msg in batch {
            match msg {
                WriterMsg::Open(run, file) => {
                    self.files.insert(run, file);
                }
                WriterMsg::Staged(item) => staged.entry(item.run.clone()).or_default().push(item),
                WriterMsg::Check(run) => checks.push(run),
                WriterMsg::Close(run) => {
                    self.files.remove(&run);
                }
                WriterMsg::Barrier(done) => barriers.push(done),
            }
        }
        for (run, items) in staged {
            self.write_items(&run, items);
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
            Ok(Reopened::Open(file)) => Some(file),
            Ok(Reopened::AlreadyRenamed) => None,
            Err(e) => {
                tracing::error!(run = %run, error = %e, "cannot reopen the run's output file");
                None
            }
        }
    }

    /// Append the items' records, fsync, then commit them with the new cursor.
    fn write_items(&mut self, run: &RunId, items: Vec<StagedItem>) {
        let shared = self.shared.clone();
        let Some(file) = self.file_for(run) else {
            // Cancelled or finished: its staged items stay staged, never written twice.
            return;
        };
        let committed_before = file.cursor_committed();
        let ids: Vec<ItemId> = items.iter().map(|i| i.item).collect();
        let result = (|| -> anyhow::Result<u64> {
            let mut count = 0u64;
            for staged in &items {
                let records = match &staged.records {
                    Some(held) => std::borrow::Cow::Borrowed(&held.records[..]),
                    None => std::borrow::Cow::Owned(shared.queue.staged_records(staged.item)?),
                };
                count += records.len() as u64;
                file.append(&records)?;
            }
            let cursor = file.sync()?;
            shared.queue.commit(run, &ids, cursor)?;
            file.mark_committed(cursor);
            Ok(count)
        })();
        match result {
            Ok(count) => shared.metrics.records_written(&file_job(file), count),
            Err(e) => {
                tracing::error!(run = %run, error = %format!("{e:#}"), "cannot write run output; retrying in 1 s");
                if let Err(e) = file.rollback_to(committed_before) {
                    tracing::error!(run = %run, error = %e, "cannot roll back the run's file");
                }
                let again = ids.into_iter().map(|i| StagedItem::in_queue(run.clone(), i));
                self.stalled.extend(again);
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

fn file_job(file: &RunFile) -> String {
    file.job().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dredge_core::JsonText;

    fn records(n: usize, data_len: usize) -> Vec<Record> {
        let data = JsonText::parse(format!("\"{}\"", "x".repeat(data_len))).unwrap();
        (0..n)
            .map(|i| Record {
                source: format!("https://a.com/{i}"),
                item: "batch".into(),
                fetched_at: UnixMillis(0),
                data: data.clone(),
                attachment: None,
            })
            .collect()
    }

    fn held_records(msg: &WriterMsg) -> Option<&[Record]> {
        match msg {
            WriterMsg::Staged(item) => item.records.as_ref().map(|h| &h.records[..]),
            _ => panic!("expected a staged item"),
        }
    }

    #[test]
    fn staged_records_ride_along_until_the_budget_is_spent_then_stay_in_the_queue() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let writer = Writer {
            tx,
            held: Arc::new(AtomicUsize::new(0)),
        };
        let run = RunId("r".into());
        // Three items of ~6 MiB each: two fit in 16 MiB, the third does not.
        for id in 1..=3 {
            writer.send_staged(run.clone(), ItemId(id), records(6, 1 << 20));
        }
        let first = rx.try_recv().unwrap();
        let second = rx.try_recv().unwrap();
        let third = rx.try_recv().unwrap();
        assert_eq!(held_records(&first).map(<[Record]>::len), Some(6));
        assert_eq!(held_records(&second).map(<[Record]>::len), Some(6));
        assert!(held_records(&third).is_none(), "over budget: read back from the queue");
        assert!(writer.held_bytes() <= HELD_BYTES);
        drop(first);
        // Written records free their share of the budget for the next item.
        writer.send_staged(run.clone(), ItemId(4), records(6, 1 << 20));
        assert!(held_records(&rx.try_recv().unwrap()).is_some());
        assert!(writer.held_bytes() > 0, "the second item is still held");
        drop(second);
        drop(third);
        assert_eq!(writer.held_bytes(), 0, "every held byte is given back");
    }
}
