//! `runs.list` with 100,000 historic runs: how long a page of a job's newest runs takes
//! through the job index, against reading every run (what `runs.list` did before).
//!
//! `cargo bench -p dredge-queue --bench history [-- RUNS]` (default 100,000 runs of 10
//! jobs, created from 8 threads so group commit shares the flushes).

use std::time::Instant;

use dredge_core::UnixMillis;
use dredge_queue::{NewRun, Queue, QueueBackend};

fn main() {
    let runs: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let (queue, _) = Queue::open(dir.path().join("q")).expect("open");
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let queue = &queue;
            s.spawn(move || {
                for n in (t..runs).step_by(8) {
                    let run = NewRun {
                        job: format!("job{}", n % 10),
                        lane: "l".into(),
                        spec_snapshot: vec![0; 1500],
                        started_at: UnixMillis(1_700_000_000_000 + n * 300_000),
                        deadline: None,
                        max_attempts: 3,
                    };
                    queue.create_run(run, vec![]).expect("create");
                }
            });
        }
    });
    println!(
        "{runs} runs created in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let time = |what: &str, f: &dyn Fn() -> usize| {
        let mut best = f64::MAX;
        let mut n = 0;
        for _ in 0..5 {
            let t = Instant::now();
            n = f();
            best = best.min(t.elapsed().as_secs_f64() * 1000.0);
        }
        println!("{what}: {n} runs, best of 5: {best:.2} ms");
    };
    time("runs_page(job, newest 50)", &|| {
        queue.runs_page(Some("job3"), None, 50).expect("page").len()
    });
    time("runs_page(all jobs, newest 50)", &|| {
        queue.runs_page(None, None, 50).expect("page").len()
    });
    let middle = queue.job_run_ids("job3").expect("ids")[5_000].clone();
    time("runs_page(job, 50 before a run 5,000 back)", &|| {
        queue
            .runs_page(Some("job3"), Some(&middle), 50)
            .expect("page")
            .len()
    });
    time("runs(job): every run of the job, as before", &|| {
        queue.runs(Some("job3")).expect("runs").len()
    });
}
