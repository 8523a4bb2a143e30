//! Helpers shared by the queue's integration tests, and the backends the seam tests
//! run on (`backends`).
#![allow(dead_code)]

mod backends;

pub(crate) use backends::*;

use dredge_core::{JsonText, NewItem, Record, UnixMillis};
use dredge_queue::{NewRun, Queue, RunId};

pub(crate) const T0: UnixMillis = UnixMillis(1_795_000_000_000);

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

pub(crate) fn item(label: &str) -> NewItem {
    NewItem::ready(label, label.as_bytes().to_vec())
}

pub(crate) fn at(ms: u64) -> UnixMillis {
    UnixMillis(T0.0 + ms)
}

pub(crate) fn ready_at(label: &str, ms: u64) -> NewItem {
    item(label).with_start(dredge_core::ItemStart::Ready {
        not_before: Some(at(ms)),
        attempts: 0,
    })
}

pub(crate) fn record(n: u64) -> Record {
    Record {
        source: format!("src-{n}"),
        item: format!("item-{n}"),
        fetched_at: UnixMillis(n),
        data: JsonText::parse(format!("{{\"n\":{n}}}")).unwrap(),
        attachment: None,
    }
}

/// A sled queue in `dir`, for tests of sled's own mechanics (seam tests take a
/// `TestQueue` from `on_every_backend!` instead).
pub(crate) fn open(dir: &std::path::Path) -> Queue {
    Queue::open(dir.join("state")).expect("open queue").0
}

/// Leases the next item of `lane` at a late enough time, returning its label.
pub(crate) fn lease_label(q: &impl AsBackend, lane: &str, now: UnixMillis) -> Option<String> {
    q.backend()
        .lease_next(lane, now, at(1_000_000))
        .expect("lease")
        .map(|l| l.label)
}

pub(crate) fn run_of(q: &impl AsBackend, id: &RunId) -> dredge_queue::RunInfo {
    q.backend().run(id).expect("run").expect("run exists")
}

/// What a crash leaves of `q`'s database: every file of its directory, byte for byte,
/// copied into `to` (which must not exist yet) while `q` is still open. Whatever `q`
/// applied but never flushed is still in sled's memory and missing from the copy, as
/// after SIGKILL. Dropping `q` is no crash (sled flushes on drop), so durability checks
/// reopen a copy instead: only what the durable calls flushed is in it.
pub(crate) fn crash_copy(q: &Queue, to: &std::path::Path) {
    assert!(!to.exists(), "{} exists already", to.display());
    copy_dir(q.path(), to);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("create the crash copy's directory");
    for entry in std::fs::read_dir(from).expect("read the queue's directory") {
        let entry = entry.expect("directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a queue file");
        }
    }
}
