//! The `nodes` table: one heartbeat row per daemon sharing the schema. A row whose
//! `expires_at` has passed is a daemon that died or lost the server; the live rows are
//! what shared limits divide by and what `dredge status` lists.

use deadpool_postgres::Transaction;
use dredge_core::UnixMillis;
use dredge_queue::NodeInfo;

use crate::engine::Res;
use crate::sql::{execute, ms, query, time};

/// Upserts `node`'s heartbeat. `started_at` is kept from the row's first beat.
pub(crate) async fn heartbeat(
    tx: &Transaction<'_>,
    node: &str,
    now: UnixMillis,
    expires_at: UnixMillis,
) -> Res<()> {
    let host = host_name();
    execute(
        tx,
        "INSERT INTO nodes (node, host, pid, started_at, heartbeat_at, expires_at) \
         VALUES ($1, $2, $3, $4, $4, $5) \
         ON CONFLICT (node) DO UPDATE SET host = $2, pid = $3, heartbeat_at = $4, \
         expires_at = $5, \
         started_at = CASE WHEN nodes.expires_at < $4 OR nodes.pid <> $3 THEN $4 \
                      ELSE nodes.started_at END",
        &[
            &node,
            &host,
            &i64::from(std::process::id()),
            &ms(now),
            &ms(expires_at),
        ],
    )
    .await?;
    Ok(())
}

/// The nodes alive at `now`, by name.
pub(crate) async fn live(tx: &Transaction<'_>, now: UnixMillis) -> Res<Vec<NodeInfo>> {
    let rows = query(
        tx,
        "SELECT node, host, pid, started_at, heartbeat_at, expires_at FROM nodes \
         WHERE expires_at >= $1 ORDER BY node",
        &[&ms(now)],
    )
    .await?;
    Ok(rows
        .iter()
        .map(|row| NodeInfo {
            node: row.get(0),
            host: row.get(1),
            pid: u32::try_from(row.get::<_, i64>(2)).unwrap_or(0),
            started_at: time(row.get(3)),
            heartbeat_at: time(row.get(4)),
            expires_at: time(row.get(5)),
        })
        .collect())
}

/// Removes `node`'s row (a clean shutdown).
pub(crate) async fn leave(tx: &Transaction<'_>, node: &str) -> Res<()> {
    execute(tx, "DELETE FROM nodes WHERE node = $1", &[&node]).await?;
    Ok(())
}

/// Reverts the leases of every node other than `me` whose heartbeat row expired before
/// `now` or is missing.
pub(crate) async fn reclaim_gone(tx: &Transaction<'_>, me: &str, now: UnixMillis) -> Res<u64> {
    crate::leasing::one_reclaim_at_a_time(tx).await?;
    execute(
        tx,
        "UPDATE items SET state = was_state, leasable = run_leasable(run), lease_until = NULL \
         WHERE state = 'leased' AND lease_node <> $1 AND NOT EXISTS ( \
             SELECT 1 FROM nodes n WHERE n.node = items.lease_node AND n.expires_at >= $2)",
        &[&me, &ms(now)],
    )
    .await
}

/// This machine's name, for status (empty when the OS does not say).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}
