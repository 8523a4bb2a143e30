//! Why a planned run's items go to the queue a few hundred per batch: the process's RSS
//! after a run of N items is created in batches of B items (sled 0.34 keeps the node
//! versions one batch touches until it is applied, so memory grows with B², not N).
//!
//! `cargo bench -p dredge-queue --bench batch_memory -- N B` (default 100,000 and 256);
//! run it once per B, each in a fresh process.

use dredge_core::{NewItem, UnixMillis};
use dredge_queue::{NewRun, PlanCursor, Queue, QueueBackend};

fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("proc status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS"))
        .expect("VmRSS");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("kB");
    kib / 1024
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (n, per_batch) = (
        args.first().copied().unwrap_or(100_000),
        args.get(1).copied().unwrap_or(256),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let (queue, _) = Queue::open(dir.path().join("q")).expect("open");
    let item = |i: usize| {
        NewItem::ready(format!("https://www.d{i}.com/p"), vec![7u8; 120])
            .with_scope(format!("d{i}.com"))
    };
    let cursor = |done: usize| PlanCursor {
        input: "copy".into(),
        offset: 0,
        planned: 0,
        items_done: done as u64,
        total: n as u64,
    };
    let run = NewRun {
        job: "j".into(),
        lane: "l".into(),
        spec_snapshot: vec![0; 2000],
        started_at: UnixMillis::now(),
        deadline: None,
        max_attempts: 3,
    };
    let started = std::time::Instant::now();
    let first = (0..per_batch.min(n)).map(item).collect();
    let run = queue
        .create_planned_run(run, first, None, Some(cursor(per_batch)))
        .expect("create");
    let mut done = per_batch;
    while done < n {
        let next = (done + per_batch).min(n);
        let items = (done..next).map(item).collect();
        queue
            .plan_more(&run, items, (next < n).then(|| cursor(next)))
            .expect("plan more");
        done = next;
    }
    println!(
        "{n} items, {per_batch} per batch: RSS {} MiB after {:.1} s",
        rss_mib(),
        started.elapsed().as_secs_f64()
    );
}
