//! History: a job's runs paged through the job index, finished runs pruned in small
//! batches down to the last key, runs that must stay refused. Written against the seam
//! (`QueueBackend`); `on_every_backend!` (at the end) runs each test on every backend.

mod support;

use dredge_core::{ItemStart, NewItem};
use dredge_queue::{OutputCursor, Pruned, RunState, WrittenItem};
use support::*;

/// Prunes `run` with a budget of `max` keys per call until it is gone; returns calls.
fn prune_all(q: &impl AsBackend, run: &dredge_queue::RunId, max: usize) -> usize {
    for calls in 1..10_000 {
        match q.backend().prune_run(run, max).unwrap() {
            Pruned::Gone => return calls,
            Pruned::More => {}
            Pruned::Kept(why) => panic!("kept: {why}"),
        }
    }
    panic!("pruning never ended")
}

fn a_pruned_run_leaves_no_key_behind_and_other_runs_keep_theirs(q: TestQueue) {
    let kept = q
        .create_run(new_run("keep", "other"), vec![item("k1"), item("k2")])
        .unwrap();
    let before = q.stored_entries();
    let mut items: Vec<NewItem> = (0..25)
        .map(|i| {
            item(&format!("i{i}"))
                .with_dedupe_key(format!("d{i}"))
                .with_scope("s.com")
        })
        .collect();
    items.push(item("born dead").with_start(ItemStart::Dead {
        reason: "no".into(),
    }));
    let run = q.create_run(new_run("old", "l"), items).unwrap();
    // Done, dead and still-waiting items, as a cancelled run leaves them.
    for n in 0..10 {
        let leased = q.lease_next("l", at(10), at(1_000)).unwrap().unwrap();
        if n % 2 == 0 {
            let written = WrittenItem {
                id: leased.id,
                follow_ups: vec![],
                epoch: None,
            };
            q.commit_written(&run, &[], vec![written], OutputCursor::default())
                .unwrap();
        } else {
            q.kill(leased.lease(), "gone").unwrap();
        }
    }
    q.cancel_run(&run, at(20)).unwrap();
    q.settle_cancelled(&run).unwrap();
    assert!(
        prune_all(&q, &run, 7) > 3,
        "small budgets take several batches"
    );
    assert_eq!(
        q.stored_entries(),
        before,
        "every key of the pruned run is gone"
    );
    assert_eq!(q.run(&run).unwrap(), None);
    assert!(q.job_run_ids("old").unwrap().is_empty());
    assert!(q.dead_items(Some("old")).unwrap().is_empty());
    assert_eq!(run_of(&q, &kept).counts.ready, 2);
    assert_eq!(lease_label(&q, "other", at(10)).as_deref(), Some("k1"));
}

fn running_unsettled_and_in_flight_runs_are_kept(q: TestQueue) {
    let running = q.create_run(new_run("a", "l"), vec![item("x")]).unwrap();
    assert!(matches!(
        q.prune_run(&running, 10).unwrap(),
        Pruned::Kept(_)
    ));
    let leased = q.lease_next("l", at(1), at(1_000)).unwrap().unwrap();
    q.finish_run(&running, RunState::Failed, at(2)).unwrap();
    assert!(
        matches!(q.prune_run(&running, 10).unwrap(), Pruned::Kept(_)),
        "an item is in flight"
    );
    q.kill(leased.lease(), "late").unwrap();
    assert_eq!(prune_all(&q, &running, 10), 2);
    let cancelled = q.create_run(new_run("b", "l"), vec![item("y")]).unwrap();
    q.cancel_run(&cancelled, at(3)).unwrap();
    assert!(
        matches!(q.prune_run(&cancelled, 10).unwrap(), Pruned::Kept(_)),
        "its file is not cut back yet"
    );
}

fn a_pruned_run_stays_pruned_after_a_crash(q: TestQueue) {
    let run = q
        .create_run(new_run("a", "l"), vec![item("x"), item("y")])
        .unwrap();
    q.finish_run(&run, RunState::Succeeded, at(2)).unwrap();
    prune_all(&q, &run, 1);
    let (after, _) = q.crash();
    assert_eq!(after.run(&run).unwrap(), None);
    assert!(after.runs(None).unwrap().is_empty());
}

fn jobs_with_runs_and_job_run_ids_come_from_the_job_index(q: TestQueue) {
    let mut ids = Vec::new();
    for (n, job) in ["b", "a", "b", "ab", "b"].iter().enumerate() {
        let mut run = new_run(job, "l");
        run.started_at = at(n as u64);
        ids.push(q.create_run(run, vec![]).unwrap());
    }
    assert_eq!(
        q.jobs_with_runs().unwrap(),
        ["a", "b", "ab"],
        "length-prefixed names sort by length first"
    );
    assert_eq!(
        q.job_run_ids("b").unwrap(),
        [ids[4].clone(), ids[2].clone(), ids[0].clone()]
    );
}

on_every_backend!(
    a_pruned_run_leaves_no_key_behind_and_other_runs_keep_theirs,
    running_unsettled_and_in_flight_runs_are_kept,
    a_pruned_run_stays_pruned_after_a_crash,
    jobs_with_runs_and_job_run_ids_come_from_the_job_index,
);
