//! Creating items in a run: a run's first items, planned chunks and follow-ups all go
//! through [`create_items`], which applies the run's dedupe keys and cap and hands out
//! ids from a gapless counter, in the caller's transaction.
//!
//! The run's row is locked first (`FOR UPDATE`): item creation in one run is serial
//! across daemons, so "is this dedupe key new, is the cap reached" cannot race.

use std::collections::HashSet;

use deadpool_postgres::Transaction;
use dredge_core::{ItemStart, NewItem};
use dredge_queue::{ItemId, QueueError, RunId, StageResult};

use crate::engine::Res;
use crate::sql::{execute, item_id, query, query_opt};

/// Creates `items` in `run`, in order; `None` for each one whose dedupe key the run has
/// seen, or whose cap of distinct keys is reached.
pub(crate) async fn create_items(
    tx: &Transaction<'_>,
    run: &RunId,
    items: Vec<NewItem>,
) -> Res<Vec<Option<ItemId>>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let row = query_opt(
        tx,
        "SELECT lane, distinct_keys, run_leasable(id) FROM runs WHERE id = $1 FOR UPDATE",
        &[&run.0],
    )
    .await?
    .ok_or_else(|| QueueError::UnknownRun(run.clone()))?;
    let (lane, mut distinct, leasable): (String, i64, bool) = (row.get(0), row.get(1), row.get(2));
    let seen = seen_keys(tx, run, &items).await?;
    let mut new_keys = HashSet::new();
    let mut kept = Vec::with_capacity(items.len());
    for item in items {
        if let Some(key) = &item.dedupe_key {
            if seen.contains(key) || new_keys.contains(key) {
                kept.push(None);
                continue;
            }
            if item.cap.is_some_and(|cap| distinct as u64 >= cap) {
                kept.push(None);
                continue;
            }
            distinct += 1;
            new_keys.insert(key.clone());
        }
        kept.push(Some(item));
    }
    let count = kept.iter().flatten().count() as i64;
    if count == 0 {
        return Ok(vec![None; kept.len()]);
    }
    let first = next_ids(tx, "item", count).await?;
    let mut columns = Columns::default();
    let mut ids = Vec::with_capacity(kept.len());
    let mut next = first;
    for item in kept {
        match item {
            Some(item) => {
                columns.push(next, item);
                ids.push(Some(item_id(next)));
                next += 1;
            }
            None => ids.push(None),
        }
    }
    columns.insert(tx, run, &lane, leasable).await?;
    if !new_keys.is_empty() {
        execute(
            tx,
            "UPDATE runs SET distinct_keys = $2 WHERE id = $1",
            &[&run.0, &distinct],
        )
        .await?;
    }
    Ok(ids)
}

/// `create_items` of follow-ups, counted as `stage` reports them.
pub(crate) async fn create_follow_ups(
    tx: &Transaction<'_>,
    run: &RunId,
    follow_ups: Vec<NewItem>,
) -> Res<StageResult> {
    let mut result = StageResult::default();
    for id in create_items(tx, run, follow_ups).await? {
        match id {
            Some(id) => result.created.push(id),
            None => result.deduplicated += 1,
        }
    }
    Ok(result)
}

/// The first of `count` new values of a gapless counter (`item` or `run`).
pub(crate) async fn next_ids(tx: &Transaction<'_>, counter: &str, count: i64) -> Res<i64> {
    let row = query_opt(
        tx,
        "UPDATE counters SET value = value + $2 WHERE name = $1 RETURNING value - $2",
        &[&counter, &count],
    )
    .await?
    .ok_or_else(|| QueueError::Corrupt {
        what: "counters",
        detail: format!("no {counter} counter"),
    })?;
    Ok(row.get(0))
}

/// Which of the items' dedupe keys the run has seen already.
async fn seen_keys(tx: &Transaction<'_>, run: &RunId, items: &[NewItem]) -> Res<HashSet<String>> {
    let keys: Vec<&str> = items
        .iter()
        .filter_map(|item| item.dedupe_key.as_deref())
        .collect();
    if keys.is_empty() {
        return Ok(HashSet::new());
    }
    let rows = query(
        tx,
        "SELECT key FROM dedupe_keys WHERE run = $1 AND key = ANY($2)",
        &[&run.0, &keys],
    )
    .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// New items as columns, for one INSERT of them all.
#[derive(Default)]
struct Columns {
    ids: Vec<i64>,
    labels: Vec<String>,
    payloads: Vec<Vec<u8>>,
    scopes: Vec<Option<String>>,
    attempts: Vec<i32>,
    states: Vec<&'static str>,
    not_before: Vec<i64>,
    reasons: Vec<Option<String>>,
    keys: Vec<String>,
    key_items: Vec<i64>,
}

impl Columns {
    fn push(&mut self, id: i64, item: NewItem) {
        let (state, not_before, attempts, reason) = match item.start {
            ItemStart::Ready {
                not_before,
                attempts,
            } => (
                "ready",
                not_before.map_or(0, |t| t.0 as i64),
                attempts,
                None,
            ),
            ItemStart::Dead { reason } => ("dead", 0, 0, Some(reason)),
        };
        if let Some(key) = item.dedupe_key {
            self.keys.push(key);
            self.key_items.push(id);
        }
        self.ids.push(id);
        self.labels.push(item.label);
        self.payloads.push(item.payload);
        self.scopes.push(item.scope);
        self.attempts.push(attempts as i32);
        self.states.push(state);
        self.not_before.push(not_before);
        self.reasons.push(reason);
    }

    async fn insert(
        &self,
        tx: &Transaction<'_>,
        run: &RunId,
        lane: &str,
        leasable: bool,
    ) -> Res<()> {
        execute(
            tx,
            "INSERT INTO items (id, run, lane, label, payload, scope, attempts, state, \
             not_before, leasable, dead_reason, last_error) \
             SELECT u.id, $1, $2, u.label, u.payload, u.scope, u.attempts, u.state, \
             u.not_before, u.state = 'ready' AND $3, u.reason, u.reason \
             FROM unnest($4::bigint[], $5::text[], $6::bytea[], $7::text[], $8::int[], \
             $9::text[], $10::bigint[], $11::text[]) \
             AS u(id, label, payload, scope, attempts, state, not_before, reason)",
            &[
                &run.0,
                &lane,
                &leasable,
                &self.ids,
                &self.labels,
                &self.payloads,
                &self.scopes,
                &self.attempts,
                &self.states,
                &self.not_before,
                &self.reasons,
            ],
        )
        .await?;
        if !self.keys.is_empty() {
            execute(
                tx,
                "INSERT INTO dedupe_keys (run, key, item) \
                 SELECT $1, u.key, u.item FROM unnest($2::text[], $3::bigint[]) AS u(key, item)",
                &[&run.0, &self.keys, &self.key_items],
            )
            .await?;
        }
        Ok(())
    }
}
