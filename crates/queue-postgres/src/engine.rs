//! How a synchronous call reaches PostgreSQL: [`Engine`] owns a small tokio runtime of
//! its own that drives the pool's connections, and each call is spawned onto it and
//! waited for with `futures::executor::block_on`.
//!
//! Why not `Runtime::block_on` on the caller's thread: the queue's calls come from
//! `spawn_blocking` threads and, in a few places, straight from async tasks of the
//! daemon's runtime, where `block_on` of a runtime panics. Waiting on a spawned task's
//! handle works from any thread (it parks the caller; the work runs on our workers).

use std::future::Future;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use dredge_queue::{QueueError, StorageError};
use tokio_postgres::NoTls;

use crate::options::{PgOptions, valid_schema};

/// What the async code inside a call fails with: a queue refusal, or the database or
/// pool failing (both become `QueueError::Database` at the call's edge).
#[derive(Debug)]
pub(crate) enum Fail {
    Queue(QueueError),
    Db(tokio_postgres::Error),
    Pool(deadpool_postgres::PoolError),
}

impl From<QueueError> for Fail {
    fn from(error: QueueError) -> Self {
        Fail::Queue(error)
    }
}

impl From<tokio_postgres::Error> for Fail {
    fn from(error: tokio_postgres::Error) -> Self {
        Fail::Db(error)
    }
}

impl From<deadpool_postgres::PoolError> for Fail {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        Fail::Pool(error)
    }
}

impl From<Fail> for QueueError {
    fn from(fail: Fail) -> Self {
        match fail {
            Fail::Queue(error) => error,
            Fail::Db(error) => QueueError::Database(StorageError::new(error)),
            Fail::Pool(error) => QueueError::Database(StorageError::new(error)),
        }
    }
}

pub(crate) type Res<T> = std::result::Result<T, Fail>;

/// A runtime, a pool on it, and this daemon's node id.
pub(crate) struct Engine {
    runtime: Option<tokio::runtime::Runtime>,
    pub(crate) pool: Pool,
    /// How the pool connects, for a session of its own (run writer locks).
    pub(crate) config: tokio_postgres::Config,
}

impl Engine {
    /// A pool of `options.pool_size` connections whose `search_path` is dredge's schema.
    /// Connects lazily: the first call reports an unreachable server.
    pub(crate) fn new(options: &PgOptions) -> Result<Engine, QueueError> {
        if !valid_schema(&options.schema) {
            return Err(QueueError::BadSchemaName {
                schema: options.schema.clone(),
            });
        }
        let mut config: tokio_postgres::Config =
            options.url.parse().map_err(|e| QueueError::Connect {
                url: options.redacted_url(),
                source: StorageError::new(e),
            })?;
        config.options(format!("-c search_path={}", options.schema));
        config.connect_timeout(std::time::Duration::from_secs(10));
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = Manager::from_config(config.clone(), NoTls, manager_config);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("dredge-pg")
            .enable_all()
            .build()
            .map_err(|e| QueueError::Storage(StorageError::new(e)))?;
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| QueueError::Storage(StorageError::new(e)))?;
        Ok(Engine {
            runtime: Some(runtime),
            pool,
            config,
        })
    }

    /// Runs `work` on the engine's runtime and waits for it, from any thread.
    pub(crate) fn call<T, F>(&self, work: F) -> Result<T, QueueError>
    where
        T: Send + 'static,
        F: Future<Output = Res<T>> + Send + 'static,
    {
        let runtime = self.runtime.as_ref().expect("the runtime lives until drop");
        match futures::executor::block_on(runtime.spawn(work)) {
            Ok(result) => result.map_err(QueueError::from),
            Err(join) => Err(QueueError::Storage(StorageError::new(join.to_string()))),
        }
    }

    /// Runs `work` on the engine's runtime in the background, until it ends or the
    /// engine is dropped.
    pub(crate) fn spawn<F>(&self, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let runtime = self.runtime.as_ref().expect("the runtime lives until drop");
        runtime.spawn(work);
    }

    /// `call` for the first contact: a failure to reach the server is a `Connect`
    /// error naming the (redacted) URL.
    pub(crate) fn first_call<T, F>(&self, options: &PgOptions, work: F) -> Result<T, QueueError>
    where
        T: Send + 'static,
        F: Future<Output = Res<T>> + Send + 'static,
    {
        self.call(work).map_err(|error| match error {
            QueueError::Storage(source) | QueueError::Database(source) => QueueError::Connect {
                url: options.redacted_url(),
                source,
            },
            other => other,
        })
    }
}

impl Drop for Engine {
    /// Without blocking: the handle may be dropped inside an async task, where a
    /// runtime's blocking shutdown panics.
    fn drop(&mut self) {
        self.pool.close();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
