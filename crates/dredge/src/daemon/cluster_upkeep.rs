//! What a daemon on a shared queue does besides its lanes: it says it is alive (its
//! heartbeat, which answers with the live daemons), takes back the leases of daemons
//! that stopped saying so, and turns the queue's wake-ups (`LISTEN/NOTIFY`) into wakes
//! of its lanes and its writer.
//!
//! Why the heartbeat comes first at start: the other daemons reclaim the leases of
//! every node without a live heartbeat, so this one beats before its lanes lease.
//! Why wake-ups rather than polling: another daemon's commit (a new run, items
//! waiting, records staged) must reach this daemon's idle lanes and writer at once,
//! and an idle cluster should send nothing but its heartbeats. The writer still looks
//! for runs to take when the live daemons change (a writer may have died) and every
//! [`SAFETY_TICK`], a net under a lost wake-up.

use std::collections::BTreeSet;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use dredge_core::UnixMillis;
use dredge_queue::{NodeInfo, Notice};

use super::state::Shared;
use super::writer::WriterMsg;

/// How often a daemon writes its heartbeat.
pub(super) const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

/// How long a heartbeat counts: five missed beats (a busy server, a short network
/// hiccup) before the others take this daemon's leases and runs.
pub(super) const HEARTBEAT_TTL: Duration = Duration::from_secs(5);

/// How often the writer looks for runs nobody writes without being told to.
const SAFETY_TICK: Duration = Duration::from_secs(30);

/// Writes this daemon's heartbeat now; the live daemons, or `None` (logged) when the
/// queue refused it or is not shared.
pub(super) fn beat(shared: &Shared) -> Option<Vec<NodeInfo>> {
    let cluster = shared.queue.cluster()?;
    let now = UnixMillis::now();
    match cluster.heartbeat(now, now.after(HEARTBEAT_TTL)) {
        Ok(live) => Some(live),
        Err(e) => {
            tracing::warn!(error = %e, "cannot write this daemon's heartbeat");
            None
        }
    }
}

/// Starts the wake-ups: before the lanes, so no commit of another daemon is missed.
pub(super) fn listen(shared: &Arc<Shared>) -> anyhow::Result<()> {
    let Some(cluster) = shared.queue.cluster() else {
        return Ok(());
    };
    // Weak: the queue holds the sink, and the daemon's state holds the queue.
    let weak = Arc::downgrade(shared);
    cluster.listen(Box::new(move |notice| wake(&weak, notice)))?;
    Ok(())
}

fn wake(shared: &Weak<Shared>, notice: Notice) {
    let Some(shared) = shared.upgrade() else {
        return;
    };
    match notice {
        Notice::Lane(lane) => {
            if let Some(lane) = shared.lane(&lane) {
                lane.wake.notify_one();
            }
        }
        Notice::Staged(run) => shared.writer().send(WriterMsg::Check(run)),
        Notice::Runs => shared.writer().send(WriterMsg::Tick),
        Notice::Missed => {
            shared.writer().send(WriterMsg::Tick);
            shared.wake_lanes();
        }
    }
}

/// Runs until shutdown; returns at once on a queue only this daemon uses.
pub(super) async fn run(shared: Arc<Shared>) {
    if shared.queue.cluster().is_none() {
        return;
    }
    let mut live: Option<BTreeSet<String>> = None;
    let mut last_tick = Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(HEARTBEAT_EVERY) => {}
            _ = shared.shutdown.cancelled() => break,
        }
        let s = shared.clone();
        let beaten = tokio::task::spawn_blocking(move || beat(&s))
            .await
            .ok()
            .flatten();
        if let Some(nodes) = beaten {
            let now: BTreeSet<String> = nodes.into_iter().map(|n| n.node).collect();
            if live.as_ref() != Some(&now) {
                let someone_left = live.as_ref().is_none_or(|before| !before.is_subset(&now));
                tracing::info!(nodes = ?now, "the live daemons changed");
                if someone_left && !shared.health.is_faulted() {
                    reclaim_gone(&shared).await;
                }
                shared.writer().send(WriterMsg::Tick);
                last_tick = Instant::now();
                live = Some(now);
            }
        }
        if last_tick.elapsed() >= SAFETY_TICK {
            shared.writer().send(WriterMsg::Tick);
            last_tick = Instant::now();
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
