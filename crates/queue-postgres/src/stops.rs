//! The `account_stops` table: accounts a daemon stopped (`auth_failed`,
//! `account_suspended`), asserted by that daemon at each heartbeat and read by the
//! others, which stop the account too. A row that is not re-asserted lapses at its
//! `expires_at` (its daemon died, or was cut off).

use deadpool_postgres::Transaction;
use dredge_core::UnixMillis;
use dredge_queue::AccountStopInfo;

use crate::engine::Res;
use crate::sql::{execute, ms, query, time};

/// Upserts `node`'s stop of `account`.
pub(crate) async fn assert(tx: &Transaction<'_>, node: &str, stop: &AccountStopInfo) -> Res<()> {
    execute(
        tx,
        "INSERT INTO account_stops (account, node, kind, reason, since, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (account, node) DO UPDATE SET kind = $3, reason = $4, since = $5, \
         expires_at = $6",
        &[
            &stop.account,
            &node,
            &stop.kind,
            &stop.reason,
            &ms(stop.since),
            &ms(stop.expires_at),
        ],
    )
    .await?;
    Ok(())
}

/// Removes `node`'s stop of `account`.
pub(crate) async fn withdraw(tx: &Transaction<'_>, node: &str, account: &str) -> Res<()> {
    execute(
        tx,
        "DELETE FROM account_stops WHERE account = $1 AND node = $2",
        &[&account, &node],
    )
    .await?;
    Ok(())
}

/// The stops that have not expired at `now`, by account then node.
pub(crate) async fn live(tx: &Transaction<'_>, now: UnixMillis) -> Res<Vec<AccountStopInfo>> {
    let rows = query(
        tx,
        "SELECT account, node, kind, reason, since, expires_at FROM account_stops \
         WHERE expires_at >= $1 ORDER BY account, node",
        &[&ms(now)],
    )
    .await?;
    Ok(rows
        .iter()
        .map(|row| AccountStopInfo {
            account: row.get(0),
            node: row.get(1),
            kind: row.get(2),
            reason: row.get(3),
            since: time(row.get(4)),
            expires_at: time(row.get(5)),
        })
        .collect())
}
