//! Two daemons (two `PgQueue`s with different nodes) on one schema: leasing never hands
//! an item to both, a lease reclaimed by the other node fences its old holder out, and
//! a node's restart reverts its own leases only.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use dredge_queue::{ItemId, ItemState, OutputCursor, QueueBackend, QueueError, WrittenItem};
use support::{Schema, at, items, new_run};

fn written(lease: &dredge_queue::LeasedItem) -> WrittenItem {
    WrittenItem {
        id: lease.id,
        follow_ups: vec![],
        epoch: Some(lease.epoch),
    }
}

#[test]
fn concurrent_leasing_by_two_nodes_hands_each_item_out_once_and_commits_it_once() {
    const ITEMS: usize = 600;
    let schema = Schema::new();
    let (a, _) = schema.open("a");
    let (b, _) = schema.open("b");
    let run = a.create_run(new_run("j", "l"), items(ITEMS)).unwrap();
    let queues = [Arc::new(a), Arc::new(b)];
    let leased: Arc<Mutex<HashMap<ItemId, usize>>> = Arc::default();
    let workers: Vec<_> = (0..8)
        .map(|worker| {
            let q = queues[worker % 2].clone();
            let (run, leased) = (run.clone(), leased.clone());
            std::thread::spawn(move || {
                while let Some(lease) = q.lease_next("l", at(10), at(600_000)).unwrap() {
                    *leased.lock().unwrap().entry(lease.id).or_default() += 1;
                    q.commit_written(&run, &[], vec![written(&lease)], OutputCursor::default())
                        .expect("the only lease of the item commits");
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let leased = leased.lock().unwrap();
    let twice: Vec<_> = leased.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "leased more than once: {twice:?}");
    assert_eq!(leased.len(), ITEMS);
    let counts = queues[0].run(&run).unwrap().unwrap().counts;
    assert_eq!((counts.done, counts.open()), (ITEMS as u64, 0));
}

#[test]
fn a_lease_reclaimed_by_another_node_refuses_its_old_holder() {
    let schema = Schema::new();
    let (a, _) = schema.open("a");
    let (b, _) = schema.open("b");
    let run = a.create_run(new_run("j", "l"), items(1)).unwrap();
    let old = a.lease_next("l", at(0), at(100)).unwrap().unwrap();
    assert_eq!(b.reclaim_expired_leases(at(100)).unwrap(), 1);
    let new = b.lease_next("l", at(100), at(10_000)).unwrap().unwrap();
    assert_eq!(new.id, old.id);
    assert_ne!(new.epoch, old.epoch);
    let late = a.commit_written(&run, &[], vec![written(&old)], OutputCursor::default());
    assert!(
        matches!(late, Err(QueueError::LeaseLost { id }) if id == old.id),
        "{late:?}"
    );
    let late_stage = a.stage(old.lease(), &[], vec![]);
    assert!(
        matches!(late_stage, Err(QueueError::LeaseLost { .. })),
        "{late_stage:?}"
    );
    b.commit_written(&run, &[], vec![written(&new)], OutputCursor::default())
        .unwrap();
    assert_eq!(a.item(old.id).unwrap().unwrap().state, ItemState::Done);
}

#[test]
fn a_nodes_restart_reverts_its_own_leases_and_leaves_the_other_nodes() {
    let schema = Schema::new();
    let (a, _) = schema.open("a");
    let (b, _) = schema.open("b");
    let run = a.create_run(new_run("j", "l"), items(3)).unwrap();
    let of_a = a.lease_next("l", at(0), at(10_000)).unwrap().unwrap();
    let of_b = b.lease_next("l", at(0), at(10_000)).unwrap().unwrap();
    let (a_again, recovery) = schema.open("a");
    assert_eq!(recovery.leases_reset, 1, "only a's lease");
    assert!(matches!(
        a_again.item(of_a.id).unwrap().unwrap().state,
        ItemState::Ready { .. }
    ));
    assert!(matches!(
        a_again.item(of_b.id).unwrap().unwrap().state,
        ItemState::Leased { .. }
    ));
    b.commit_written(&run, &[], vec![written(&of_b)], OutputCursor::default())
        .expect("b's lease survived a's restart");
    let keep: HashSet<ItemId> = HashSet::new();
    assert_eq!(b.reopen(&keep, at(0)).unwrap().leases_reset, 0);
    drop(a);
}

/// `SKIP LOCKED`: an item whose row another transaction holds (another daemon in the
/// middle of leasing or committing it) is passed over, not waited for.
#[test]
fn leasing_passes_over_an_item_another_transaction_holds() {
    let schema = Schema::new();
    let (a, _) = schema.open("a");
    a.create_run(new_run("j", "l"), items(2)).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (holder, connection) = runtime
        .block_on(tokio_postgres::connect(
            &schema.0.url,
            tokio_postgres::NoTls,
        ))
        .expect("connect to the test server");
    runtime.spawn(connection);
    let first: i64 = runtime
        .block_on(holder.query_one(
            &format!("SELECT min(id) FROM {}.items", schema.0.schema),
            &[],
        ))
        .unwrap()
        .get(0);
    runtime
        .block_on(holder.batch_execute(&format!(
            "BEGIN; SELECT id FROM {}.items WHERE id = {first} FOR UPDATE",
            schema.0.schema
        )))
        .unwrap();

    let a = Arc::new(a);
    let (sent, leased) = std::sync::mpsc::channel();
    let leaser = a.clone();
    std::thread::spawn(move || {
        let _ = sent.send(leaser.lease_next("l", at(10), at(600_000)).unwrap());
    });
    let got = leased.recv_timeout(std::time::Duration::from_secs(10));
    runtime.block_on(holder.batch_execute("COMMIT")).unwrap();
    let lease = got
        .expect("leasing waited for the locked item instead of passing over it")
        .expect("the other item is leased");
    assert_ne!(lease.id.0 as i64, first, "the held item was leased");
}
