//! Faults beyond a clean crash: power loss (the data file is synced every round),
//! leases that outlive their worker (fencing), a storage fault cleared by a reopen,
//! a run created together with its schedule state, readers racing a checkpoint.
//!
//! sled's own: power loss is sled's data-file sync, storage faults are sled's I/O errors
//! and its reopen, checkpoints are sled's. These tests use the sled `Queue`, its
//! durability modes and its fault-injection seam directly.

mod support;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use dredge_queue::{
    Durability, ItemState, LeasedItem, OutputCursor, Queue, QueueBackend, QueueError, QueueOptions,
    Release, RunState, ScheduleState, WrittenItem,
};
use support::*;

/// What a process crash leaves on disk: a byte-for-byte copy of the database
/// directory, taken while the queue is still open (a clean drop would flush).
fn crash_copy(state: &Path, to: &Path) -> Queue {
    std::fs::create_dir_all(to).unwrap();
    copy_dir(state, to);
    Queue::open(to).expect("open the crash copy").0
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Commits one leased item (no follow-ups) under its epoch with the cursor given.
fn commit_leased(
    q: &Queue,
    run: &dredge_queue::RunId,
    leased: &LeasedItem,
    bytes: u64,
    records: u64,
) -> Result<Vec<dredge_queue::StageResult>, QueueError> {
    let written = WrittenItem {
        id: leased.id,
        follow_ups: vec![],
        epoch: Some(leased.epoch),
    };
    q.commit_written(run, &[], vec![written], OutputCursor { bytes, records })
}

fn lease_lost(err: &QueueError) -> bool {
    matches!(err, QueueError::LeaseLost { .. })
}

#[test]
fn every_durable_round_ends_with_a_sync_of_the_data_file() {
    for durability in [Durability::GroupCommit, Durability::FlushPerCall] {
        let dir = tempfile::tempdir().unwrap();
        let options = QueueOptions {
            durability,
            ..Default::default()
        };
        let (q, _) = Queue::open_with(dir.path().join("state"), options).unwrap();
        let run = q.create_run(new_run("j", "a"), vec![item("x")]).unwrap();
        let after_create = q.data_syncs();
        assert!(
            after_create >= 1,
            "{durability:?}: create_run was not synced"
        );
        let x = q.lease_next("a", at(0), at(9)).unwrap().unwrap();
        if durability == Durability::GroupCommit {
            assert_eq!(q.data_syncs(), after_create, "a lease is not durable");
        }
        commit_leased(&q, &run, &x, 10, 1).unwrap();
        assert!(
            q.data_syncs() > after_create,
            "{durability:?}: the commit returned without syncing the data file"
        );
    }
}

#[test]
fn a_reclaimed_lease_cannot_be_released_staged_killed_or_committed_late() {
    let dir = tempfile::tempdir().unwrap();
    let q = open(dir.path());
    let run = q.create_run(new_run("j", "a"), vec![item("x")]).unwrap();
    let late = q.lease_next("a", at(0), at(5)).unwrap().unwrap();
    assert_eq!(q.reclaim_expired_leases(at(5)).unwrap(), 1);
    let current = q.lease_next("a", at(6), at(100)).unwrap().unwrap();
    assert_eq!(current.id, late.id);
    assert!(current.epoch > late.epoch);

    let snooze = Release::Snooze {
        until: at(7),
        polls: 1,
        note: "late".into(),
    };
    assert!(lease_lost(&q.release(late.lease(), snooze).unwrap_err()));
    assert!(lease_lost(
        &q.stage(late.lease(), &[record(1)], vec![]).unwrap_err()
    ));
    assert!(lease_lost(&q.kill(late.lease(), "late").unwrap_err()));
    let written = |epoch| WrittenItem {
        id: late.id,
        follow_ups: vec![item("follow")],
        epoch: Some(epoch),
    };
    let cursor = OutputCursor {
        bytes: 5,
        records: 1,
    };
    let err = q
        .commit_written(&run, &[], vec![written(late.epoch)], cursor)
        .unwrap_err();
    assert!(lease_lost(&err), "{err}");
    assert_eq!(
        run_of(&q, &run).cursor,
        OutputCursor::default(),
        "nothing applied"
    );
    assert_eq!(run_of(&q, &run).counts.leased, 1);

    q.commit_written(&run, &[], vec![written(current.epoch)], cursor)
        .unwrap();
    assert_eq!(q.item(late.id).unwrap().unwrap().state, ItemState::Done);
}

#[test]
fn an_abandoned_lease_waits_again_at_once_and_its_late_result_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let q = open(dir.path());
    q.create_run(new_run("j", "a"), vec![item("x")]).unwrap();
    let leased = q.lease_next("a", at(0), at(1_000_000)).unwrap().unwrap();
    q.abandon(leased.lease(), "executor panicked").unwrap();
    let info = q.item(leased.id).unwrap().unwrap();
    // Created without a time, it waits as it did before the lease: due at once.
    let created = ItemState::Ready {
        not_before: dredge_core::UnixMillis(0),
    };
    assert_eq!(info.state, created);
    assert_eq!(info.last_error.as_deref(), Some("executor panicked"));
    assert_eq!(info.attempts, 0);
    assert!(lease_lost(
        &q.stage(leased.lease(), &[record(1)], vec![]).unwrap_err()
    ));
    assert_eq!(lease_label(&q, "a", at(0)).as_deref(), Some("x"));
}

#[test]
fn a_commit_may_not_move_the_output_cursor_back() {
    let dir = tempfile::tempdir().unwrap();
    let q = open(dir.path());
    let run = q
        .create_run(new_run("j", "a"), vec![item("x"), item("y")])
        .unwrap();
    let x = q.lease_next("a", at(0), at(9)).unwrap().unwrap();
    let y = q.lease_next("a", at(0), at(9)).unwrap().unwrap();
    commit_leased(&q, &run, &x, 100, 2).unwrap();
    let err = commit_leased(&q, &run, &y, 40, 1).unwrap_err();
    assert!(matches!(err, QueueError::CursorBackwards { .. }), "{err}");
    assert_eq!(run_of(&q, &run).cursor.bytes, 100);
    assert_eq!(run_of(&q, &run).counts.leased, 1, "y is still leased");
    commit_leased(&q, &run, &y, 150, 3).unwrap();
}

#[test]
fn a_run_and_its_schedule_state_are_created_together_across_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (q, _) = Queue::open(&state).unwrap();
    let schedule = ScheduleState {
        last_fire: Some(at(1)),
        content_hash: Some(42),
        last_run: None,
    };
    let run = q
        .create_run_with(new_run("j", "a"), vec![item("x")], Some(schedule))
        .unwrap();
    let after = crash_copy(&state, &dir.path().join("copy"));
    let stored = after.schedule_state("j").unwrap().expect("schedule state");
    assert_eq!(stored.last_run.as_ref(), Some(&run));
    assert_eq!(stored.content_hash, Some(42));
    assert_eq!(stored.last_fire, Some(at(1)));
    assert_eq!(after.runs(Some("j")).unwrap().len(), 1);
    drop(q);
}

#[test]
fn reopen_keeps_held_leases_with_their_epochs_and_reverts_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let q = open(dir.path());
    let run = q
        .create_run(new_run("j", "a"), vec![item("held"), item("lost")])
        .unwrap();
    let held = q.lease_next("a", at(0), at(9)).unwrap().unwrap();
    let lost = q.lease_next("a", at(0), at(9)).unwrap().unwrap();
    // A durable call puts both leases on disk, as a storage fault would find them.
    q.set_schedule_state("j", &ScheduleState::default())
        .unwrap();

    let recovery = q.reopen(&HashSet::from([held.id]), at(100)).unwrap();
    assert_eq!(recovery.leases_reset, 1);
    assert_eq!(
        recovery.cursors,
        vec![(run.clone(), OutputCursor::default())]
    );
    assert!(lease_lost(
        &q.stage(lost.lease(), &[record(1)], vec![]).unwrap_err()
    ));
    commit_leased(&q, &run, &held, 3, 1).unwrap();
    assert_eq!(lease_label(&q, "a", at(0)).as_deref(), Some("lost"));
    let next = q.lease_next("a", at(0), at(9)).unwrap();
    assert!(next.is_none(), "nothing else waits");
}

#[test]
fn a_kept_lease_that_never_reached_the_disk_is_taken_again_under_its_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let q = open(dir.path());
    let run = q.create_run(new_run("j", "a"), vec![item("held")]).unwrap();
    // Leases wait in the pending group: this one is not on disk when the fault hits.
    let held = q.lease_next("a", at(0), at(9)).unwrap().unwrap();
    let recovery = q.reopen(&HashSet::from([held.id]), at(100)).unwrap();
    assert_eq!(recovery.leases_reset, 0);
    assert_eq!(
        q.item(held.id).unwrap().unwrap().state,
        ItemState::Leased { until: at(100) }
    );
    assert!(q.lease_next("a", at(0), at(9)).unwrap().is_none());
    commit_leased(&q, &run, &held, 3, 1).unwrap();
}

#[test]
fn a_cancelled_run_is_reported_for_its_file_until_settled() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (q, _) = Queue::open(&state).unwrap();
    let run = q.create_run(new_run("j", "a"), vec![item("x")]).unwrap();
    q.cancel_run(&run, at(1)).unwrap();
    let recovery = q.reopen(&HashSet::new(), at(100)).unwrap();
    assert_eq!(
        recovery.cancelled,
        vec![(run.clone(), OutputCursor::default())]
    );
    assert!(recovery.cursors.is_empty());
    q.settle_cancelled(&run).unwrap();
    let after = crash_copy(&state, &dir.path().join("copy"));
    drop(q);
    let recovery = after.reopen(&HashSet::new(), at(100)).unwrap();
    assert!(recovery.cancelled.is_empty());
}

#[test]
fn a_run_ended_by_dredge_keeps_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let q = open(dir.path());
    let run = q.create_run(new_run("j", "a"), vec![item("x")]).unwrap();
    q.end_run(&run, RunState::Failed, at(1), Some("output file removed"))
        .unwrap();
    let info = run_of(&q, &run);
    assert_eq!(info.state, RunState::Failed);
    assert_eq!(info.reason.as_deref(), Some("output file removed"));
}

#[test]
fn listing_runs_and_dead_items_while_checkpointing_never_closes_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let options = QueueOptions {
        lock_wait: Duration::from_millis(300),
        ..Default::default()
    };
    let (q, _) = Queue::open_with(dir.path().join("state"), options).unwrap();
    for n in 0..600 {
        let run = q
            .create_run(new_run(&format!("job-{}", n % 7), "a"), vec![item("x")])
            .unwrap();
        if n % 3 == 0 {
            let id = q.lease_next("a", at(0), at(9)).unwrap().unwrap();
            q.kill(id.lease(), "dead").unwrap();
        }
        let _ = run;
    }
    let q = Arc::new(q);
    let reader = {
        let q = q.clone();
        std::thread::spawn(move || {
            for _ in 0..40 {
                assert_eq!(q.runs(None).expect("runs while checkpointing").len(), 600);
                assert_eq!(
                    q.dead_items(None).expect("dead while checkpointing").len(),
                    200
                );
            }
        })
    };
    for _ in 0..20 {
        q.checkpoint()
            .expect("checkpoint while a reader lists runs");
    }
    reader.join().expect("reader");
    q.create_run(new_run("after", "a"), vec![item("y")])
        .expect("the queue stays usable");
}
