//! Versioned migrations, embedded in the binary. The schema's `schema_version` table
//! holds the version the database is at; opening applies the missing ones in order, in
//! one transaction under an advisory lock (two daemons starting together migrate once),
//! and refuses a database at a version this binary does not know (a newer dredge wrote
//! it): running old code on a newer layout could lose records.

use dredge_queue::QueueError;

use crate::engine::{Engine, Res};
use crate::options::PgOptions;

/// The migrations, in order: migration `n` (from 1) brings the schema to version `n`.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_initial.sql"),
    include_str!("../migrations/0002_cluster.sql"),
    include_str!("../migrations/0003_account_stops.sql"),
];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Any constant will do, as long as no other application on the database uses it with
/// the schema name's hash as the second key.
const MIGRATION_LOCK: i32 = 0x0d7e_d6e0;

/// Where a database's schema stands against this binary (for `dredge migrate --check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationStatus {
    /// No dredge schema yet: opening creates it.
    Missing,
    /// Older than this binary: opening migrates it.
    Behind { database: u32, binary: u32 },
    /// What this binary writes.
    Current { version: u32 },
    /// Written by a newer dredge: this one refuses it.
    Newer { database: u32, binary: u32 },
}

impl MigrationStatus {
    fn of(database: Option<u32>) -> Self {
        let binary = SCHEMA_VERSION;
        match database {
            None => MigrationStatus::Missing,
            Some(database) if database < binary => MigrationStatus::Behind { database, binary },
            Some(database) if database > binary => MigrationStatus::Newer { database, binary },
            Some(version) => MigrationStatus::Current { version },
        }
    }
}

/// Where the database's schema stands; changes nothing.
pub fn migration_status(options: &PgOptions) -> Result<MigrationStatus, QueueError> {
    let engine = Engine::new(options)?;
    let pool = engine.pool.clone();
    let schema = options.schema.clone();
    engine.first_call(options, async move {
        let client = pool.get().await?;
        let version = stored_version(&**client, &schema).await?;
        Ok(MigrationStatus::of(version))
    })
}

/// Creates or migrates the schema to this binary's version; refuses a newer one.
pub fn migrate(options: &PgOptions) -> Result<MigrationStatus, QueueError> {
    let engine = Engine::new(options)?;
    migrate_with(&engine, options)
}

pub(crate) fn migrate_with(
    engine: &Engine,
    options: &PgOptions,
) -> Result<MigrationStatus, QueueError> {
    let pool = engine.pool.clone();
    let schema = options.schema.clone();
    engine.first_call(options, async move {
        let mut client = pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            &[&MIGRATION_LOCK, &schema],
        )
        .await?;
        let found = stored_version(&*tx, &schema).await?;
        if let MigrationStatus::Newer { database, binary } = MigrationStatus::of(found) {
            return Err(QueueError::SchemaNewer { database, binary }.into());
        }
        // `schema` passed `valid_schema`: a plain identifier, safe to splice.
        tx.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema}; SET LOCAL search_path TO {schema};
             CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL);"
        ))
        .await?;
        let from = found.unwrap_or(0);
        for (n, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
            tracing::info!(schema, version = n + 1, "applying a queue migration");
            tx.batch_execute(sql).await?;
        }
        tx.execute("DELETE FROM schema_version", &[]).await?;
        let version = SCHEMA_VERSION as i32;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&version],
        )
        .await?;
        tx.commit().await?;
        Ok(MigrationStatus::of(Some(SCHEMA_VERSION)))
    })
}

/// The version stored in `schema`, or `None` when it has no dredge tables.
async fn stored_version(
    client: &impl tokio_postgres::GenericClient,
    schema: &str,
) -> Res<Option<u32>> {
    let table = format!("{schema}.schema_version");
    let row = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await?;
    if !row.get::<_, bool>(0) {
        return Ok(None);
    }
    let row = client
        .query_opt(&format!("SELECT max(version) FROM {table}"), &[])
        .await?;
    let version: Option<i32> = row.and_then(|row| row.get(0));
    Ok(version.map(|v| v as u32))
}
