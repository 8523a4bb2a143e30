//! Undoing a crash, or a storage fault without one: each unfinished run's `.partial`
//! file is cut back to the cursor the queue committed, and cancelled runs' files too.
//! The same code runs at start and after the storage doctor reopened the queue, so a
//! fault that ends without a restart is recovered exactly as a crash would be.
//!
//! One broken run never stops the daemon: a run whose file cannot be recovered (it
//! was removed, or cut shorter than what was committed) ends `failed` with the reason,
//! and every other run goes on.

use dredge_core::UnixMillis;
use dredge_queue::{OutputCursor, Recovery, RunId, RunInfo, RunState};

use super::output::{Reopened, RunFile, RunPaths};
use super::state::Shared;

/// The reopened files of the unfinished runs in `recovery`, each cut back to its
/// committed cursor. Runs found already renamed are finished; runs that cannot be
/// recovered are ended failed. Cancelled runs' files are cut back and settled.
pub(super) fn reopen_files(shared: &Shared, recovery: &Recovery) -> Vec<(RunId, RunFile)> {
    let mut files = Vec::new();
    for (run, cursor) in &recovery.cursors {
        match reopen_one(shared, run, *cursor) {
            Ok(Some(file)) => files.push((run.clone(), file)),
            Ok(None) => {}
            Err(e) => fail_run(
                shared,
                run,
                &format!("recovery of its output failed: {e:#}"),
            ),
        }
    }
    for (run, cursor) in &recovery.cancelled {
        settle_cancelled(shared, run, *cursor);
    }
    files
}

/// Ends a run that dredge cannot go on writing, with the reason (shown with the run).
pub(super) fn fail_run(shared: &Shared, run: &RunId, reason: &str) {
    tracing::error!(run = %run, %reason, "run stopped");
    if let Err(e) = shared
        .queue
        .end_run(run, RunState::Failed, UnixMillis::now(), Some(reason))
    {
        tracing::error!(run = %run, error = %e, "cannot record that the run stopped");
    }
}

pub(super) fn reopen_one(
    shared: &Shared,
    run: &RunId,
    cursor: OutputCursor,
) -> anyhow::Result<Option<RunFile>> {
    let Some(info) = shared.queue.run(run)? else {
        return Ok(None);
    };
    let vendor = shared.spec_of(run)?.vendor();
    match RunFile::reopen(
        paths_of(shared, &info),
        cursor,
        &info.job,
        run,
        vendor.key(),
    )? {
        Reopened::Open(file) => Ok(Some(*file)),
        Reopened::AlreadyRenamed => {
            // Renamed just before the crash, its end not yet recorded.
            let state = if info.counts.dead > 0 {
                RunState::Failed
            } else {
                RunState::Succeeded
            };
            shared.queue.finish_run(run, state, UnixMillis::now())?;
            Ok(None)
        }
    }
}

/// A cancelled run's file cut back to its committed cursor (a crash may have left an
/// uncommitted tail), then settled so that recovery leaves it alone from now on.
fn settle_cancelled(shared: &Shared, run: &RunId, cursor: OutputCursor) {
    let settled = (|| -> anyhow::Result<()> {
        if let Some(info) = shared.queue.run(run)? {
            let paths = paths_of(shared, &info);
            if paths.partial.exists() {
                let vendor = shared.spec_of(run)?.vendor();
                RunFile::reopen(paths, cursor, &info.job, run, vendor.key())?;
            }
        }
        shared.queue.settle_cancelled(run)?;
        Ok(())
    })();
    if let Err(e) = settled {
        tracing::error!(run = %run, error = %format!("{e:#}"), "cannot cut the cancelled run's file back to its committed records; trying again at the next start");
    }
}

pub(super) fn paths_of(shared: &Shared, info: &RunInfo) -> RunPaths {
    RunPaths::new(&shared.config().output_dir, &info.job, &info.id)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::io::Write;

    use dredge_queue::RunState;

    use super::*;
    use crate::daemon::test_support::{new_run, writer_in};

    fn partial_of(shared: &Shared, run: &RunId) -> std::path::PathBuf {
        let info = shared.queue.run(run).unwrap().unwrap();
        paths_of(shared, &info).partial
    }

    /// An uncommitted tail, as a crash between the append and the commit leaves it.
    fn torn_tail(path: &std::path::Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(b"{\"uncommitted\":1}\n{\"torn").unwrap();
    }

    #[tokio::test]
    async fn a_cancelled_runs_uncommitted_tail_is_cut_at_recovery_and_it_is_settled() {
        let dir = tempfile::tempdir().unwrap();
        let (shared, _writer) = writer_in(dir.path());
        let run = new_run(&shared, 1);
        let partial = partial_of(&shared, &run);
        torn_tail(&partial);
        shared.queue.cancel_run(&run, UnixMillis::now()).unwrap();

        let recovered = shared
            .queue
            .reopen(&HashSet::new(), UnixMillis::now())
            .unwrap();
        assert_eq!(recovered.cancelled.len(), 1);
        let files = reopen_files(&shared, &recovered);
        assert!(files.is_empty(), "a cancelled run is not written to");
        assert_eq!(
            std::fs::metadata(&partial).unwrap().len(),
            0,
            "cut to its cursor"
        );
        let again = shared
            .queue
            .reopen(&HashSet::new(), UnixMillis::now())
            .unwrap();
        assert!(again.cancelled.is_empty(), "settled");
    }

    #[tokio::test]
    async fn a_run_whose_file_cannot_be_recovered_fails_with_the_reason_and_others_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (shared, _writer) = writer_in(dir.path());
        let broken = new_run(&shared, 1);
        let fine = new_run(&shared, 1);
        // The broken run's file is shorter than what the queue committed.
        let leased = shared
            .queue
            .lease_next(
                "a",
                UnixMillis::now(),
                UnixMillis::now().after(std::time::Duration::from_secs(60)),
            )
            .unwrap()
            .unwrap();
        assert_eq!(leased.run, broken);
        let cursor = dredge_queue::OutputCursor {
            bytes: 100,
            records: 1,
        };
        let written = dredge_queue::WrittenItem {
            id: leased.id,
            follow_ups: vec![],
            epoch: Some(leased.epoch),
        };
        shared
            .queue
            .commit_written(&broken, &[], vec![written], cursor)
            .unwrap();

        let recovered = shared
            .queue
            .reopen(&HashSet::new(), UnixMillis::now())
            .unwrap();
        let files = reopen_files(&shared, &recovered);
        let reopened: Vec<&RunId> = files.iter().map(|(run, _)| run).collect();
        assert_eq!(reopened, vec![&fine]);
        let info = shared.queue.run(&broken).unwrap().unwrap();
        assert_eq!(info.state, RunState::Failed);
        let reason = info.reason.unwrap_or_default();
        assert!(reason.contains("recovery of its output failed"), "{reason}");
    }
}
