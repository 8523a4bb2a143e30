//! A schema of the test's own on the test server, dropped at the end, and raw SQL on it.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

use dredge_core::{NewItem, UnixMillis};
use dredge_queue::{NewRun, Recovery};
use dredge_queue_postgres::{PgOptions, PgQueue, drop_schema};

/// `DREDGE_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`.
pub(crate) fn url() -> String {
    std::env::var("DREDGE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A schema name no other test uses; dropped when this goes.
pub(crate) struct Schema(pub(crate) PgOptions);

impl Schema {
    pub(crate) fn new() -> Schema {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        Schema(PgOptions {
            url: url(),
            schema: format!("tpg_{}_{n}", std::process::id()),
            node: "node-a".into(),
            pool_size: 4,
        })
    }

    /// The options as `node`.
    pub(crate) fn node(&self, node: &str) -> PgOptions {
        PgOptions {
            node: node.into(),
            ..self.0.clone()
        }
    }

    /// Opens the queue as `node`; no server fails the test with what to do.
    pub(crate) fn open(&self, node: &str) -> (PgQueue, Recovery) {
        PgQueue::open(self.node(node)).unwrap_or_else(|error| {
            panic!(
                "cannot open the PostgreSQL test queue at {} ({error}); start PostgreSQL there \
                 or set DREDGE_TEST_POSTGRES_URL",
                self.0.redacted_url()
            )
        })
    }

    /// Runs `sql` in the schema, outside dredge.
    pub(crate) fn execute(&self, sql: &str) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let schema = self.0.schema.clone();
        let url = self.0.url.clone();
        let sql = format!("SET search_path TO {schema}; {sql}");
        runtime.block_on(async move {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .expect("connect to the test server");
            tokio::spawn(connection);
            client.batch_execute(&sql).await.expect("raw SQL");
        });
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Err(error) = drop_schema(&self.0) {
            eprintln!("could not drop test schema {}: {error}", self.0.schema);
        }
    }
}

pub(crate) const T0: UnixMillis = UnixMillis(1_795_000_000_000);

pub(crate) fn at(ms: u64) -> UnixMillis {
    UnixMillis(T0.0 + ms)
}

pub(crate) fn new_run(job: &str, lane: &str) -> NewRun {
    NewRun {
        job: job.into(),
        lane: lane.into(),
        spec_snapshot: b"spec".to_vec(),
        started_at: T0,
        deadline: None,
        max_attempts: 3,
    }
}

pub(crate) fn items(n: usize) -> Vec<NewItem> {
    (0..n)
        .map(|i| NewItem::ready(format!("i{i}"), vec![]))
        .collect()
}
