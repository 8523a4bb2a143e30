//! [`PgQueue`]: the PostgreSQL backend behind the queue's seam. Each call is one
//! transaction on a pooled connection, committed (durable: PostgreSQL's default
//! `synchronous_commit`) before the call returns.

use std::collections::HashSet;
use std::sync::Arc;

use dredge_core::{NewItem, Record, UnixMillis};
use dredge_queue::{
    Cluster, DeadItem, ItemId, ItemInfo, Lease, LeasedItem, NewRun, OutputCursor, PlanCursor,
    Pruned, QueueBackend, QueueError, Recovery, Release, Result, RunId, RunInfo, RunState,
    ScheduleState, StageResult, WrittenItem,
};

use crate::engine::Engine;
use crate::migrate::migrate_with;
use crate::options::PgOptions;
use crate::writers::RunWriters;
use crate::{admin, leasing, output, runs};

/// A queue on PostgreSQL, shared by every daemon that opens the same schema.
pub struct PgQueue {
    pub(crate) engine: Engine,
    node: Arc<str>,
    pub(crate) schema: Arc<str>,
    pub(crate) writers: RunWriters,
}

/// Runs `$body` (which may `.await?`) in one transaction on a pooled connection and
/// commits it; `$tx` names the transaction inside.
macro_rules! in_tx {
    ($self:ident, |$tx:ident| $body:expr) => {{
        let pool = $self.engine.pool.clone();
        $self.engine.call(async move {
            let mut client = pool.get().await?;
            let $tx = client.transaction().await?;
            let out = $body;
            $tx.commit().await?;
            Ok(out)
        })
    }};
}
pub(crate) use in_tx;

impl PgQueue {
    /// Connects, creates the schema if missing, applies pending migrations (under an
    /// advisory lock so two daemons starting together migrate once), refuses a database
    /// written by a newer dredge, reverts this node's leases, and reports what the
    /// writers must replay.
    pub fn open(options: PgOptions) -> Result<(PgQueue, Recovery)> {
        let engine = Engine::new(&options)?;
        migrate_with(&engine, &options)?;
        let queue = PgQueue {
            engine,
            node: options.node.into(),
            schema: options.schema.into(),
            writers: RunWriters::default(),
        };
        let recovery = queue.recover(&HashSet::new(), UnixMillis(0))?;
        Ok((queue, recovery))
    }

    /// Reaches an existing schema at this binary's version without changing anything
    /// (no migration, no lease reverted): for tools beside the daemons, such as
    /// `dredge export`. A schema at another version is refused with what to do.
    pub fn attach(options: PgOptions) -> Result<PgQueue> {
        match crate::migrate::migration_status(&options)? {
            crate::MigrationStatus::Current { .. } => {}
            crate::MigrationStatus::Newer { database, binary } => {
                return Err(QueueError::SchemaNewer { database, binary });
            }
            _ => {
                return Err(QueueError::Corrupt {
                    what: "PostgreSQL schema",
                    detail: format!(
                        "schema {} is missing or older than this dredge; run `dredge migrate`",
                        options.schema
                    ),
                });
            }
        }
        Ok(PgQueue {
            engine: Engine::new(&options)?,
            node: options.node.into(),
            schema: options.schema.into(),
            writers: RunWriters::default(),
        })
    }

    /// This daemon's node id, as its lease rows record it.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The node id, to move into a transaction.
    pub(crate) fn node_name(&self) -> Arc<str> {
        self.node.clone()
    }

    /// How many rows dredge's tables hold (tests: what a pruned run gives back).
    pub fn stored_rows(&self) -> Result<u64> {
        in_tx!(self, |tx| {
            let row = tx
                .query_one(
                    "SELECT (SELECT count(*) FROM runs) + (SELECT count(*) FROM items) \
                     + (SELECT count(*) FROM records) + (SELECT count(*) FROM dedupe_keys) \
                     + (SELECT count(*) FROM plan_cursors) \
                     + (SELECT count(*) FROM schedule_states) \
                     + (SELECT count(*) FROM paused_jobs)",
                    &[],
                )
                .await?;
            row.get::<_, i64>(0) as u64
        })
    }

    /// Reverts this node's leases except `keep`, takes the kept ones again where they
    /// were reverted, and reports what the writers must replay.
    fn recover(&self, keep: &HashSet<ItemId>, lease_until: UnixMillis) -> Result<Recovery> {
        let node = self.node.clone();
        let keep: Vec<i64> = keep.iter().map(|id| id.0 as i64).collect();
        in_tx!(self, |tx| {
            let leases_reset = leasing::revert_node(&tx, &node, &keep).await? as usize;
            leasing::readopt(&tx, &node, &keep, lease_until.0 as i64).await?;
            Recovery {
                leases_reset,
                staged: output::staged_items(&tx).await?,
                cursors: runs::cursors(&tx, false).await?,
                cancelled: runs::cursors(&tx, true).await?,
            }
        })
    }
}

impl QueueBackend for PgQueue {
    fn create_planned_run(
        &self,
        run: NewRun,
        items: Vec<NewItem>,
        schedule: Option<ScheduleState>,
        rest: Option<PlanCursor>,
    ) -> Result<RunId> {
        in_tx!(self, |tx| runs::create_planned_run(
            &tx, run, items, schedule, rest
        )
        .await?)
    }

    fn plan_more(
        &self,
        run: &RunId,
        items: Vec<NewItem>,
        next: Option<PlanCursor>,
    ) -> Result<bool> {
        let run = run.clone();
        in_tx!(self, |tx| runs::plan_more(&tx, &run, items, next).await?)
    }

    fn planning_runs(&self) -> Result<Vec<(RunId, PlanCursor)>> {
        in_tx!(self, |tx| runs::planning_runs(&tx).await?)
    }

    fn plan_cursor(&self, run: &RunId) -> Result<Option<PlanCursor>> {
        Ok(self.run(run)?.and_then(|info| info.planning))
    }

    fn run(&self, id: &RunId) -> Result<Option<RunInfo>> {
        let id = id.clone();
        in_tx!(self, |tx| runs::run(&tx, &id).await?)
    }

    fn runs(&self, job: Option<&str>) -> Result<Vec<RunInfo>> {
        let job = job.map(str::to_string);
        in_tx!(self, |tx| runs::runs(&tx, job.as_deref()).await?)
    }

    fn runs_page(
        &self,
        job: Option<&str>,
        before: Option<&RunId>,
        limit: usize,
    ) -> Result<Vec<RunInfo>> {
        let job = job.map(str::to_string);
        let before = before.map(|b| b.0.clone());
        let limit = limit.min(i64::MAX as usize) as i64;
        in_tx!(self, |tx| runs::runs_page(
            &tx,
            job.as_deref(),
            before.as_deref(),
            limit
        )
        .await?)
    }

    fn unfinished_runs(&self) -> Result<Vec<RunInfo>> {
        in_tx!(self, |tx| runs::unfinished_runs(&tx).await?)
    }

    fn run_end(&self, id: &RunId) -> Result<Option<(RunState, Option<UnixMillis>)>> {
        let id = id.clone();
        in_tx!(self, |tx| runs::run_end(&tx, &id).await?)
    }

    fn end_run(
        &self,
        id: &RunId,
        state: RunState,
        at: UnixMillis,
        reason: Option<&str>,
    ) -> Result<()> {
        let id = id.clone();
        let reason = reason.map(str::to_string);
        in_tx!(self, |tx| runs::end_run(
            &tx,
            &id,
            state,
            at,
            reason.as_deref()
        )
        .await?)
    }

    fn settle_cancelled(&self, id: &RunId) -> Result<()> {
        let id = id.clone();
        in_tx!(self, |tx| runs::settle_cancelled(&tx, &id).await?)
    }

    fn lease_next(
        &self,
        lane: &str,
        now: UnixMillis,
        lease_until: UnixMillis,
    ) -> Result<Option<LeasedItem>> {
        let lane = lane.to_string();
        let node = self.node.clone();
        in_tx!(self, |tx| leasing::lease_next(
            &tx,
            &lane,
            now.0 as i64,
            lease_until.0 as i64,
            &node
        )
        .await?)
    }

    fn next_ready_at(&self, lane: &str) -> Result<Option<UnixMillis>> {
        let lane = lane.to_string();
        in_tx!(self, |tx| leasing::next_ready_at(&tx, &lane)
            .await?
            .map(|t| UnixMillis(t as u64)))
    }

    fn release(&self, lease: Lease, release: Release) -> Result<()> {
        in_tx!(self, |tx| leasing::release(&tx, lease, release).await?)
    }

    fn kill(&self, lease: Lease, reason: &str) -> Result<()> {
        let reason = reason.to_string();
        in_tx!(self, |tx| leasing::kill(&tx, lease, &reason).await?)
    }

    fn abandon(&self, lease: Lease, note: &str) -> Result<()> {
        let note = note.to_string();
        in_tx!(self, |tx| leasing::abandon(&tx, lease, &note).await?)
    }

    fn defer_scope(&self, lane: &str, scope: &str, until: UnixMillis) -> Result<usize> {
        let (lane, scope) = (lane.to_string(), scope.to_string());
        in_tx!(
            self,
            |tx| leasing::defer_scope(&tx, &lane, &scope, until.0 as i64).await? as usize
        )
    }

    fn wake_by_key(&self, run: &RunId, key: &str, now: UnixMillis) -> Result<Option<ItemId>> {
        let (run, key) = (run.clone(), key.to_string());
        in_tx!(self, |tx| leasing::wake_by_key(
            &tx,
            &run,
            &key,
            now.0 as i64
        )
        .await?)
    }

    fn reclaim_expired_leases_except(
        &self,
        now: UnixMillis,
        keep: &HashSet<ItemId>,
    ) -> Result<usize> {
        let keep: Vec<i64> = keep.iter().map(|id| id.0 as i64).collect();
        in_tx!(
            self,
            |tx| leasing::reclaim_expired(&tx, now.0 as i64, &keep).await? as usize
        )
    }

    fn stage(
        &self,
        lease: Lease,
        records: &[Record],
        follow_ups: Vec<NewItem>,
    ) -> Result<StageResult> {
        let records = records.to_vec();
        in_tx!(self, |tx| output::stage(&tx, lease, &records, follow_ups)
            .await?)
    }

    fn staged_records(&self, id: ItemId) -> Result<Vec<Record>> {
        in_tx!(self, |tx| output::staged_records(&tx, id).await?)
    }

    fn staged_items(&self) -> Result<Vec<(RunId, ItemId)>> {
        in_tx!(self, |tx| output::staged_items(&tx).await?)
    }

    fn commit_written(
        &self,
        run: &RunId,
        staged: &[ItemId],
        written: Vec<WrittenItem>,
        cursor: OutputCursor,
    ) -> Result<Vec<StageResult>> {
        let (run, staged) = (run.clone(), staged.to_vec());
        let epoch = self.writers.epoch_of(&run);
        in_tx!(self, |tx| output::commit_written(
            &tx, &run, &staged, written, cursor, epoch
        )
        .await?)
    }

    fn item(&self, id: ItemId) -> Result<Option<ItemInfo>> {
        in_tx!(self, |tx| admin::item(&tx, id).await?)
    }

    fn dead_items(&self, job: Option<&str>) -> Result<Vec<DeadItem>> {
        let job = job.map(str::to_string);
        in_tx!(self, |tx| admin::dead_items(&tx, job.as_deref()).await?)
    }

    fn retry_dead(&self, run: &RunId) -> Result<usize> {
        let run = run.clone();
        in_tx!(self, |tx| admin::retry_dead(&tx, &run).await? as usize)
    }

    fn pause_job(&self, job: &str) -> Result<()> {
        let job = job.to_string();
        in_tx!(self, |tx| admin::set_paused(&tx, &job, true).await?)
    }

    fn resume_job(&self, job: &str) -> Result<()> {
        let job = job.to_string();
        in_tx!(self, |tx| admin::set_paused(&tx, &job, false).await?)
    }

    fn paused_jobs(&self) -> Result<Vec<String>> {
        in_tx!(self, |tx| admin::paused_jobs(&tx).await?)
    }

    fn schedule_state(&self, job: &str) -> Result<Option<ScheduleState>> {
        let job = job.to_string();
        in_tx!(self, |tx| admin::schedule_state(&tx, &job).await?)
    }

    fn set_schedule_state(&self, job: &str, state: &ScheduleState) -> Result<()> {
        let (job, state) = (job.to_string(), state.clone());
        in_tx!(self, |tx| admin::set_schedule_state(&tx, &job, &state)
            .await?)
    }

    fn job_run_ids(&self, job: &str) -> Result<Vec<RunId>> {
        let job = job.to_string();
        in_tx!(self, |tx| runs::job_run_ids(&tx, &job).await?)
    }

    fn jobs_with_runs(&self) -> Result<Vec<String>> {
        in_tx!(self, |tx| runs::jobs_with_runs(&tx).await?)
    }

    fn prune_run(&self, run: &RunId, max: usize) -> Result<Pruned> {
        let run = run.clone();
        let max = max.min(i64::MAX as usize) as i64;
        in_tx!(self, |tx| runs::prune_run(&tx, &run, max).await?)
    }

    /// Reverts this node's leases except `keep` (other nodes' leases are theirs until
    /// they run out), and reports what the writers must replay, as `open` does.
    fn reopen(&self, keep: &HashSet<ItemId>, lease_until: UnixMillis) -> Result<Recovery> {
        self.recover(keep, lease_until)
    }

    fn ping(&self) {
        let pool = self.engine.pool.clone();
        let answered = self.engine.call(async move {
            let client = pool.get().await?;
            client.simple_query("SELECT 1").await?;
            Ok(())
        });
        if let Err(error) = answered {
            tracing::debug!(%error, "the PostgreSQL queue did not answer a ping");
        }
    }

    fn cluster(&self) -> Option<&dyn Cluster> {
        Some(self)
    }
}

/// Removes dredge's schema and everything in it (tests; taking dredge off a database).
pub fn drop_schema(options: &PgOptions) -> Result<(), QueueError> {
    let engine = Engine::new(options)?;
    let pool = engine.pool.clone();
    let schema = options.schema.clone();
    engine.first_call(options, async move {
        let client = pool.get().await?;
        // `schema` passed `valid_schema` in `Engine::new`.
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .await?;
        Ok(())
    })
}
