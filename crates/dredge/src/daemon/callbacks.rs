//! Oxylabs callbacks (`callback_listen`): the vendor crate's router and allowlist,
//! wired to the queue. A callback is a hint that a job is done: its poll item is made
//! ready now and told to fetch results directly. A callback can arrive before the
//! submit that created the job's poll item is committed; such a callback is looked for
//! again for a few seconds. Polling continues at a slow rate as a safety net, so a lost
//! callback delays a job but never loses it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use dredge_core::Vendor;
use dredge_oxylabs::OxylabsAccount;
use dredge_oxylabs::callback::{
    Allowlist, CallbackSink, callback_router_with_secret, refresh_allowlist,
};
use dredge_oxylabs::poll_dedupe_key;
use dredge_queue::RunId;

use super::state::Shared;
use crate::account::Account;

/// How often Oxylabs' callback sender IPs are fetched again.
const REFRESH_EVERY: Duration = Duration::from_secs(3600);

pub(super) async fn serve(shared: Arc<Shared>, addr: SocketAddr) {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(%addr, error = %e, "cannot listen for Oxylabs callbacks; jobs are still polled");
            return;
        }
    };
    let initial = Allowlist::new(&[], &extra_cidrs(&shared)).unwrap_or_else(|e| {
        tracing::error!(error = %e, "bad callback_allow entry: only Oxylabs' published IPs are accepted");
        Allowlist::new(&[], &[]).expect("an empty allowlist is valid")
    });
    let allow = Arc::new(RwLock::new(initial));
    tokio::spawn(refresh(shared.clone(), allow.clone()));
    let sink = Arc::new(QueueSink {
        shared: shared.clone(),
        early: Arc::default(),
        runs: Arc::default(),
    });
    let secret = shared.config().callback_secret.clone();
    let app = callback_router_with_secret(allow, sink, secret);
    tracing::info!(%addr, "listening for Oxylabs callbacks");
    super::http_listen::serve(listener, app, shared.shutdown.clone()).await;
}

/// The Oxylabs accounts of the config, by name.
fn oxylabs_accounts(shared: &Shared) -> Vec<(String, OxylabsAccount)> {
    shared
        .config()
        .accounts
        .iter()
        .filter_map(|(name, a)| match a {
            Account::Oxylabs(o) => Some((name.clone(), o.clone())),
            _ => None,
        })
        .collect()
}

fn extra_cidrs(shared: &Shared) -> Vec<String> {
    oxylabs_accounts(shared)
        .into_iter()
        .flat_map(|(_, a)| a.callback_allow)
        .collect()
}

/// Fetch the sender IPs at start and hourly (the published list is the same for every
/// account; each account's `callback_allow` is added).
async fn refresh(shared: Arc<Shared>, allow: Arc<RwLock<Allowlist>>) {
    loop {
        for (name, account) in oxylabs_accounts(&shared) {
            if let Err(e) = refresh_allowlist(&account, &allow).await {
                tracing::warn!(account = %name, error = %e, "cannot refresh Oxylabs callback IPs; keeping the previous list");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(REFRESH_EVERY) => {}
            _ = shared.shutdown.cancelled() => return,
        }
    }
}

struct QueueSink {
    shared: Arc<Shared>,
    /// Callbacks for jobs not in the queue yet, still being looked for.
    early: Arc<AtomicUsize>,
    runs: Arc<RunCache>,
}

/// The unfinished runs of Oxylabs accounts, read from the queue at most once per
/// `RUNS_FRESH`: a flood of callbacks for unknown job ids costs a look-up per Oxylabs
/// run each, never a scan of every run in the queue per request.
#[derive(Default)]
struct RunCache(Mutex<Option<(Instant, OxylabsRuns)>>);

/// Run id and its account (lane) name.
type OxylabsRuns = Vec<(RunId, String)>;

const RUNS_FRESH: Duration = Duration::from_secs(1);

impl RunCache {
    fn get(&self, shared: &Shared) -> OxylabsRuns {
        let mut cached = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, runs)) = &*cached
            && at.elapsed() < RUNS_FRESH
        {
            return runs.clone();
        }
        let runs: OxylabsRuns = match shared.queue.unfinished_runs() {
            Ok(runs) => runs
                .into_iter()
                .filter(|r| {
                    shared
                        .lane(&r.lane)
                        .is_some_and(|l| l.vendor == Vendor::Oxylabs)
                })
                .map(|r| (r.id, r.lane))
                .collect(),
            Err(e) => {
                tracing::error!(error = %e, "cannot read runs for a callback");
                Vec::new()
            }
        };
        *cached = Some((Instant::now(), runs.clone()));
        runs
    }
}

/// When a callback's job is not in the queue yet, look again after these waits: the
/// callback can beat the commit of the submit that created the job's poll item (seen
/// under load, with jobs that finish within a few hundred ms).
const LOOK_AGAIN_MS: [u64; 8] = [25, 50, 100, 200, 400, 800, 1600, 3200];
/// Most early callbacks looked for at once; beyond it they wait for the safety poll.
const MAX_EARLY: usize = 10_000;

impl CallbackSink for QueueSink {
    fn job_done(&self, job_id: &str) -> bool {
        if wake(&self.shared, &self.runs, job_id) {
            return true;
        }
        if self.early.fetch_add(1, Ordering::Relaxed) >= MAX_EARLY {
            self.early.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        let (shared, early, job_id) = (self.shared.clone(), self.early.clone(), job_id.to_string());
        let runs = self.runs.clone();
        tokio::spawn(async move {
            let mut found = false;
            for ms in LOOK_AGAIN_MS {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(ms)) => {}
                    _ = shared.shutdown.cancelled() => break,
                }
                found = wake(&shared, &runs, &job_id);
                if found {
                    break;
                }
            }
            early.fetch_sub(1, Ordering::Relaxed);
            if !found {
                tracing::info!(%job_id, "Oxylabs callback for a job not in the queue; if it is ours, its safety poll finds it");
            }
        });
        true
    }
}

/// Makes the poll item of Oxylabs job `job_id` ready now and tells its executor to fetch
/// the results directly; false when no unfinished run has that job.
fn wake(shared: &Shared, cache: &RunCache, job_id: &str) -> bool {
    let key = poll_dedupe_key(job_id);
    for (run, lane) in cache.get(shared) {
        let Some(lane) = shared.lane(&lane) else {
            continue;
        };
        match shared
            .queue
            .wake_by_key(&run, &key, dredge_core::UnixMillis::now())
        {
            Ok(Some(_)) => {
                if let Some(executor) = lane.built().and_then(|b| b.oxylabs) {
                    executor.callback_received(job_id);
                }
                lane.wake.notify_one();
                return true;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(run = %run, error = %e, "cannot wake an item for a callback")
            }
        }
    }
    false
}
