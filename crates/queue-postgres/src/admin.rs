//! What operators and the scheduler ask for: one item, dead items and retrying them,
//! paused jobs, and each job's schedule bookkeeping.

use deadpool_postgres::Transaction;
use dredge_queue::{DeadItem, ItemId, ItemInfo, QueueError, RunId, ScheduleState};

use crate::engine::Res;
use crate::rows::{ITEM_COLUMNS, item_info};
use crate::runs::relist;
use crate::sql::{execute, id, item_id, query, query_opt, time};

pub(crate) async fn item(tx: &Transaction<'_>, item: ItemId) -> Res<Option<ItemInfo>> {
    let sql = format!("{ITEM_COLUMNS} WHERE id = $1");
    Ok(query_opt(tx, &sql, &[&id(item)])
        .await?
        .as_ref()
        .map(item_info))
}

pub(crate) async fn dead_items(tx: &Transaction<'_>, job: Option<&str>) -> Res<Vec<DeadItem>> {
    let rows = query(
        tx,
        "SELECT i.id, i.run, r.job, i.label, i.dead_reason, i.attempts \
         FROM items i JOIN runs r ON r.id = i.run \
         WHERE i.state = 'dead' AND ($1::text IS NULL OR r.job = $1) ORDER BY i.run, i.id",
        &[&job],
    )
    .await?;
    Ok(rows
        .iter()
        .map(|row| DeadItem {
            id: item_id(row.get(0)),
            run: RunId(row.get(1)),
            job: row.get(2),
            label: row.get(3),
            reason: row.get::<_, Option<String>>(4).unwrap_or_default(),
            attempts: row.get::<_, i32>(5) as u32,
        })
        .collect())
}

/// Dead items back to ready (attempts reset), and the run running again if it ended.
pub(crate) async fn retry_dead(tx: &Transaction<'_>, run: &RunId) -> Res<u64> {
    let row = query_opt(tx, "SELECT state, job FROM runs WHERE id = $1", &[&run.0])
        .await?
        .ok_or_else(|| QueueError::UnknownRun(run.clone()))?;
    let (state, job): (String, String) = (row.get(0), row.get(1));
    let leasable = !is_paused(tx, &job).await?;
    let moved = execute(
        tx,
        "UPDATE items SET attempts = 0, state = 'ready', not_before = 0, leasable = $2, \
         dead_reason = NULL WHERE run = $1 AND state = 'dead'",
        &[&run.0, &leasable],
    )
    .await?;
    if moved > 0 && state != "running" {
        relist(tx, run, leasable).await?;
        execute(
            tx,
            "UPDATE runs SET state = 'running', finished_at = NULL WHERE id = $1",
            &[&run.0],
        )
        .await?;
    }
    Ok(moved)
}

pub(crate) async fn is_paused(tx: &Transaction<'_>, job: &str) -> Res<bool> {
    let row = query_opt(tx, "SELECT 1 FROM paused_jobs WHERE job = $1", &[&job]).await?;
    Ok(row.is_some())
}

/// Pauses or resumes a job, and relists the waiting items of its running runs.
pub(crate) async fn set_paused(tx: &Transaction<'_>, job: &str, paused: bool) -> Res<()> {
    let sql = if paused {
        "INSERT INTO paused_jobs (job) VALUES ($1) ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM paused_jobs WHERE job = $1"
    };
    execute(tx, sql, &[&job]).await?;
    execute(
        tx,
        "UPDATE items SET leasable = $2 \
         WHERE run IN (SELECT id FROM runs WHERE job = $1 AND state = 'running') \
           AND state IN ('ready', 'snoozed') AND leasable <> $2",
        &[&job, &!paused],
    )
    .await?;
    Ok(())
}

pub(crate) async fn paused_jobs(tx: &Transaction<'_>) -> Res<Vec<String>> {
    let rows = query(tx, "SELECT job FROM paused_jobs ORDER BY job", &[]).await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

pub(crate) async fn schedule_state(tx: &Transaction<'_>, job: &str) -> Res<Option<ScheduleState>> {
    let row = query_opt(
        tx,
        "SELECT last_fire, content_hash, last_run FROM schedule_states WHERE job = $1",
        &[&job],
    )
    .await?;
    Ok(row.map(|row| ScheduleState {
        last_fire: row.get::<_, Option<i64>>(0).map(time),
        content_hash: row.get::<_, Option<i64>>(1).map(|h| h as u64),
        last_run: row.get::<_, Option<String>>(2).map(RunId),
    }))
}

/// Refuses (`AlreadyStarted`) a run whose fire or content `job`'s stored schedule state
/// records already (`ScheduleState::already_started`), holding the job's row locked
/// until the transaction ends: of two daemons starting the same fire, the second waits
/// for the first's commit and then sees its state. A job without a row gets an empty
/// one first, so there is always a row to lock (an insert racing another waits for it).
pub(crate) async fn refuse_if_started(
    tx: &Transaction<'_>,
    job: &str,
    wanted: &ScheduleState,
) -> Res<()> {
    execute(
        tx,
        "INSERT INTO schedule_states (job) VALUES ($1) ON CONFLICT (job) DO NOTHING",
        &[&job],
    )
    .await?;
    let row = query_opt(
        tx,
        "SELECT last_fire, content_hash FROM schedule_states WHERE job = $1 FOR UPDATE",
        &[&job],
    )
    .await?;
    let stored = row.map(|row| ScheduleState {
        last_fire: row.get::<_, Option<i64>>(0).map(time),
        content_hash: row.get::<_, Option<i64>>(1).map(|h| h as u64),
        last_run: None,
    });
    if stored.is_some_and(|s| s.already_started(wanted)) {
        return Err(QueueError::AlreadyStarted {
            job: job.to_string(),
        }
        .into());
    }
    Ok(())
}

pub(crate) async fn set_schedule_state(
    tx: &Transaction<'_>,
    job: &str,
    state: &ScheduleState,
) -> Res<()> {
    execute(
        tx,
        "INSERT INTO schedule_states (job, last_fire, content_hash, last_run) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (job) DO UPDATE SET \
         last_fire = $2, content_hash = $3, last_run = $4",
        &[
            &job,
            &state.last_fire.map(crate::sql::ms),
            &state.content_hash.map(|h| h as i64),
            &state.last_run.as_ref().map(|r| r.0.as_str()),
        ],
    )
    .await?;
    Ok(())
}
