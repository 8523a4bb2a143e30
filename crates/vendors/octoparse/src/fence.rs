//! The wait before an executor's first acknowledged read.
//!
//! Octoparse's acknowledgement (`update` / `markexported`) names no batch: it marks
//! whatever the task's last read handed out. A request sent by a process that was then
//! killed (or by the executor a config reload replaced) can still reach the vendor
//! later. If such a late acknowledgement lands after this executor's first read, it
//! marks the rows that read handed out as exported before they are staged here; should
//! that read's answer then be lost (a dropped connection, a crash before staging), the
//! next read starts after those rows and they are gone for good.
//!
//! No request outlives the account's `timeout` on the client side, so a new executor
//! makes no acknowledged read until that long after it was built: by then every earlier
//! request, the last acknowledgement included, has been answered or abandoned. Until
//! then an acknowledged read is snoozed (an uncounted wait) to that instant. Nothing
//! else waits: acknowledgements themselves (re-sending an ack for a batch already
//! marked marks nothing new), paged reads (`mode = "all"`, not destructive) and the
//! legacy destructive read (no acknowledgement exists to land late).
//!
//! The price is one `timeout` (60 s by default) of delay for acknowledged drains after
//! each daemon start or config reload. A mechanism that makes a late ack harmless
//! instead would need the vendor to name batches in its acknowledgement, which neither
//! API does.

use std::time::{Duration, Instant};

use dredge_core::{Snooze, SnoozeScope};

/// When this executor may make its first acknowledged read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AckFence {
    reads_from: Instant,
    timeout: Duration,
}

impl AckFence {
    /// A fence for an executor built now whose requests time out after `timeout`.
    pub(crate) fn starting_now(timeout: Duration) -> Self {
        AckFence {
            reads_from: Instant::now() + timeout,
            timeout,
        }
    }

    /// The snooze an acknowledged read gets at `now`, or `None` once it may run.
    pub(crate) fn snooze_at(&self, now: Instant) -> Option<Snooze> {
        let left = self.reads_from.saturating_duration_since(now);
        (!left.is_zero()).then(|| Snooze {
            delay: left,
            scope: SnoozeScope::Item,
            reason: format!(
                "first acknowledged read waits out the account's timeout ({:?}) so that \
                 an acknowledgement sent before this start cannot mark its rows",
                self.timeout
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_before_the_timeout_snoozes_until_exactly_then() {
        let fence = AckFence::starting_now(Duration::from_secs(60));
        let now = fence.reads_from - Duration::from_secs(45);
        let snooze = fence.snooze_at(now).expect("must wait");
        assert_eq!(snooze.delay, Duration::from_secs(45));
        assert_eq!(snooze.scope, SnoozeScope::Item);
        assert!(snooze.reason.contains("60s"), "{}", snooze.reason);
    }

    #[test]
    fn a_read_at_or_after_the_timeout_runs() {
        let fence = AckFence::starting_now(Duration::from_secs(60));
        assert!(fence.snooze_at(fence.reads_from).is_none());
        let later = fence.reads_from + Duration::from_millis(1);
        assert!(fence.snooze_at(later).is_none());
    }
}
