//! The cluster tables two daemons share: heartbeats (who is alive, for how long, a
//! clean leave), account stops (one node's stop read by the other, lapsing when not
//! re-asserted, withdrawn by its own node only), and one run per schedule fire when two
//! nodes start it at the same moment.

mod support;

use std::sync::{Arc, Barrier};

use dredge_queue::{AccountStopInfo, Cluster, QueueBackend, QueueError, ScheduleState};
use support::{Schema, at, items, new_run};

fn names(cluster: &dyn Cluster, now: u64) -> Vec<String> {
    let live = cluster.live_nodes(at(now)).unwrap();
    live.into_iter().map(|n| n.node).collect()
}

#[test]
fn live_nodes_are_those_whose_heartbeat_has_not_expired_and_leave_removes_one() {
    let schema = Schema::new();
    let (a, _) = schema.open("a");
    let (b, _) = schema.open("b");
    let (a, b) = (a.cluster().unwrap(), b.cluster().unwrap());
    a.heartbeat(at(1_000), at(6_000)).unwrap();
    b.heartbeat(at(1_000), at(3_000)).unwrap();
    assert_eq!(names(a, 2_000), ["a", "b"]);
    assert_eq!(names(b, 3_001), ["a"], "b's beat expired");

    // A later beat keeps the first one's start and moves the heartbeat.
    a.heartbeat(at(2_000), at(7_000)).unwrap();
    let row = &a.live_nodes(at(2_000)).unwrap()[0];
    assert_eq!(
        (row.started_at, row.heartbeat_at, row.expires_at),
        (at(1_000), at(2_000), at(7_000))
    );
    assert_eq!(row.pid, std::process::id());

    b.heartbeat(at(2_000), at(7_000)).unwrap();
    b.leave().unwrap();
    assert_eq!(names(a, 2_500), ["a"], "b left before its beat expired");
}

fn stop(kind: &str, reason: &str, since: u64, expires_at: u64) -> AccountStopInfo {
    AccountStopInfo {
        account: "acct".into(),
        node: "ignored: the row is the caller's".into(),
        kind: kind.into(),
        reason: reason.into(),
        since: at(since),
        expires_at: at(expires_at),
    }
}

#[test]
fn an_account_stop_of_one_node_is_read_by_the_other_until_withdrawn_or_lapsed() {
    let schema = Schema::new();
    let (a, _) = schema.open("a");
    let (b, _) = schema.open("b");
    let (a, b) = (a.cluster().unwrap(), b.cluster().unwrap());
    a.assert_account_stop(&stop("auth_failed", "bad key", 500, 5_000))
        .unwrap();
    let seen = b.account_stops(at(1_000)).unwrap();
    assert_eq!(seen.len(), 1);
    let met = &seen[0];
    assert_eq!(
        (met.account.as_str(), met.node.as_str(), met.kind.as_str()),
        ("acct", "a", "auth_failed")
    );
    assert_eq!((met.reason.as_str(), met.since), ("bad key", at(500)));
    assert!(b.account_stops(at(5_001)).unwrap().is_empty(), "lapsed");

    // Re-asserted, it lives on; only its own node withdraws it.
    a.assert_account_stop(&stop("account_suspended", "limit", 500, 9_000))
        .unwrap();
    b.withdraw_account_stop("acct").unwrap();
    let seen = b.account_stops(at(6_000)).unwrap();
    assert_eq!(seen.len(), 1, "b cannot withdraw a's stop");
    assert_eq!(seen[0].kind, "account_suspended");
    a.withdraw_account_stop("acct").unwrap();
    assert!(b.account_stops(at(6_000)).unwrap().is_empty());
}

#[test]
fn two_nodes_starting_the_same_fire_at_once_start_one_run() {
    const FIRES: u64 = 20;
    let schema = Schema::new();
    let nodes = [Arc::new(schema.open("a").0), Arc::new(schema.open("b").0)];
    for fire in 1..=FIRES {
        // The first fire finds no schedule row yet: the row both would create is a race
        // of its own.
        let barrier = Arc::new(Barrier::new(2));
        let starts: Vec<_> = nodes
            .iter()
            .map(|q| {
                let (q, barrier) = (q.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let state = ScheduleState {
                        last_fire: Some(at(fire * 1_000)),
                        content_hash: None,
                        last_run: None,
                    };
                    barrier.wait();
                    q.create_planned_run(new_run("j", "l"), items(1), Some(state), None)
                })
            })
            .collect();
        let results: Vec<_> = starts.into_iter().map(|t| t.join().unwrap()).collect();
        let started = results.iter().filter(|r| r.is_ok()).count();
        let refused = results
            .iter()
            .filter(|r| matches!(r, Err(QueueError::AlreadyStarted { .. })))
            .count();
        assert_eq!((started, refused), (1, 1), "fire {fire}: {results:?}");
    }
    assert_eq!(nodes[0].runs(Some("j")).unwrap().len(), FIRES as usize);
}
