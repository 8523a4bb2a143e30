//! What a daemon on a shared queue does about other daemons' work: it turns the
//! queue's wake-ups (`LISTEN/NOTIFY`) into wakes of its lanes and its writer, and,
//! after each heartbeat round (`cluster.rs`), takes back the leases of daemons that
//! stopped beating and has its writer look for runs nobody writes.
//!
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

/// How often the writer looks for runs nobody writes without being told to.
const SAFETY_TICK: Duration = Duration::from_secs(30);

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

/// What a change in the live daemons means, followed round by round (`cluster.rs`).
#[derive(Default)]
pub(super) struct Upkeep {
    live: Option<BTreeSet<String>>,
    last_tick: Option<Instant>,
}

impl Upkeep {
    /// After each heartbeat round (`live`: the daemons it found, `None` when it failed):
    /// when a daemon left, its leases are taken back; when the set changed, the writer
    /// looks for runs nobody writes (a writer may have died); and now and then anyway.
    pub(super) async fn after_round(&mut self, shared: &Arc<Shared>, live: Option<&[NodeInfo]>) {
        if let Some(nodes) = live {
            let now: BTreeSet<String> = nodes.iter().map(|n| n.node.clone()).collect();
            if self.live.as_ref() != Some(&now) {
                let someone_left = self
                    .live
                    .as_ref()
                    .is_none_or(|before| !before.is_subset(&now));
                if someone_left && !shared.health.is_faulted() {
                    reclaim_gone(shared).await;
                }
                self.tick(shared);
                self.live = Some(now);
            }
        }
        if self.last_tick.is_none_or(|t| t.elapsed() >= SAFETY_TICK) {
            self.tick(shared);
        }
    }

    fn tick(&mut self, shared: &Shared) {
        shared.writer().send(WriterMsg::Tick);
        self.last_tick = Some(Instant::now());
    }
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
