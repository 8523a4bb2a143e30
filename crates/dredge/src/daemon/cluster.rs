//! This daemon as one of several sharing a PostgreSQL queue: its heartbeat, the live
//! daemons it knows of, and its share of every account's limits.
//!
//! Every `HEARTBEAT_EVERY` the daemon writes its row in the queue's `nodes` table
//! (alive until `HEARTBEAT_EXPIRES_AFTER` from now) and reads the live rows back. The
//! live list is kept in memory (`dredge status` shows it) and sets this daemon's
//! [`Share`]: of N live daemons each takes 1/N of an account's `requests_per_second`
//! and its part of `max_concurrency`, applied to every rate gate at once
//! (`dredge_core::gate::set_cluster_share`). A daemon that joins is counted at its first
//! beat; one that stops cleanly removes its row (the others take its share at their
//! next beat); one that dies is dropped once its row expires. The same round carries
//! account stops from daemon to daemon (`stops.rs`); `status.rs` shows the cluster. On
//! sled there is no cluster: nothing here runs and the share stays whole.

mod status;
mod stops;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use dredge_core::UnixMillis;
use dredge_core::gate::{Share, set_cluster_share};
use dredge_queue::{AccountStopInfo, NodeInfo};
use stops::StopsSeen;

pub(super) use status::status;

use super::state::Shared;

/// How often this daemon beats (and re-reads the live daemons): a daemon that joins or
/// leaves cleanly changes the others' shares within about this long.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

/// How long a beat keeps a daemon alive. Five beats: a daemon is not dropped for one
/// slow round (a busy server, a pause of its own), yet a dead one's share goes back to
/// the others within 5 s, while the quota it no longer uses is lost (never exceeded).
pub(super) const HEARTBEAT_EXPIRES_AFTER: Duration = Duration::from_secs(5);

/// The live daemons as the last heartbeat round found them, this daemon's share, and
/// the account stops it passes on.
pub(super) struct Membership {
    seen: Mutex<Option<Seen>>,
    stops: Mutex<StopsSeen>,
}

impl Default for Membership {
    fn default() -> Self {
        Membership {
            seen: Mutex::new(None),
            stops: Mutex::new(StopsSeen::new(UnixMillis::now())),
        }
    }
}

/// What `observe` read.
struct Round {
    now: UnixMillis,
    live: Vec<NodeInfo>,
    /// Other daemons' unexpired account stops.
    stops: Vec<AccountStopInfo>,
}

#[derive(Clone)]
pub(super) struct Seen {
    nodes: Vec<NodeInfo>,
    share: Share,
}

/// This daemon's share among `live` (by node name; this node counted even when its
/// own row was not read back, e.g. a beat that failed).
fn share_of(node: &str, live: &[NodeInfo]) -> Share {
    let mut names: Vec<&str> = live.iter().map(|n| n.node.as_str()).collect();
    if !names.contains(&node) {
        names.push(node);
    }
    names.sort_unstable();
    names.dedup();
    Share {
        nodes: names.len(),
        rank: names.iter().position(|n| *n == node).unwrap_or(0),
    }
}

/// The first round, before the lanes start, so that their gates start at this
/// daemon's share rather than the whole. Nothing on sled.
pub(super) async fn join(shared: &Arc<Shared>) {
    if shared.queue.cluster().is_some() {
        let _ = round(shared, false).await;
    }
}

/// A round every `HEARTBEAT_EVERY` until shutdown, then leaves the cluster. Returns at
/// once on sled. What a change in the live daemons means for leases and runs is
/// `cluster_upkeep`'s.
pub(super) async fn run(shared: Arc<Shared>) {
    if shared.queue.cluster().is_none() {
        return;
    }
    let mut failing = false;
    let mut upkeep = super::cluster_upkeep::Upkeep::default();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(HEARTBEAT_EVERY) => {}
            _ = shared.shutdown.cancelled() => break,
        }
        let live = round(&shared, failing).await;
        failing = live.is_none();
        upkeep.after_round(&shared, live.as_deref()).await;
    }
    leave(&shared).await;
}

/// One round: the beat (which answers with the live daemons), then `observe`. The
/// live daemons, or `None` if either failed (logged once per run of failures:
/// `failing` says whether the previous round failed too).
async fn round(shared: &Arc<Shared>, failing: bool) -> Option<Vec<NodeInfo>> {
    let q = shared.queue.clone();
    let beat = tokio::task::spawn_blocking(move || {
        let cluster = q.cluster().expect("checked at start");
        let now = UnixMillis::now();
        cluster.heartbeat(now, now.after(HEARTBEAT_EXPIRES_AFTER))
    })
    .await;
    let done = match beat {
        Ok(Ok(live)) => observe(shared, live.clone()).await.map(|()| live),
        Ok(Err(e)) => Err(e.into()),
        Err(e) => Err(e.into()),
    };
    if let Err(e) = &done
        && !failing
    {
        tracing::warn!(error = %e, "the heartbeat round failed; the others drop this daemon once its heartbeat expires");
    }
    done.ok()
}

/// What follows each heartbeat: keeps the live daemons (for status, and this daemon's
/// share set on the gates when they changed) and passes account stops on.
pub(super) async fn observe(shared: &Arc<Shared>, live: Vec<NodeInfo>) -> anyhow::Result<()> {
    let q = shared.queue.clone();
    let read = tokio::task::spawn_blocking(move || {
        let cluster = q.cluster().expect("called on a cluster only");
        let now = UnixMillis::now();
        let mut stops = cluster.account_stops(now)?;
        stops.retain(|s| s.node != cluster.node());
        Ok::<_, dredge_queue::QueueError>(Round { now, live, stops })
    })
    .await??;
    adopt(shared, read.live);
    stops::pass_on(shared, read.now, &read.stops).await;
    Ok(())
}

/// Keeps `live` and applies this daemon's share if it changed.
fn adopt(shared: &Shared, live: Vec<NodeInfo>) {
    let Some(cluster) = shared.queue.cluster() else {
        return;
    };
    let share = share_of(cluster.node(), &live);
    let mut seen = shared.cluster.seen.lock().expect("membership poisoned");
    let before = seen.as_ref().map(|s| s.share);
    if before != Some(share) {
        set_cluster_share(share);
        let names: Vec<&str> = live.iter().map(|n| n.node.as_str()).collect();
        tracing::info!(nodes = ?names, share = %fraction(share),
            "daemons sharing the queue changed: this one takes its share of each account's limits");
    }
    *seen = Some(Seen { nodes: live, share });
}

/// Removes this daemon's heartbeat: the others take its share at their next beat.
async fn leave(shared: &Arc<Shared>) {
    let q = shared.queue.clone();
    let left = tokio::task::spawn_blocking(move || match q.cluster() {
        Some(cluster) => cluster.leave(),
        None => Ok(()),
    })
    .await;
    match left {
        Ok(Ok(())) => tracing::info!("left the cluster"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot remove this daemon's heartbeat; the others drop it once it expires")
        }
        Err(e) => tracing::warn!(error = %e, "the leave task failed"),
    }
}

pub(super) fn fraction(share: Share) -> String {
    format!("1/{}", share.nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str) -> NodeInfo {
        NodeInfo {
            node: name.into(),
            host: "h".into(),
            pid: 1,
            started_at: UnixMillis(0),
            heartbeat_at: UnixMillis(0),
            expires_at: UnixMillis(0),
        }
    }

    #[test]
    fn the_share_counts_the_live_daemons_and_ranks_this_one_by_name() {
        let live = [node("b"), node("a"), node("c")];
        assert_eq!(share_of("b", &live), Share { nodes: 3, rank: 1 });
        assert_eq!(share_of("a", &live[..2]), Share { nodes: 2, rank: 0 });
        // Alone (or its own row not read back): the whole.
        assert_eq!(share_of("a", &[]), Share::WHOLE);
        assert_eq!(share_of("a", &[node("a")]), Share::WHOLE);
        // A beat that did not come back still counts this daemon.
        assert_eq!(share_of("z", &live), Share { nodes: 4, rank: 3 });
    }
}
