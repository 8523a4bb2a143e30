//! Test helpers for the daemon's modules: a writer on a fresh state directory, runs
//! with a job snapshot, records.

use std::path::Path;
use std::sync::Arc;

use dredge_core::job::{FileRules, parse_job};
use dredge_core::{JsonText, NewItem, Record, UnixMillis};
use dredge_queue::{NewRun, Queue, RunId};

use super::jobs::LoadedJob;
use super::snapshot;
use super::state::Shared;
use super::writer::{Writer, spawn};
use crate::config::DaemonConfig;
use crate::vendors::JOB_SECTIONS;

/// A writer on a fresh state directory with one account `a`.
pub(super) fn writer_in(dir: &Path) -> (Arc<Shared>, Writer) {
    let (shared, writer, _) = writer_on_sled(dir);
    (shared, writer)
}

/// `writer_in`, also handing out the sled queue behind the seam (for its fault seams).
pub(super) fn writer_on_sled(dir: &Path) -> (Arc<Shared>, Writer, Queue) {
    let (queue, _) = Queue::open(dir.join("state/queue")).unwrap();
    let (shared, writer) = shared_on(dir, Arc::new(queue.clone()));
    (shared, writer, queue)
}

/// A schema of its own on the test PostgreSQL server (`DREDGE_TEST_POSTGRES_URL`,
/// default `postgres://postgres@127.0.0.1:5432/test`), dropped when this goes. No
/// server fails the test that asks for one, saying what to do.
pub(super) struct PgSchema(pub dredge_queue_postgres::PgOptions);

impl PgSchema {
    pub(super) fn new(tag: &str) -> Self {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let url = std::env::var("DREDGE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        PgSchema(dredge_queue_postgres::PgOptions {
            url,
            schema: format!("unit_{tag}_{}_{n}", std::process::id()),
            node: String::new(),
            pool_size: 2,
        })
    }

    /// A writer on a fresh state directory with one account `a`, on this schema as
    /// `node` (a daemon of a cluster).
    pub(super) fn writer_as(&self, node: &str, dir: &Path) -> (Arc<Shared>, Writer) {
        let options = dredge_queue_postgres::PgOptions {
            node: node.into(),
            ..self.0.clone()
        };
        let (queue, _) = dredge_queue_postgres::PgQueue::open(options).unwrap_or_else(|e| {
            panic!("no PostgreSQL server for the test ({e}): start one, or set DREDGE_TEST_POSTGRES_URL")
        });
        shared_on(dir, Arc::new(queue))
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let _ = dredge_queue_postgres::drop_schema(&self.0);
    }
}

fn shared_on(dir: &Path, queue: Arc<dyn dredge_queue::QueueBackend>) -> (Arc<Shared>, Writer) {
    let config_path = dir.join("dredge.toml");
    let text = "state_dir = \"state\"\njobs_dir = \"jobs\"\nsocket = \"state/s.sock\"\n\n\
                [accounts.a]\nvendor = \"autoextract\"\napi_key = \"k\"\n";
    let config = DaemonConfig::parse(&config_path, text).unwrap();
    let shared = Arc::new(Shared::new(config, queue, Vec::new()));
    let (writer, _thread) = spawn(shared.clone());
    let _ = shared.writer.set(writer.clone());
    (shared, writer)
}

/// The job `news` on account `a`, loaded as a rescan would load it.
pub(super) fn load_news_job(shared: &Shared) {
    load_news_job_from(shared, NEWS_JOB);
}

/// The job `news` loaded from the job file `text`.
pub(super) fn load_news_job_from(shared: &Shared, text: &str) {
    let path = Path::new("jobs/news.toml");
    let loaded = LoadedJob {
        spec: Arc::new(parse_job(path, text, None, &FileRules::default(), &JOB_SECTIONS).unwrap()),
        path: path.to_path_buf(),
        hash: 0,
    };
    let mut jobs = shared.jobs.lock().unwrap();
    jobs.valid.insert("news".into(), loaded);
}

/// The job file of `news`: one AutoExtract article.
const NEWS_JOB: &str = "vendor = \"autoextract\"\n[autoextract]\npage_type = \"article\"\nurls = [\"https://a.com/1\"]\n";

/// A run of the job `news` on account `a` with `items` items.
pub(super) fn new_run(shared: &Shared, items: usize) -> RunId {
    let items = (0..items)
        .map(|i| NewItem::ready(format!("item-{i}"), vec![]))
        .collect();
    new_run_of(shared, items)
}

/// A run of the job `news` on account `a` with these items (at most 3 attempts each).
pub(super) fn new_run_of(shared: &Shared, items: Vec<NewItem>) -> RunId {
    let rules = FileRules::default();
    let spec = parse_job(
        Path::new("jobs/news.toml"),
        NEWS_JOB,
        None,
        &rules,
        &JOB_SECTIONS,
    )
    .unwrap();
    let run = NewRun {
        job: "news".into(),
        lane: "a".into(),
        spec_snapshot: snapshot::encode(&spec).unwrap(),
        started_at: UnixMillis::now(),
        deadline: None,
        max_attempts: 3,
    };
    shared.queue.create_run(run, items).unwrap()
}

/// `n` small records.
pub(super) fn records(n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| Record {
            source: format!("https://a.com/{i}"),
            item: "i".into(),
            fetched_at: UnixMillis(0),
            data: JsonText::parse(format!("{{\"n\":{i}}}")).unwrap(),
            attachment: None,
        })
        .collect()
}
