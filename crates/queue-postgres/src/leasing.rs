//! Items while they wait and run: leasing with `FOR UPDATE SKIP LOCKED`, the fence
//! every lease-ending call passes, and putting items back.
//!
//! Leasing takes the lane's first leasable item in (not_before, id) order from the
//! partial index `items_to_lease`, skipping rows another daemon's transaction holds,
//! and gives it an epoch from the `epochs` sequence: unique across daemons, so an
//! epoch is a fencing token. The lease row records the leasing node, so a daemon's
//! restart reverts only its own leases; another node's leases come back through
//! `reclaim_expired_leases` once they run out.
//!
//! The `leasable` flag (waiting, run running, job not paused) keeps the index free of
//! items that cannot be leased; leasing still checks the run (`run_leasable`), so a flag
//! left stale by a race with `end_run` costs a skipped row, never a wrong lease.

use deadpool_postgres::Transaction;
use dredge_queue::{ItemId, Lease, LeasedItem, QueueError, Release, RunId};

use crate::engine::Res;
use crate::sql::{execute, id, item_id, ms, query_opt, state_name, time};

pub(crate) async fn lease_next(
    tx: &Transaction<'_>,
    lane: &str,
    now: i64,
    until: i64,
    node: &str,
) -> Res<Option<LeasedItem>> {
    // A lease need not be durable (the seam's rule, as on sled): a server crash that
    // forgets it leaves the item waiting, and its holder's late calls are fenced. Not
    // waiting for the WAL flush shortens the time the run's row (its counts) stays
    // locked, which every other call of the run waits for.
    tx.batch_execute("SET LOCAL synchronous_commit = off")
        .await?;
    let row = query_opt(
        tx,
        "WITH next AS ( \
             SELECT id FROM items \
             WHERE lane = $1 AND leasable AND not_before <= $2 AND run_leasable(run) \
             ORDER BY not_before, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
         UPDATE items i SET state = 'leased', was_state = i.state, leasable = false, \
             lease_until = $3, lease_epoch = nextval('epochs'), lease_node = $4 \
         FROM next, runs r WHERE i.id = next.id AND r.id = i.run \
         RETURNING i.id, i.run, i.label, i.payload, i.scope, i.attempts, i.polls, \
             i.lease_epoch, r.job, r.lane, r.started_at, r.deadline, r.max_attempts",
        &[&lane, &now, &until, &node],
    )
    .await?;
    Ok(row.map(|row| LeasedItem {
        id: item_id(row.get(0)),
        run: RunId(row.get(1)),
        label: row.get(2),
        payload: row.get(3),
        scope: row.get(4),
        attempts: row.get::<_, i32>(5) as u32,
        polls: row.get::<_, i32>(6) as u32,
        epoch: row.get::<_, i64>(7) as u64,
        job: row.get(8),
        lane: row.get(9),
        run_started: time(row.get(10)),
        deadline: row.get::<_, Option<i64>>(11).map(time),
        max_attempts: row.get::<_, i32>(12) as u32,
    }))
}

pub(crate) async fn next_ready_at(tx: &Transaction<'_>, lane: &str) -> Res<Option<i64>> {
    let row = query_opt(
        tx,
        "SELECT not_before FROM items WHERE lane = $1 AND leasable AND run_leasable(run) \
         ORDER BY not_before, id LIMIT 1",
        &[&lane],
    )
    .await?;
    Ok(row.map(|row| row.get(0)))
}

/// An item as the fence sees it, locked for the rest of the transaction.
pub(crate) struct Held {
    pub(crate) run: RunId,
    pub(crate) state: String,
    pub(crate) epoch: Option<i64>,
}

pub(crate) async fn hold(tx: &Transaction<'_>, item: ItemId) -> Res<Held> {
    let row = query_opt(
        tx,
        "SELECT run, state, lease_epoch FROM items WHERE id = $1 FOR UPDATE",
        &[&id(item)],
    )
    .await?
    .ok_or(QueueError::UnknownItem(item))?;
    Ok(Held {
        run: RunId(row.get(0)),
        state: row.get(1),
        epoch: row.get(2),
    })
}

/// Refuses unless `held` is leased, under `lease.epoch` when one is given.
pub(crate) fn fence(held: &Held, lease: Lease) -> Res<()> {
    let leased = held.state == "leased";
    if let Some(epoch) = lease.epoch
        && !(leased && held.epoch == Some(epoch as i64))
    {
        return Err(QueueError::LeaseLost { id: lease.id }.into());
    }
    if !leased {
        return Err(QueueError::WrongState {
            id: lease.id,
            expected: "leased",
            actual: state_name(&held.state),
        }
        .into());
    }
    Ok(())
}

/// Locks the leased item and checks its lease; returns its run.
pub(crate) async fn expect_lease(tx: &Transaction<'_>, lease: Lease) -> Res<RunId> {
    let held = hold(tx, lease.id).await?;
    fence(&held, lease)?;
    Ok(held.run)
}

pub(crate) async fn release(tx: &Transaction<'_>, lease: Lease, release: Release) -> Res<()> {
    expect_lease(tx, lease).await?;
    match release {
        Release::Snooze { until, polls, note } => {
            execute(
                tx,
                "UPDATE items SET state = 'snoozed', not_before = $2, polls = $3, note = $4, \
                 leasable = run_leasable(run), lease_until = NULL WHERE id = $1",
                &[&id(lease.id), &ms(until), &(polls as i32), &note],
            )
            .await?
        }
        Release::Retry {
            not_before,
            attempts,
            error,
        } => {
            execute(
                tx,
                "UPDATE items SET state = 'ready', not_before = $2, attempts = $3, \
                 last_error = $4, leasable = run_leasable(run), lease_until = NULL \
                 WHERE id = $1",
                &[&id(lease.id), &ms(not_before), &(attempts as i32), &error],
            )
            .await?
        }
    };
    Ok(())
}

pub(crate) async fn kill(tx: &Transaction<'_>, lease: Lease, reason: &str) -> Res<()> {
    let held = hold(tx, lease.id).await?;
    if lease.epoch.is_some() {
        fence(&held, lease)?;
    }
    if !matches!(held.state.as_str(), "leased" | "ready" | "snoozed") {
        return Err(QueueError::WrongState {
            id: lease.id,
            expected: "leased, ready or snoozed",
            actual: state_name(&held.state),
        }
        .into());
    }
    execute(
        tx,
        "UPDATE items SET state = 'dead', dead_reason = $2, last_error = $2, \
         leasable = false, lease_until = NULL WHERE id = $1",
        &[&id(lease.id), &reason],
    )
    .await?;
    Ok(())
}

pub(crate) async fn abandon(tx: &Transaction<'_>, lease: Lease, note: &str) -> Res<()> {
    expect_lease(tx, lease).await?;
    execute(
        tx,
        "UPDATE items SET state = was_state, last_error = $2, leasable = run_leasable(run), \
         lease_until = NULL WHERE id = $1",
        &[&id(lease.id), &note],
    )
    .await?;
    Ok(())
}

pub(crate) async fn defer_scope(
    tx: &Transaction<'_>,
    lane: &str,
    scope: &str,
    until: i64,
) -> Res<u64> {
    execute(
        tx,
        "UPDATE items SET state = 'snoozed', not_before = $3 \
         WHERE lane = $1 AND scope = $2 AND leasable AND not_before < $3",
        &[&lane, &scope, &until],
    )
    .await
}

pub(crate) async fn wake_by_key(
    tx: &Transaction<'_>,
    run: &RunId,
    key: &str,
    now: i64,
) -> Res<Option<ItemId>> {
    let Some(row) = query_opt(
        tx,
        "SELECT item FROM dedupe_keys WHERE run = $1 AND key = $2",
        &[&run.0, &key],
    )
    .await?
    else {
        return Ok(None);
    };
    let item: i64 = row.get(0);
    execute(
        tx,
        "UPDATE items SET state = 'ready', not_before = $2 \
         WHERE id = $1 AND state IN ('ready', 'snoozed') AND not_before > $2",
        &[&item, &now],
    )
    .await?;
    Ok(Some(item_id(item)))
}

/// Reverts every lease (of any node) whose time is not after `now`, except `keep`.
pub(crate) async fn reclaim_expired(tx: &Transaction<'_>, now: i64, keep: &[i64]) -> Res<u64> {
    one_reclaim_at_a_time(tx).await?;
    execute(
        tx,
        "UPDATE items SET state = was_state, leasable = run_leasable(run), lease_until = NULL \
         WHERE state = 'leased' AND lease_until <= $1 AND NOT (id = ANY($2))",
        &[&now, &keep],
    )
    .await
}

/// Serialises reclaims in a schema. A reclaim changes items of many runs in one
/// statement, and the count trigger then locks those runs' rows in no fixed order: two
/// daemons reclaiming at once could deadlock (PostgreSQL would abort one, a storage
/// fault for its daemon). Held until the transaction ends.
pub(crate) async fn one_reclaim_at_a_time(tx: &Transaction<'_>) -> Res<()> {
    tx.batch_execute("SELECT pg_advisory_xact_lock(hashtext(current_schema()), 1)")
        .await?;
    Ok(())
}

/// Reverts `node`'s leases except `keep` (its own restart).
pub(crate) async fn revert_node(tx: &Transaction<'_>, node: &str, keep: &[i64]) -> Res<u64> {
    execute(
        tx,
        "UPDATE items SET state = was_state, leasable = run_leasable(run), lease_until = NULL \
         WHERE state = 'leased' AND lease_node = $1 AND NOT (id = ANY($2))",
        &[&node, &keep],
    )
    .await
}

/// The kept leases of `node` again, under their old epochs: those already reverted
/// (reclaimed after they ran out, and not leased by anyone since) are leased again
/// until `until`.
pub(crate) async fn readopt(tx: &Transaction<'_>, node: &str, keep: &[i64], until: i64) -> Res<()> {
    if keep.is_empty() {
        return Ok(());
    }
    execute(
        tx,
        "UPDATE items SET state = 'leased', was_state = state, leasable = false, \
         lease_until = $3 \
         WHERE id = ANY($2) AND state IN ('ready', 'snoozed') AND lease_node = $1 \
           AND lease_epoch IS NOT NULL",
        &[&node, &keep, &until],
    )
    .await?;
    Ok(())
}
