//! The records as stored (private): what each key kind holds.

use dredge_core::UnixMillis;
use serde::{Deserialize, Serialize};

use crate::types::{ItemCounts, ItemState, OutputCursor, RunId, RunState};

/// A run's definition; written once at creation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunMeta {
    pub job: String,
    pub lane: String,
    pub spec_snapshot: Vec<u8>,
    pub started_at: UnixMillis,
    pub deadline: Option<UnixMillis>,
    pub max_attempts: u32,
}

/// What changes about a run; rewritten in every batch that touches its items.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunStatus {
    pub state: RunState,
    pub finished_at: Option<UnixMillis>,
    pub counts: ItemCounts,
    pub cursor: OutputCursor,
    /// Items created with a dedupe key (what `NewItem::cap` bounds).
    pub distinct_keys: u64,
}

/// An item's state with the bookkeeping the public view leaves out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Stored {
    Ready {
        not_before: u64,
    },
    Snoozed {
        until: u64,
    },
    /// `was` is the waiting state to go back to when the lease is reverted on open.
    Leased {
        until: u64,
        was: Box<Stored>,
    },
    /// `seq` is the item's place in the staging order.
    Staged {
        seq: u64,
    },
    Done,
    Dead {
        reason: String,
    },
}

impl Stored {
    /// The not_before of a waiting (ready or snoozed) item.
    pub(crate) fn waiting_since(&self) -> Option<u64> {
        match self {
            Stored::Ready { not_before } => Some(*not_before),
            Stored::Snoozed { until } => Some(*until),
            _ => None,
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            Stored::Ready { .. } => "ready",
            Stored::Snoozed { .. } => "snoozed",
            Stored::Leased { .. } => "leased",
            Stored::Staged { .. } => "staged",
            Stored::Done => "done",
            Stored::Dead { .. } => "dead",
        }
    }

    /// The counter this state is counted in.
    pub(crate) fn counter<'a>(&self, counts: &'a mut ItemCounts) -> &'a mut u64 {
        match self {
            Stored::Ready { .. } => &mut counts.ready,
            Stored::Snoozed { .. } => &mut counts.snoozed,
            Stored::Leased { .. } => &mut counts.leased,
            Stored::Staged { .. } => &mut counts.staged,
            Stored::Done => &mut counts.done,
            Stored::Dead { .. } => &mut counts.dead,
        }
    }

    pub(crate) fn public(&self) -> ItemState {
        match self {
            Stored::Ready { not_before } => ItemState::Ready {
                not_before: UnixMillis(*not_before),
            },
            Stored::Snoozed { until } => ItemState::Snoozed {
                until: UnixMillis(*until),
            },
            Stored::Leased { until, .. } => ItemState::Leased {
                until: UnixMillis(*until),
            },
            Stored::Staged { .. } => ItemState::Staged,
            Stored::Done => ItemState::Done,
            Stored::Dead { reason } => ItemState::Dead {
                reason: reason.clone(),
            },
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ItemRec {
    pub run: RunId,
    pub label: String,
    pub payload: Vec<u8>,
    pub scope: Option<String>,
    pub attempts: u32,
    pub polls: u32,
    pub state: Stored,
    /// The last counted error (or the reason it died).
    pub last_error: Option<String>,
    /// The last snooze note.
    pub note: Option<String>,
}
