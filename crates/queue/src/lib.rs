//! dredge-queue: the durable queue that makes "no record lost, none duplicated"
//! possible.
//!
//! It owns, in one sled tree: runs (with the job spec they started with), items and
//! their states (`Ready`, `Snoozed`, `Leased`, `Staged`, `Done`, `Dead`), the indexes
//! that make leasing O(log n) per lane, staged records with their follow-up items,
//! each run's committed output cursor, per-job schedule state and paused jobs.
//!
//! The daemon uses it through one seam, [`QueueBackend`] (`backend`): what may be
//! asked of a queue and what every backend guarantees. [`Queue`] is the sled backend;
//! opening it, its durability modes and its test seams are its own.
//!
//! Why it looks like this:
//! - One tree, and every call's changes go into one atomic `sled::Batch`: a stage (item,
//!   records, follow-ups, counts) either happens entirely or not at all, across a crash.
//! - Group commit: concurrent calls share one batch and one flush per round (`pending`,
//!   `flush`), because sled 0.34 cannot apply a batch while a flush runs.
//! - Every call that returns Ok has been flushed, except leasing: a lease never
//!   survives a restart (open reverts them all), so it need not be durable.
//! - Open reads only small index sets (leased, staged, unfinished runs, paused jobs),
//!   never all items, so a million queued items open quickly.
//! - Run counts are kept in the same batches as the state changes they count.
//! - Records need not pass through here: `commit_written` finishes a leased item whose
//!   records the output writer already fsynced, with its follow-ups, in the commit.
//! - sled 0.34 replays at open all the log written since it last opened; the daemon
//!   calls `checkpoint` now and then (e.g. every ~100,000 item writes or when
//!   idle) so a restart after a crash stays quick.
//!
//! Semantics worth knowing: an item created with `not_before: None` sorts as time 0
//! (before every item with a time); a cancelled or finished run's waiting items keep
//! their state and counts but are never leased; the run `deadline` is stored and handed
//! out, not enforced here; leases that outlive a worker come back via
//! `reclaim_expired_leases` or at the next open.
//!
//! All calls are synchronous (sled is); async callers use `spawn_blocking`.

mod admin;
mod backend;
mod cluster;
mod codec;
mod error;
mod flush;
mod history;
mod items;
mod pending;
mod planning;
mod queue;
mod runs;
mod stage;
mod stored;
mod tx;
mod types;

pub use backend::QueueBackend;
pub use cluster::{AccountStopInfo, Cluster, NodeInfo, Notice, NoticeSink, WrittenChunk};
pub use codec::FORMAT_VERSION;
pub use error::{QueueError, Result, StorageError};
pub use flush::Durability;
pub use history::Pruned;
pub use planning::PlanCursor;
pub use queue::{Queue, QueueOptions};
pub use types::{
    DeadItem, ItemCounts, ItemId, ItemInfo, ItemState, Lease, LeasedItem, NewRun, OutputCursor,
    Recovery, Release, RunId, RunInfo, RunState, ScheduleState, StageResult, StagedRecords,
    WrittenItem,
};
