//! Rate-limit precision of a real daemon: one AutoExtract account with
//! `requests_per_second = R` and enough work to keep it busy, against an in-process
//! AutoExtract simulator whose request log stamps every request as it arrives.
//!
//! The job has one URL per domain, so every URL is its own batch (one item, one
//! request), and `max_concurrency` is high enough that only the quota paces the
//! requests. Reported over the first S seconds after the first request: requests
//! counted, the mean rate, the rate between the first and last request, and the
//! largest number of requests in any one-second window (sliding, any start).
//!
//! Usage: `dredge-bench-ratelimit DREDGE_BIN [RPS] [SECONDS] [WORKDIR]`

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use dredge_sim::autoextract::Sim;

struct Args {
    bin: PathBuf,
    rps: f64,
    seconds: u64,
    workdir: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut argv = std::env::args().skip(1);
    let bin = argv
        .next()
        .ok_or("usage: DREDGE_BIN [RPS] [SECONDS] [WORKDIR]")?;
    let number = |s: Option<String>, default: f64| -> Result<f64, String> {
        s.map_or(Ok(default), |s| s.parse().map_err(|e| format!("{s}: {e}")))
    };
    let rps = number(argv.next(), 20.0)?;
    let seconds = number(argv.next(), 60.0)? as u64;
    let workdir = argv.next().map_or_else(std::env::temp_dir, PathBuf::from);
    Ok(Args {
        bin: PathBuf::from(bin),
        rps,
        seconds,
        workdir,
    })
}

fn main() -> ExitCode {
    match parse_args().and_then(|args| run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ratelimit bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let sim = rt
        .block_on(Sim::start(Default::default(), 1, "127.0.0.1", 0))
        .map_err(|e| format!("simulator: {e}"))?;
    std::fs::create_dir_all(&args.workdir).map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir_in(&args.workdir).map_err(|e| e.to_string())?;
    let mut daemon = start_daemon(args, dir.path(), &sim.base_url())?;
    let result = measure(args, dir.path(), &sim);
    let _ = daemon.kill();
    let _ = daemon.wait();
    result
}

/// Config, then the daemon, then wait until its socket answers.
fn start_daemon(args: &Args, dir: &Path, base_url: &str) -> Result<Child, String> {
    std::fs::create_dir_all(dir.join("jobs")).map_err(|e| e.to_string())?;
    let config = format!(
        "state_dir = \"state\"\njobs_dir = \"jobs\"\nsocket = \"state/dredge.sock\"\n\n\
         [accounts.zyte]\nvendor = \"autoextract\"\nbase_url = \"{base_url}\"\n\
         api_key = \"test-key\"\nrequests_per_second = {}\nmax_concurrency = 50\n",
        args.rps
    );
    std::fs::write(dir.join("dredge.toml"), config).map_err(|e| e.to_string())?;
    let log = std::fs::File::create(dir.join("daemon.log")).map_err(|e| e.to_string())?;
    let mut child = Command::new(&args.bin)
        .args(["daemon", "--config"])
        .arg(dir.join("dredge.toml"))
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("{}: {e}", args.bin.display()))?;
    let socket = dir.join("state/dredge.sock");
    let serving = wait_for(Duration::from_secs(60), || {
        UnixStream::connect(&socket).is_ok()
    });
    if !serving || matches!(child.try_wait(), Ok(Some(_))) {
        let _ = child.kill();
        return Err(format!("daemon did not serve; see {}", dir.display()));
    }
    Ok(child)
}

fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Drop a job with more one-URL batches than the window needs, wait out the window,
/// and print the figures from the simulator's request log.
fn measure(args: &Args, dir: &Path, sim: &Sim) -> Result<(), String> {
    let needed = (args.rps * (args.seconds as f64 + 30.0)) as usize;
    let urls: String = (0..needed)
        .map(|i| format!("https://www.domain{i}.com/item/{i}\n"))
        .collect();
    std::fs::write(dir.join("jobs/rate.txt"), urls).map_err(|e| e.to_string())?;
    let job = "vendor = \"autoextract\"\n[autoextract]\npage_type = \"product\"\nurls_file = \"rate.txt\"\n";
    let tmp = dir.join("jobs/.rate.tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| e.to_string())?;
    f.write_all(job.as_bytes()).map_err(|e| e.to_string())?;
    drop(f);
    std::fs::rename(&tmp, dir.join("jobs/rate.toml")).map_err(|e| e.to_string())?;

    let window = Duration::from_secs(args.seconds);
    let limit = window + Duration::from_secs(60);
    let done = wait_for(limit, || {
        let entries = sim.log.entries();
        match (entries.first(), entries.last()) {
            (Some(first), Some(last)) => last.since_start - first.since_start > window,
            _ => false,
        }
    });
    if !done {
        return Err(format!(
            "fewer requests than a {}s window needs",
            args.seconds
        ));
    }
    report(args, &sim.log.entries());
    Ok(())
}

fn report(args: &Args, entries: &[dredge_sim::LoggedRequest]) {
    let mut times: Vec<Duration> = entries.iter().map(|e| e.since_start).collect();
    times.sort();
    let start = times[0];
    let window = Duration::from_secs(args.seconds);
    let inside: Vec<Duration> = times
        .iter()
        .map(|t| *t - start)
        .filter(|t| *t < window)
        .collect();
    let n = inside.len();
    let span = inside[n - 1].as_secs_f64();
    let mean = n as f64 / args.seconds as f64;
    let paced = (n - 1) as f64 / span;
    let not_ok = entries.iter().filter(|e| e.status != 200).count();
    let min_gap = inside
        .windows(2)
        .map(|w| w[1] - w[0])
        .min()
        .unwrap_or_default();
    println!(
        "rate limit: quota {} req/s, window {} s from the first request",
        args.rps, args.seconds
    );
    println!("  requests in the window: {n} (non-200 answers overall: {not_ok})");
    println!(
        "  mean rate: {mean:.3} req/s ({:+.2} % of the quota)",
        (mean / args.rps - 1.0) * 100.0
    );
    println!(
        "  first-to-last rate: {paced:.3} req/s ({:+.2} %)",
        (paced / args.rps - 1.0) * 100.0
    );
    println!(
        "  largest count in any 1 s window: {} (quota + burst 1 = {})",
        max_in_window(&inside, Duration::from_secs(1)),
        args.rps.ceil() as usize + 1
    );
    println!(
        "  largest count in any aligned second [k, k+1): {}",
        max_aligned(&inside)
    );
    println!(
        "  smallest gap between two requests: {:.1} ms (pace {:.1} ms)",
        min_gap.as_secs_f64() * 1000.0,
        1000.0 / args.rps
    );
}

/// The most timestamps inside any half-open interval `[t, t + width)`.
fn max_in_window(sorted: &[Duration], width: Duration) -> usize {
    let mut best = 0;
    let mut lo = 0;
    for hi in 0..sorted.len() {
        while sorted[hi] - sorted[lo] >= width {
            lo += 1;
        }
        best = best.max(hi - lo + 1);
    }
    best
}

/// The most timestamps in one of the seconds `[k, k + 1)` counted from the first.
fn max_aligned(sorted: &[Duration]) -> usize {
    let mut counts = std::collections::BTreeMap::new();
    for t in sorted {
        *counts.entry(t.as_secs()).or_insert(0usize) += 1;
    }
    counts.values().copied().max().unwrap_or(0)
}
