//! The seam between the daemon and the queue's storage: [`QueueBackend`], what the
//! daemon may ask of a queue and what every backend must guarantee. The sled [`Queue`]
//! is one backend; a backend shared by several daemons (PostgreSQL) is to be another.
//!
//! Why a trait object: the daemon holds one `Arc<dyn QueueBackend>` and never names a
//! backend type, so no generic parameter spreads through it, and the backend is chosen
//! once, at start. The signatures hold only the queue's own vocabulary (`types`) and
//! its error type: no sled values, trees or batches, and no closures run under a
//! lock, so a backend whose every call is a database transaction can implement them.
//! Convenience calls (`create_run`, `commit`, `finish_run`, ...) are provided methods
//! written in terms of the required ones: a backend implements each thing once.
//!
//! What stays outside the seam, on the sled type only: opening (each backend has its own
//! way to be reached and its own recovery at open, which reports a [`Recovery`]), the
//! durability mode, `data_syncs`, `path`, `key_count` and the fault-injection seam
//! (`fail_next_call_after_it_is_durable`). These are how tests and benchmarks look at
//! sled's own mechanics, and the daemon needs none of them. Sled's upkeep the daemon
//! does call (`checkpoint`, `item_writes_since_checkpoint`, `index_legacy_items`) is
//! in the seam as optional methods whose defaults say "nothing to do": they exist because
//! of how sled 0.34 replays its log and how older sled databases were laid out, and a
//! backend without those costs keeps the defaults.
//!
//! # What every backend guarantees
//!
//! - **Atomicity.** Each call happens entirely or not at all. A call that fails with an
//!   error for which [`QueueError::outcome_unknown`] is false was refused and changed
//!   nothing; when it is true (the storage failed while or after taking the change),
//!   only [`QueueBackend::reopen`] can tell what happened, and the caller must assume
//!   either outcome. A backend reports its storage failures as `QueueError::Storage`,
//!   its own error wrapped in a [`StorageError`] (which finds the OS error behind it, to
//!   tell a full disk from other faults).
//! - **Durability.** Every call that changes something is durable when it returns Ok
//!   (it survives a crash and a power loss), except [`QueueBackend::lease_next`]:
//!   leases need not survive a restart, and whatever a restart finds leased is waiting
//!   again ([`Recovery::leases_reset`]). Items, records and follow-ups created by one
//!   call commit together with that call's state changes: a crash neither loses nor
//!   doubles a follow-up, and a run's committed output cursor moves in the commit that
//!   makes its items Done.
//! - **Visibility.** A read sees every call that returned before it, leases included,
//!   through any handle of the same queue.
//! - **Fencing.** Every lease has an epoch ([`LeasedItem::epoch`]) that no other lease
//!   of the item shares while either could still be presented (sled: a counter that
//!   only grows while the process lives, which its leases never outlive). Calls that
//!   end a lease take a [`Lease`]; with an epoch they are refused with
//!   [`QueueError::LeaseLost`] once that lease was taken back (it ran out and was
//!   reclaimed, it was abandoned, or the handle was reopened), so an item is never
//!   finished by two workers. A lease without an epoch (tests, operators) matches any
//!   current lease.
//! - **Leasing order.** Per lane (account), the waiting item with the earliest
//!   `not_before` (then the lowest id) goes first, and never before its `not_before`.
//!   Items of a paused job, and waiting items of a run that is not running, are not
//!   leased.
//! - **Counts.** A run's [`ItemCounts`] change in the same transaction as the states
//!   they count.
//!
//! The API, history, planning and model tests (`tests/{api,history,planning,model}.rs`)
//! are written against this trait: a new backend runs them by adding a factory in
//! `tests/support/backends.rs`.

use std::collections::HashSet;

use dredge_core::{NewItem, Record, UnixMillis};

use crate::cluster::Cluster;
use crate::error::Result;
use crate::history::Pruned;
use crate::planning::PlanCursor;
use crate::queue::Queue;
use crate::types::{
    DeadItem, ItemId, ItemInfo, Lease, LeasedItem, NewRun, OutputCursor, Recovery, Release, RunId,
    RunInfo, RunState, ScheduleState, StageResult, WrittenItem,
};
#[cfg(doc)]
use crate::{ItemCounts, QueueError, StorageError};

/// A durable queue of runs and their items, as the daemon uses it. See the module doc
/// for what every implementation guarantees. All calls block; async callers use
/// `spawn_blocking`.
pub trait QueueBackend: Send + Sync {
    // ----- Runs: creating, planning, reading, ending -----

    /// Creates a run (Running) with its first `items`, in one durable transaction. With
    /// `schedule`, the job's schedule state becomes it, with `last_run` set to the new
    /// run, in the same transaction (a crash can leave neither a run without its fire
    /// recorded nor a fire without its run). With `rest`, the run keeps a planning cursor
    /// and is not complete until `plan_more` has planned the last chunk.
    fn create_planned_run(
        &self,
        run: NewRun,
        items: Vec<NewItem>,
        schedule: Option<ScheduleState>,
        rest: Option<PlanCursor>,
    ) -> Result<RunId>;

    /// A run with its first items and no planning cursor.
    fn create_run(&self, run: NewRun, items: Vec<NewItem>) -> Result<RunId> {
        self.create_planned_run(run, items, None, None)
    }

    /// `create_run`, recording the job's schedule state in the same transaction.
    fn create_run_with(
        &self,
        run: NewRun,
        items: Vec<NewItem>,
        schedule: Option<ScheduleState>,
    ) -> Result<RunId> {
        self.create_planned_run(run, items, schedule, None)
    }

    /// Adds the next chunk of a planned run's items and moves its cursor to `next`
    /// (`None`: planning is over), in one durable transaction. Returns false, changing
    /// nothing, when the run is not running or has no cursor.
    fn plan_more(&self, run: &RunId, items: Vec<NewItem>, next: Option<PlanCursor>)
    -> Result<bool>;

    /// Every run whose planning is not over, with its cursor, oldest first.
    fn planning_runs(&self) -> Result<Vec<(RunId, PlanCursor)>>;

    /// The run's planning cursor, if its planning is not over.
    fn plan_cursor(&self, run: &RunId) -> Result<Option<PlanCursor>>;

    /// A run, or `None` if there is no such run.
    fn run(&self, id: &RunId) -> Result<Option<RunInfo>>;

    /// Every run (of `job`, when given), oldest first.
    fn runs(&self, job: Option<&str>) -> Result<Vec<RunInfo>>;

    /// At most `limit` runs (of `job`, when given) started before `before` (exclusive;
    /// `None`: from the newest), newest first.
    fn runs_page(
        &self,
        job: Option<&str>,
        before: Option<&RunId>,
        limit: usize,
    ) -> Result<Vec<RunInfo>>;

    /// Runs still Running, oldest first.
    fn unfinished_runs(&self) -> Result<Vec<RunInfo>>;

    /// A run's state and when it ended, without its definition; `None` if unknown.
    fn run_end(&self, id: &RunId) -> Result<Option<(RunState, Option<UnixMillis>)>>;

    /// Sets a run's state (Running again, or a final state at `at`), recording why
    /// dredge itself ended it when `reason` is given; durable. A run that is not
    /// running has its waiting items never leased and its planning cursor removed;
    /// items already leased may still be staged, committed, released or killed. A
    /// cancelled run is reported by recovery until `settle_cancelled`.
    fn end_run(
        &self,
        id: &RunId,
        state: RunState,
        at: UnixMillis,
        reason: Option<&str>,
    ) -> Result<()>;

    /// `end_run` without a reason.
    fn finish_run(&self, id: &RunId, state: RunState, at: UnixMillis) -> Result<()> {
        self.end_run(id, state, at, None)
    }

    /// `finish_run(id, Cancelled, at)`.
    fn cancel_run(&self, id: &RunId, at: UnixMillis) -> Result<()> {
        self.finish_run(id, RunState::Cancelled, at)
    }

    /// A cancelled run's file was cut back to its committed cursor: recovery need not
    /// report it again. Durable.
    fn settle_cancelled(&self, id: &RunId) -> Result<()>;

    // ----- Leasing: handing items to workers and taking them back (fenced) -----

    /// Leases `lane`'s next waiting item if its `not_before` is not after `now`, until
    /// `lease_until`, under a new epoch. Need not be durable (see the module doc).
    fn lease_next(
        &self,
        lane: &str,
        now: UnixMillis,
        lease_until: UnixMillis,
    ) -> Result<Option<LeasedItem>>;

    /// When `lane`'s earliest waiting item becomes leasable (maybe already past).
    fn next_ready_at(&self, lane: &str) -> Result<Option<UnixMillis>>;

    /// Puts a leased item back to waiting: snoozed (no attempt counted) or retried
    /// (its attempts become the given total). Fenced; durable.
    fn release(&self, lease: Lease, release: Release) -> Result<()>;

    /// Marks a leased or waiting item Dead with `reason`. Fenced when the lease has an
    /// epoch; durable.
    fn kill(&self, lease: Lease, reason: &str) -> Result<()>;

    /// The lease reverts now, whatever its time (its worker is known to be gone), with
    /// `note` as the item's last error. Fenced; durable.
    fn abandon(&self, lease: Lease, note: &str) -> Result<()>;

    /// Snoozes to `until` every waiting item of (`lane`, `scope`) due before `until`;
    /// returns how many. Durable.
    fn defer_scope(&self, lane: &str, scope: &str, until: UnixMillis) -> Result<usize>;

    /// Makes the item created in `run` with dedupe key `key` leasable now, if it is
    /// waiting. Returns it whatever its state, or `None` if the key is unknown. Durable.
    fn wake_by_key(&self, run: &RunId, key: &str, now: UnixMillis) -> Result<Option<ItemId>>;

    /// Reverts leases whose time is not after `now`, except those in `keep`, to waiting;
    /// returns how many. Their late calls are then refused (`LeaseLost`). Durable.
    fn reclaim_expired_leases_except(
        &self,
        now: UnixMillis,
        keep: &HashSet<ItemId>,
    ) -> Result<usize>;

    /// `reclaim_expired_leases_except` sparing none.
    fn reclaim_expired_leases(&self, now: UnixMillis) -> Result<usize> {
        self.reclaim_expired_leases_except(now, &HashSet::new())
    }

    // ----- Output: stage, then commit -----

    /// In one durable transaction: the leased item becomes Staged holding `records`,
    /// and `follow_ups` are created in its run (a dedupe key already seen in the run
    /// creates nothing). Fenced.
    fn stage(
        &self,
        lease: Lease,
        records: &[Record],
        follow_ups: Vec<NewItem>,
    ) -> Result<StageResult>;

    /// The records a staged item holds.
    fn staged_records(&self, id: ItemId) -> Result<Vec<Record>>;

    /// Staged items not yet committed, in staging order.
    fn staged_items(&self) -> Result<Vec<(RunId, ItemId)>>;

    /// After the writer synced their records to the run's file, in one durable
    /// transaction: `staged` items (Staged, of `run`) become Done and lose their
    /// records; `written` items (leased, of `run`, fenced) become Done with their
    /// follow-ups created; the run's committed cursor becomes `cursor`, which never
    /// moves back (`CursorBackwards`). All or nothing. Returns what each written item
    /// created, in order.
    fn commit_written(
        &self,
        run: &RunId,
        staged: &[ItemId],
        written: Vec<WrittenItem>,
        cursor: OutputCursor,
    ) -> Result<Vec<StageResult>>;

    /// `commit_written` of staged items only.
    fn commit(&self, run: &RunId, staged: &[ItemId], cursor: OutputCursor) -> Result<()> {
        self.commit_written(run, staged, Vec::new(), cursor)
            .map(|_| ())
    }

    // ----- Items, dead items, paused jobs, schedule state -----

    /// One item, or `None` if there is no such item.
    fn item(&self, id: ItemId) -> Result<Option<ItemInfo>>;

    /// Dead items (of `job`, when given), by run then id.
    fn dead_items(&self, job: Option<&str>) -> Result<Vec<DeadItem>>;

    /// Every dead item of `run` back to Ready with attempts reset, and the run back to
    /// Running if it had ended; returns how many moved. Durable.
    fn retry_dead(&self, run: &RunId) -> Result<usize>;

    /// Stops leasing the job's items (kept across restarts) until `resume_job`. Durable.
    fn pause_job(&self, job: &str) -> Result<()>;

    /// Undoes `pause_job`. Durable.
    fn resume_job(&self, job: &str) -> Result<()>;

    /// Paused jobs, sorted.
    fn paused_jobs(&self) -> Result<Vec<String>>;

    /// A job's schedule bookkeeping, if any was recorded.
    fn schedule_state(&self, job: &str) -> Result<Option<ScheduleState>>;

    /// Records a job's schedule bookkeeping. Durable.
    fn set_schedule_state(&self, job: &str, state: &ScheduleState) -> Result<()>;

    // ----- History: runs by job, pruning -----

    /// The ids of `job`'s runs, newest first.
    fn job_run_ids(&self, job: &str) -> Result<Vec<RunId>>;

    /// Every job that has runs, in name order.
    fn jobs_with_runs(&self) -> Result<Vec<String>>;

    /// Removes up to `max` stored entries of a finished run, in one durable
    /// transaction; `Gone` once nothing of it is left. Refuses (`Kept`, with why) a run
    /// that is running, has items leased or staged, or is cancelled and not settled.
    /// `max = 0` only says whether it may be pruned (`More`) or not (`Kept`).
    fn prune_run(&self, run: &RunId, max: usize) -> Result<Pruned>;

    /// Indexes up to `max` items stored before the history indexes existed; true once
    /// none is left. Default: true (a backend with no such items).
    fn index_legacy_items(&self, max: usize) -> Result<bool> {
        let _ = max;
        Ok(true)
    }

    // ----- Recovery and upkeep -----

    /// After a storage fault: drops this handle's changes not yet durable (their
    /// callers got an error), reverts the leases it handed out except those in `keep`
    /// (results their holders still hold: those stay leased under the same epochs, taken
    /// again until `lease_until` if the lease itself was lost), and reports what the
    /// writers must replay, as opening does.
    fn reopen(&self, keep: &HashSet<ItemId>, lease_until: UnixMillis) -> Result<Recovery>;

    /// Returns once the backend answers calls (the watchdog's probe: a wedged queue
    /// never returns). Whether the storage takes writes is not its business.
    fn ping(&self);

    /// Work done since the last checkpoint that a restart would replay; the daemon
    /// calls `checkpoint` once this passes its threshold. Default: 0 (nothing to replay).
    fn item_writes_since_checkpoint(&self) -> u64 {
        0
    }

    /// Makes the next open quick (for sled: writes its snapshot so its log need not be
    /// replayed). Keeps leases and data. Default: nothing to do.
    fn checkpoint(&self) -> Result<()> {
        Ok(())
    }

    // ----- Several daemons -----

    /// The cluster side of a queue several daemons share (`cluster`'s module doc);
    /// `None` (the default, and sled): this daemon is the only one.
    fn cluster(&self) -> Option<&dyn Cluster> {
        None
    }
}

/// The sled queue behind the seam. Each call is the inherent method of the same name;
/// the module docs of `queue`, `pending` and `flush` say how sled keeps the guarantees.
impl QueueBackend for Queue {
    fn create_planned_run(
        &self,
        run: NewRun,
        items: Vec<NewItem>,
        schedule: Option<ScheduleState>,
        rest: Option<PlanCursor>,
    ) -> Result<RunId> {
        Queue::create_planned_run(self, run, items, schedule, rest)
    }

    fn plan_more(
        &self,
        run: &RunId,
        items: Vec<NewItem>,
        next: Option<PlanCursor>,
    ) -> Result<bool> {
        Queue::plan_more(self, run, items, next)
    }

    fn planning_runs(&self) -> Result<Vec<(RunId, PlanCursor)>> {
        Queue::planning_runs(self)
    }

    fn plan_cursor(&self, run: &RunId) -> Result<Option<PlanCursor>> {
        Queue::plan_cursor(self, run)
    }

    fn run(&self, id: &RunId) -> Result<Option<RunInfo>> {
        Queue::run(self, id)
    }

    fn runs(&self, job: Option<&str>) -> Result<Vec<RunInfo>> {
        Queue::runs(self, job)
    }

    fn runs_page(
        &self,
        job: Option<&str>,
        before: Option<&RunId>,
        limit: usize,
    ) -> Result<Vec<RunInfo>> {
        Queue::runs_page(self, job, before, limit)
    }

    fn unfinished_runs(&self) -> Result<Vec<RunInfo>> {
        Queue::unfinished_runs(self)
    }

    fn run_end(&self, id: &RunId) -> Result<Option<(RunState, Option<UnixMillis>)>> {
        Queue::run_end(self, id)
    }

    fn end_run(
        &self,
        id: &RunId,
        state: RunState,
        at: UnixMillis,
        reason: Option<&str>,
    ) -> Result<()> {
        Queue::end_run(self, id, state, at, reason)
    }

    fn settle_cancelled(&self, id: &RunId) -> Result<()> {
        Queue::settle_cancelled(self, id)
    }

    fn lease_next(
        &self,
        lane: &str,
        now: UnixMillis,
        lease_until: UnixMillis,
    ) -> Result<Option<LeasedItem>> {
        Queue::lease_next(self, lane, now, lease_until)
    }

    fn next_ready_at(&self, lane: &str) -> Result<Option<UnixMillis>> {
        Queue::next_ready_at(self, lane)
    }

    fn release(&self, lease: Lease, release: Release) -> Result<()> {
        Queue::release(self, lease, release)
    }

    fn kill(&self, lease: Lease, reason: &str) -> Result<()> {
        Queue::kill(self, lease, reason)
    }

    fn abandon(&self, lease: Lease, note: &str) -> Result<()> {
        Queue::abandon(self, lease, note)
    }

    fn defer_scope(&self, lane: &str, scope: &str, until: UnixMillis) -> Result<usize> {
        Queue::defer_scope(self, lane, scope, until)
    }

    fn wake_by_key(&self, run: &RunId, key: &str, now: UnixMillis) -> Result<Option<ItemId>> {
        Queue::wake_by_key(self, run, key, now)
    }

    fn reclaim_expired_leases_except(
        &self,
        now: UnixMillis,
        keep: &HashSet<ItemId>,
    ) -> Result<usize> {
        Queue::reclaim_expired_leases_except(self, now, keep)
    }

    fn stage(
        &self,
        lease: Lease,
        records: &[Record],
        follow_ups: Vec<NewItem>,
    ) -> Result<StageResult> {
        Queue::stage(self, lease, records, follow_ups)
    }

    fn staged_records(&self, id: ItemId) -> Result<Vec<Record>> {
        Queue::staged_records(self, id)
    }

    fn staged_items(&self) -> Result<Vec<(RunId, ItemId)>> {
        Queue::staged_items(self)
    }

    fn commit_written(
        &self,
        run: &RunId,
        staged: &[ItemId],
        written: Vec<WrittenItem>,
        cursor: OutputCursor,
    ) -> Result<Vec<StageResult>> {
        Queue::commit_written(self, run, staged, written, cursor)
    }

    fn item(&self, id: ItemId) -> Result<Option<ItemInfo>> {
        Queue::item(self, id)
    }

    fn dead_items(&self, job: Option<&str>) -> Result<Vec<DeadItem>> {
        Queue::dead_items(self, job)
    }

    fn retry_dead(&self, run: &RunId) -> Result<usize> {
        Queue::retry_dead(self, run)
    }

    fn pause_job(&self, job: &str) -> Result<()> {
        Queue::pause_job(self, job)
    }

    fn resume_job(&self, job: &str) -> Result<()> {
        Queue::resume_job(self, job)
    }

    fn paused_jobs(&self) -> Result<Vec<String>> {
        Ok(Queue::paused_jobs(self))
    }

    fn schedule_state(&self, job: &str) -> Result<Option<ScheduleState>> {
        Queue::schedule_state(self, job)
    }

    fn set_schedule_state(&self, job: &str, state: &ScheduleState) -> Result<()> {
        Queue::set_schedule_state(self, job, state)
    }

    fn job_run_ids(&self, job: &str) -> Result<Vec<RunId>> {
        Queue::job_run_ids(self, job)
    }

    fn jobs_with_runs(&self) -> Result<Vec<String>> {
        Queue::jobs_with_runs(self)
    }

    fn prune_run(&self, run: &RunId, max: usize) -> Result<Pruned> {
        Queue::prune_run(self, run, max)
    }

    fn index_legacy_items(&self, max: usize) -> Result<bool> {
        Queue::index_legacy_items(self, max)
    }

    fn reopen(&self, keep: &HashSet<ItemId>, lease_until: UnixMillis) -> Result<Recovery> {
        Queue::reopen(self, keep, lease_until)
    }

    fn ping(&self) {
        drop(self.lock_write());
    }

    fn item_writes_since_checkpoint(&self) -> u64 {
        Queue::item_writes_since_checkpoint(self)
    }

    fn checkpoint(&self) -> Result<()> {
        Queue::checkpoint(self)
    }
}
