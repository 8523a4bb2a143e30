//! Following the runs until they end: poll the daemon every 200 ms, update the
//! display, and SIGKILL + restart the daemon once, midway, to show that nothing is
//! lost or written twice.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::counters::Counters;
use super::daemon::Daemon;
use super::progress::{Display, Row};
use super::scenario::DemoJob;
use crate::protocol::{Metrics, MetricsText, RunSummary, RunsList};

const POLL_EVERY: Duration = Duration::from_millis(200);
/// How long the runs may take, from the daemon's first start.
const RUNS_LIMIT: Duration = Duration::from_secs(90);
/// How long the daemon may fail to answer before the demo gives up.
const SILENCE_LIMIT: Duration = Duration::from_secs(15);

/// One job and what is known of its run.
pub(super) struct Tracked {
    pub job: DemoJob,
    pub run: Option<RunSummary>,
    /// Why this build cannot run it (e.g. a vendor executor not wired in yet).
    pub unavailable: Option<String>,
}

impl Tracked {
    fn ended(&self) -> bool {
        self.unavailable.is_some() || self.run.as_ref().is_some_and(|r| r.state != "running")
    }

    fn records(&self) -> u64 {
        self.run.as_ref().map_or(0, |r| r.records)
    }
}

/// Everything that happens while the runs go.
pub(super) struct Follow<'a> {
    pub daemon: &'a mut Daemon,
    pub tracked: &'a mut [Tracked],
    pub counters: &'a mut Counters,
    pub display: &'a mut Display,
}

impl Follow<'_> {
    /// Until every run has ended (bounded); the daemon is killed and restarted once.
    pub(super) fn run(&mut self) -> anyhow::Result<()> {
        let started = Instant::now();
        let mut answered = Instant::now();
        let mut killed = false;
        loop {
            match self.poll() {
                Ok(()) => answered = Instant::now(),
                Err(e) if answered.elapsed() > SILENCE_LIMIT => {
                    return Err(e.context(format!(
                        "the daemon stopped answering; {}",
                        self.daemon.log_hint()
                    )));
                }
                Err(_) => {}
            }
            self.display.update(&rows(self.tracked, self.counters));
            if self.tracked.iter().all(Tracked::ended) {
                break;
            }
            if !killed && midway(self.tracked) {
                self.kill_and_restart()?;
                killed = true;
            }
            if started.elapsed() > RUNS_LIMIT {
                bail!("{}", self.still_running());
            }
            std::thread::sleep(POLL_EVERY);
        }
        self.display.finish(&rows(self.tracked, self.counters));
        if !killed {
            self.display
                .note("(every run ended before the SIGKILL point; no restart this time)");
        }
        Ok(())
    }

    fn poll(&mut self) -> anyhow::Result<()> {
        let mut client = self.daemon.client()?;
        let runs: Vec<RunSummary> = client.call(RunsList::default())?;
        let metrics: MetricsText = client.call(Metrics {})?;
        for t in self.tracked.iter_mut() {
            if let Some(run) = runs
                .iter()
                .filter(|r| r.job == t.job.name)
                .max_by(|a, b| a.id.cmp(&b.id))
            {
                t.run = Some(run.clone());
            }
        }
        self.counters.update(&metrics.text);
        Ok(())
    }

    fn kill_and_restart(&mut self) -> anyhow::Result<()> {
        let records: u64 = self.tracked.iter().map(Tracked::records).sum();
        let pid = self.daemon.pid();
        self.display.note(&format!(
            ">>> SIGKILL the daemon (pid {pid}) with {records} records written; restarting it on the same state dir"
        ));
        let at = Instant::now();
        self.daemon
            .kill_and_restart()
            .context("cannot restart the daemon after SIGKILL")?;
        self.counters.daemon_restarted();
        self.display.note(&format!(
            ">>> daemon back (pid {}) after {} ms: runs recovered and continue",
            self.daemon.pid(),
            at.elapsed().as_millis()
        ));
        Ok(())
    }

    fn still_running(&self) -> String {
        let names: Vec<&str> = self
            .tracked
            .iter()
            .filter(|t| !t.ended())
            .map(|t| t.job.name)
            .collect();
        format!(
            "runs still unfinished after {} s: {}; the daemon was stopped and its state kept; {}",
            RUNS_LIMIT.as_secs(),
            names.join(", "),
            self.daemon.log_hint()
        )
    }
}

/// Far enough in to have records on disk, early enough that every run is still busy.
fn midway(tracked: &[Tracked]) -> bool {
    let live: Vec<&Tracked> = tracked.iter().filter(|t| t.unavailable.is_none()).collect();
    if live.iter().any(|t| t.run.is_none()) {
        return false;
    }
    let expected: u64 = live.iter().map(|t| t.job.expected).sum();
    let written: u64 = live.iter().map(|t| t.records()).sum();
    written * 4 >= expected
        || live
            .iter()
            .any(|t| t.records() * 2 >= t.job.expected || t.ended())
}

pub(super) fn rows<'a>(tracked: &'a [Tracked], counters: &Counters) -> Vec<Row<'a>> {
    tracked
        .iter()
        .map(|t| Row {
            job: t.job.name,
            vendor: t.job.vendor,
            expected: t.job.expected,
            run: t.run.as_ref(),
            counts: counters.vendor(t.job.vendor),
            unavailable: t.unavailable.as_deref(),
        })
        .collect()
}
