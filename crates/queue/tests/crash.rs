//! Crash test: this test binary re-runs itself as a child that hammers the queue from
//! several threads (staging then committing, and committing leased items straight
//! with `commit_written`, the daemon's main path) and logs every acknowledged call to
//! a side file; the parent kills it
//! with SIGKILL at varied points, reopens, and checks that nothing acknowledged was lost
//! or duplicated, that no lease survived, and that staged records and committed cursors
//! are intact and consistent with the items that are done.
//!
//! sled's own: a process killed mid-write and sled's files reopened. It uses the sled
//! `Queue` (through the seam's calls); the seam's guarantees on any backend are the
//! model test's (`tests/model.rs`).

mod support;

use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dredge_core::{Record, UnixMillis};
use dredge_queue::{
    ItemId, ItemInfo, ItemState, OutputCursor, Queue, QueueBackend, Release, RunId, WrittenItem,
};
use rand::Rng;
use support::{item, new_run, record};

const CHILD_ENV: &str = "DREDGE_QUEUE_CRASH_DIR";
const KILLS: usize = 60;
const LANES: [&str; 2] = ["a", "b"];

/// How many records an item stages: fixed by its id so the parent can recount.
fn records_of(id: ItemId) -> Vec<Record> {
    (0..id.0 % 3).map(|k| record(id.0 * 10 + k)).collect()
}

fn cursor_for(records: u64) -> OutputCursor {
    OutputCursor {
        bytes: records * 10,
        records,
    }
}

struct Child {
    q: Queue,
    log: Mutex<File>,
    labels: AtomicU64,
    commit_lock: Mutex<()>,
    tag: u32,
}

impl Child {
    fn ack(&self, line: String) {
        let mut log = self.log.lock().unwrap();
        log.write_all(format!("{line}\n").as_bytes()).unwrap();
    }

    fn label(&self) -> String {
        format!(
            "p{}-{}",
            self.tag,
            self.labels.fetch_add(1, Ordering::SeqCst)
        )
    }

    /// What the output writer does: append, then commit the item with the new cursor.
    fn commit(&self, run: &RunId, id: ItemId) {
        let _one_writer = self.commit_lock.lock().unwrap();
        let n = self.q.staged_records(id).unwrap().len() as u64;
        let cursor = self.q.run(run).unwrap().unwrap().cursor;
        self.q
            .commit(run, &[id], cursor_for(cursor.records + n))
            .unwrap();
        self.ack(format!("K {}", id.0));
    }

    /// What the output writer does with records it appends straight from memory: the
    /// leased item is done, with its follow-ups, in the commit itself.
    fn commit_written(&self, run: &RunId, id: ItemId, labels: Vec<String>) {
        let _one_writer = self.commit_lock.lock().unwrap();
        let n = records_of(id).len() as u64;
        // `run` does not see a run whose creation is still in the pending write group,
        // though its items can already be leased; nothing was committed to it yet then.
        let cursor = self
            .q
            .run(run)
            .unwrap()
            .map(|r| r.cursor)
            .unwrap_or_default();
        let follow_ups = labels.iter().map(|l| item(l)).collect();
        let written = vec![WrittenItem {
            id,
            follow_ups,
            epoch: None,
        }];
        self.q
            .commit_written(run, &[], written, cursor_for(cursor.records + n))
            .unwrap();
        self.ack(format!("K {}", id.0));
        for label in labels {
            self.ack(format!("C {label}"));
        }
    }

    fn create_run(&self, lane: &str) {
        let labels: Vec<String> = (0..5).map(|_| self.label()).collect();
        let items = labels.iter().map(|l| item(l)).collect();
        self.q.create_run(new_run("crash", lane), items).unwrap();
        for label in labels {
            self.ack(format!("C {label}"));
        }
    }

    fn work(&self, lane: &str) {
        let mut rng = rand::rng();
        loop {
            let now = UnixMillis::now();
            let Some(leased) = self
                .q
                .lease_next(lane, now, now.after(Duration::from_secs(60)))
                .unwrap()
            else {
                self.create_run(lane);
                continue;
            };
            let id = leased.id;
            if rng.random_range(0..100) == 0 {
                // Crashes during and right after a checkpoint must be as harmless.
                self.q.checkpoint().unwrap();
            }
            match rng.random_range(0..10) {
                0..=3 => {
                    let labels: Vec<String> =
                        (0..rng.random_range(0..3)).map(|_| self.label()).collect();
                    self.commit_written(&leased.run, id, labels);
                }
                4..=6 => {
                    let labels: Vec<String> =
                        (0..rng.random_range(0..3)).map(|_| self.label()).collect();
                    let follow_ups = labels.iter().map(|l| item(l)).collect();
                    self.q
                        .stage(id.into(), &records_of(id), follow_ups)
                        .unwrap();
                    self.ack(format!("S {}", id.0));
                    for label in labels {
                        self.ack(format!("C {label}"));
                    }
                    self.commit(&leased.run, id);
                }
                7 => {
                    let until = now.after(Duration::from_millis(rng.random_range(0..20)));
                    let release = Release::Snooze {
                        until,
                        polls: leased.polls + 1,
                        note: "202".into(),
                    };
                    self.q.release(id.into(), release).unwrap();
                }
                8 => {
                    let not_before = now.after(Duration::from_millis(rng.random_range(0..20)));
                    let release = Release::Retry {
                        not_before,
                        attempts: leased.attempts + 1,
                        error: "503".into(),
                    };
                    self.q.release(id.into(), release).unwrap();
                }
                _ => {
                    self.q.kill(id.into(), "400").unwrap();
                    self.ack(format!("D {}", id.0));
                }
            }
        }
    }
}

fn child_main(dir: &Path) {
    let (q, recovery) = Queue::open(dir.join("state")).unwrap();
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("acked.log"))
        .unwrap();
    let child = Arc::new(Child {
        q,
        log: Mutex::new(log),
        labels: AtomicU64::new(0),
        commit_lock: Mutex::new(()),
        tag: std::process::id(),
    });
    for (run, id) in recovery.staged {
        child.commit(&run, id);
    }
    let workers: Vec<_> = (0..4)
        .map(|n| {
            let child = child.clone();
            std::thread::spawn(move || child.work(LANES[n % 2]))
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
}

/// The entry point of the child process; a no-op in a normal test run.
#[test]
fn crash_child_entry() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child_main(Path::new(&dir));
    }
}

#[derive(Default)]
struct Acked {
    created: Vec<String>,
    staged: Vec<u64>,
    committed: Vec<u64>,
    dead: Vec<u64>,
}

fn read_acked(path: &Path) -> Acked {
    let mut acked = Acked::default();
    let text = std::fs::read_to_string(path).unwrap_or_default();
    // A line cut short by the kill has no newline; it was never fully acknowledged.
    for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
        let (kind, rest) = line.trim_end().split_once(' ').unwrap();
        match kind {
            "C" => acked.created.push(rest.to_string()),
            "S" => acked.staged.push(rest.parse().unwrap()),
            "K" => acked.committed.push(rest.parse().unwrap()),
            "D" => acked.dead.push(rest.parse().unwrap()),
            other => panic!("unknown log line kind {other}"),
        }
    }
    acked
}

fn all_items(q: &Queue) -> BTreeMap<u64, ItemInfo> {
    // Item ids are dense: an id is only persisted together with its item.
    (1..)
        .map_while(|n| q.item(ItemId(n)).unwrap().map(|i| (n, i)))
        .collect()
}

fn check_after_reopen(dir: &Path, round: usize) {
    let (q, recovery) = Queue::open(dir.join("state")).unwrap();
    let acked = read_acked(&dir.join("acked.log"));
    let items = all_items(&q);
    let mut labels = HashSet::new();
    for item in items.values() {
        assert!(
            labels.insert(item.label.clone()),
            "round {round}: label {} duplicated",
            item.label
        );
        assert!(
            !matches!(item.state, ItemState::Leased { .. }),
            "round {round}: lease survived"
        );
    }
    for label in &acked.created {
        assert!(
            labels.contains(label),
            "round {round}: acknowledged item {label} lost"
        );
    }
    for id in &acked.staged {
        let state = &items[id].state;
        assert!(
            matches!(state, ItemState::Staged | ItemState::Done),
            "round {round}: staged #{id} is {state:?}"
        );
        if *state == ItemState::Staged {
            assert_eq!(
                q.staged_records(ItemId(*id)).unwrap(),
                records_of(ItemId(*id)),
                "round {round}"
            );
        }
    }
    for id in &acked.committed {
        assert_eq!(
            items[id].state,
            ItemState::Done,
            "round {round}: committed #{id}"
        );
    }
    for id in &acked.dead {
        assert!(
            matches!(items[id].state, ItemState::Dead { .. }),
            "round {round}: dead #{id}"
        );
    }
    let staged: HashSet<ItemId> = items
        .iter()
        .filter(|(_, i)| i.state == ItemState::Staged)
        .map(|(id, _)| ItemId(*id))
        .collect();
    let reported: HashSet<ItemId> = recovery.staged.iter().map(|(_, id)| *id).collect();
    assert_eq!(
        reported, staged,
        "round {round}: recovery must report every staged item"
    );
    for run in q.runs(None).unwrap() {
        let mine: Vec<&ItemInfo> = items.values().filter(|i| i.run == run.id).collect();
        let done: u64 = mine
            .iter()
            .filter(|i| i.state == ItemState::Done)
            .map(|i| i.id.0 % 3)
            .sum();
        assert_eq!(
            run.cursor,
            cursor_for(done),
            "round {round}: cursor of {} vs done items",
            run.id
        );
        assert_eq!(run.counts.leased, 0, "round {round}");
        let count = |f: fn(&ItemState) -> bool| mine.iter().filter(|i| f(&i.state)).count() as u64;
        assert_eq!(
            run.counts.done,
            count(|s| *s == ItemState::Done),
            "round {round}"
        );
        assert_eq!(
            run.counts.staged,
            count(|s| *s == ItemState::Staged),
            "round {round}"
        );
        assert_eq!(
            run.counts.dead,
            count(|s| matches!(s, ItemState::Dead { .. })),
            "round {round}"
        );
        assert_eq!(
            run.counts.open() + run.counts.done + run.counts.dead,
            mine.len() as u64
        );
    }
}

/// Waits (bounded) until the child has acknowledged `lines` more lines, or exited.
fn wait_for_progress(log: &Path, from: usize, lines: usize, child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let now = std::fs::read_to_string(log)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if now >= from + lines || child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("child made no progress in 10 s");
}

#[test]
fn sigkilled_queue_loses_and_duplicates_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("acked.log");
    let mut rng = rand::rng();
    for round in 0..KILLS {
        let before = std::fs::read_to_string(&log)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "crash_child_entry",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        // Vary the kill point: sometimes during open and recovery, mostly mid-work.
        let lines = if round % 5 == 0 {
            0
        } else {
            rng.random_range(1..400)
        };
        wait_for_progress(&log, before, lines, &mut child);
        assert!(
            child.try_wait().unwrap().is_none(),
            "round {round}: child exited on its own"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        check_after_reopen(dir.path(), round);
    }
}
