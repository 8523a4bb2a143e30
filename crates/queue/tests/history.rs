//! History: a job's runs paged through the job index, finished runs pruned in small
//! batches down to the last key, runs that must stay refused.

mod support;

use dredge_core::{ItemStart, NewItem};
use dredge_queue::{OutputCursor, Pruned, RunState, WrittenItem};
use support::*;

/// Prunes `run` with a budget of `max` keys per call until it is gone; returns calls.
fn prune_all(q: &dredge_queue::Queue, run: &dredge_queue::RunId, max: usize) -> usize {
    for calls in 1..10_000 {
        match q.prune_run(run, max).unwrap() {
            Pruned::Gone => return calls,
            Pruned::More => {}
            Pruned::Kept(why) => panic!("kept: {why}"),
        }
    }
    panic!("pruning never ended")
}

#[test]
fn a_pruned_run_leaves_no_key_behind_and_other_runs_keep_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let q = open(dir.path());
    let kept = q
        .create_run(new_run("keep", "other"), vec![item("k1"), item("k2")])
        .unwrap();
    let before = q.key_count().unwrap();
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
            q.kill(&leased, "gone").unwrap();
        }
    }
    q.cancel_run(&run, at(20)).unwrap();
    q.settle_cancelled(&run).unwrap();
    assert!(
        prune_all(&q, &run, 7) > 3,
        "small budgets take several batches"
    );
    assert_eq!(
        q.key_count().unwrap(),
        before,
        "every key of the pruned run is gone"
    );
    assert_eq!(q.run(&run).unwrap(), None);
    assert!(q.job_run_ids("old").unwrap().is_empty());
    assert!(q.dead_items(Some("old")).unwrap().is_empty());
    assert_eq!(run_of(&q, &kept).counts.ready, 2);
    assert_eq!(lease_label(&q, "other", at(10)).as_deref(), Some("k1"));
}

#[test]
fn running_unsettled_and_in_flight_runs_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let q = open(dir.path());
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
    q.kill(&leased, "late").unwrap();
    assert_eq!(prune_all(&q, &running, 10), 2);
    let cancelled = q.create_run(new_run("b", "l"), vec![item("y")]).unwrap();
    q.cancel_run(&cancelled, at(3)).unwrap();
    assert!(
        matches!(q.prune_run(&cancelled, 10).unwrap(), Pruned::Kept(_)),
        "its file is not cut back yet"
    );
}

#[test]
fn a_pruned_run_stays_pruned_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let q = open(dir.path());
    let run = q
        .create_run(new_run("a", "l"), vec![item("x"), item("y")])
        .unwrap();
    q.finish_run(&run, RunState::Succeeded, at(2)).unwrap();
    prune_all(&q, &run, 1);
    let (after, _) = reopen_after_crash(&q, &dir.path().join("crashed"));
    assert_eq!(after.run(&run).unwrap(), None);
    assert!(after.runs(None).unwrap().is_empty());
}

#[test]
fn jobs_with_runs_and_job_run_ids_come_from_the_job_index() {
    let dir = tempfile::tempdir().unwrap();
    let q = open(dir.path());
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
