//! This daemon's share of every account's limits when several daemons share one queue
//! (`[queue] backend = "postgres"`): the arithmetic of a [`Share`], and the process-wide
//! share every [`RateGate`](super::RateGate) follows.
//!
//! Why process-wide: the share is a fact about the daemon (it is one of `nodes` live
//! daemons), the same for every account, and the gates are built inside the vendor
//! crates from the account's limits. A registry of the live gates lets the daemon
//! re-set them all in one call, without rebuilding executors or threading a handle
//! through every vendor's constructor. A daemon alone (sled) never sets it: share 1.

use std::sync::{Arc, Mutex, PoisonError, Weak};

use super::GateState;

/// Which part of each account's limits this daemon takes: it is number `rank`
/// (0-based, by node name) of `nodes` live daemons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    pub nodes: usize,
    pub rank: usize,
}

impl Share {
    /// The whole of every limit: a daemon alone.
    pub const WHOLE: Share = Share { nodes: 1, rank: 0 };

    /// This daemon's requests per second: an equal part of `total`.
    pub fn rate(self, total: f64) -> f64 {
        total / self.nodes.max(1) as f64
    }

    /// This daemon's concurrent requests: `total` split so that the parts add up to
    /// `total` (the first `total % nodes` daemons take one more), but never below 1:
    /// a daemon with no slot could not run the account at all, so with fewer slots
    /// than daemons the sum exceeds `total` by the difference.
    pub fn concurrency(self, total: usize) -> usize {
        let nodes = self.nodes.max(1);
        let extra = usize::from(self.rank < total % nodes);
        (total / nodes + extra).max(1)
    }
}

/// The share in force and the gates that follow it.
struct Registry {
    share: Share,
    gates: Vec<Weak<GateState>>,
}

static CLUSTER: Mutex<Registry> = Mutex::new(Registry {
    share: Share::WHOLE,
    gates: Vec::new(),
});

/// Sets this process's share and re-sets every live gate to it at once: requests in
/// flight keep their permits, and the concurrency freed or taken applies as they end.
pub fn set_cluster_share(share: Share) {
    let mut registry = CLUSTER.lock().unwrap_or_else(PoisonError::into_inner);
    registry.share = share;
    registry.gates.retain(|gate| match gate.upgrade() {
        Some(gate) => {
            gate.set_share(share);
            true
        }
        None => false,
    });
}

/// The share in force.
pub fn cluster_share() -> Share {
    CLUSTER.lock().unwrap_or_else(PoisonError::into_inner).share
}

/// Registers a new gate and sets it to the share in force (under the registry's lock,
/// so a share set meanwhile is not missed).
pub(super) fn follow(gate: &Arc<GateState>) {
    let mut registry = CLUSTER.lock().unwrap_or_else(PoisonError::into_inner);
    gate.set_share(registry.share);
    registry.gates.push(Arc::downgrade(gate));
}

#[cfg(test)]
mod tests {
    use super::Share;

    fn share(nodes: usize, rank: usize) -> Share {
        Share { nodes, rank }
    }

    #[test]
    fn the_rate_is_split_equally() {
        assert_eq!(Share::WHOLE.rate(20.0), 20.0);
        assert_eq!(share(2, 1).rate(20.0), 10.0);
        assert!((share(3, 0).rate(20.0) * 3.0 - 20.0).abs() < 1e-9);
    }

    #[test]
    fn concurrency_parts_add_up_to_the_total_and_are_never_zero() {
        for total in 1..=12 {
            for nodes in 1..=5 {
                let parts: Vec<usize> = (0..nodes)
                    .map(|rank| share(nodes, rank).concurrency(total))
                    .collect();
                assert!(parts.iter().all(|&p| p >= 1), "{total}/{nodes}: {parts:?}");
                let sum: usize = parts.iter().sum();
                assert_eq!(sum, total.max(nodes), "{total}/{nodes}: {parts:?}");
                let (min, max) = (parts.iter().min(), parts.iter().max());
                assert!(
                    max.unwrap() - min.unwrap() <= 1,
                    "{total}/{nodes}: {parts:?}"
                );
            }
        }
        assert_eq!(Share::WHOLE.concurrency(4), 4);
        assert_eq!(share(2, 0).concurrency(5), 3);
        assert_eq!(share(2, 1).concurrency(5), 2);
    }
}
