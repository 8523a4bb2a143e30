//! What a daemon on a shared queue does besides its lanes: it says it is alive (its
//! heartbeat), takes back the leases of daemons that stopped saying so, and wakes its
//! writer to take runs nobody writes and write what other daemons staged.
//!
//! Why the heartbeat comes first at start: the other daemons reclaim the leases of
//! every node without a live heartbeat, so this one beats before its lanes lease.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dredge_core::UnixMillis;

use super::state::Shared;
use super::writer::{TICK, WriterMsg};

/// How often a daemon writes its heartbeat.
pub(super) const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

/// How long a heartbeat counts: five missed beats (a busy server, a short network
/// hiccup) before the others take this daemon's leases and runs.
pub(super) const HEARTBEAT_TTL: Duration = Duration::from_secs(5);

/// Writes this daemon's heartbeat now; `false` (logged) when the queue refused it.
pub(super) fn beat(shared: &Shared) -> bool {
    let Some(cluster) = shared.queue.cluster() else {
        return true;
    };
    let now = UnixMillis::now();
    match cluster.heartbeat(now, now.after(HEARTBEAT_TTL)) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "cannot write this daemon's heartbeat");
            false
        }
    }
}

/// Runs until shutdown; returns at once on a queue only this daemon uses.
pub(super) async fn run(shared: Arc<Shared>) {
    if shared.queue.cluster().is_none() {
        return;
    }
    let mut last_beat = Instant::now();
    let mut last_reclaim = Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = shared.shutdown.cancelled() => break,
        }
        shared.writer().send(WriterMsg::Tick);
        if last_beat.elapsed() >= HEARTBEAT_EVERY {
            last_beat = Instant::now();
            let s = shared.clone();
            let _ = tokio::task::spawn_blocking(move || beat(&s)).await;
        }
        if last_reclaim.elapsed() >= HEARTBEAT_TTL && !shared.health.is_faulted() {
            last_reclaim = Instant::now();
            reclaim_gone(&shared).await;
        }
    }
    let s = shared.clone();
    let _ = tokio::task::spawn_blocking(move || {
        if let Some(cluster) = s.queue.cluster()
            && let Err(e) = cluster.leave()
        {
            tracing::warn!(error = %e, "cannot remove this daemon's heartbeat; the others count it gone once it expires");
        }
    })
    .await;
}

async fn reclaim_gone(shared: &Arc<Shared>) {
    let s = shared.clone();
    let reclaimed = tokio::task::spawn_blocking(move || {
        s.queue
            .cluster()
            .map(|c| c.reclaim_leases_of_gone_nodes(UnixMillis::now()))
    })
    .await;
    match reclaimed {
        Ok(Some(Ok(0))) | Ok(None) => {}
        Ok(Some(Ok(n))) => {
            tracing::warn!(
                reclaimed = n,
                "leases of daemons whose heartbeat stopped were taken back; their items run again"
            );
            shared.wake_lanes();
        }
        Ok(Some(Err(e))) => {
            tracing::error!(error = %e, "cannot reclaim the leases of stopped daemons")
        }
        Err(e) => tracing::error!(error = %e, "lease reclaim task failed"),
    }
}
