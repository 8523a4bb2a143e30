//! Durable lease → stage → commit throughput: items/s through one PostgreSQL handle,
//! through two handles of different nodes (two "daemons") on one schema, and through
//! sled, from the same loop.
//!
//! ```text
//! cargo run --release -p dredge-queue-postgres --example throughput -- [ITEMS] [THREADS]
//! ```
//! ITEMS (default 5000) per measurement; THREADS (default 4) workers per handle. The
//! server is `DREDGE_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`);
//! the schema `bench_<pid>` is dropped at the end.

use std::sync::Arc;
use std::time::Instant;

use dredge_core::{JsonText, NewItem, Record, UnixMillis};
use dredge_queue::{NewRun, OutputCursor, Queue, QueueBackend};
use dredge_queue_postgres::{PgOptions, PgQueue, drop_schema};

fn main() {
    let mut args = std::env::args().skip(1);
    let items: usize = args.next().map_or(5000, |n| n.parse().expect("ITEMS"));
    let threads: usize = args.next().map_or(4, |n| n.parse().expect("THREADS"));
    let url = std::env::var("DREDGE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let options = |node: &str| PgOptions {
        url: url.clone(),
        schema: format!("bench_{}", std::process::id()),
        node: node.into(),
        pool_size: threads,
    };

    let (one, _) = PgQueue::open(options("a")).expect("open PostgreSQL");
    let one: Arc<dyn QueueBackend> = Arc::new(one);
    report(
        "postgres, 1 handle",
        items,
        threads,
        measure(std::slice::from_ref(&one), items, threads),
    );

    let (other, _) = PgQueue::open(options("b")).expect("open PostgreSQL");
    let two = [one, Arc::new(other) as Arc<dyn QueueBackend>];
    report(
        "postgres, 2 handles",
        items,
        threads * 2,
        measure(&two, items, threads),
    );
    drop(two);
    drop_schema(&options("a")).expect("drop the bench schema");

    let dir = tempfile::tempdir().expect("temporary directory");
    let (sled, _) = Queue::open(dir.path().join("state")).expect("open sled");
    let sled: Arc<dyn QueueBackend> = Arc::new(sled);
    report(
        "sled, 1 handle",
        items,
        threads,
        measure(&[sled], items, threads),
    );
}

fn report(what: &str, items: usize, threads: usize, seconds: f64) {
    println!(
        "{what:<22} {threads:>2} threads  {items} items in {seconds:.2} s  {:.0} items/s",
        items as f64 / seconds
    );
}

/// Seconds for `threads` workers per handle to lease, stage and commit a new run of
/// `items` items.
fn measure(handles: &[Arc<dyn QueueBackend>], items: usize, threads: usize) -> f64 {
    let run = NewRun {
        job: "bench".into(),
        lane: format!("lane-{}", UnixMillis::now().0),
        spec_snapshot: vec![],
        started_at: UnixMillis(1_795_000_000_000),
        deadline: None,
        max_attempts: 3,
    };
    let lane = run.lane.clone();
    let new: Vec<NewItem> = (0..items)
        .map(|i| NewItem::ready(format!("i{i}"), vec![0; 64]))
        .collect();
    let run = handles[0].create_run(run, new).expect("create the run");
    let start = Instant::now();
    let workers: Vec<_> = handles
        .iter()
        .flat_map(|q| (0..threads).map(move |_| q.clone()))
        .map(|q| {
            let (run, lane) = (run.clone(), lane.clone());
            std::thread::spawn(move || work(&*q, &run, &lane))
        })
        .collect();
    for worker in workers {
        worker.join().expect("worker");
    }
    let seconds = start.elapsed().as_secs_f64();
    let counts = handles[0].run(&run).unwrap().unwrap().counts;
    assert_eq!(counts.done, items as u64, "every item committed once");
    seconds
}

fn work(q: &dyn QueueBackend, run: &dredge_queue::RunId, lane: &str) {
    let now = UnixMillis::now();
    let until = UnixMillis(now.0 + 600_000);
    while let Some(lease) = q.lease_next(lane, now, until).expect("lease") {
        let record = Record {
            source: lease.label.clone(),
            item: lease.label.clone(),
            fetched_at: now,
            data: JsonText::parse("{\"n\":1}".to_string()).unwrap(),
            attachment: None,
        };
        q.stage(lease.lease(), &[record], vec![]).expect("stage");
        // Workers commit in any order: the cursor stays where it is.
        q.commit(run, &[lease.id], OutputCursor::default())
            .expect("commit");
    }
}
