//! Wall-clock instants as stored on disk and compared across restarts.

use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (UTC). Wall-clock, because item deadlines and
/// snoozes must survive a restart, which `Instant` does not.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub struct UnixMillis(pub u64);

impl UnixMillis {
    pub fn now() -> Self {
        Self::from(SystemTime::now())
    }

    /// This instant plus `d`, saturating.
    pub fn after(self, d: Duration) -> Self {
        UnixMillis(
            self.0
                .saturating_add(d.as_millis().min(u64::MAX as u128) as u64),
        )
    }

    /// How long from `self` until `later` (zero when `later` is not later).
    pub fn until(self, later: UnixMillis) -> Duration {
        Duration::from_millis(later.0.saturating_sub(self.0))
    }

    /// RFC 3339 text with second precision, e.g. `2026-11-22T23:10:04Z`.
    pub fn to_rfc3339(self) -> String {
        chrono::DateTime::<chrono::Utc>::from(SystemTime::from(self))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    }
}

impl From<SystemTime> for UnixMillis {
    fn from(t: SystemTime) -> Self {
        UnixMillis(
            t.duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        )
    }
}

impl From<UnixMillis> for SystemTime {
    fn from(t: UnixMillis) -> Self {
        UNIX_EPOCH + Duration::from_millis(t.0)
    }
}
