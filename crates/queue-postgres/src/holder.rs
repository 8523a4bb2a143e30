//! [`NodeHolder`]: one daemon per node name in a schema.
//!
//! Why: several daemons share a schema, told apart by their `[queue] node`. A daemon's
//! start reverts the leases its node left (a crash's), and its heartbeat, writer locks
//! and limit share are its node's: two daemons under one name would revert each
//! other's leases and count as one. So a daemon holds its node for as long as it runs,
//! with a session advisory lock on a connection of its own: PostgreSQL frees it when
//! that session ends (the daemon exits, is killed, or its connection breaks), so a
//! crash never leaves the node held. The node name travels as the connection's
//! `application_name`, which is how a refused daemon says since when the other one
//! holds it (`pg_locks` joined with `pg_stat_activity`; no table to clean up after a
//! crash).

use dredge_queue::{QueueError, StorageError};
use tokio_postgres::NoTls;

use crate::options::{PgOptions, valid_schema};
use crate::sql::advisory_key;

/// Prefix of the holder's `application_name`; the node name follows it.
const APPLICATION_PREFIX: &str = "dredge node=";

/// The node held for this daemon; dropping it (or the process ending) lets it go.
pub struct NodeHolder {
    runtime: Option<tokio::runtime::Runtime>,
    client: Option<tokio_postgres::Client>,
    warnings: Vec<String>,
}

impl NodeHolder {
    /// Takes `options.node` in `options.schema`, or says since when another daemon holds it.
    pub fn take(options: &PgOptions) -> Result<NodeHolder, QueueError> {
        if !valid_schema(&options.schema) {
            return Err(QueueError::BadSchemaName {
                schema: options.schema.clone(),
            });
        }
        // One worker of its own, so the held connection keeps being driven (its break is
        // logged) while nothing else calls it.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("dredge-pg-holder")
            .enable_all()
            .build()
            .map_err(|e| QueueError::Storage(StorageError::new(e)))?;
        let mut config: tokio_postgres::Config =
            options.url.parse().map_err(|e| connect_error(options, e))?;
        config.application_name(format!("{APPLICATION_PREFIX}{}", options.node));
        config.connect_timeout(std::time::Duration::from_secs(10));
        let key = lock_key(&options.schema, &options.node);
        let claimed = std::thread::scope(|s| {
            // Its own thread: the caller may be inside another runtime.
            s.spawn(|| runtime.block_on(claim(&config, key)))
                .join()
                .unwrap_or_else(|_| Err(Failure::Other("the holder's thread panicked".into())))
        })
        .map_err(|f| f.into_queue_error(options))?;
        match claimed {
            Claim::InUse(holder) => Err(QueueError::NodeInUse {
                schema: options.schema.clone(),
                node: options.node.clone(),
                holder: holder.unwrap_or_else(|| "another dredge daemon".into()),
            }),
            Claim::Held { client, settings } => Ok(NodeHolder {
                runtime: Some(runtime),
                client: Some(client),
                warnings: durability_warnings(&settings),
            }),
        }
    }

    /// What in the server's settings can undo a commit dredge counted on (`fsync` or
    /// `synchronous_commit` off), each with what to do; empty when nothing can.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

/// The server's `fsync` and `synchronous_commit`, as this session sees them.
async fn durability_settings(client: &tokio_postgres::Client) -> Result<(String, String), Failure> {
    let row = client
        .query_one(
            "SELECT current_setting('fsync'), current_setting('synchronous_commit')",
            &[],
        )
        .await
        .map_err(Failure::Db)?;
    Ok((row.get(0), row.get(1)))
}

fn durability_warnings((fsync, synchronous_commit): &(String, String)) -> Vec<String> {
    let mut warnings = Vec::new();
    if fsync == "off" {
        warnings.push("the PostgreSQL server runs with fsync = off: a power loss of the server can lose items and records it reported committed, so an output file may then hold records the queue forgot; set fsync = on".to_string());
    }
    if synchronous_commit == "off" {
        warnings.push("the PostgreSQL server runs with synchronous_commit = off: a crash of the server can lose the last commits it reported, so an output file may then hold records the queue forgot; set synchronous_commit = on for dredge's user or database".to_string());
    }
    warnings
}

impl Drop for NodeHolder {
    fn drop(&mut self) {
        // Closing the session releases the lock; never block here (the holder may be
        // dropped inside an async task).
        drop(self.client.take());
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

enum Failure {
    Db(tokio_postgres::Error),
    Other(String),
}

impl Failure {
    fn into_queue_error(self, options: &PgOptions) -> QueueError {
        match self {
            Failure::Db(e) => connect_error(options, e),
            Failure::Other(m) => QueueError::Storage(StorageError::new(m)),
        }
    }
}

fn connect_error(options: &PgOptions, e: tokio_postgres::Error) -> QueueError {
    QueueError::Connect {
        url: options.redacted_url(),
        source: StorageError::new(e),
    }
}

/// What trying the lock found.
enum Claim {
    /// Ours, with the server's `fsync` and `synchronous_commit`.
    Held {
        client: tokio_postgres::Client,
        settings: (String, String),
    },
    /// Another session holds it: who, if it can be told.
    InUse(Option<String>),
}

/// Connects, tries the lock, and reads either the holder or the durability settings.
async fn claim(config: &tokio_postgres::Config, key: i64) -> Result<Claim, Failure> {
    let (client, taken) = try_lock(config, key).await?;
    if !taken {
        return Ok(Claim::InUse(holder_of(&client, key).await));
    }
    let settings = durability_settings(&client).await?;
    Ok(Claim::Held { client, settings })
}

/// Connects (the connection is driven by a task on the holder's runtime, which lives
/// as long as the holder) and tries the lock.
async fn try_lock(
    config: &tokio_postgres::Config,
    key: i64,
) -> Result<(tokio_postgres::Client, bool), Failure> {
    let (client, connection) = config.connect(NoTls).await.map_err(Failure::Db)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::error!(error = %e, "the connection holding this daemon's node in the PostgreSQL queue broke; another daemon could now start under the same node");
        }
    });
    let row = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
        .await
        .map_err(Failure::Db)?;
    Ok((client, row.get(0)))
}

/// Who holds the node (and since when), from its session.
async fn holder_of(client: &tokio_postgres::Client, key: i64) -> Option<String> {
    let (classid, objid) = ((key >> 32) as u32, key as u32);
    let row = client
        .query_opt(
            "SELECT a.application_name, a.backend_start::text FROM pg_locks l \
             JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
               AND l.classid::bigint = $1 AND l.objid::bigint = $2",
            &[&i64::from(classid), &i64::from(objid)],
        )
        .await
        .ok()??;
    let name: String = row.get(0);
    let since: String = row.get(1);
    let node = name.strip_prefix(APPLICATION_PREFIX).unwrap_or(&name);
    Some(format!(
        "the daemon of node {node:?}, connected since {since}"
    ))
}

/// The advisory-lock key of a node in a schema (`dredge-node:SCHEMA:NODE`).
fn lock_key(schema: &str, node: &str) -> i64 {
    advisory_key(&format!("dredge-node:{schema}:{node}"))
}

#[cfg(test)]
mod tests {
    use super::{durability_warnings, lock_key};

    #[test]
    fn fsync_or_synchronous_commit_off_is_a_warning_each() {
        let on = |a: &str, b: &str| durability_warnings(&(a.into(), b.into()));
        assert!(on("on", "on").is_empty());
        assert!(on("on", "local").is_empty());
        assert!(on("off", "on")[0].contains("fsync = off"));
        assert!(on("on", "off")[0].contains("synchronous_commit = off"));
        assert_eq!(on("off", "off").len(), 2);
    }

    #[test]
    fn the_lock_key_is_stable_and_differs_per_schema_and_node() {
        // Pinned: a daemon of another release must compute the same key.
        assert_eq!(lock_key("dredge", "a"), lock_key("dredge", "a"));
        assert_ne!(lock_key("dredge", "a"), lock_key("dredge_eu", "a"));
        assert_ne!(lock_key("dredge", "a"), lock_key("dredge", "b"));
        assert_eq!(lock_key("dredge", "a"), -8_128_458_990_721_879_509);
    }
}
