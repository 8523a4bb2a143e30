//! Runs planned a chunk at a time: complete only when planning is over, exactly the
//! planned chunks after a crash, nothing planned into a run that ended. Written against
//! the seam (`QueueBackend`); `on_every_backend!` (at the end) runs each test on every
//! backend.

mod support;

use dredge_queue::{PlanCursor, RunState};
use support::*;

fn cursor(offset: u64, planned: u64) -> PlanCursor {
    PlanCursor {
        input: "copy".into(),
        offset,
        planned,
        items_done: 0,
        total: 30,
    }
}

fn labels_of_run(q: &impl AsBackend, lane: &str) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(label) = lease_label(q, lane, at(10)) {
        out.push(label);
    }
    out
}

fn a_run_with_inputs_left_to_plan_is_not_complete_even_with_no_open_item(q: TestQueue) {
    let run = q
        .create_planned_run(new_run("j", "l"), vec![], None, Some(cursor(0, 0)))
        .unwrap();
    let info = run_of(&q, &run);
    assert_eq!(info.counts.open(), 0);
    assert_eq!(info.planning, Some(cursor(0, 0)));
    assert!(!info.is_complete());
    assert!(q.plan_more(&run, vec![item("a")], None).unwrap());
    let info = run_of(&q, &run);
    assert_eq!((info.planning, info.counts.ready), (None, 1));
    assert!(q.planning_runs().unwrap().is_empty());
}

fn a_crash_between_chunks_keeps_exactly_the_chunks_planned_and_their_cursor(q: TestQueue) {
    let first = vec![item("0"), item("1")];
    let run = q
        .create_planned_run(new_run("j", "l"), first, None, Some(cursor(4, 2)))
        .unwrap();
    assert!(
        q.plan_more(&run, vec![item("2"), item("3")], Some(cursor(8, 4)))
            .unwrap()
    );
    let (after, _) = q.crash();
    assert_eq!(
        after.planning_runs().unwrap(),
        [(run.clone(), cursor(8, 4))]
    );
    assert_eq!(labels_of_run(&after, "l"), ["0", "1", "2", "3"]);
    assert!(after.plan_more(&run, vec![item("4")], None).unwrap());
    assert_eq!(run_of(&after, &run).planning, None);
}

fn ending_a_run_drops_its_cursor_and_later_chunks_change_nothing(q: TestQueue) {
    let run = q
        .create_planned_run(new_run("j", "l"), vec![item("0")], None, Some(cursor(2, 1)))
        .unwrap();
    q.cancel_run(&run, at(5)).unwrap();
    assert!(
        !q.plan_more(&run, vec![item("1")], Some(cursor(4, 2)))
            .unwrap()
    );
    let info = run_of(&q, &run);
    assert_eq!((info.planning, info.counts.ready), (None, 1));
    assert_eq!(info.state, RunState::Cancelled);
    assert!(q.planning_runs().unwrap().is_empty());
}

on_every_backend!(
    a_run_with_inputs_left_to_plan_is_not_complete_even_with_no_open_item,
    a_crash_between_chunks_keeps_exactly_the_chunks_planned_and_their_cursor,
    ending_a_run_drops_its_cursor_and_later_chunks_change_nothing,
);
