//! The writer on a queue several daemons share (`QueueBackend::cluster`, PostgreSQL).
//!
//! Every daemon's lanes stage their items' records in the queue, in the transaction
//! that commits the item, whichever daemon writes the run. Each round, the writer:
//! - gives up the runs whose writer lock it lost (its lock session broke: another
//!   daemon may have taken them, and the queue refuses this one's commits anyway);
//! - takes every running run that nobody writes (its writer died, or it is new), and
//!   opens its file at the committed cursor — cut back, as after a crash, or rebuilt
//!   from the records the queue kept when this machine cannot see the file;
//! - writes, for each run it holds, what any daemon staged for it, in staging order,
//!   then commits it written under its writer epoch (the same append → fsync → commit
//!   as on one machine), and finishes the run once nothing is open.
//!
//! Why read the staged items from the queue rather than receive them: another daemon's
//! lanes cannot send to this thread; the queue is the only thing both see, and its
//! wake-ups (`cluster_upkeep.rs`) say when and for which run to look. Runs to take are
//! looked for on a `Tick` only: a new run, a change in the live daemons, a lost
//! wake-up channel, or now and then.

use std::collections::BTreeMap;

use dredge_queue::{Cluster, OutputCursor, RunId, RunState};

use super::{MAX_BATCH, RunWork, WriterThread};
use crate::daemon::output::{Reopened, RunFile};
use crate::daemon::recovery;

impl WriterThread {
    /// This round's work on a cluster: the staged items of every run this daemon
    /// writes (after taking the runs nobody writes). Replaces what lanes announced,
    /// which is a subset of it.
    pub(super) fn cluster_work(
        &mut self,
        cluster: &dyn Cluster,
        checks: &mut Vec<RunId>,
    ) -> BTreeMap<RunId, RunWork> {
        self.stalled.clear();
        self.drop_lost_runs(cluster);
        if std::mem::take(&mut self.adopt_due) {
            self.take_free_runs(cluster);
        }
        let mut work = BTreeMap::new();
        for run in self.files.keys() {
            checks.push(run.clone());
            match cluster.staged_items_of(run, MAX_BATCH) {
                Ok(staged) if staged.is_empty() => {}
                Ok(staged) => {
                    work.insert(
                        run.clone(),
                        RunWork {
                            staged,
                            now: Vec::new(),
                        },
                    );
                }
                Err(e) => self.report_queue_error(run, &e),
            }
        }
        work
    }

    /// A new run's file, created by this daemon: kept if this daemon takes the run.
    pub(super) fn open_on_cluster(&mut self, cluster: &dyn Cluster, run: RunId, file: RunFile) {
        match cluster.take_run_writer(&run) {
            Ok(Some(_)) => self.open(run, file),
            Ok(None) => tracing::debug!(run = %run, "another daemon writes the new run"),
            Err(e) => self.report_queue_error(&run, &e),
        }
    }

    /// Called when the writer is done with a run (finished, cancelled, failed).
    pub(super) fn release_run(&self, run: &RunId) {
        if let Some(cluster) = self.shared.queue.cluster()
            && let Err(e) = cluster.release_run_writer(run)
        {
            tracing::warn!(run = %run, error = %e, "cannot give up writing the run; its lock ends with this daemon's session");
        }
    }

    /// Lets go of the runs this daemon should not write any more: those whose lock it
    /// lost, and those another daemon ended (a cancel or a failure seen there: a
    /// cancelled run's file is cut back to its committed records, as on one machine).
    fn drop_lost_runs(&mut self, cluster: &dyn Cluster) {
        let runs: Vec<RunId> = self.files.keys().cloned().collect();
        for run in runs {
            if matches!(cluster.holds_run_writer(&run), Ok(false)) {
                tracing::warn!(run = %run, "this daemon lost the run's writer lock (its session to PostgreSQL broke); another daemon may write it now");
                self.files.remove(&run);
                continue;
            }
            match self.shared.queue.run_end(&run) {
                Ok(Some((RunState::Running, _))) | Err(_) => {}
                Ok(Some((RunState::Cancelled, _))) => self.close(&run),
                Ok(_) => {
                    self.files.remove(&run);
                    self.release_run(&run);
                }
            }
        }
    }

    fn take_free_runs(&mut self, cluster: &dyn Cluster) {
        let runs = match self.shared.queue.unfinished_runs() {
            Ok(runs) => runs,
            Err(e) => {
                tracing::debug!(error = %e, "cannot list the running runs");
                return;
            }
        };
        for info in runs {
            if info.state != RunState::Running || self.files.contains_key(&info.id) {
                continue;
            }
            match cluster.take_run_writer(&info.id) {
                Ok(Some(epoch)) => {
                    tracing::info!(run = %info.id, job = %info.job, epoch, "this daemon writes the run now");
                    if self.adopt(&info.id).is_none() {
                        self.release_run(&info.id);
                    }
                }
                Ok(None) => {}
                Err(e) => self.report_queue_error(&info.id, &e),
            }
        }
    }

    /// Opens a run taken over: its file cut back to the committed cursor, or rebuilt
    /// from the kept records when the file is not here (another machine wrote it).
    fn adopt(&mut self, run: &RunId) -> Option<()> {
        let info = self.shared.queue.run(run).ok().flatten()?;
        let paths = recovery::paths_of(&self.shared, &info);
        // Shorter than what was committed (or missing): the file another daemon wrote
        // is not here — this is another machine, or an earlier copy of this one's
        // (a run it created but lost to a faster writer, or wrote before a take-over).
        let here = std::fs::metadata(&paths.partial).map_or(0, |m| m.len());
        if info.cursor.records > 0 && here < info.cursor.bytes && !paths.done.exists() {
            let vendor = self.shared.spec_of(run).ok()?.vendor();
            match rebuild(
                self.shared.queue.cluster()?,
                run,
                &info.job,
                vendor.key(),
                paths,
                info.cursor,
            ) {
                Ok(file) => {
                    tracing::info!(run = %run, records = info.cursor.records, "rebuilt the run's file from the records the queue kept");
                    self.files.insert(run.clone(), file);
                }
                Err(e) => recovery::fail_run(
                    &self.shared,
                    run,
                    &format!("its file could not be rebuilt from the queue: {e:#}"),
                ),
            }
            return self.files.contains_key(run).then_some(());
        }
        // As after a crash: cut back to the committed cursor; a file found renamed is a
        // run finished just before its writer died; one that cannot be recovered ends
        // the run failed, with the reason.
        match recovery::reopen_one(&self.shared, run, info.cursor) {
            Ok(Some(file)) => {
                self.files.insert(run.clone(), file);
                Some(())
            }
            Ok(None) => None,
            Err(e) => {
                recovery::fail_run(
                    &self.shared,
                    run,
                    &format!("recovery of its output failed: {e:#}"),
                );
                None
            }
        }
    }
}

/// Writes a run's committed records again, in order, into a new `.partial` file, and
/// checks that the result is exactly what the queue committed.
fn rebuild(
    cluster: &dyn Cluster,
    run: &RunId,
    job: &str,
    vendor: &str,
    paths: crate::daemon::output::RunPaths,
    committed: OutputCursor,
) -> anyhow::Result<RunFile> {
    let Reopened::Open(file) = RunFile::reopen(paths, OutputCursor::default(), job, run, vendor)?
    else {
        anyhow::bail!("the run's file was renamed meanwhile");
    };
    let mut file = *file;
    crate::daemon::export::append_written(cluster, run, &mut file)?;
    let cursor = file.sync()?;
    if cursor != committed {
        anyhow::bail!(
            "the rebuilt file holds {} records in {} bytes, the queue committed {} in {}",
            cursor.records,
            cursor.bytes,
            committed.records,
            committed.bytes
        );
    }
    file.mark_committed(cursor);
    Ok(file)
}
