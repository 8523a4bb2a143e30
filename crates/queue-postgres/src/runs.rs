//! Runs: creating one with its first items (and its schedule fire and planning cursor),
//! planning more, reading, ending, and pruning a finished one away.

use deadpool_postgres::Transaction;
use dredge_core::{NewItem, UnixMillis};
use dredge_queue::{
    NewRun, OutputCursor, PlanCursor, Pruned, QueueError, RunId, RunInfo, RunState, ScheduleState,
};

use crate::admin::{is_paused, refuse_if_started, set_schedule_state};
use crate::create::{create_items, next_ids};
use crate::engine::Res;
use crate::rows::{RUN_COLUMNS, run_info, run_state};
use crate::sql::{execute, ms, query, query_opt, time};

pub(crate) async fn create_planned_run(
    tx: &Transaction<'_>,
    run: NewRun,
    items: Vec<NewItem>,
    schedule: Option<ScheduleState>,
    rest: Option<PlanCursor>,
) -> Res<RunId> {
    if let Some(schedule) = &schedule {
        refuse_if_started(tx, &run.job, schedule).await?;
    }
    let seq = next_ids(tx, "run", 1).await?;
    let id = RunId::new(run.started_at, seq as u64);
    execute(
        tx,
        "INSERT INTO runs (id, job, lane, spec, started_at, deadline, max_attempts, state) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'running')",
        &[
            &id.0,
            &run.job,
            &run.lane,
            &run.spec_snapshot,
            &ms(run.started_at),
            &run.deadline.map(ms),
            &(run.max_attempts as i32),
        ],
    )
    .await?;
    if let Some(mut schedule) = schedule {
        schedule.last_run = Some(id.clone());
        set_schedule_state(tx, &run.job, &schedule).await?;
    }
    create_items(tx, &id, items).await?;
    if rest.is_some() {
        set_plan_cursor(tx, &id, rest).await?;
    }
    Ok(id)
}

pub(crate) async fn plan_more(
    tx: &Transaction<'_>,
    run: &RunId,
    items: Vec<NewItem>,
    next: Option<PlanCursor>,
) -> Res<bool> {
    let row = query_opt(
        tx,
        "SELECT r.state FROM runs r JOIN plan_cursors p ON p.run = r.id \
         WHERE r.id = $1 FOR UPDATE OF r",
        &[&run.0],
    )
    .await?;
    if row.is_none_or(|row| row.get::<_, &str>(0) != "running") {
        return Ok(false);
    }
    create_items(tx, run, items).await?;
    set_plan_cursor(tx, run, next).await?;
    Ok(true)
}

async fn set_plan_cursor(tx: &Transaction<'_>, run: &RunId, cursor: Option<PlanCursor>) -> Res<()> {
    let Some(c) = cursor else {
        execute(tx, "DELETE FROM plan_cursors WHERE run = $1", &[&run.0]).await?;
        return Ok(());
    };
    let n = |v: u64| v as i64;
    execute(
        tx,
        "INSERT INTO plan_cursors (run, input, input_offset, planned, items_done, total) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (run) DO UPDATE SET \
         input = $2, input_offset = $3, planned = $4, items_done = $5, total = $6",
        &[
            &run.0,
            &c.input,
            &n(c.offset),
            &n(c.planned),
            &n(c.items_done),
            &n(c.total),
        ],
    )
    .await?;
    Ok(())
}

pub(crate) async fn planning_runs(tx: &Transaction<'_>) -> Res<Vec<(RunId, PlanCursor)>> {
    let rows = query(
        tx,
        "SELECT run, input, input_offset, planned, items_done, total FROM plan_cursors \
         ORDER BY run",
        &[],
    )
    .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let n = |i: usize| row.get::<_, i64>(i) as u64;
            let cursor = PlanCursor {
                input: row.get(1),
                offset: n(2),
                planned: n(3),
                items_done: n(4),
                total: n(5),
            };
            (RunId(row.get(0)), cursor)
        })
        .collect())
}

pub(crate) async fn run(tx: &Transaction<'_>, id: &RunId) -> Res<Option<RunInfo>> {
    let sql = format!("{RUN_COLUMNS} WHERE r.id = $1");
    Ok(query_opt(tx, &sql, &[&id.0]).await?.as_ref().map(run_info))
}

pub(crate) async fn runs(tx: &Transaction<'_>, job: Option<&str>) -> Res<Vec<RunInfo>> {
    let sql = format!("{RUN_COLUMNS} WHERE ($1::text IS NULL OR r.job = $1) ORDER BY r.id");
    Ok(query(tx, &sql, &[&job])
        .await?
        .iter()
        .map(run_info)
        .collect())
}

pub(crate) async fn runs_page(
    tx: &Transaction<'_>,
    job: Option<&str>,
    before: Option<&str>,
    limit: i64,
) -> Res<Vec<RunInfo>> {
    let sql = format!(
        "{RUN_COLUMNS} WHERE ($1::text IS NULL OR r.job = $1) \
         AND ($2::text IS NULL OR r.id < $2) ORDER BY r.id DESC LIMIT $3"
    );
    let rows = query(tx, &sql, &[&job, &before, &limit]).await?;
    Ok(rows.iter().map(run_info).collect())
}

pub(crate) async fn unfinished_runs(tx: &Transaction<'_>) -> Res<Vec<RunInfo>> {
    let sql = format!("{RUN_COLUMNS} WHERE r.state = 'running' ORDER BY r.id");
    Ok(query(tx, &sql, &[]).await?.iter().map(run_info).collect())
}

pub(crate) async fn run_end(
    tx: &Transaction<'_>,
    id: &RunId,
) -> Res<Option<(RunState, Option<UnixMillis>)>> {
    let row = query_opt(
        tx,
        "SELECT state, finished_at FROM runs WHERE id = $1",
        &[&id.0],
    )
    .await?;
    Ok(row.map(|row| {
        let finished: Option<i64> = row.get(1);
        (run_state(row.get(0)), finished.map(time))
    }))
}

/// The stored name of a run state.
pub(crate) fn state_text(state: RunState) -> &'static str {
    state.as_str()
}

/// Items first, then the run (the order every transaction takes locks in: an item,
/// then its run's row, which the count triggers update).
pub(crate) async fn end_run(
    tx: &Transaction<'_>,
    id: &RunId,
    state: RunState,
    at: UnixMillis,
    reason: Option<&str>,
) -> Res<()> {
    let row = query_opt(tx, "SELECT job FROM runs WHERE id = $1", &[&id.0])
        .await?
        .ok_or_else(|| QueueError::UnknownRun(id.clone()))?;
    let job: String = row.get(0);
    let running = state == RunState::Running;
    let leasable = running && !is_paused(tx, &job).await?;
    relist(tx, id, leasable).await?;
    let finished = (!running).then_some(ms(at));
    execute(
        tx,
        "UPDATE runs SET state = $2, finished_at = $3, unsettled = $4, reason = $5 \
         WHERE id = $1",
        &[
            &id.0,
            &state_text(state),
            &finished,
            &(state == RunState::Cancelled),
            &reason,
        ],
    )
    .await?;
    if !running {
        set_plan_cursor(tx, id, None).await?;
    }
    Ok(())
}

/// Sets the lease flag of a run's waiting items.
pub(crate) async fn relist(tx: &Transaction<'_>, run: &RunId, leasable: bool) -> Res<()> {
    execute(
        tx,
        "UPDATE items SET leasable = $2 \
         WHERE run = $1 AND state IN ('ready', 'snoozed') AND leasable <> $2",
        &[&run.0, &leasable],
    )
    .await?;
    Ok(())
}

pub(crate) async fn settle_cancelled(tx: &Transaction<'_>, id: &RunId) -> Res<()> {
    execute(
        tx,
        "UPDATE runs SET unsettled = false WHERE id = $1",
        &[&id.0],
    )
    .await?;
    Ok(())
}

/// Committed cursors of running runs, and of cancelled runs not yet settled.
pub(crate) async fn cursors(
    tx: &Transaction<'_>,
    cancelled: bool,
) -> Res<Vec<(RunId, OutputCursor)>> {
    let sql = if cancelled {
        "SELECT id, cursor_bytes, cursor_records FROM runs \
         WHERE state = 'cancelled' AND unsettled ORDER BY id"
    } else {
        "SELECT id, cursor_bytes, cursor_records FROM runs WHERE state = 'running' ORDER BY id"
    };
    let rows = query(tx, sql, &[]).await?;
    Ok(rows
        .iter()
        .map(|row| {
            let cursor = OutputCursor {
                bytes: row.get::<_, i64>(1) as u64,
                records: row.get::<_, i64>(2) as u64,
            };
            (RunId(row.get(0)), cursor)
        })
        .collect())
}

pub(crate) async fn job_run_ids(tx: &Transaction<'_>, job: &str) -> Res<Vec<RunId>> {
    let rows = query(
        tx,
        "SELECT id FROM runs WHERE job = $1 ORDER BY id DESC",
        &[&job],
    )
    .await?;
    Ok(rows.iter().map(|row| RunId(row.get(0))).collect())
}

/// In sled's order (its job index is length-prefixed): shorter names first, then bytes.
pub(crate) async fn jobs_with_runs(tx: &Transaction<'_>) -> Res<Vec<String>> {
    let rows = query(
        tx,
        "SELECT job FROM runs GROUP BY job ORDER BY octet_length(job), job",
        &[],
    )
    .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// Up to `max` rows of a finished run: its items, then its dedupe keys, then the run.
pub(crate) async fn prune_run(tx: &Transaction<'_>, run: &RunId, max: i64) -> Res<Pruned> {
    let Some(row) = query_opt(
        tx,
        "SELECT state, leased + staged, unsettled FROM runs WHERE id = $1 FOR UPDATE",
        &[&run.0],
    )
    .await?
    else {
        return Ok(Pruned::Gone);
    };
    if row.get::<_, &str>(0) == "running" {
        return Ok(Pruned::Kept("it is running"));
    }
    if row.get::<_, i64>(1) > 0 {
        return Ok(Pruned::Kept("items of it are still in flight"));
    }
    if row.get::<_, bool>(2) {
        return Ok(Pruned::Kept("its output file is not settled yet"));
    }
    if max == 0 {
        return Ok(Pruned::More);
    }
    // Records first: they are kept after their commit (`dredge export`).
    let records = execute(
        tx,
        "DELETE FROM records WHERE item IN \
         (SELECT item FROM records WHERE run = $1 LIMIT $2)",
        &[&run.0, &max],
    )
    .await?;
    if records > 0 {
        return Ok(Pruned::More);
    }
    let items = execute(
        tx,
        "DELETE FROM items WHERE id IN \
         (SELECT id FROM items WHERE run = $1 ORDER BY id LIMIT $2)",
        &[&run.0, &max],
    )
    .await?;
    if items > 0 {
        return Ok(Pruned::More);
    }
    let keys = execute(
        tx,
        "DELETE FROM dedupe_keys WHERE run = $1 AND key IN \
         (SELECT key FROM dedupe_keys WHERE run = $1 LIMIT $2)",
        &[&run.0, &max],
    )
    .await?;
    if keys > 0 {
        return Ok(Pruned::More);
    }
    execute(tx, "DELETE FROM plan_cursors WHERE run = $1", &[&run.0]).await?;
    execute(tx, "DELETE FROM runs WHERE id = $1", &[&run.0]).await?;
    Ok(Pruned::Gone)
}
