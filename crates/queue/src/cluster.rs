//! What a queue shared by several daemons adds to the seam: [`Cluster`], reached through
//! [`QueueBackend::cluster`](crate::QueueBackend::cluster). A backend that only one
//! daemon ever opens (sled) has none, and the daemon then behaves as a single node:
//! its limits are its own, it writes every run's file itself, and its own lanes hand
//! records to its writer in memory.
//!
//! With a cluster, three things that one daemon used to decide alone are decided in
//! the shared store instead:
//! - **Who is alive** (`nodes`): each daemon writes a heartbeat; the live ones share
//!   each account's `requests_per_second` and `max_concurrency`, and `dredge status`
//!   lists them.
//! - **Who writes a run's file** (`run writers`): records are stored with the commit of
//!   their item (`stage`), and exactly one daemon at a time — the holder of the run's
//!   writer lock, taken over when its holder dies — appends them to the run's file in
//!   staging order and commits them written, fenced by a writer epoch.
//! - **Which accounts are stopped** (`account stops`): a daemon whose lane met
//!   `auth_failed` or `account_suspended` asserts it at each heartbeat; the others
//!   stop their lane for that account too.
//! - **Who starts a run**: a cron fire or a new job content is recorded in the same
//!   transaction as the run it starts; a second daemon's attempt at the same fire is
//!   refused (`QueueError::AlreadyStarted`) rather than starting a second run.

use dredge_core::{Record, UnixMillis};

use crate::error::Result;
use crate::types::{ItemId, RunId};

/// One daemon of a cluster, as its heartbeat row says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// The daemon's `[queue] node` name (unique in the cluster).
    pub node: String,
    pub host: String,
    pub pid: u32,
    pub started_at: UnixMillis,
    pub heartbeat_at: UnixMillis,
    /// When the others count it as gone unless it beats again.
    pub expires_at: UnixMillis,
}

/// An account stopped on one daemon (`auth_failed`, `account_suspended`), as its row
/// says; the others stop the account too while the row has not expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountStopInfo {
    pub account: String,
    /// The daemon that met the stop.
    pub node: String,
    /// `auth_failed` or `account_suspended` (`AccountStop::as_str`).
    pub kind: String,
    pub reason: String,
    /// When that daemon met it.
    pub since: UnixMillis,
    pub expires_at: UnixMillis,
}

/// A run's file as the writer lock holder must produce it: the records committed
/// written so far, `first_seq` being the output number of the chunk's first record.
#[derive(Debug, Clone, PartialEq)]
pub struct WrittenChunk {
    pub item: ItemId,
    pub first_seq: u64,
    pub records: Vec<Record>,
}

/// A wake-up from another daemon's (or this one's) commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Items of this lane (account) are waiting: its lane may lease.
    Lane(String),
    /// Items of this run were staged: its writer has records to append.
    Staged(RunId),
    /// A run was created, or a run's state changed: someone must take it and write
    /// it, or its writer let it go.
    Runs,
    /// The wake-up channel was lost and is back: anything may have happened meanwhile.
    Missed,
}

/// What receives the notices; called on the backend's own threads, so it must not block.
pub type NoticeSink = Box<dyn Fn(Notice) + Send + Sync>;

/// The shared-store side of several daemons on one queue. See the module doc.
pub trait Cluster: Send + Sync {
    /// This daemon's node name.
    fn node(&self) -> &str;

    // ----- Nodes -----

    /// Writes this node's heartbeat (alive until `expires_at`) and answers with the
    /// nodes alive at `now`, this one included, by name: one transaction, so that an
    /// idle cluster's only queries are its heartbeats.
    fn heartbeat(&self, now: UnixMillis, expires_at: UnixMillis) -> Result<Vec<NodeInfo>>;

    /// Delivers wake-ups to `sink` until the queue is dropped, reconnecting (with a
    /// [`Notice::Missed`]) when the channel breaks. Returns once listening: every
    /// commit after it is noticed.
    fn listen(&self, sink: NoticeSink) -> Result<()>;

    /// The nodes whose heartbeat has not expired at `now`, by name.
    fn live_nodes(&self, now: UnixMillis) -> Result<Vec<NodeInfo>>;

    /// Removes this node's heartbeat (a clean shutdown: the others take its share at
    /// once instead of after the expiry).
    fn leave(&self) -> Result<()>;

    /// Takes back the leases of nodes whose heartbeat expired before `now` (they died
    /// or lost the server): their items wait again at once rather than when each lease
    /// runs out (the account's timeout and ten minutes). A node that comes back finds
    /// its late commits fenced, as after any reclaim. Returns how many.
    fn reclaim_leases_of_gone_nodes(&self, now: UnixMillis) -> Result<usize>;

    // ----- Account stops -----

    /// Asserts that `stop.account` is stopped on this node until `stop.expires_at`:
    /// re-asserted at every heartbeat while it stays stopped (`stop.node` is ignored:
    /// the row is this node's).
    fn assert_account_stop(&self, stop: &AccountStopInfo) -> Result<()>;

    /// Withdraws this node's stop of `account` (its config for it changed).
    fn withdraw_account_stop(&self, account: &str) -> Result<()>;

    /// The stops of every node that have not expired at `now`, by account then node.
    fn account_stops(&self, now: UnixMillis) -> Result<Vec<AccountStopInfo>>;

    // ----- Run writers -----

    /// Takes the writer lock of `run` for this node if nobody holds it (or this node
    /// already does). `Some(epoch)`: this node writes the run's file, and its commits of
    /// written items carry `epoch`; `None`: another live node does.
    fn take_run_writer(&self, run: &RunId) -> Result<Option<u64>>;

    /// Gives up the writer lock of `run` (the run ended, or its file failed here).
    fn release_run_writer(&self, run: &RunId) -> Result<()>;

    /// Whether this node still holds the writer lock of `run` (false once the lock's
    /// connection was lost: another node may have taken over).
    fn holds_run_writer(&self, run: &RunId) -> Result<bool>;

    /// Up to `limit` staged items of `run`, in staging order: what its writer appends next.
    fn staged_items_of(&self, run: &RunId, limit: usize) -> Result<Vec<ItemId>>;

    /// Up to `limit` chunks of `run`'s records already committed written, from output
    /// number `from_seq` on, in order (`dredge export`, and rebuilding a file this node
    /// cannot see).
    fn written_records(
        &self,
        run: &RunId,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<WrittenChunk>>;

    /// Which node writes each running run now.
    fn run_writers(&self) -> Result<Vec<(RunId, String)>>;
}
