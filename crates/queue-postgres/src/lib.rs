//! dredge-queue-postgres: the queue on PostgreSQL, so that several dredge daemons can
//! share one queue (issue 20). It implements the queue's seam,
//! [`dredge_queue::QueueBackend`], with the guarantees its module doc lists.
//!
//! It owns: dredge's PostgreSQL schema (tables for runs, items, staged records, dedupe
//! keys, planning cursors, schedule state and paused jobs), its versioned migrations
//! (embedded, applied at open under an advisory lock, refusing a newer database),
//! leasing with `FOR UPDATE SKIP LOCKED`, and fencing by epochs from one sequence, so
//! that a lease's token is unique across daemons. It does not own: HTTP, output files,
//! the daemon, configuration files (the daemon reads `[queue]` and hands it
//! [`PgOptions`]), or the sled backend.
//!
//! Why it looks like this:
//! - Every call is one transaction, committed before it returns, so each is atomic and
//!   durable; run counts are kept by statement triggers in the same transaction
//!   (`migrations/0001_initial.sql`), one rule for every call.
//! - The seam is synchronous, and called from async tasks too: a [`PgQueue`] owns a small
//!   runtime that drives its connection pool, and each call waits on a task spawned
//!   there (`engine`), never `block_on` on the caller's thread.
//! - Item and run ids come from gapless counters in the same transaction (ids without
//!   holes, as on sled); epochs and staging order come from sequences.
//! - Locks are taken item first, then the item's run row (the count triggers update
//!   it), in every call; calls that change a whole run's items update the items before
//!   the run row.

mod admin;
mod cluster;
mod create;
mod engine;
mod holder;
mod leasing;
mod migrate;
mod nodes;
mod notify;
mod options;
mod output;
mod queue;
mod rows;
mod runs;
mod sql;
mod stops;
mod writers;

pub use holder::NodeHolder;
pub use migrate::{MigrationStatus, SCHEMA_VERSION, migrate, migration_status};
pub use options::PgOptions;
pub use queue::{PgQueue, drop_schema};
