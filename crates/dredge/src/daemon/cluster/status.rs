//! `dredge status`'s view of the cluster: the live daemons as the last heartbeat round
//! found them, with the runs each one writes, and this daemon's share.

use std::sync::Arc;

use dredge_core::gate::Share;
use dredge_queue::Cluster;

use super::{Seen, fraction};
use crate::daemon::state::Shared;
use crate::protocol::{ClusterStatus, NodeStatus};

/// The cluster for `dredge status`: the live daemons as last seen, with the runs each
/// writes. `None` on sled.
pub(in crate::daemon) async fn status(shared: &Arc<Shared>) -> Option<ClusterStatus> {
    let cluster = shared.queue.cluster()?;
    let this = cluster.node().to_string();
    let seen = shared
        .cluster
        .seen
        .lock()
        .expect("membership poisoned")
        .clone();
    let Seen { nodes, share } = seen.unwrap_or(Seen {
        nodes: Vec::new(),
        share: Share::WHOLE,
    });
    let q = shared.queue.clone();
    let writers = tokio::task::spawn_blocking(move || q.cluster().map(Cluster::run_writers))
        .await
        .ok()
        .flatten()
        .and_then(Result::ok)
        .unwrap_or_default();
    let nodes = nodes
        .into_iter()
        .map(|n| NodeStatus {
            this: n.node == this,
            writes: writers
                .iter()
                .filter(|(_, writer)| *writer == n.node)
                .map(|(run, _)| run.to_string())
                .collect(),
            started_at: n.started_at.to_rfc3339(),
            heartbeat_at: n.heartbeat_at.to_rfc3339(),
            node: n.node,
            host: n.host,
            pid: n.pid,
        })
        .collect();
    Some(ClusterStatus {
        share: fraction(share),
        nodes,
    })
}
