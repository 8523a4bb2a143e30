//! Per-account rate gates: a governor quota (`requests_per_second`) and a concurrency
//! limit (`max_concurrency`), applied to every HTTP request a vendor crate makes — so
//! an executor that makes several calls per item (token + data, 422 + /info) stays
//! inside the account's limits too.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The limits one account's requests share.
#[derive(Debug, Clone)]
pub struct RateGate {
    limiter: Option<Arc<DefaultDirectRateLimiter>>,
    slots: Arc<Semaphore>,
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
    _slot: OwnedSemaphorePermit,
}

impl RateGate {
    /// `requests_per_second`: `None` = unlimited; fractions allowed (0.5 = one every
    /// 2 s). Burst is one request: the quota is a steady pace, never a spike.
    pub fn new(requests_per_second: Option<f64>, max_concurrency: usize) -> Self {
        let limiter = requests_per_second
            .and_then(period_of)
            .and_then(Quota::with_period)
            .map(|quota| Arc::new(RateLimiter::direct(quota.allow_burst(NonZeroU32::MIN))));
        RateGate {
            limiter,
            slots: Arc::new(Semaphore::new(max_concurrency.max(1))),
        }
    }

    /// An unlimited gate (tests, simulators).
    pub fn unlimited() -> Self {
        Self::new(None, Semaphore::MAX_PERMITS)
    }

    /// Wait for a concurrency slot, then for the quota.
    pub async fn acquire(&self) -> GatePermit {
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("the gate's semaphore is never closed");
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
        GatePermit { _slot: slot }
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
}
