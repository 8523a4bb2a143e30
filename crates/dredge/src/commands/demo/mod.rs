//! `dredge demo` (README "Quickstart"): the whole product in under a minute, with no
//! network and no credentials. It starts the five vendor simulators in this process
//! with faults injected, writes a daemon config and one job per vendor into a fresh
//! temporary directory, runs the real `dredge daemon` as a child process, shows each
//! run's progress, SIGKILLs and restarts the daemon midway, and ends with a summary
//! whose outputs have been read back and checked for "every record exactly once".
//!
//! The directory is kept so the files can be looked at afterwards.

mod check;
mod counters;
mod daemon;
mod follow;
mod progress;
mod scenario;
mod summary;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::CliError;
use crate::protocol::{DeadItemInfo, DeadList, RunSummary, RunsList};
use counters::Counters;
use daemon::Daemon;
use follow::{Follow, Tracked};
use progress::Display;
use scenario::{DemoJob, Layout};
use summary::Outcome;

/// What a rejected job's error says when its vendor's executor is not in this build.
const NOT_IN_BUILD: &str = "not available in this build";
/// How long the daemon has to start the jobs' runs after it answers.
const RUNS_START_LIMIT: Duration = Duration::from_secs(20);

pub(super) fn run() -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let sims = runtime
        .block_on(scenario::start_sims())
        .context("cannot start the vendor simulators on 127.0.0.1")?;
    let layout = daemon::make_dir()?;
    let jobs = scenario::write(&layout, &sims)?;
    intro(&layout, &jobs);

    let mut daemon = Daemon::start(&layout)?;
    println!(
        "daemon started (pid {}), socket {}\n",
        daemon.pid(),
        layout.socket().display()
    );
    let mut tracked = classify(&daemon, jobs)?;
    wait_for_runs(&daemon, &tracked)?;
    let mut counters = Counters::default();
    let mut display = Display::new(tracked.len());
    Follow {
        daemon: &mut daemon,
        tracked: &mut tracked,
        counters: &mut counters,
        display: &mut display,
    }
    .run()?;

    let dead = dead_items(&daemon, &tracked)?;
    let status = daemon.terminate()?;
    println!("\ndaemon stopped with SIGTERM ({status})\n");
    let ledger: Vec<String> = sims
        .octoparse
        .as_ref()
        .map(|s| s.ledger().into_iter().map(|e| e.row_key).collect())
        .unwrap_or_default();
    let outcomes = judge(&tracked, dead, &ledger);
    print!("{}", summary::render(&outcomes, &counters));
    closing(&layout, &outcomes, status.success(), started)
}

fn intro(layout: &Layout, jobs: &[DemoJob]) {
    println!("dredge demo: five vendor simulators on 127.0.0.1, one job each, faults injected:");
    for job in jobs {
        println!("  {:<14} {:<12} {}", job.name, job.vendor, job.faults);
    }
    println!(
        "Midway the daemon is killed with SIGKILL and restarted; no record may be lost or doubled."
    );
    println!("Working directory (kept): {}", layout.root.display());
}

/// Which jobs the daemon accepted; a job whose vendor this build cannot serve is
/// shown as such, any other rejection is a bug in the demo and stops it.
fn classify(daemon: &Daemon, jobs: Vec<DemoJob>) -> anyhow::Result<Vec<Tracked>> {
    let status = daemon.status()?;
    jobs.into_iter()
        .map(|job| {
            let rejected = status.invalid_job_files.iter().find(|f| {
                std::path::Path::new(&f.path)
                    .file_stem()
                    .and_then(|s| s.to_str())
                    == Some(job.name)
            });
            let unavailable = match rejected {
                None => None,
                Some(f) if f.error.contains(NOT_IN_BUILD) => Some(NOT_IN_BUILD.to_string()),
                Some(f) => bail!(
                    "the daemon rejected the demo's job {}: {}",
                    job.name,
                    f.error
                ),
            };
            Ok(Tracked {
                job,
                run: None,
                unavailable,
            })
        })
        .collect()
}

/// Jobs without a schedule start a run as soon as the daemon reads them.
fn wait_for_runs(daemon: &Daemon, tracked: &[Tracked]) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let runs: Vec<RunSummary> = daemon.client()?.call(RunsList::default())?;
        let missing: Vec<&str> = tracked
            .iter()
            .filter(|t| t.unavailable.is_none() && !runs.iter().any(|r| r.job == t.job.name))
            .map(|t| t.job.name)
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        if start.elapsed() > RUNS_START_LIMIT {
            bail!(
                "no run started for {} within {} s; {}",
                missing.join(", "),
                RUNS_START_LIMIT.as_secs(),
                daemon.log_hint()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn dead_items(daemon: &Daemon, tracked: &[Tracked]) -> anyhow::Result<Vec<Vec<DeadItemInfo>>> {
    let mut client = daemon.client()?;
    tracked
        .iter()
        .map(|t| {
            let filter = DeadList {
                job: Some(t.job.name.to_string()),
            };
            Ok(client.call(filter)?)
        })
        .collect()
}

fn judge<'a>(
    tracked: &'a [Tracked],
    dead: Vec<Vec<DeadItemInfo>>,
    ledger: &[String],
) -> Vec<Outcome<'a>> {
    tracked
        .iter()
        .zip(dead)
        .map(|(t, dead)| {
            let verdict = t
                .run
                .as_ref()
                .map(|run| check::check(&t.job.expect, run, &dead, ledger));
            Outcome {
                tracked: t,
                dead,
                verdict,
            }
        })
        .collect()
}

fn closing(
    layout: &Layout,
    outcomes: &[Outcome],
    stopped_cleanly: bool,
    started: Instant,
) -> anyhow::Result<ExitCode> {
    let out = layout.state().join("out");
    let mut failures: Vec<String> = outcomes
        .iter()
        .filter(|o| o.verdict.as_ref().is_some_and(|v| !v.ok))
        .map(|o| format!("the exactly-once check of {}", o.tracked.job.name))
        .collect();
    if !stopped_cleanly {
        failures.push("the daemon's exit on SIGTERM".into());
    }
    if !failures.is_empty() {
        let what = format!(
            "demo failed: {}; the files are under {} (daemon log: {})",
            failures.join(", "),
            out.display(),
            layout.log().display()
        );
        return Err(CliError::Failed(what).into());
    }
    let checked = outcomes.iter().filter(|o| o.verdict.is_some()).count();
    println!(
        "\nDone in {:.1} s. The {checked} run files under {} were read back: every record is \
         in them exactly once, none missing, none twice, no torn line.\n\
         Look around: {} (config, jobs/, state/out/, daemon.log). Nothing there is deleted.",
        started.elapsed().as_secs_f64(),
        out.display(),
        layout.root.display(),
    );
    Ok(ExitCode::SUCCESS)
}
