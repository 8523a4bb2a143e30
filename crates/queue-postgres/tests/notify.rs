//! Wake-ups across nodes: one node's commits reach another node's listener as notices
//! (a new run, waiting items of a lane, staged items of a run), and a listener whose
//! connection was cut listens again and says that it may have missed some.

mod support;

use std::sync::mpsc;
use std::time::Duration;

use dredge_queue::{Notice, QueueBackend};
use support::{Schema, at, items, new_run};

/// Waits for `wanted` among the notices, skipping others.
fn expect(notices: &mpsc::Receiver<Notice>, wanted: &Notice) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match notices.recv_timeout(left) {
            Ok(notice) if notice == *wanted => return,
            Ok(_) => {}
            Err(_) => panic!("no {wanted:?} arrived"),
        }
    }
}

#[test]
fn another_nodes_commits_reach_a_listener_and_a_cut_listener_listens_again() {
    let schema = Schema::new();
    let (a, _) = schema.open("a");
    let (b, _) = schema.open("b");
    let (tx, notices) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    b.cluster()
        .unwrap()
        .listen(Box::new(move |n| {
            let _ = tx.lock().unwrap().send(n);
        }))
        .unwrap();
    let run = a.create_run(new_run("j", "lane-x"), items(2)).unwrap();
    expect(&notices, &Notice::Runs);
    expect(&notices, &Notice::Lane("lane-x".into()));
    let leased = a
        .lease_next("lane-x", at(10), at(600_000))
        .unwrap()
        .unwrap();
    a.stage(leased.lease(), &[], vec![]).unwrap();
    expect(&notices, &Notice::Staged(run.clone()));

    schema.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'dredge node=b listener'",
    );
    expect(&notices, &Notice::Missed);
    let again = a
        .lease_next("lane-x", at(10), at(600_000))
        .unwrap()
        .unwrap();
    let snooze = dredge_queue::Release::Snooze {
        until: at(20),
        polls: 1,
        note: "later".into(),
    };
    a.release(again.lease(), snooze).unwrap();
    expect(&notices, &Notice::Lane("lane-x".into()));
}
