//! Run writers: which daemon appends a run's records to its file.
//!
//! Why an advisory lock per run, on a session of its own: exactly one daemon may write
//! a run's file, and when it dies another must take over without anyone cleaning up.
//! A session-level `pg_try_advisory_lock` is that: PostgreSQL frees it when the
//! session ends (the daemon exits, is SIGKILLed, or its connection breaks), so the
//! next daemon to try takes the run. The session is one connection outside the pool
//! (pooled connections are shared by calls and recycled; a lock on one would be held
//! by whichever call used it last).
//!
//! Why a writer epoch besides the lock: a daemon learns that it lost its session only
//! when it next looks, and a commit it sent meanwhile must not land after another
//! daemon took over. Each take-over bumps `runs.writer_epoch` in the transaction that
//! records the new writer; `commit_written` compares the epoch this handle took with
//! the row's and refuses a stale one (`QueueError::NotRunWriter`), in the transaction
//! that would move the cursor.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use dredge_queue::{ItemId, QueueError, Result, RunId, WrittenChunk};
use tokio_postgres::NoTls;

use crate::engine::Res;
use crate::queue::{PgQueue, in_tx};
use crate::sql::{advisory_key, decode, execute, item_id, query};

/// The writer locks this handle holds: the session that holds them, and the epoch of
/// each run taken.
#[derive(Default)]
pub(crate) struct RunWriters {
    session: Arc<tokio::sync::Mutex<Option<tokio_postgres::Client>>>,
    held: Mutex<HashMap<RunId, u64>>,
}

impl RunWriters {
    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<RunId, u64>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The epoch under which this handle writes `run`, if it took it.
    pub(crate) fn epoch_of(&self, run: &RunId) -> Option<u64> {
        self.held().get(run).copied()
    }
}

/// What an attempt to take a run found.
struct Attempt {
    /// The session was new: every lock the old one held is gone.
    session_lost: bool,
    epoch: Option<u64>,
}

impl PgQueue {
    pub(crate) fn take_writer(&self, run: &RunId) -> Result<Option<u64>> {
        let session = self.writers.session.clone();
        let config = self.engine.config.clone();
        let pool = self.engine.pool.clone();
        let (key, node, id) = (self.run_lock_key(run), self.node_name(), run.clone());
        let already = self.writers.epoch_of(run);
        let attempt = self.engine.call(async move {
            let mut guard = session.lock().await;
            let session_lost = guard.as_ref().is_none_or(|c| c.is_closed());
            if session_lost {
                *guard = Some(connect(&config, &node).await?);
            } else if already.is_some() {
                return Ok(Attempt {
                    session_lost,
                    epoch: already,
                });
            }
            let client = guard.as_ref().expect("connected above");
            let row = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .await?;
            let epoch = if row.get(0) {
                let epoch = record_writer(&pool, &id, &node).await?;
                if epoch.is_none() {
                    client
                        .query_one("SELECT pg_advisory_unlock($1)", &[&key])
                        .await?;
                }
                epoch
            } else {
                None
            };
            Ok(Attempt {
                session_lost,
                epoch,
            })
        })?;
        let mut held = self.writers.held();
        if attempt.session_lost {
            held.clear();
        }
        if let Some(epoch) = attempt.epoch {
            held.insert(run.clone(), epoch);
        }
        Ok(attempt.epoch)
    }

    pub(crate) fn release_writer(&self, run: &RunId) -> Result<()> {
        if self.writers.held().remove(run).is_none() {
            return Ok(());
        }
        let session = self.writers.session.clone();
        let key = self.run_lock_key(run);
        self.engine.call(async move {
            let guard = session.lock().await;
            if let Some(client) = guard.as_ref().filter(|c| !c.is_closed()) {
                client
                    .query_one("SELECT pg_advisory_unlock($1)", &[&key])
                    .await?;
            }
            Ok(())
        })?;
        let (node, id) = (self.node_name(), run.clone());
        in_tx!(self, |tx| execute(
            &tx,
            "UPDATE runs SET writer_node = NULL WHERE id = $1 AND writer_node = $2",
            &[&id.0, &&*node],
        )
        .await?)?;
        Ok(())
    }

    pub(crate) fn holds_writer(&self, run: &RunId) -> Result<bool> {
        if self.writers.epoch_of(run).is_none() {
            return Ok(false);
        }
        let session = self.writers.session.clone();
        let alive = self.engine.call(async move {
            let guard = session.lock().await;
            Ok(guard.as_ref().is_some_and(|c| !c.is_closed()))
        })?;
        if !alive {
            self.writers.held().clear();
        }
        Ok(alive)
    }

    pub(crate) fn staged_of(&self, run: &RunId, limit: usize) -> Result<Vec<ItemId>> {
        let (id, limit) = (run.clone(), limit as i64);
        in_tx!(self, |tx| {
            let rows = query(
                &tx,
                "SELECT id FROM items WHERE run = $1 AND state = 'staged' \
                 ORDER BY stage_seq LIMIT $2",
                &[&id.0, &limit],
            )
            .await?;
            rows.iter().map(|r| item_id(r.get(0))).collect()
        })
    }

    pub(crate) fn written_of(
        &self,
        run: &RunId,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<WrittenChunk>> {
        let (id, from, limit) = (run.clone(), from_seq as i64, limit as i64);
        in_tx!(self, |tx| {
            let rows = query(
                &tx,
                "SELECT item, first_seq, records FROM records \
                 WHERE run = $1 AND first_seq IS NOT NULL AND first_seq >= $2 \
                 ORDER BY first_seq LIMIT $3",
                &[&id.0, &from, &limit],
            )
            .await?;
            let mut chunks = Vec::with_capacity(rows.len());
            for row in &rows {
                chunks.push(WrittenChunk {
                    item: item_id(row.get(0)),
                    first_seq: row.get::<_, i64>(1) as u64,
                    records: decode("written records", row.get(2))?,
                });
            }
            chunks
        })
    }

    pub(crate) fn writers(&self) -> Result<Vec<(RunId, String)>> {
        in_tx!(self, |tx| {
            let rows = query(
                &tx,
                "SELECT id, writer_node FROM runs \
                 WHERE state = 'running' AND writer_node IS NOT NULL ORDER BY id",
                &[],
            )
            .await?;
            rows.iter()
                .map(|r| (RunId(r.get(0)), r.get::<_, String>(1)))
                .collect()
        })
    }

    /// The advisory-lock key of one run of this schema (`dredge-run:SCHEMA:RUN`).
    fn run_lock_key(&self, run: &RunId) -> i64 {
        advisory_key(&format!("dredge-run:{}:{}", self.schema, run.0))
    }
}

/// The writer session's connection, named like the schema holder's (`pg_stat_activity`
/// tells whose it is), driven on the engine's runtime.
async fn connect(config: &tokio_postgres::Config, node: &str) -> Res<tokio_postgres::Client> {
    let mut config = config.clone();
    config.application_name(format!("dredge node={node} writer"));
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "the session holding this daemon's run writer locks broke; other daemons may take its runs over");
        }
    });
    Ok(client)
}

/// Records `node` as the run's writer under a new epoch; `None` when there is no such run.
async fn record_writer(
    pool: &deadpool_postgres::Pool,
    run: &RunId,
    node: &str,
) -> Res<Option<u64>> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let row = tx
        .query_opt(
            "UPDATE runs SET writer_node = $2, writer_epoch = writer_epoch + 1 \
             WHERE id = $1 RETURNING writer_epoch",
            &[&run.0, &node],
        )
        .await?;
    tx.commit().await?;
    Ok(row.map(|r| r.get::<_, i64>(0) as u64))
}

/// `commit_written`'s fence: the run's writer epoch must be the one this handle took
/// (or none ever taken, when nobody took the run: a single daemon's tests).
pub(crate) fn check_writer(run: &RunId, stored: i64, taken: Option<u64>) -> Res<()> {
    match taken {
        Some(epoch) if epoch as i64 == stored => Ok(()),
        None if stored == 0 => Ok(()),
        _ => Err(QueueError::NotRunWriter { run: run.clone() }.into()),
    }
}
