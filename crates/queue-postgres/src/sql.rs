//! Small helpers every call uses: prepared-statement caching, and the conversions
//! between the queue's vocabulary and column values (bigint for u64 times and ids).

use deadpool_postgres::Transaction;
use dredge_core::UnixMillis;
use dredge_queue::{ItemId, QueueError};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::engine::Res;

pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Rows of `sql`, prepared once per connection.
pub(crate) async fn query(tx: &Transaction<'_>, sql: &str, params: Params<'_>) -> Res<Vec<Row>> {
    let statement = tx.prepare_cached(sql).await?;
    Ok(tx.query(&statement, params).await?)
}

/// At most one row of `sql`.
pub(crate) async fn query_opt(
    tx: &Transaction<'_>,
    sql: &str,
    params: Params<'_>,
) -> Res<Option<Row>> {
    let statement = tx.prepare_cached(sql).await?;
    Ok(tx.query_opt(&statement, params).await?)
}

/// How many rows `sql` changed.
pub(crate) async fn execute(tx: &Transaction<'_>, sql: &str, params: Params<'_>) -> Res<u64> {
    let statement = tx.prepare_cached(sql).await?;
    Ok(tx.execute(&statement, params).await?)
}

/// A time as stored (bigint milliseconds).
pub(crate) fn ms(time: UnixMillis) -> i64 {
    time.0 as i64
}

pub(crate) fn time(ms: i64) -> UnixMillis {
    UnixMillis(ms as u64)
}

pub(crate) fn id(id: ItemId) -> i64 {
    id.0 as i64
}

pub(crate) fn item_id(raw: i64) -> ItemId {
    ItemId(raw as u64)
}

/// An item state's stored name as the queue's errors name it.
pub(crate) fn state_name(state: &str) -> &'static str {
    match state {
        "ready" => "ready",
        "snoozed" => "snoozed",
        "leased" => "leased",
        "staged" => "staged",
        "done" => "done",
        "dead" => "dead",
        _ => "unknown",
    }
}

/// Records and other values stored as bytes use sled's encoding (bincode).
pub(crate) fn encode<T: serde::Serialize>(what: &'static str, value: &T) -> Res<Vec<u8>> {
    bincode::serde::encode_to_vec(value, bincode::config::standard()).map_err(|e| {
        QueueError::Encode {
            what,
            detail: e.to_string(),
        }
        .into()
    })
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Res<T> {
    bincode::serde::decode_from_slice(bytes, bincode::config::standard())
        .map(|(value, _)| value)
        .map_err(|e| {
            QueueError::Corrupt {
                what,
                detail: e.to_string(),
            }
            .into()
        })
}

/// A session advisory-lock key for `name` (`dredge-node:…`, `dredge-run:…`): FNV-1a,
/// stable across builds and releases, since daemons of two versions in one cluster must
/// compute the same key for the same thing.
pub(crate) fn advisory_key(name: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}
