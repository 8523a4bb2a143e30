//! Run writers across two nodes: one writer per run at a time, taken over when its
//! session ends, a stale writer's commit refused; written records kept, numbered in
//! the order they were written, for `dredge export` and rebuilding a file.

mod support;

use std::time::{Duration, Instant};

use dredge_core::{JsonText, Record, UnixMillis};
use dredge_queue::{Cluster, ItemId, OutputCursor, QueueBackend, QueueError, RunId};
use dredge_queue_postgres::PgQueue;
use support::{Schema, at, items, new_run};

fn record(label: &str, n: u64) -> Record {
    Record {
        source: format!("s{n}"),
        item: label.into(),
        fetched_at: UnixMillis(n),
        data: JsonText::parse(format!("{{\"n\":{n}}}")).unwrap(),
        attachment: None,
    }
}

/// Leases the next item of lane `l` and stages `n` records for it.
fn stage_next(queue: &PgQueue, n: u64) -> ItemId {
    let leased = queue.lease_next("l", at(10), at(600_000)).unwrap().unwrap();
    let records: Vec<_> = (0..n).map(|i| record(&leased.label, i)).collect();
    queue.stage(leased.lease(), &records, vec![]).unwrap();
    leased.id
}

fn cluster(queue: &PgQueue) -> &dyn Cluster {
    queue.cluster().expect("PostgreSQL is a cluster backend")
}

/// Polls `check` until it holds (a session's end reaches the server asynchronously).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn cursor(records: u64) -> OutputCursor {
    OutputCursor {
        bytes: records * 10,
        records,
    }
}

#[test]
fn one_node_writes_a_run_and_the_other_takes_over_when_its_session_ends() {
    let schema = Schema::new();
    let (a, _) = schema.open("a");
    let (b, _) = schema.open("b");
    let run = a.create_run(new_run("j", "l"), items(2)).unwrap();
    assert_eq!(cluster(&a).take_run_writer(&run).unwrap(), Some(1));
    assert_eq!(
        cluster(&a).take_run_writer(&run).unwrap(),
        Some(1),
        "a holds it still"
    );
    assert_eq!(
        cluster(&b).take_run_writer(&run).unwrap(),
        None,
        "a holds it"
    );
    assert_eq!(
        cluster(&b).run_writers().unwrap(),
        vec![(run.clone(), "a".to_string())]
    );
    drop(a);
    let mut epoch = None;
    eventually("b takes the run over once a's session ended", || {
        epoch = cluster(&b).take_run_writer(&run).unwrap();
        epoch.is_some()
    });
    assert_eq!(epoch, Some(2), "each take-over is a new epoch");
    assert!(cluster(&b).holds_run_writer(&run).unwrap());
    cluster(&b).release_run_writer(&run).unwrap();
    assert!(!cluster(&b).holds_run_writer(&run).unwrap());
    assert!(cluster(&b).run_writers().unwrap().is_empty());
}

#[test]
fn a_writer_whose_session_was_cut_is_refused_after_another_took_the_run() {
    let schema = Schema::new();
    let (a, _) = schema.open("a");
    let (b, _) = schema.open("b");
    let run = a.create_run(new_run("j", "l"), items(1)).unwrap();
    let item = stage_next(&a, 2);
    assert!(cluster(&a).take_run_writer(&run).unwrap().is_some());
    schema.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'dredge node=a writer'",
    );
    eventually("b takes the run a lost", || {
        cluster(&b).take_run_writer(&run).unwrap().is_some()
    });
    let refused = a.commit(&run, &[item], cursor(2)).unwrap_err();
    assert!(
        matches!(&refused, QueueError::NotRunWriter { run: r } if *r == run),
        "{refused}"
    );
    eventually("a sees its session gone", || {
        !cluster(&a).holds_run_writer(&run).unwrap()
    });
    b.commit(&run, &[item], cursor(2))
        .expect("the new writer commits");
    assert_eq!(a.run(&run).unwrap().unwrap().counts.done, 1);
}

#[test]
fn a_run_nobody_took_commits_as_before_and_once_taken_only_its_writer_does() {
    let schema = Schema::new();
    let (a, _) = schema.open("a");
    let (b, _) = schema.open("b");
    let run = a.create_run(new_run("j", "l"), items(2)).unwrap();
    let first = stage_next(&a, 1);
    a.commit(&run, &[first], cursor(1))
        .expect("nobody took the run");
    let second = stage_next(&b, 1);
    assert!(cluster(&a).take_run_writer(&run).unwrap().is_some());
    let refused = b.commit(&run, &[second], cursor(2)).unwrap_err();
    assert!(
        matches!(refused, QueueError::NotRunWriter { .. }),
        "{refused}"
    );
    a.commit(&run, &[second], cursor(2)).unwrap();
}

#[test]
fn staged_items_come_in_staging_order_and_written_records_keep_their_numbers() {
    let schema = Schema::new();
    let (a, _) = schema.open("a");
    let (b, _) = schema.open("b");
    let run = a.create_run(new_run("j", "l"), items(4)).unwrap();
    let other = a.create_run(new_run("k", "m"), items(1)).unwrap();
    let staged = [
        stage_next(&a, 2),
        stage_next(&b, 3),
        stage_next(&a, 1),
        stage_next(&b, 2),
    ];
    let m = a.lease_next("m", at(10), at(600_000)).unwrap().unwrap();
    a.stage(m.lease(), &[record("x", 9)], vec![]).unwrap();
    assert_eq!(cluster(&b).staged_items_of(&run, 10).unwrap(), staged);
    assert_eq!(cluster(&b).staged_items_of(&run, 2).unwrap(), staged[..2]);
    assert_eq!(cluster(&a).staged_items_of(&other, 10).unwrap(), [m.id]);

    // Written in two rounds, the second in another order than staged.
    assert!(cluster(&a).take_run_writer(&run).unwrap().is_some());
    a.commit(&run, &staged[..2], cursor(5)).unwrap();
    a.commit(&run, &[staged[3], staged[2]], cursor(8)).unwrap();
    let chunks = cluster(&b).written_records(&run, 1, 100).unwrap();
    let order: Vec<(ItemId, u64, usize)> = chunks
        .iter()
        .map(|c| (c.item, c.first_seq, c.records.len()))
        .collect();
    assert_eq!(
        order,
        [
            (staged[0], 1, 2),
            (staged[1], 3, 3),
            (staged[3], 6, 2),
            (staged[2], 8, 1)
        ]
    );
    assert_eq!(chunks[1].records[2], record(&chunks[1].records[2].item, 2));
    let tail = cluster(&b).written_records(&run, 4, 1).unwrap();
    assert_eq!(
        tail[0].item, staged[3],
        "from seq 4: the next chunk starting there"
    );
    let refused = a.staged_records(staged[0]).unwrap_err();
    assert!(
        matches!(refused, QueueError::WrongState { .. }),
        "{refused}"
    );
    assert!(
        cluster(&a)
            .written_records(&other, 1, 10)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn pruning_a_finished_run_removes_its_kept_records() {
    let schema = Schema::new();
    let (a, _) = schema.open("a");
    let run: RunId = a.create_run(new_run("j", "l"), items(3)).unwrap();
    let staged: Vec<_> = (0..3).map(|_| stage_next(&a, 2)).collect();
    a.commit(&run, &staged, cursor(6)).unwrap();
    a.finish_run(&run, dredge_queue::RunState::Succeeded, at(20))
        .unwrap();
    while a.prune_run(&run, 2).unwrap() != dredge_queue::Pruned::Gone {}
    assert_eq!(a.stored_rows().unwrap(), 0);
}
