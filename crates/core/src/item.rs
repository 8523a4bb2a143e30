//! Work items as executors create and see them.

use serde::{Deserialize, Serialize};

use crate::time::UnixMillis;

/// An item an executor asks for: a run's first items (from `plan`) or follow-ups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewItem {
    /// Human name of what this item fetches, shown in `dredge dead` (a URL, a query,
    /// `task 7a1b page 3`).
    pub label: String,
    /// Vendor-defined bytes the executor decodes in `execute`.
    pub payload: Vec<u8>,
    /// When set, a second item with the same key in the same run is not created
    /// (WDS crawl links deduplicated by URL).
    pub dedupe_key: Option<String>,
    /// With a dedupe key: the item is created only while its run holds fewer than
    /// `cap` distinct dedupe keys (WDS `max_pages`: a crawl never exceeds it, even
    /// across restarts, because the count lives with the run).
    pub cap: Option<u64>,
    /// A gate the item belongs to inside its account, e.g. the target domain; a snooze
    /// with `SnoozeScope::Domain` defers every ready item of that scope.
    pub scope: Option<String>,
    /// How the item starts life.
    pub start: ItemStart,
}

impl NewItem {
    /// A ready item with no scope and no dedupe key.
    pub fn ready(label: impl Into<String>, payload: Vec<u8>) -> Self {
        NewItem {
            label: label.into(),
            payload,
            dedupe_key: None,
            cap: None,
            scope: None,
            start: ItemStart::default(),
        }
    }

    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    pub fn with_dedupe_key(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = Some(key.into());
        self
    }

    /// See [`NewItem::cap`].
    pub fn with_cap(mut self, cap: u64) -> Self {
        self.cap = Some(cap);
        self
    }

    /// Fresh work, ready once `at` has passed.
    pub fn ready_at(self, at: UnixMillis) -> Self {
        self.with_start(ItemStart::Ready {
            not_before: Some(at),
            attempts: 0,
        })
    }

    pub fn with_start(mut self, start: ItemStart) -> Self {
        self.start = start;
        self
    }
}

/// The state a new item is created in.
///
/// Executors create fresh work (no attempts) or dead items. A follow-up that carries on
/// the executing item's own work — its attempts, a counted retry — is a
/// [`Continuation`](crate::Continuation), whose start the retry policy decides; this is
/// what it becomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ItemStart {
    /// Ready once `not_before` has passed (now when `None`), carrying attempts already
    /// spent by the item it continues (a regrouped AutoExtract query keeps its count).
    Ready {
        not_before: Option<UnixMillis>,
        attempts: u32,
    },
    /// Already dead (a query of a batch that failed for good): listed by `dredge dead`.
    Dead { reason: String },
}

impl Default for ItemStart {
    fn default() -> Self {
        ItemStart::Ready {
            not_before: None,
            attempts: 0,
        }
    }
}

/// What an executor is told about the item it executes.
#[derive(Debug, Clone)]
pub struct ItemContext {
    pub label: String,
    pub payload: Vec<u8>,
    /// Counted attempts so far (transient errors).
    pub attempts: u32,
    /// Uncounted come-back-later rounds so far (202, `pending`): drives the poll delay.
    pub polls: u32,
    pub run_started: UnixMillis,
}
