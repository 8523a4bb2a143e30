//! `dredge migrate [--config CONF] [--check]`: brings a PostgreSQL queue's schema to
//! this binary's version, or (`--check`) only says where it stands, so a deploy can
//! migrate once before it starts several daemons, or refuse to start a binary older
//! than the database. The daemon migrates by itself at start too; this command is for
//! operators who want it as a separate, visible step. The sled queue keeps its own
//! format and has nothing to migrate.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use dredge_queue_postgres::MigrationStatus;

use crate::config::DaemonConfig;
use crate::queue_config::QueueConfig;

pub(super) fn run(config: &Path, check: bool) -> anyhow::Result<ExitCode> {
    let loaded = DaemonConfig::load(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let QueueConfig::Postgres(pg) = &loaded.queue else {
        println!("the queue is sled (embedded): it keeps its own format, nothing to migrate");
        return Ok(ExitCode::SUCCESS);
    };
    let options = pg.options();
    let status = if check {
        dredge_queue_postgres::migration_status(&options)
    } else {
        dredge_queue_postgres::migrate(&options)
    }
    .with_context(|| format!("PostgreSQL queue, schema {}", pg.schema))?;
    let (line, ok) = describe(&status, &pg.schema);
    println!("{line}");
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// One line for the operator, and whether this binary may run on the database as it is.
fn describe(status: &MigrationStatus, schema: &str) -> (String, bool) {
    match status {
        MigrationStatus::Current { version } => (
            format!("schema {schema}: at version {version}, this dredge's own: nothing to do"),
            true,
        ),
        MigrationStatus::Missing => (
            format!(
                "schema {schema}: not created yet: run `dredge migrate` (or start the daemon, which creates it)"
            ),
            false,
        ),
        MigrationStatus::Behind { database, binary } => (
            format!(
                "schema {schema}: at version {database}, this dredge needs {binary}: run `dredge migrate` (or start the daemon, which migrates)"
            ),
            false,
        ),
        MigrationStatus::Newer { database, binary } => (
            format!(
                "schema {schema}: at version {database}, written by a newer dredge (this one knows up to {binary}): upgrade dredge on this machine"
            ),
            false,
        ),
    }
}
