//! Per-account rate gates: a governor quota (`requests_per_second`) and a concurrency
//! limit (`max_concurrency`), applied to every HTTP request a vendor crate makes — so
//! an executor that makes several calls per item (token + data, 422 + /info) stays
//! inside the account's limits too. When several daemons share a queue, each gate
//! applies this daemon's share of both (`share.rs`), re-set as daemons join and leave.

mod share;
mod slots;

use std::num::NonZeroU32;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::Semaphore;

pub use share::{Share, cluster_share, set_cluster_share};
use slots::{Slot, Slots};

/// The limits one account's requests share.
#[derive(Debug, Clone)]
pub struct RateGate {
    state: Arc<GateState>,
}

/// A gate's account limits and what this daemon's share of them makes of them now.
#[derive(Debug)]
struct GateState {
    /// The account's `requests_per_second`, for the whole cluster.
    total_rate: Option<f64>,
    /// The account's `max_concurrency`, for the whole cluster.
    total_slots: usize,
    /// The quota at this daemon's share; replaced whole when the share changes
    /// (requests already waiting on the old one finish waiting there).
    limiter: RwLock<Option<Arc<DefaultDirectRateLimiter>>>,
    slots: Arc<Slots>,
}

impl GateState {
    fn set_share(&self, share: Share) {
        let limiter = self
            .total_rate
            .and_then(|rate| limiter_at(share.rate(rate)));
        *self.limiter.write().unwrap_or_else(PoisonError::into_inner) = limiter;
        self.slots.resize(share.concurrency(self.total_slots));
    }

    fn limiter(&self) -> Option<Arc<DefaultDirectRateLimiter>> {
        self.limiter
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A quota of `rate` per second with a burst of one; `None` for a rate that is not a
/// positive number.
fn limiter_at(rate: f64) -> Option<Arc<DefaultDirectRateLimiter>> {
    let quota = Quota::with_period(period_of(rate)?)?;
    Some(Arc::new(RateLimiter::direct(
        quota.allow_burst(NonZeroU32::MIN),
    )))
}

/// The pause between requests at `rate` per second, kept within 1 µs..=1 day: the
/// config refuses rates outside 0.001..=10000, and no rate a caller passes may panic
/// (a period that rounds to zero, or one too long for a `Duration`). `None` for a rate
/// that is not a positive number: no quota.
fn period_of(rate: f64) -> Option<Duration> {
    if !(rate.is_finite() && rate > 0.0) {
        return None;
    }
    let secs = (1.0 / rate).clamp(1e-6, 86_400.0);
    Duration::try_from_secs_f64(secs).ok()
}

/// Held while a request is in flight; dropping it frees the concurrency slot.
#[derive(Debug)]
pub struct GatePermit {
    _slot: Slot,
}

impl RateGate {
    /// `requests_per_second`: `None` = unlimited; fractions allowed (0.5 = one every
    /// 2 s). Burst is one request: the quota is a steady pace, never a spike. Both
    /// limits are the account's; the gate applies this daemon's share of them
    /// (`set_cluster_share`), the whole of them for a daemon alone.
    pub fn new(requests_per_second: Option<f64>, max_concurrency: usize) -> Self {
        let total_slots = max_concurrency.max(1);
        let state = Arc::new(GateState {
            total_rate: requests_per_second,
            total_slots,
            limiter: RwLock::new(None),
            slots: Arc::new(Slots::new(total_slots)),
        });
        share::follow(&state);
        RateGate { state }
    }

    /// An unlimited gate (tests, simulators).
    pub fn unlimited() -> Self {
        Self::new(None, Semaphore::MAX_PERMITS)
    }

    /// Wait for a concurrency slot, then for the quota.
    pub async fn acquire(&self) -> GatePermit {
        let slot = self.state.slots.acquire().await;
        if let Some(limiter) = self.state.limiter() {
            limiter.until_ready().await;
        }
        GatePermit { _slot: slot }
    }

    /// Applies `share` to this gate alone (`set_cluster_share` applies it to all).
    #[cfg(test)]
    fn set_share(&self, share: Share) {
        self.state.set_share(share);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn concurrency_limit_holds_back_the_next_request() {
        let gate = RateGate::new(None, 2);
        let a = gate.acquire().await;
        let _b = gate.acquire().await;
        let third = tokio::time::timeout(Duration::from_millis(50), gate.acquire()).await;
        assert!(third.is_err(), "a third request must wait for a slot");
        drop(a);
        let third = tokio::time::timeout(Duration::from_secs(5), gate.acquire()).await;
        assert!(third.is_ok(), "a freed slot lets the next one through");
    }

    #[tokio::test]
    async fn quota_holds_back_the_request_after_the_allowed_one() {
        // One request every 2 s: the second cannot pass within 100 ms.
        let gate = RateGate::new(Some(0.5), 100);
        drop(gate.acquire().await);
        let second = tokio::time::timeout(Duration::from_millis(100), gate.acquire()).await;
        assert!(second.is_err(), "the quota must delay the second request");
    }

    #[tokio::test]
    async fn no_quota_means_no_waiting() {
        let gate = RateGate::new(None, 100);
        for _ in 0..1000 {
            let p = tokio::time::timeout(Duration::from_secs(5), gate.acquire()).await;
            assert!(p.is_ok());
        }
    }

    #[test]
    fn no_rate_panics_the_gate() {
        for rate in [
            1e12,
            1e-30,
            f64::MAX,
            f64::MIN_POSITIVE,
            0.0,
            -1.0,
            f64::NAN,
            f64::INFINITY,
        ] {
            let _ = RateGate::new(Some(rate), 1);
        }
    }

    #[tokio::test]
    async fn a_smaller_share_holds_in_flight_permits_and_frees_fewer_slots() {
        let gate = RateGate::new(None, 4);
        let held: Vec<_> = acquire_n(&gate, 4).await;
        // Half of 4 while all 4 are out: none is cut short, and only 2 may be out
        // once they come back.
        gate.set_share(Share { nodes: 2, rank: 0 });
        drop(held);
        let _two = acquire_n(&gate, 2).await;
        let third = tokio::time::timeout(Duration::from_millis(50), gate.acquire()).await;
        assert!(third.is_err(), "a third request must wait: the share is 2");
        gate.set_share(Share::WHOLE);
        let back = tokio::time::timeout(Duration::from_secs(5), gate.acquire()).await;
        assert!(back.is_ok(), "the whole again frees the slots");
    }

    #[tokio::test]
    async fn a_share_of_the_rate_slows_the_quota() {
        // 2/s alone lets the second request through within 1 s; half of it (1/s) not.
        let gate = RateGate::new(Some(2.0), 100);
        gate.set_share(Share { nodes: 2, rank: 1 });
        drop(gate.acquire().await);
        let second = tokio::time::timeout(Duration::from_millis(700), gate.acquire()).await;
        assert!(second.is_err(), "at 1/s the second request waits about 1 s");
    }

    async fn acquire_n(gate: &RateGate, n: usize) -> Vec<GatePermit> {
        let mut permits = Vec::new();
        for _ in 0..n {
            let permit = tokio::time::timeout(Duration::from_secs(5), gate.acquire()).await;
            permits.push(permit.expect("a free slot"));
        }
        permits
    }
}
