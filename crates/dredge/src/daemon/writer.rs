//! The output writer: one OS thread that appends staged records to their runs' files,
//! fsyncs, and then commits the items and the new cursor in the queue — in that order,
//! which is what makes output exactly-once (ARCHITECTURE "stage, then commit").
//!
//! It batches whatever arrived together (group commit: one fsync and one queue flush
//! per run per batch) and is the only place a run is finished, so the rename to
//! `RUN.jsonl` happens strictly after the last commit.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use dredge_core::UnixMillis;
use dredge_queue::{ItemId, RunId, RunState};
use tokio::sync::mpsc;

use super::output::{Reopened, RunFile, RunPaths};
use super::state::Shared;

/// What the writer is asked to do.
pub enum WriterMsg {
    /// A new (or recovered) run's open file.
    Open(RunId, RunFile),
    /// This item's records are staged in the queue: append and commit them.
    Staged(RunId, ItemId),
    /// Something changed in the run (an item died): finish it if nothing is left.
    Check(RunId),
    /// The run was cancelled: close its file, leave it `.partial`.
    Close(RunId),
    /// Answered once everything sent before it has been written and committed.
    Barrier(tokio::sync::oneshot::Sender<()>),
}

/// Handle to the writer thread.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::UnboundedSender<WriterMsg>,
}

impl Writer {
    pub fn send(&self, msg: WriterMsg) {
        // The writer lives as long as the daemon; a send after it stopped is shutdown.
        let _ = self.tx.send(msg);
    }
}

/// Start the writer thread; it stops when every `Writer` handle is dropped.
pub fn spawn(shared: Arc<Shared>) -> (Writer, std::thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = std::thread::Builder::new()
        .name("dredge-writer".into())
        .spawn(move || WriterThread::new(shared).run(rx))
        .expect("cannot start the writer thread");
    (Writer { tx }, handle)
}

struct WriterThread {
    shared: Arc<Shared>,
    files: HashMap<RunId, RunFile>,
    /// Items whose write failed (disk full...): retried after a pause.
    stalled: Vec<(RunId, ItemId)>,
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
        let mut staged: BTreeMap<RunId, Vec<ItemId>> = BTreeMap::new();
        for (run, item) in std::mem::take(&mut self.stalled) {
            staged.entry(run).or_default().push(item);
        }
        let mut checks = Vec::new();
        let mut barriers = Vec::new();
        for msg in batch {
            match msg {
                WriterMsg::Open(run, file) => {
                    self.files.insert(run, file);
                }
                WriterMsg::Staged(run, item) => staged.entry(run).or_default().push(item),
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
    fn write_items(&mut self, run: &RunId, items: Vec<ItemId>) {
        let shared = self.shared.clone();
        let Some(file) = self.file_for(run) else {
            // Cancelled or finished: its staged items stay staged, never written twice.
            return;
        };
        let committed_before = file.cursor_committed();
        let result = (|| -> anyhow::Result<u64> {
            let mut count = 0u64;
            for item in &items {
                let records = shared.queue.staged_records(*item)?;
                count += records.len() as u64;
                file.append(&records)?;
            }
            let cursor = file.sync()?;
            shared.queue.commit(run, &items, cursor)?;
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
                self.stalled
                    .extend(items.into_iter().map(|i| (run.clone(), i)));
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
