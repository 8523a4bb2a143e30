//! Edge cases of each queue call, written against the seam (`QueueBackend`): each test
//! body takes a `TestQueue` and `on_every_backend!` (at the end) runs it on every
//! backend. Whatever is checked to be durable is checked on what a crash leaves
//! (`TestQueue::crash`; for sled, a copy of its files taken while it is still open, as
//! SIGKILL would leave them: closing it cleanly would flush it and hide a durable call
//! that never reached the disk).
//!
//! Three tests are sled's own and take a sled `Queue`: the directory lock, the format
//! version byte of stored values, and the checkpoint (which reopens sled's files).

mod support;

use dredge_core::{ItemStart, NewItem, UnixMillis};
use dredge_queue::{
    ItemCounts, ItemState, OutputCursor, QueueBackend, QueueError, Release, RunState,
    ScheduleState, WrittenItem,
};
use support::*;

fn lease_order_is_not_before_then_id(q: TestQueue) {
    q.create_run(
        new_run("j", "acct"),
        vec![
            ready_at("late", 50),
            ready_at("a", 10),
            ready_at("b", 10),
            ready_at("early", 5),
        ],
    )
    .unwrap();
    let order: Vec<_> = std::iter::from_fn(|| lease_label(&q, "acct", at(100))).collect();
    assert_eq!(order, ["early", "a", "b", "late"]);
}

fn no_item_is_leased_before_its_not_before(q: TestQueue) {
    q.create_run(new_run("j", "acct"), vec![ready_at("x", 10)])
        .unwrap();
    assert_eq!(lease_label(&q, "acct", at(9)), None);
    assert_eq!(q.next_ready_at("acct").unwrap(), Some(at(10)));
    assert_eq!(lease_label(&q, "acct", at(10)).as_deref(), Some("x"));
    assert_eq!(q.next_ready_at("acct").unwrap(), None);
}

fn lanes_are_leased_independently(q: TestQueue) {
    q.create_run(new_run("j", "a"), vec![item("in-a")]).unwrap();
    q.create_run(new_run("k", "ab"), vec![item("in-ab")])
        .unwrap();
    assert_eq!(lease_label(&q, "ab", at(0)).as_deref(), Some("in-ab"));
    assert_eq!(lease_label(&q, "ab", at(0)), None);
    assert_eq!(lease_label(&q, "a", at(0)).as_deref(), Some("in-a"));
}

fn leased_item_carries_run_facts(q: TestQueue) {
    let mut run = new_run("j", "acct");
    run.deadline = Some(at(500));
    let id = q
        .create_run(run, vec![item("x").with_scope("d.com")])
        .unwrap();
    let leased = q.lease_next("acct", at(0), at(30)).unwrap().unwrap();
    assert_eq!(leased.run, id);
    assert_eq!(leased.job, "j");
    assert_eq!(leased.scope.as_deref(), Some("d.com"));
    assert_eq!(leased.payload, b"x");
    assert_eq!(
        (leased.run_started, leased.deadline, leased.max_attempts),
        (T0, Some(at(500)), 3)
    );
    assert_eq!(
        q.item(leased.id).unwrap().unwrap().state,
        ItemState::Leased { until: at(30) }
    );
}

fn a_payload_outlives_its_items_state_changes_and_a_crash(q: TestQueue) {
    let payload = b"{\"queries\":[\"https://a.com/1\"]}".to_vec();
    let run = {
        let run = q
            .create_run(
                new_run("j", "acct"),
                vec![NewItem::ready("x", payload.clone())],
            )
            .unwrap();
        // Leased while the creating group may still be pending, then snoozed: two
        // rewrites of the item's record.
        let leased = q.lease_next("acct", at(0), at(30)).unwrap().unwrap();
        assert_eq!(leased.payload, payload);
        let snooze = Release::Snooze {
            until: at(20),
            polls: 1,
            note: "202".into(),
        };
        q.release(leased.id.into(), snooze).unwrap();
        run
    };
    let (q, _) = q.crash();
    let leased = q.lease_next("acct", at(20), at(50)).unwrap().unwrap();
    assert_eq!((leased.run, leased.polls), (run.clone(), 1));
    assert_eq!(leased.payload, payload);
    let written = vec![WrittenItem {
        id: leased.id,
        follow_ups: vec![],
        epoch: None,
    }];
    q.commit_written(&run, &[], written, OutputCursor::default())
        .unwrap();
    let done = q.item(leased.id).unwrap().unwrap();
    assert_eq!((done.state, done.payload), (ItemState::Done, payload));
}

fn run_ids_sort_by_start_time_and_carry_a_sequence(q: TestQueue) {
    let mut run = new_run("j", "a");
    run.started_at = UnixMillis(1_795_000_000_000); // 2026-11-18T11:06:40Z
    let first = q.create_run(run.clone(), vec![]).unwrap();
    let second = q.create_run(run, vec![]).unwrap();
    assert_eq!(first.as_str(), "20261118T110640Z-0001");
    assert_eq!(second.as_str(), "20261118T110640Z-0002");
}

fn snooze_does_not_count_an_attempt_and_retry_does(q: TestQueue) {
    let run = q.create_run(new_run("j", "a"), vec![item("x")]).unwrap();
    let l = q.lease_next("a", at(0), at(9)).unwrap().unwrap();
    let snooze = Release::Snooze {
        until: at(20),
        polls: 1,
        note: "202".into(),
    };
    q.release(l.id.into(), snooze).unwrap();
    assert_eq!(
        run_of(&q, &run).counts,
        ItemCounts {
            snoozed: 1,
            ..Default::default()
        }
    );
    assert_eq!(lease_label(&q, "a", at(19)), None);
    let l = q.lease_next("a", at(20), at(29)).unwrap().unwrap();
    assert_eq!((l.attempts, l.polls), (0, 1));
    let retry = Release::Retry {
        not_before: at(40),
        attempts: 1,
        error: "503".into(),
    };
    q.release(l.id.into(), retry).unwrap();
    assert_eq!(
        run_of(&q, &run).counts,
        ItemCounts {
            ready: 1,
            ..Default::default()
        }
    );
    let info = q.item(l.id).unwrap().unwrap();
    assert_eq!(
        (info.attempts, info.last_error.as_deref()),
        (1, Some("503"))
    );
}

fn release_of_an_item_not_leased_is_refused(q: TestQueue) {
    q.create_run(new_run("j", "a"), vec![item("x")]).unwrap();
    let retry = Release::Retry {
        not_before: at(1),
        attempts: 1,
        error: "e".into(),
    };
    let err = q
        .release(dredge_queue::ItemId(1).into(), retry)
        .unwrap_err();
    assert_not_leased(&err);
}

fn defer_scope_snoozes_only_that_scope_and_only_earlier_items(q: TestQueue) {
    q.create_run(
        new_run("j", "a"),
        vec![
            item("d1").with_scope("d.com"),
            ready_at("d-late", 500).with_scope("d.com"),
            item("other").with_scope("e.com"),
        ],
    )
    .unwrap();
    assert_eq!(q.defer_scope("a", "d.com", at(100)).unwrap(), 1);
    assert_eq!(lease_label(&q, "a", at(50)).as_deref(), Some("other"));
    assert_eq!(lease_label(&q, "a", at(50)), None);
    assert_eq!(lease_label(&q, "a", at(100)).as_deref(), Some("d1"));
    assert_eq!(lease_label(&q, "a", at(499)), None);
    assert_eq!(q.defer_scope("other-lane", "d.com", at(1000)).unwrap(), 0);
}

fn stage_creates_follow_ups_deduplicated_per_run(q: TestQueue) {
    let first = item("seed").with_dedupe_key("u1");
    let run = q.create_run(new_run("j", "a"), vec![first]).unwrap();
    let other = q.create_run(new_run("j", "a"), vec![]).unwrap();
    let l = q.lease_next("a", at(0), at(9)).unwrap().unwrap();
    let follow_ups = vec![
        item("dup-of-seed").with_dedupe_key("u1"),
        item("new").with_dedupe_key("u2"),
        item("dup-in-batch").with_dedupe_key("u2"),
        item("dead").with_start(ItemStart::Dead {
            reason: "faulted".into(),
        }),
    ];
    let result = q.stage(l.id.into(), &[record(1)], follow_ups).unwrap();
    assert_eq!((result.created.len(), result.deduplicated), (2, 2));
    let counts = run_of(&q, &run).counts;
    assert_eq!(
        counts,
        ItemCounts {
            ready: 1,
            staged: 1,
            dead: 1,
            ..Default::default()
        }
    );
    assert_eq!(run_of(&q, &other).counts, ItemCounts::default());
    let dead = q.dead_items(Some("j")).unwrap();
    assert_eq!((dead.len(), dead[0].reason.as_str()), (1, "faulted"));
}

fn commit_moves_staged_to_done_drops_records_and_sets_cursor(q: TestQueue) {
    let run = q.create_run(new_run("j", "a"), vec![item("x")]).unwrap();
    let l = q.lease_next("a", at(0), at(9)).unwrap().unwrap();
    q.stage(l.id.into(), &[record(1), record(2)], vec![])
        .unwrap();
    assert_eq!(q.staged_records(l.id).unwrap(), vec![record(1), record(2)]);
    assert_eq!(q.staged_items().unwrap(), vec![(run.clone(), l.id)]);
    let cursor = OutputCursor {
        bytes: 120,
        records: 2,
    };
    q.commit(&run, &[l.id], cursor).unwrap();
    let info = run_of(&q, &run);
    assert_eq!((info.cursor, info.counts.done), (cursor, 1));
    assert!(q.staged_items().unwrap().is_empty());
    assert!(matches!(
        q.staged_records(l.id),
        Err(QueueError::WrongState { .. })
    ));
    let again = q.commit(&run, &[l.id], cursor).unwrap_err();
    assert!(
        matches!(
            again,
            QueueError::WrongState {
                expected: "staged",
                ..
            }
        ),
        "{again}"
    );
}

fn commit_written_finishes_leased_items_with_their_follow_ups_beside_staged_ones(q: TestQueue) {
    let cursor = OutputCursor {
        bytes: 300,
        records: 3,
    };
    let (run, written) = {
        let seed = item("seed").with_dedupe_key("u1");
        let run = q
            .create_run(new_run("j", "a"), vec![seed, item("s"), item("w")])
            .unwrap();
        let seed = q.lease_next("a", at(0), at(9)).unwrap().unwrap();
        let staged = q.lease_next("a", at(0), at(9)).unwrap().unwrap();
        let written = q.lease_next("a", at(0), at(9)).unwrap().unwrap();
        q.stage(staged.id.into(), &[record(1)], vec![]).unwrap();
        let follow_ups = vec![
            item("dup-of-seed").with_dedupe_key("u1"),
            item("next").with_dedupe_key("u2"),
        ];
        let results = q
            .commit_written(
                &run,
                &[staged.id],
                vec![
                    WrittenItem {
                        id: written.id,
                        follow_ups,
                        epoch: None,
                    },
                    WrittenItem {
                        id: seed.id,
                        follow_ups: vec![],
                        epoch: None,
                    },
                ],
                cursor,
            )
            .unwrap();
        assert_eq!(results.len(), 2);
        assert_eq!((results[0].created.len(), results[0].deduplicated), (1, 1));
        assert!(results[1].created.is_empty());
        (run, written.id)
    };
    // Durable: what a crash leaves sees the same.
    let (q, _) = q.crash();
    let info = run_of(&q, &run);
    assert_eq!(info.cursor, cursor);
    assert_eq!(
        info.counts,
        ItemCounts {
            ready: 1,
            done: 3,
            ..Default::default()
        }
    );
    assert_eq!(q.item(written).unwrap().unwrap().state, ItemState::Done);
    assert!(q.staged_items().unwrap().is_empty());
    assert_eq!(lease_label(&q, "a", at(10)).as_deref(), Some("next"));
}

fn commit_written_of_an_item_not_leased_changes_nothing(q: TestQueue) {
    let run = q
        .create_run(new_run("j", "a"), vec![item("s"), item("never-leased")])
        .unwrap();
    let staged = q.lease_next("a", at(0), at(9)).unwrap().unwrap();
    q.stage(staged.id.into(), &[record(1)], vec![]).unwrap();
    let ready = q.item(staged.id).unwrap().unwrap();
    let before = run_of(&q, &run);
    let not_leased = dredge_queue::ItemId(staged.id.0 + 1);
    let err = q
        .commit_written(
            &run,
            &[staged.id],
            vec![WrittenItem {
                id: not_leased,
                follow_ups: vec![item("would-be-created")],
                epoch: None,
            }],
            OutputCursor {
                bytes: 9,
                records: 2,
            },
        )
        .unwrap_err();
    assert_not_leased(&err);
    let after = run_of(&q, &run);
    assert_eq!((after.cursor, after.counts), (before.cursor, before.counts));
    assert_eq!(q.item(staged.id).unwrap().unwrap().state, ready.state);
    assert_eq!(q.staged_records(staged.id).unwrap(), vec![record(1)]);
    assert_eq!(
        lease_label(&q, "a", at(10)).as_deref(),
        Some("never-leased")
    );
}

fn commit_of_another_runs_item_changes_nothing(q: TestQueue) {
    let run = q.create_run(new_run("j", "a"), vec![item("x")]).unwrap();
    let other = q.create_run(new_run("j", "a"), vec![]).unwrap();
    let l = q.lease_next("a", at(0), at(9)).unwrap().unwrap();
    q.stage(l.id.into(), &[], vec![]).unwrap();
    let err = q
        .commit(
            &other,
            &[l.id],
            OutputCursor {
                bytes: 1,
                records: 1,
            },
        )
        .unwrap_err();
    assert!(matches!(err, QueueError::WrongRun { .. }), "{err}");
    assert_eq!(run_of(&q, &run).counts.staged, 1);
    assert_eq!(run_of(&q, &other).cursor, OutputCursor::default());
}

fn kill_then_retry_dead_requeues_with_attempts_reset_and_reopens_the_run(q: TestQueue) {
    let run = q.create_run(new_run("j", "a"), vec![item("x")]).unwrap();
    let l = q.lease_next("a", at(0), at(9)).unwrap().unwrap();
    let retry = Release::Retry {
        not_before: at(1),
        attempts: 3,
        error: "503".into(),
    };
    q.release(l.id.into(), retry).unwrap();
    let l = q.lease_next("a", at(1), at(9)).unwrap().unwrap();
    q.kill(l.id.into(), "400 bad request").unwrap();
    q.finish_run(&run, RunState::Failed, at(5)).unwrap();
    let dead = q.dead_items(None).unwrap();
    assert_eq!(
        (dead[0].reason.as_str(), dead[0].attempts),
        ("400 bad request", 3)
    );
    assert_eq!(q.retry_dead(&run).unwrap(), 1);
    let info = run_of(&q, &run);
    assert_eq!(
        (info.state, info.finished_at, info.counts.ready),
        (RunState::Running, None, 1)
    );
    let l = q.lease_next("a", at(1), at(9)).unwrap().unwrap();
    assert_eq!(l.attempts, 0);
    assert!(q.dead_items(None).unwrap().is_empty());
}

fn cancelled_run_items_are_not_leased_but_in_flight_ones_may_stage(q: TestQueue) {
    let run = q
        .create_run(new_run("j", "a"), vec![item("x"), item("y")])
        .unwrap();
    let l = q.lease_next("a", at(0), at(9)).unwrap().unwrap();
    q.cancel_run(&run, at(1)).unwrap();
    assert_eq!(lease_label(&q, "a", at(0)), None);
    q.stage(l.id.into(), &[record(1)], vec![item("follow")])
        .unwrap();
    assert_eq!(lease_label(&q, "a", at(0)), None);
    let info = run_of(&q, &run);
    assert_eq!(
        (info.state, info.counts.ready, info.counts.staged),
        (RunState::Cancelled, 2, 1)
    );
    assert!(q.unfinished_runs().unwrap().is_empty());
}

fn paused_job_is_not_leased_across_a_crash_until_resumed(q: TestQueue) {
    q.create_run(new_run("paused", "a"), vec![item("p")])
        .unwrap();
    q.create_run(new_run("other", "a"), vec![ready_at("o", 5)])
        .unwrap();
    q.pause_job("paused").unwrap();
    let (q, _) = q.crash();
    assert_eq!(q.paused_jobs().unwrap(), ["paused"]);
    assert_eq!(lease_label(&q, "a", at(10)).as_deref(), Some("o"));
    assert_eq!(lease_label(&q, "a", at(10)), None);
    q.resume_job("paused").unwrap();
    assert_eq!(lease_label(&q, "a", at(10)).as_deref(), Some("p"));
}

fn open_after_a_crash_reverts_leases_and_reports_staged_and_cursors(q: TestQueue) {
    let run = q
        .create_run(new_run("j", "a"), vec![item("x"), item("y"), item("z")])
        .unwrap();
    let x = q.lease_next("a", at(0), at(9)).unwrap().unwrap();
    let y = q.lease_next("a", at(0), at(9)).unwrap().unwrap();
    q.lease_next("a", at(0), at(9)).unwrap().unwrap();
    q.stage(x.id.into(), &[record(1)], vec![]).unwrap();
    q.commit(
        &run,
        &[x.id],
        OutputCursor {
            bytes: 10,
            records: 1,
        },
    )
    .unwrap();
    q.stage(y.id.into(), &[record(2)], vec![]).unwrap();
    let (q, recovery) = q.crash();
    // z's lease was made durable with the stage that followed it.
    assert_eq!(recovery.leases_reset, 1);
    assert_eq!(recovery.staged, vec![(run.clone(), y.id)]);
    assert_eq!(
        recovery.cursors,
        vec![(
            run.clone(),
            OutputCursor {
                bytes: 10,
                records: 1
            }
        )]
    );
    let counts = run_of(&q, &run).counts;
    assert_eq!(
        counts,
        ItemCounts {
            ready: 1,
            staged: 1,
            done: 1,
            ..Default::default()
        }
    );
    assert_eq!(lease_label(&q, "a", at(0)).as_deref(), Some("z"));
}

fn expired_leases_are_reclaimed(q: TestQueue) {
    q.create_run(new_run("j", "a"), vec![item("x"), item("y")])
        .unwrap();
    q.lease_next("a", at(0), at(10)).unwrap().unwrap();
    q.lease_next("a", at(0), at(20)).unwrap().unwrap();
    assert_eq!(q.reclaim_expired_leases(at(15)).unwrap(), 1);
    assert_eq!(lease_label(&q, "a", at(15)).as_deref(), Some("x"));
}

#[test]
fn second_open_of_the_same_directory_says_it_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let _q = open(dir.path());
    let options = dredge_queue::QueueOptions {
        lock_wait: std::time::Duration::from_millis(50),
        ..Default::default()
    };
    let err = dredge_queue::Queue::open_with(dir.path().join("state"), options)
        .err()
        .unwrap();
    assert!(matches!(err, QueueError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("locked by another dredge process"));
}

fn schedule_state_survives_a_crash(q: TestQueue) {
    assert_eq!(q.schedule_state("j").unwrap(), None);
    let state = ScheduleState {
        last_fire: Some(at(1)),
        content_hash: Some(7),
        last_run: None,
    };
    q.set_schedule_state("j", &state).unwrap();
    let (q, _) = q.crash();
    assert_eq!(q.schedule_state("j").unwrap(), Some(state));
}

/// Two daemons sharing a queue may both try a job's fire (or new content): the run is
/// created once; the second attempt is refused and creates nothing.
fn a_fire_or_content_recorded_already_starts_no_second_run(q: TestQueue) {
    let state = |fire: u64, hash: u64| {
        Some(ScheduleState {
            last_fire: Some(at(fire)),
            content_hash: Some(hash),
            last_run: None,
        })
    };
    let start = |label: &str, schedule| {
        q.create_planned_run(new_run("j", "acct"), vec![item(label)], schedule, None)
    };
    let first = start("first", state(10, 1)).unwrap();
    for (label, behind) in [("same fire", state(10, 1)), ("older fire", state(5, 1))] {
        let refused = start(label, behind);
        assert!(
            matches!(refused, Err(QueueError::AlreadyStarted { .. })),
            "{label}: {refused:?}"
        );
    }
    let stored = q.schedule_state("j").unwrap().unwrap();
    assert_eq!(stored.last_run, Some(first));
    assert_eq!(q.runs(Some("j")).unwrap().len(), 1);

    // The next fire, a new content, and a manual run each start one.
    start("next fire", state(20, 1)).unwrap();
    start("new content", state(20, 2)).unwrap();
    start("manual", None).unwrap();
    let mut leased: Vec<_> = std::iter::from_fn(|| lease_label(&q, "acct", at(100))).collect();
    leased.sort();
    assert_eq!(leased, ["first", "manual", "new content", "next fire"]);
}

fn runs_lists_by_job_and_unknown_run_is_none(q: TestQueue) {
    let a = q.create_run(new_run("a", "l"), vec![]).unwrap();
    q.create_run(new_run("b", "l"), vec![]).unwrap();
    let listed: Vec<_> = q
        .runs(Some("a"))
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, [a]);
    assert_eq!(q.runs(None).unwrap().len(), 2);
    assert_eq!(q.run(&dredge_queue::RunId("nope".into())).unwrap(), None);
}

fn runs_page_lists_newest_first_by_job_and_pages_on(q: TestQueue) {
    let mut of_a = Vec::new();
    for n in 0..600u64 {
        let job = if n % 3 == 0 { "a" } else { "b" };
        let mut run = new_run(job, "l");
        run.started_at = at(1_000 + n);
        let id = q.create_run(run, vec![]).unwrap();
        if job == "a" {
            of_a.push(id);
        }
    }
    of_a.reverse();
    let ids = |page: Vec<dredge_queue::RunInfo>| page.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let first = ids(q.runs_page(Some("a"), None, 150).unwrap());
    assert_eq!(first, of_a[..150]);
    let second = ids(q.runs_page(Some("a"), first.last(), 150).unwrap());
    assert_eq!(second, of_a[150..200]);
    assert_eq!(q.runs_page(None, None, 7).unwrap().len(), 7);
    assert!(q.runs_page(Some("nobody"), None, 10).unwrap().is_empty());
}

#[test]
fn open_refuses_a_value_with_an_unknown_format_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state");
    let q = open(dir.path());
    q.create_run(new_run("j", "a"), vec![item("x")]).unwrap();
    drop(q);
    {
        let db = sled::open(&path).unwrap();
        let tree = db.open_tree("queue").unwrap();
        let key = b"Mnext_item";
        let mut value = tree.get(key).unwrap().expect("counter stored").to_vec();
        assert_eq!(value[0], dredge_queue::FORMAT_VERSION);
        value[0] = 9;
        tree.insert(key, value).unwrap();
        db.flush().unwrap();
    }
    let err = dredge_queue::Queue::open(&path)
        .err()
        .expect("open must fail");
    assert!(
        matches!(err, QueueError::UnknownVersion { found: 9, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("format version 9"), "{err}");
    assert!(err.to_string().contains("a newer dredge wrote"), "{err}");
}

#[test]
fn checkpoint_keeps_leases_and_data_and_the_queue_stays_usable() {
    let dir = tempfile::tempdir().unwrap();
    let q = open(dir.path());
    let run = q
        .create_run(new_run("j", "a"), vec![item("x"), item("y")])
        .unwrap();
    let x = q.lease_next("a", at(0), at(9)).unwrap().unwrap();
    assert_eq!(q.item_writes_since_checkpoint(), 3);
    q.checkpoint().unwrap();
    assert_eq!(q.item_writes_since_checkpoint(), 0);
    assert_eq!(
        q.item(x.id).unwrap().unwrap().state,
        ItemState::Leased { until: at(9) }
    );
    q.stage(x.id.into(), &[record(1)], vec![]).unwrap();
    assert_eq!(lease_label(&q, "a", at(0)).as_deref(), Some("y"));
    assert_eq!(
        run_of(&q, &run).counts,
        ItemCounts {
            leased: 1,
            staged: 1,
            ..Default::default()
        }
    );
}

fn cap_bounds_the_distinct_keys_of_a_run_across_a_crash(q: TestQueue) {
    let page = |k: &str| item(k).with_dedupe_key(k).with_cap(3);
    let run = {
        let run = q
            .create_run(new_run("crawl", "a"), vec![page("p1")])
            .unwrap();
        let l = q.lease_next("a", at(0), at(9)).unwrap().unwrap();
        let r = q
            .stage(l.id.into(), &[], vec![page("p1"), page("p2")])
            .unwrap();
        assert_eq!((r.created.len(), r.deduplicated), (1, 1));
        run
    };
    // After a crash the count is still there: only one more page fits.
    let (q, _) = q.crash();
    let l = q.lease_next("a", at(0), at(9)).unwrap().unwrap();
    let r = q
        .stage(l.id.into(), &[], vec![page("p3"), page("p4"), page("p5")])
        .unwrap();
    assert_eq!(r.created.len(), 1, "cap 3: p1, p2, p3 and no more");
    let labels: Vec<String> = std::iter::from_fn(|| lease_label(&q, "a", at(10))).collect();
    assert_eq!(labels, vec!["p3"]);
    let _ = run;
}

fn wake_by_key_makes_a_waiting_item_due_now_and_reports_unknown_keys(q: TestQueue) {
    let later = ready_at("job-1", 60_000).with_dedupe_key("oxylabs-job:1");
    let run = q.create_run(new_run("oxy", "a"), vec![later]).unwrap();
    assert_eq!(lease_label(&q, "a", at(10)), None, "not due yet");
    let woken = q.wake_by_key(&run, "oxylabs-job:1", at(10)).unwrap();
    assert!(woken.is_some());
    assert_eq!(
        lease_label(&q, "a", at(10)).as_deref(),
        Some("job-1"),
        "due at once"
    );
    assert_eq!(q.wake_by_key(&run, "oxylabs-job:2", at(10)).unwrap(), None);
    // A leased item is known but left alone.
    assert!(
        q.wake_by_key(&run, "oxylabs-job:1", at(10))
            .unwrap()
            .is_some()
    );
}

/// `err` says the item was expected to be leased.
fn assert_not_leased(err: &QueueError) {
    assert!(
        matches!(
            err,
            QueueError::WrongState {
                expected: "leased",
                ..
            }
        ),
        "{err}"
    );
}

/// Each call that returns "durable" survives a crash right after it (the model test
/// covers these in random sequences; here each is checked on its own).
fn every_durable_call_is_on_disk_when_it_returns(q: TestQueue) {
    let run = q
        .create_run(
            new_run("j", "a"),
            vec![
                item("retried"),
                item("killed"),
                item("deferred").with_scope("d.com"),
                ready_at("woken", 60_000).with_dedupe_key("k"),
            ],
        )
        .unwrap();
    let q = q.crash().0;
    assert_eq!(run_of(&q, &run).counts.ready, 4, "create_run");

    let l = q.lease_next("a", at(0), at(9)).unwrap().unwrap();
    let retry = Release::Retry {
        not_before: at(7),
        attempts: 1,
        error: "503".into(),
    };
    q.release(l.id.into(), retry).unwrap();
    let q = q.crash().0;
    let info = q.item(l.id).unwrap().unwrap();
    assert_eq!(
        (info.state, info.attempts),
        (ItemState::Ready { not_before: at(7) }, 1),
        "release"
    );

    let killed = q.lease_next("a", at(0), at(9)).unwrap().unwrap();
    q.kill(killed.id.into(), "400").unwrap();
    let q = q.crash().0;
    assert_eq!(q.dead_items(None).unwrap().len(), 1, "kill");

    assert_eq!(q.defer_scope("a", "d.com", at(500)).unwrap(), 1);
    let q = q.crash().0;
    assert_eq!(run_of(&q, &run).counts.snoozed, 1, "defer_scope");

    assert!(q.wake_by_key(&run, "k", at(3)).unwrap().is_some());
    let q = q.crash().0;
    assert_eq!(q.next_ready_at("a").unwrap(), Some(at(3)), "wake_by_key");

    q.finish_run(&run, RunState::Failed, at(8)).unwrap();
    let q = q.crash().0;
    assert_eq!(run_of(&q, &run).state, RunState::Failed, "finish_run");

    assert_eq!(q.retry_dead(&run).unwrap(), 1);
    let q = q.crash().0;
    let info = run_of(&q, &run);
    assert_eq!(
        (info.state, info.counts.dead),
        (RunState::Running, 0),
        "retry_dead"
    );

    q.pause_job("j").unwrap();
    q.resume_job("j").unwrap();
    q.cancel_run(&run, at(9)).unwrap();
    let q = q.crash().0;
    assert!(q.paused_jobs().unwrap().is_empty(), "resume_job");
    assert_eq!(run_of(&q, &run).state, RunState::Cancelled, "cancel_run");
}

on_every_backend!(
    lease_order_is_not_before_then_id,
    no_item_is_leased_before_its_not_before,
    lanes_are_leased_independently,
    leased_item_carries_run_facts,
    a_payload_outlives_its_items_state_changes_and_a_crash,
    run_ids_sort_by_start_time_and_carry_a_sequence,
    snooze_does_not_count_an_attempt_and_retry_does,
    release_of_an_item_not_leased_is_refused,
    defer_scope_snoozes_only_that_scope_and_only_earlier_items,
    stage_creates_follow_ups_deduplicated_per_run,
    commit_moves_staged_to_done_drops_records_and_sets_cursor,
    commit_written_finishes_leased_items_with_their_follow_ups_beside_staged_ones,
    commit_written_of_an_item_not_leased_changes_nothing,
    commit_of_another_runs_item_changes_nothing,
    kill_then_retry_dead_requeues_with_attempts_reset_and_reopens_the_run,
    cancelled_run_items_are_not_leased_but_in_flight_ones_may_stage,
    paused_job_is_not_leased_across_a_crash_until_resumed,
    open_after_a_crash_reverts_leases_and_reports_staged_and_cursors,
    expired_leases_are_reclaimed,
    schedule_state_survives_a_crash,
    a_fire_or_content_recorded_already_starts_no_second_run,
    runs_lists_by_job_and_unknown_run_is_none,
    runs_page_lists_newest_first_by_job_and_pages_on,
    cap_bounds_the_distinct_keys_of_a_run_across_a_crash,
    wake_by_key_makes_a_waiting_item_due_now_and_reports_unknown_keys,
    every_durable_call_is_on_disk_when_it_returns,
);
