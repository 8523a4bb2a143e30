//! `dredge export RUN [PATH] [--config CONF]`: a run's file written again from the
//! PostgreSQL queue the config names (`daemon::export` does the writing). It reads
//! only: no daemon needs to stop, and nothing in the queue changes.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use dredge_queue::RunId;
use dredge_queue_postgres::PgQueue;

use crate::config::DaemonConfig;
use crate::queue_config::QueueConfig;

pub(super) fn run(config: &Path, run: &str, path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let loaded = DaemonConfig::load(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let QueueConfig::Postgres(pg) = &loaded.queue else {
        anyhow::bail!(
            "the queue is sled: it does not keep records after writing them; run {run}'s file is in {}",
            loaded.output_dir.display()
        );
    };
    let queue = PgQueue::attach(pg.options())
        .with_context(|| format!("PostgreSQL queue, schema {}", pg.schema))?;
    let exported = crate::daemon::export::export(&queue, &RunId(run.to_string()), path)?;
    let note = if exported.running {
        " (the run is still running: its records committed so far)"
    } else {
        ""
    };
    println!(
        "wrote {} records of run {run} to {}{note}",
        exported.records,
        exported.path.display()
    );
    Ok(ExitCode::SUCCESS)
}
