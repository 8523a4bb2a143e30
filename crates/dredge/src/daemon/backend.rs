//! Opening the queue the config names (`[queue]`): sled under `state_dir`, or a
//! PostgreSQL schema shared with other daemons. The rest of the daemon sees only
//! `dyn QueueBackend` and the `Recovery` the open reported.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use dredge_queue::{Queue, QueueBackend, Recovery};
use dredge_queue_postgres::PgQueue;

use crate::config::DaemonConfig;
use crate::queue_config::QueueConfig;

/// The opened queue and what its open recovered.
pub(super) async fn open(
    config: &DaemonConfig,
) -> anyhow::Result<(Arc<dyn QueueBackend>, Recovery)> {
    let opened = Instant::now();
    let (queue, recovery): (Arc<dyn QueueBackend>, Recovery) = match &config.queue {
        QueueConfig::Sled => {
            let path = config.state_dir.join("queue");
            let (queue, recovery) =
                tokio::task::spawn_blocking(move || Queue::open(&path)).await??;
            (Arc::new(queue), recovery)
        }
        QueueConfig::Postgres(pg) => {
            let options = crate::commands::pg_options(pg);
            let schema = pg.schema.clone();
            let (queue, recovery) = tokio::task::spawn_blocking(move || PgQueue::open(options))
                .await?
                .with_context(|| format!("cannot open the PostgreSQL queue (schema {schema})"))?;
            (Arc::new(queue), recovery)
        }
    };
    tracing::info!(
        backend = config.queue.backend(),
        leases_reset = recovery.leases_reset,
        staged = recovery.staged.len(),
        unfinished_runs = recovery.cursors.len(),
        took_ms = opened.elapsed().as_millis() as u64,
        "queue opened"
    );
    Ok((queue, recovery))
}
