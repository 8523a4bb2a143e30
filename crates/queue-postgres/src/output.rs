//! Stage, then commit, as on sled: a staged item holds its records (table `records`)
//! until the writer has synced them into the run's file; `commit_written` finishes
//! staged and written items, creates the written items' follow-ups and moves the run's
//! cursor, all in one transaction.

use std::collections::HashMap;

use deadpool_postgres::Transaction;
use dredge_core::{NewItem, Record};
use dredge_queue::{ItemId, Lease, OutputCursor, QueueError, RunId, StageResult, WrittenItem};

use crate::create::create_follow_ups;
use crate::engine::Res;
use crate::leasing::{Held, expect_lease, fence};
use crate::sql::{decode, encode, execute, id, item_id, query, query_opt, state_name};
use crate::writers::check_writer;

pub(crate) async fn stage(
    tx: &Transaction<'_>,
    lease: Lease,
    records: &[Record],
    follow_ups: Vec<NewItem>,
) -> Res<StageResult> {
    let run = expect_lease(tx, lease).await?;
    execute(
        tx,
        "UPDATE items SET state = 'staged', stage_seq = nextval('stage_order'), \
         leasable = false, lease_until = NULL WHERE id = $1",
        &[&id(lease.id)],
    )
    .await?;
    let bytes = encode("staged records", &records)?;
    execute(
        tx,
        "INSERT INTO records (item, records, run, n_records) VALUES ($1, $2, $3, $4)",
        &[&id(lease.id), &bytes, &run.0, &(records.len() as i64)],
    )
    .await?;
    create_follow_ups(tx, &run, follow_ups).await
}

pub(crate) async fn staged_records(tx: &Transaction<'_>, item: ItemId) -> Res<Vec<Record>> {
    let row = query_opt(
        tx,
        "SELECT records FROM records WHERE item = $1 AND first_seq IS NULL",
        &[&id(item)],
    )
    .await?;
    if let Some(row) = row {
        return decode("staged records", row.get(0));
    }
    let exists = query_opt(tx, "SELECT 1 FROM items WHERE id = $1", &[&id(item)]).await?;
    match exists {
        None => Err(QueueError::UnknownItem(item).into()),
        Some(_) => Err(QueueError::WrongState {
            id: item,
            expected: "staged",
            actual: "not staged",
        }
        .into()),
    }
}

pub(crate) async fn staged_items(tx: &Transaction<'_>) -> Res<Vec<(RunId, ItemId)>> {
    let rows = query(
        tx,
        "SELECT run, id FROM items WHERE state = 'staged' ORDER BY stage_seq",
        &[],
    )
    .await?;
    Ok(rows
        .iter()
        .map(|row| (RunId(row.get(0)), item_id(row.get(1))))
        .collect())
}

pub(crate) async fn commit_written(
    tx: &Transaction<'_>,
    run: &RunId,
    staged: &[ItemId],
    written: Vec<WrittenItem>,
    cursor: OutputCursor,
    writer_epoch: Option<u64>,
) -> Res<Vec<StageResult>> {
    let all: Vec<i64> = staged
        .iter()
        .copied()
        .chain(written.iter().map(|w| w.id))
        .map(id)
        .collect();
    let held = hold_all(tx, &all).await?;
    for &item in staged {
        let h = in_run(&held, item, run)?;
        if h.state != "staged" {
            return Err(QueueError::WrongState {
                id: item,
                expected: "staged",
                actual: state_name(&h.state),
            }
            .into());
        }
    }
    for item in &written {
        let h = in_run(&held, item.id, run)?;
        fence(
            h,
            Lease {
                id: item.id,
                epoch: item.epoch,
            },
        )?;
    }
    // Items first, then the run's row: the order every transaction takes them in.
    let committed = hold_run(tx, run, writer_epoch).await?;
    execute(
        tx,
        "UPDATE items SET state = 'done', stage_seq = NULL, leasable = false, \
         lease_until = NULL WHERE id = ANY($1)",
        &[&all],
    )
    .await?;
    number_written(tx, staged, committed.records).await?;
    let mut results = Vec::with_capacity(written.len());
    for item in written {
        results.push(create_follow_ups(tx, run, item.follow_ups).await?);
    }
    move_cursor(tx, run, committed, cursor).await?;
    Ok(results)
}

/// The written staged items' records stay, numbered: the writer appended them first,
/// in the order given, after the `before` records already committed. `dredge export`
/// and a writer rebuilding a file read them back in that order.
async fn number_written(tx: &Transaction<'_>, staged: &[ItemId], before: u64) -> Res<()> {
    let staged_ids: Vec<i64> = staged.iter().copied().map(id).collect();
    execute(
        tx,
        "UPDATE records r SET first_seq = $2::bigint + n.before::bigint FROM ( \
             SELECT u.item, coalesce(sum(c.n_records) OVER (ORDER BY u.ord \
                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before \
             FROM unnest($1::bigint[]) WITH ORDINALITY AS u(item, ord) \
             JOIN records c ON c.item = u.item) n \
         WHERE r.item = n.item",
        &[&staged_ids, &(before as i64 + 1)],
    )
    .await?;
    Ok(())
}

/// Every item in `ids`, locked in id order (one order for every transaction).
async fn hold_all(tx: &Transaction<'_>, ids: &[i64]) -> Res<HashMap<ItemId, Held>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = query(
        tx,
        "SELECT id, run, state, lease_epoch FROM items WHERE id = ANY($1) ORDER BY id FOR UPDATE",
        &[&ids],
    )
    .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let held = Held {
                run: RunId(row.get(1)),
                state: row.get(2),
                epoch: row.get(3),
            };
            (item_id(row.get(0)), held)
        })
        .collect())
}

fn in_run<'h>(held: &'h HashMap<ItemId, Held>, item: ItemId, run: &RunId) -> Res<&'h Held> {
    let h = held.get(&item).ok_or(QueueError::UnknownItem(item))?;
    if h.run != *run {
        return Err(QueueError::WrongRun {
            id: item,
            expected: run.clone(),
            actual: h.run.clone(),
        }
        .into());
    }
    Ok(h)
}

/// The run's row, locked, once the writer's epoch is checked: its committed cursor.
async fn hold_run(
    tx: &Transaction<'_>,
    run: &RunId,
    writer_epoch: Option<u64>,
) -> Res<OutputCursor> {
    let row = query_opt(
        tx,
        "SELECT cursor_bytes, cursor_records, writer_epoch FROM runs WHERE id = $1 FOR UPDATE",
        &[&run.0],
    )
    .await?
    .ok_or_else(|| QueueError::UnknownRun(run.clone()))?;
    check_writer(run, row.get(2), writer_epoch)?;
    Ok(OutputCursor {
        bytes: row.get::<_, i64>(0) as u64,
        records: row.get::<_, i64>(1) as u64,
    })
}

/// The run's committed cursor moves from `committed` to `cursor`, never back.
async fn move_cursor(
    tx: &Transaction<'_>,
    run: &RunId,
    committed: OutputCursor,
    cursor: OutputCursor,
) -> Res<()> {
    if cursor.bytes < committed.bytes || cursor.records < committed.records {
        return Err(QueueError::CursorBackwards {
            run: run.clone(),
            committed_bytes: committed.bytes,
            offered_bytes: cursor.bytes,
        }
        .into());
    }
    execute(
        tx,
        "UPDATE runs SET cursor_bytes = $2, cursor_records = $3 WHERE id = $1",
        &[&run.0, &(cursor.bytes as i64), &(cursor.records as i64)],
    )
    .await?;
    Ok(())
}
