//! The queue's public vocabulary: ids, runs, items as callers see them.

use std::fmt;

use dredge_core::{Record, UnixMillis};
use serde::{Deserialize, Serialize};

/// A run's id: its UTC start time and a global sequence, e.g. `20261122T231000Z-0001`.
/// Ids sort by start time because the text sorts that way.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RunId(pub String);

impl RunId {
    /// The id of a run started at `started_at` with global sequence number `seq`.
    pub fn new(started_at: UnixMillis, seq: u64) -> Self {
        let stamp: String = started_at
            .to_rfc3339()
            .chars()
            .filter(|c| *c != '-' && *c != ':')
            .collect();
        RunId(format!("{stamp}-{seq:04}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A globally unique item id, increasing in creation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ItemId(pub u64);

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What a run is created with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRun {
    pub job: String,
    /// The account name: items are leased per lane.
    pub lane: String,
    /// The job definition the run started with (a run always uses it).
    pub spec_snapshot: Vec<u8>,
    pub started_at: UnixMillis,
    /// Items still unfinished after this instant are to be killed by the daemon; the
    /// queue stores and hands it out but does not enforce it.
    pub deadline: Option<UnixMillis>,
    pub max_attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunState {
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl RunState {
    /// The lowercase name used by the status socket.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
        }
    }
}

/// How many of a run's items are in each state, kept up to date in every batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemCounts {
    pub ready: u64,
    pub leased: u64,
    pub snoozed: u64,
    pub staged: u64,
    pub done: u64,
    pub dead: u64,
}

impl ItemCounts {
    /// Items that can still make progress (not done, not dead).
    pub fn open(&self) -> u64 {
        self.ready + self.leased + self.snoozed + self.staged
    }
}

/// How far a run's output file is committed: everything past `bytes` is a torn or
/// uncommitted tail that recovery cuts off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputCursor {
    pub bytes: u64,
    pub records: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    pub id: RunId,
    pub job: String,
    pub lane: String,
    pub spec_snapshot: Vec<u8>,
    pub state: RunState,
    pub started_at: UnixMillis,
    pub finished_at: Option<UnixMillis>,
    pub deadline: Option<UnixMillis>,
    pub max_attempts: u32,
    pub counts: ItemCounts,
    pub cursor: OutputCursor,
    /// Why the run ended as it did, when dredge stopped it itself (its output file was
    /// removed, its recovery failed).
    pub reason: Option<String>,
    /// Set while the run's inputs are still being planned a chunk at a time.
    pub planning: Option<crate::planning::PlanCursor>,
}

impl RunInfo {
    /// Running with nothing left to do: no open item and nothing left to plan. The
    /// writer ends such a run.
    pub fn is_complete(&self) -> bool {
        self.state == RunState::Running && self.counts.open() == 0 && self.planning.is_none()
    }
}

/// An item handed to a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeasedItem {
    pub id: ItemId,
    pub run: RunId,
    pub job: String,
    pub lane: String,
    pub label: String,
    pub payload: Vec<u8>,
    pub scope: Option<String>,
    /// Counted attempts so far.
    pub attempts: u32,
    /// Uncounted come-back-later rounds so far.
    pub polls: u32,
    pub run_started: UnixMillis,
    pub deadline: Option<UnixMillis>,
    pub max_attempts: u32,
    /// This lease's fencing token: calls that end the lease carry it (see [`Lease`]),
    /// and once the lease is taken back (it ran out, or the daemon recovered from a
    /// storage fault) they are refused, so a late worker cannot finish an item that
    /// another worker now runs.
    pub epoch: u64,
}

impl LeasedItem {
    /// The lease, as calls that end it take it.
    pub fn lease(&self) -> Lease {
        Lease {
            id: self.id,
            epoch: Some(self.epoch),
        }
    }
}

/// Which lease a call ends: an item id, and the lease's epoch when the caller holds
/// one. `epoch: None` (what a bare `ItemId` converts to) is unfenced: any current
/// lease of the item will do (tests, operators).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lease {
    pub id: ItemId,
    pub epoch: Option<u64>,
}

impl From<ItemId> for Lease {
    fn from(id: ItemId) -> Self {
        Lease { id, epoch: None }
    }
}

impl From<&LeasedItem> for Lease {
    fn from(item: &LeasedItem) -> Self {
        item.lease()
    }
}

/// How a leased item goes back to waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    /// Come back later, no attempt counted (202, `pending`, a domain snooze).
    Snooze {
        until: UnixMillis,
        polls: u32,
        note: String,
    },
    /// A transient failure: `attempts` is the new counted total.
    Retry {
        not_before: UnixMillis,
        attempts: u32,
        error: String,
    },
}

/// A leased item whose records the output writer appended and fsynced without staging
/// them, with the follow-ups it creates (see `QueueBackend::commit_written`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenItem {
    pub id: ItemId,
    pub follow_ups: Vec<dredge_core::NewItem>,
    /// The lease's epoch (see [`Lease`]); `None` accepts any current lease.
    pub epoch: Option<u64>,
}

/// What `stage` did with the follow-ups it was given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageResult {
    /// The items created, in the order given.
    pub created: Vec<ItemId>,
    /// Follow-ups not created because their dedupe key was already seen in the run.
    pub deduplicated: usize,
}

/// An item's state as callers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemState {
    Ready { not_before: UnixMillis },
    Snoozed { until: UnixMillis },
    Leased { until: UnixMillis },
    Staged,
    Done,
    Dead { reason: String },
}

/// One item, for status and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemInfo {
    pub id: ItemId,
    pub run: RunId,
    pub label: String,
    pub payload: Vec<u8>,
    pub scope: Option<String>,
    pub attempts: u32,
    pub polls: u32,
    pub state: ItemState,
    /// The last counted error (or why it died).
    pub last_error: Option<String>,
    /// The last snooze note.
    pub note: Option<String>,
}

/// A dead item, as `dredge dead` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadItem {
    pub id: ItemId,
    pub run: RunId,
    pub job: String,
    pub label: String,
    pub reason: String,
    pub attempts: u32,
}

/// A job's schedule bookkeeping, kept across restarts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleState {
    pub last_fire: Option<UnixMillis>,
    /// Hash of the job file's content: a job without a schedule runs again only when it changes.
    pub content_hash: Option<u64>,
    pub last_run: Option<RunId>,
}

impl ScheduleState {
    /// Whether this stored state already records what `wanted` (the state a new run
    /// would record: the stored one as its daemon read it, with its fire or content
    /// applied) starts: a fire at or after `wanted`'s, and the same content. Then the
    /// run was started already (by another daemon sharing the queue), and creating it
    /// is refused (`QueueError::AlreadyStarted`). A daemon alone never asks for a fire
    /// or content it recorded, so on one daemon this never refuses.
    pub fn already_started(&self, wanted: &ScheduleState) -> bool {
        self.last_fire >= wanted.last_fire && self.content_hash == wanted.content_hash
    }
}

/// What `open` found and undid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Leases that were outstanding at the crash, now Ready again.
    pub leases_reset: usize,
    /// Staged-but-uncommitted items in staging order, to be replayed to the writers.
    pub staged: Vec<(RunId, ItemId)>,
    /// Committed output offsets of unfinished (running) runs, to truncate `.partial` files.
    pub cursors: Vec<(RunId, OutputCursor)>,
    /// Cancelled runs whose `.partial` file may still end in an uncommitted tail: cut
    /// them back to these cursors too, then `QueueBackend::settle_cancelled`.
    pub cancelled: Vec<(RunId, OutputCursor)>,
}

/// A staged item's records (what the writer appends).
pub type StagedRecords = Vec<Record>;
