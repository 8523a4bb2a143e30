//! Queue throughput against raw sled, in one run so the ratio is fair.
//!
//! `cargo bench -p dredge-queue` prints the 1,000,000-item open times once (custom
//! timed measurements: too slow to repeat; without and with periodic checkpoints),
//! then the criterion groups:
//! - `enqueue`: creating a run with 1,000 items in one batch (items/s);
//! - `cycle`: lease → stage (1 record) → commit per item, durable, with one flush per
//!   call from 1 thread, and from 8 threads both per call and with group commit;
//! - `ceiling`: raw sled insert + flush (1 thread and 8 threads), what no durable
//!   queue on sled can beat, and a raw 6-key `sled::Batch` + flush (the shape of one
//!   stage) to show what batching itself costs in sled.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput};
use dredge_core::{JsonText, NewItem, Record, UnixMillis};
use dredge_queue::{Durability, NewRun, OutputCursor, Queue, QueueBackend, QueueOptions};

const THREADS: u64 = 8;

fn tempdir() -> tempfile::TempDir {
    // The target dir is on the real disk; /tmp may be tmpfs, where fsync is free.
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir")
}

fn open(path: &Path, durability: Durability) -> Queue {
    let options = QueueOptions {
        durability,
        ..QueueOptions::default()
    };
    Queue::open_with(path, options).expect("open").0
}

fn new_run(lane: &str) -> NewRun {
    NewRun {
        job: "bench".into(),
        lane: lane.into(),
        spec_snapshot: vec![0; 512],
        started_at: UnixMillis::now(),
        deadline: None,
        max_attempts: 8,
    }
}

fn items(n: u64) -> Vec<NewItem> {
    (0..n)
        .map(|i| NewItem::ready(format!("https://example.com/p/{i}"), vec![7; 64]))
        .collect()
}

fn record(i: u64) -> Record {
    Record {
        source: "https://example.com".into(),
        item: format!("p-{i}"),
        fetched_at: UnixMillis::now(),
        data: JsonText::parse(format!(
            "{{\"n\":{i},\"title\":\"a product title of ordinary length\"}}"
        ))
        .unwrap(),
        attachment: None,
    }
}

/// One item through its whole durable life.
fn cycle(q: &Queue, lane: &str) {
    let now = UnixMillis::now();
    let leased = q
        .lease_next(lane, now, now.after(Duration::from_secs(60)))
        .expect("lease")
        .expect("an item is ready");
    q.stage(leased.lease(), &[record(leased.id.0)], vec![])
        .expect("stage");
    let cursor = OutputCursor {
        bytes: leased.id.0 * 100,
        records: leased.id.0,
    };
    q.commit(&leased.run, &[leased.id], cursor).expect("commit");
}

/// Runs `iters` cycles spread over `threads` threads (each with its own lane, as
/// workers of different accounts) and returns the elapsed time of the cycles only.
fn timed_cycles(q: &Queue, iters: u64, threads: u64) -> Duration {
    let per_thread = iters.div_ceil(threads);
    for t in 0..threads {
        q.create_run(new_run(&format!("lane-{t}")), items(per_thread))
            .expect("fill");
    }
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let q = q.clone();
            s.spawn(move || {
                let lane = format!("lane-{t}");
                for _ in 0..per_thread {
                    cycle(&q, &lane);
                }
            });
        }
    });
    start.elapsed()
}

fn bench_enqueue(c: &mut Criterion) {
    let dir = tempdir();
    let q = open(&dir.path().join("q"), Durability::GroupCommit);
    let mut group = c.benchmark_group("enqueue");
    group.sample_size(10).throughput(Throughput::Elements(1000));
    group.bench_function("create_run_1000_items", |b| {
        b.iter_batched(
            || items(1000),
            |items| q.create_run(new_run("lane"), items).expect("create"),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn bench_cycle(c: &mut Criterion) {
    let mut group = c.benchmark_group("cycle");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(1));
    let cases = [
        ("flush_per_call_1_thread", Durability::FlushPerCall, 1),
        (
            "flush_per_call_8_threads",
            Durability::FlushPerCall,
            THREADS,
        ),
        ("group_commit_8_threads", Durability::GroupCommit, THREADS),
    ];
    for (name, durability, threads) in cases {
        let dir = tempdir();
        let q = open(&dir.path().join("q"), durability);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| timed_cycles(&q, iters, threads))
        });
    }
    group.finish();
}

fn bench_ceiling(c: &mut Criterion) {
    let mut group = c.benchmark_group("ceiling");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(1));
    for threads in [1, THREADS] {
        let dir = tempdir();
        let db = Arc::new(sled::open(dir.path().join("raw")).expect("sled"));
        let name = format!("sled_insert_flush_{threads}_threads");
        group.bench_function(name, |b| {
            b.iter_custom(|iters| raw_insert_flush(&db, iters, threads))
        });
    }
    let dir = tempdir();
    let db = sled::open(dir.path().join("raw")).expect("sled");
    group.bench_function("sled_batch_of_6_flush_1_thread", |b| {
        b.iter(|| {
            let mut batch = sled::Batch::default();
            for _ in 0..6 {
                let key = RAW_KEYS.fetch_add(1, Ordering::Relaxed).to_be_bytes();
                batch.insert(&key, &[1u8; 100][..]);
            }
            db.apply_batch(batch).expect("batch");
            db.flush().expect("flush");
        })
    });
    group.finish();
}

/// Keys never repeat across samples: rewriting an existing key is not the same work.
static RAW_KEYS: AtomicU64 = AtomicU64::new(0);

fn raw_insert_flush(db: &sled::Db, iters: u64, threads: u64) -> Duration {
    let per_thread = iters.div_ceil(threads);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(move || {
                for _ in 0..per_thread {
                    let key = RAW_KEYS.fetch_add(1, Ordering::Relaxed).to_be_bytes();
                    db.insert(key, black_box(&[1u8; 100][..])).expect("insert");
                    db.flush().expect("flush");
                }
            });
        }
    });
    start.elapsed()
}

/// Fills a queue with 1,000,000 ready items and closes it, then opens it four times
/// in a row, timing each: `Queue::open` three times and one bare `sled::open` (sled
/// alone) in between. sled 0.34 replays every log byte written since its last snapshot
/// and writes a snapshot only while opening, so the first opens after a bulk write pay
/// for the whole fill and later ones do not. Also times one lease among the million.
fn open_million() {
    let dir = tempdir();
    let path = dir.path().join("q");
    let fill = Instant::now();
    {
        let q = open(&path, Durability::GroupCommit);
        for _ in 0..100 {
            q.create_run(new_run("lane"), items(10_000)).expect("fill");
        }
    }
    let fill = fill.elapsed();
    let mut opens = Vec::new();
    for kind in ["Queue::open", "Queue::open", "sled::open", "Queue::open"] {
        let took = if kind == "sled::open" {
            timed(|| sled::open(&path).expect("sled open")).0
        } else {
            timed(|| Queue::open(&path).expect("open")).0
        };
        opens.push(format!("{kind} {took:.2?}"));
    }
    let (q, recovery) = Queue::open(&path).expect("open");
    let now = UnixMillis::now();
    let (lease, leased) = timed(|| q.lease_next("lane", now, now).expect("lease"));
    assert!(leased.is_some() && recovery.leases_reset == 0);
    let size = dir_size(&path) as f64 / (1024.0 * 1024.0);
    println!(
        "open_1m_items: fill {fill:.2?}; opens in order: {}; one lease {lease:.2?}; on disk {size:.0} MiB",
        opens.join(", ")
    );
}

/// The same fill with `Queue::checkpoint` after every 100,000 items (what the daemon
/// is meant to do), then the first open after it.
fn open_million_with_checkpoints() {
    let dir = tempdir();
    let path = dir.path().join("q");
    let fill = Instant::now();
    let mut checkpoints = Vec::new();
    {
        let q = open(&path, Durability::GroupCommit);
        for n in 1..=100 {
            q.create_run(new_run("lane"), items(10_000)).expect("fill");
            if n % 10 == 0 {
                checkpoints.push(timed(|| q.checkpoint().expect("checkpoint")).0);
            }
        }
    }
    let fill = fill.elapsed();
    let (first_open, _q) = timed(|| Queue::open(&path).expect("open"));
    let slowest = checkpoints.iter().max().copied().unwrap_or_default();
    println!(
        "open_1m_items_with_checkpoints: fill {fill:.2?} including {} checkpoints (slowest \
         {slowest:.2?}); first Queue::open after the fill {first_open:.2?}",
        checkpoints.len()
    );
}

fn timed<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let start = Instant::now();
    let out = f();
    (start.elapsed(), out)
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            let meta = e
                .metadata()
                .map(|m| (m.is_dir(), m.len()))
                .unwrap_or((false, 0));
            if meta.0 { dir_size(&e.path()) } else { meta.1 }
        })
        .sum()
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    if std::env::var_os("DREDGE_BENCH_SKIP_OPEN").is_none() {
        open_million();
        open_million_with_checkpoints();
    }
    bench_enqueue(&mut c);
    bench_cycle(&mut c);
    bench_ceiling(&mut c);
    c.final_summary();
}
