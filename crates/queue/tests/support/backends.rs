//! The backends the seam tests (`tests/api.rs`, `tests/model.rs`, `tests/history.rs`,
//! `tests/planning.rs`) run on. A test body takes a [`TestQueue`], an empty queue of some
//! backend used through `dyn QueueBackend`, plus what only a test may do to it: crash it,
//! restart it, count what it stores. `on_every_backend!` runs each named test body once
//! per backend.
//!
//! A backend adds one [`Subject`] implementation, a constructor beside [`sled`], a
//! module in `on_every_backend!`, and its `proptest!` case in `tests/model.rs`.
//!
//! PostgreSQL ([`postgres`]): each queue gets a schema of its own on the server at
//! `DREDGE_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`),
//! dropped when the test's last handle goes. No server there fails the test with the
//! URL tried: these tests never pass by skipping.

use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use dredge_queue::{Queue, QueueBackend, QueueOptions, Recovery};
use dredge_queue_postgres::{PgOptions, PgQueue};
use tempfile::TempDir;

/// A queue under test: derefs to the seam, and can be crashed or restarted.
pub(crate) struct TestQueue(Box<dyn Subject>);

/// What a backend provides to the seam tests beyond the seam itself.
pub(crate) trait Subject {
    fn queue(&self) -> &(dyn QueueBackend + 'static);

    /// What a crash (SIGKILL, power loss) of this queue right now leaves, opened again,
    /// with what the open recovered. This queue stays open and untouched.
    fn crash(&self) -> (TestQueue, Recovery);

    /// Closes this queue cleanly and opens it again.
    fn restart(self: Box<Self>) -> (TestQueue, Recovery);

    /// How many entries the backend stores (keys, rows): what a pruned run must give
    /// back.
    fn stored_entries(&self) -> usize;
}

impl Deref for TestQueue {
    type Target = dyn QueueBackend;

    fn deref(&self) -> &Self::Target {
        self.0.queue()
    }
}

impl TestQueue {
    pub(crate) fn new(subject: impl Subject + 'static) -> Self {
        TestQueue(Box::new(subject))
    }

    /// See [`Subject::crash`].
    pub(crate) fn crash(&self) -> (TestQueue, Recovery) {
        self.0.crash()
    }

    /// See [`Subject::restart`].
    pub(crate) fn restart(self) -> (TestQueue, Recovery) {
        self.0.restart()
    }

    /// See [`Subject::stored_entries`].
    pub(crate) fn stored_entries(&self) -> usize {
        self.0.stored_entries()
    }
}

/// Whatever the helpers may read a queue through: a `TestQueue` or a sled `Queue`.
pub(crate) trait AsBackend {
    fn backend(&self) -> &dyn QueueBackend;
}

impl AsBackend for TestQueue {
    fn backend(&self) -> &dyn QueueBackend {
        self.0.queue()
    }
}

impl AsBackend for Queue {
    fn backend(&self) -> &dyn QueueBackend {
        self
    }
}

/// Runs each named test body (`fn(TestQueue)`) as one `#[test]` per backend, in a module
/// per backend (`on_sled::name`).
#[allow(unused_macros)]
macro_rules! on_every_backend {
    ($($test:ident),* $(,)?) => {
        mod on_sled {
            $(
                #[test]
                fn $test() {
                    super::$test($crate::support::sled());
                }
            )*
        }
        mod on_postgres {
            $(
                #[test]
                fn $test() {
                    super::$test($crate::support::postgres());
                }
            )*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_every_backend;

/// An empty sled queue in a new temporary directory, with the default options.
pub(crate) fn sled() -> TestQueue {
    sled_with(QueueOptions::default())
}

/// An empty sled queue opened with `options`.
pub(crate) fn sled_with(options: QueueOptions) -> TestQueue {
    let dir = Arc::new(tempfile::tempdir().expect("temporary directory"));
    let (queue, _) = Queue::open_with(dir.path().join("state"), options.clone()).expect("open");
    TestQueue::new(SledSubject {
        queue,
        options,
        dir,
        crashes: Arc::new(AtomicUsize::new(0)),
    })
}

struct SledSubject {
    queue: Queue,
    options: QueueOptions,
    /// Holds the queue's directory and every crash copy made of it.
    dir: Arc<TempDir>,
    crashes: Arc<AtomicUsize>,
}

impl SledSubject {
    fn open(&self, path: &Path) -> (TestQueue, Recovery) {
        let (queue, recovery) = Queue::open_with(path, self.options.clone()).expect("reopen");
        let subject = SledSubject {
            queue,
            options: self.options.clone(),
            dir: self.dir.clone(),
            crashes: self.crashes.clone(),
        };
        (TestQueue::new(subject), recovery)
    }
}

impl Subject for SledSubject {
    fn queue(&self) -> &(dyn QueueBackend + 'static) {
        &self.queue
    }

    /// sled's files copied while the queue is open, as SIGKILL leaves them: what it
    /// applied but never flushed is missing from the copy. (Dropping a sled queue is no
    /// crash: it flushes on drop.)
    fn crash(&self) -> (TestQueue, Recovery) {
        let n = self.crashes.fetch_add(1, Ordering::Relaxed) + 1;
        let copy = self.dir.path().join(format!("crash-{n}"));
        super::crash_copy(&self.queue, &copy);
        self.open(&copy)
    }

    fn restart(self: Box<Self>) -> (TestQueue, Recovery) {
        let SledSubject {
            queue,
            options,
            dir,
            crashes,
        } = *self;
        let path = queue.path().to_path_buf();
        drop(queue);
        let (queue, recovery) = Queue::open_with(&path, options.clone()).expect("reopen");
        let subject = SledSubject {
            queue,
            options,
            dir,
            crashes,
        };
        (TestQueue::new(subject), recovery)
    }

    fn stored_entries(&self) -> usize {
        self.queue.key_count().expect("key count")
    }
}

/// The PostgreSQL server the tests use.
pub(crate) fn postgres_url() -> String {
    std::env::var("DREDGE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Options for a new schema of this test process on the test server, as node `node`.
pub(crate) fn postgres_options(node: &str) -> PgOptions {
    static SCHEMAS: AtomicUsize = AtomicUsize::new(0);
    let n = SCHEMAS.fetch_add(1, Ordering::Relaxed);
    PgOptions {
        url: postgres_url(),
        schema: format!("t_{}_{n}", std::process::id()),
        node: node.into(),
        pool_size: 4,
    }
}

/// Opens `options`, failing the test with what to do when no server answers.
pub(crate) fn open_postgres(options: &PgOptions) -> (PgQueue, Recovery) {
    PgQueue::open(options.clone()).unwrap_or_else(|error| {
        panic!(
            "cannot open the PostgreSQL test queue at {} ({error}); start PostgreSQL there or \
             set DREDGE_TEST_POSTGRES_URL to a server these tests may create schemas on",
            options.redacted_url()
        )
    })
}

/// An empty PostgreSQL queue in a schema of its own.
pub(crate) fn postgres() -> TestQueue {
    let options = postgres_options("node-a");
    let schema = Arc::new(SchemaGuard(options.clone()));
    let (queue, _) = open_postgres(&options);
    TestQueue::new(PgSubject { queue, schema })
}

/// Drops the test's schema when the last handle on it goes.
struct SchemaGuard(PgOptions);

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        if let Err(error) = dredge_queue_postgres::drop_schema(&self.0) {
            eprintln!("could not drop test schema {}: {error}", self.0.schema);
        }
    }
}

struct PgSubject {
    queue: PgQueue,
    schema: Arc<SchemaGuard>,
}

impl Subject for PgSubject {
    fn queue(&self) -> &(dyn QueueBackend + 'static) {
        &self.queue
    }

    /// A restart of the same node: every call that returned is committed on the
    /// server, and the new handle reverts the leases the old one (left open, as a
    /// killed process leaves its connections until the server notices) handed out.
    fn crash(&self) -> (TestQueue, Recovery) {
        let (queue, recovery) = open_postgres(&self.schema.0);
        let subject = PgSubject {
            queue,
            schema: self.schema.clone(),
        };
        (TestQueue::new(subject), recovery)
    }

    fn restart(self: Box<Self>) -> (TestQueue, Recovery) {
        let PgSubject { queue, schema } = *self;
        drop(queue);
        let (queue, recovery) = open_postgres(&schema.0);
        (TestQueue::new(PgSubject { queue, schema }), recovery)
    }

    /// Rows in dredge's tables.
    fn stored_entries(&self) -> usize {
        self.queue.stored_rows().expect("row count") as usize
    }
}
