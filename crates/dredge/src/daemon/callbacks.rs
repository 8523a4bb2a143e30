//! Oxylabs callbacks (`callback_listen`): the vendor crate's router and allowlist,
//! wired to the queue. A callback is a hint that a job is done: its poll item is made
//! ready now and told to fetch results directly. A callback can arrive before the
//! submit that created the job's poll item is committed; such a callback is looked for
//! again for a few seconds. Polling continues at a slow rate as a safety net, so a lost
//! callback delays a job but never loses it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use dredge_core::Vendor;
use dredge_oxylabs::callback::{Allowlist, CallbackSink, callback_router, refresh_allowlist};
use dredge_oxylabs::poll_dedupe_key;

use super::state::Shared;

/// How often Oxylabs' callback sender IPs are fetched again.
const REFRESH_EVERY: Duration = Duration::from_secs(3600);

pub async fn serve(shared: Arc<Shared>, addr: SocketAddr) {
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
    });
    let app = callback_router(allow, sink).into_make_service_with_connect_info::<SocketAddr>();
    tracing::info!(%addr, "listening for Oxylabs callbacks");
    let shutdown = shared.shutdown.clone();
    let _ = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
}

fn oxylabs_accounts(shared: &Shared) -> Vec<dredge_core::Account> {
    shared
        .config()
        .accounts
        .values()
        .filter(|a| a.vendor == Vendor::Oxylabs)
        .cloned()
        .collect()
}

fn extra_cidrs(shared: &Shared) -> Vec<String> {
    oxylabs_accounts(shared)
        .into_iter()
        .flat_map(|a| a.callback_allow)
        .collect()
}

/// Fetch the sender IPs at start and hourly (the published list is the same for every
/// account; each account's `callback_allow` is added).
async fn refresh(shared: Arc<Shared>, allow: Arc<RwLock<Allowlist>>) {
    loop {
        for account in oxylabs_accounts(&shared) {
            if let Err(e) = refresh_allowlist(&account, &allow).await {
                tracing::warn!(account = %account.name, error = %e, "cannot refresh Oxylabs callback IPs; keeping the previous list");
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
}

/// When a callback's job is not in the queue yet, look again after these waits: the
/// callback can beat the commit of the submit that created the job's poll item (seen
/// under load, with jobs that finish within a few hundred ms).
const LOOK_AGAIN_MS: [u64; 8] = [25, 50, 100, 200, 400, 800, 1600, 3200];
/// Most early callbacks looked for at once; beyond it they wait for the safety poll.
const MAX_EARLY: usize = 10_000;

impl CallbackSink for QueueSink {
    fn job_done(&self, job_id: &str) -> bool {
        if wake(&self.shared, job_id) {
            return true;
        }
        if self.early.fetch_add(1, Ordering::Relaxed) >= MAX_EARLY {
            self.early.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        let (shared, early, job_id) = (self.shared.clone(), self.early.clone(), job_id.to_string());
        tokio::spawn(async move {
            let mut found = false;
            for ms in LOOK_AGAIN_MS {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(ms)) => {}
                    _ = shared.shutdown.cancelled() => break,
                }
                found = wake(&shared, &job_id);
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
fn wake(shared: &Shared, job_id: &str) -> bool {
    let key = poll_dedupe_key(job_id);
    let runs = match shared.queue.unfinished_runs() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot read runs for a callback");
            return false;
        }
    };
    for run in runs {
        let Some(lane) = shared
            .lane(&run.lane)
            .filter(|l| l.vendor == Vendor::Oxylabs)
        else {
            continue;
        };
        match shared
            .queue
            .wake_by_key(&run.id, &key, dredge_core::UnixMillis::now())
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
                tracing::error!(run = %run.id, error = %e, "cannot wake an item for a callback")
            }
        }
    }
    false
}
