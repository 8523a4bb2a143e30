//! Opening the queue the config names (`[queue]`): sled under `state_dir`, or a
//! PostgreSQL schema. The rest of the daemon sees only `dyn QueueBackend` and the
//! `Recovery` the open reported.
//!
//! On PostgreSQL the daemon first takes its node for itself (`NodeHolder`: one daemon
//! per `[queue] node` in a schema) and keeps it until it exits.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use dredge_queue::{Queue, QueueBackend, Recovery};
use dredge_queue_postgres::{NodeHolder, PgQueue};

use crate::config::DaemonConfig;
use crate::queue_config::QueueConfig;

/// An opened queue, what its open recovered, and what the daemon holds while it runs.
pub(super) struct Opened {
    pub queue: Arc<dyn QueueBackend>,
    pub recovery: Recovery,
    /// PostgreSQL: the node, held for this daemon until it exits.
    pub holder: Option<NodeHolder>,
    /// What about the backend may break the exactly-once contract (shown in status).
    pub warnings: Vec<String>,
}

/// Opens the queue the config names.
pub(super) async fn open(config: &DaemonConfig) -> anyhow::Result<Opened> {
    let started = Instant::now();
    let opened = match &config.queue {
        QueueConfig::Sled => {
            let path = config.state_dir.join("queue");
            let (queue, recovery) =
                tokio::task::spawn_blocking(move || Queue::open(&path)).await??;
            Opened {
                queue: Arc::new(queue),
                recovery,
                holder: None,
                warnings: Vec::new(),
            }
        }
        QueueConfig::Postgres(pg) => {
            let options = pg.options();
            let schema = pg.schema.clone();
            // The node first: a second daemon under the same name must not even revert
            // this one's leases.
            let (holder, (queue, recovery)) = tokio::task::spawn_blocking(move || {
                let holder = NodeHolder::take(&options)?;
                PgQueue::open(options).map(|opened| (holder, opened))
            })
            .await?
            .with_context(|| format!("cannot open the PostgreSQL queue (schema {schema})"))?;
            for w in holder.warnings() {
                tracing::warn!("[queue]: {w}");
            }
            Opened {
                queue: Arc::new(queue),
                recovery,
                warnings: holder.warnings().to_vec(),
                holder: Some(holder),
            }
        }
    };
    let recovery = &opened.recovery;
    tracing::info!(
        backend = config.queue.backend(),
        leases_reset = recovery.leases_reset,
        staged = recovery.staged.len(),
        unfinished_runs = recovery.cursors.len(),
        took_ms = started.elapsed().as_millis() as u64,
        "queue opened"
    );
    Ok(opened)
}
