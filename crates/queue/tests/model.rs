//! Random operation sequences against a plain in-memory model: after every step the
//! queue's item states, attempts, polls, run states, counts and cursors match the
//! model's, and so does what a reopen recovers.
//!
//! The sequences include the daemon's main path (`commit_written` of leased items beside
//! staged ones, with follow-ups), calls that must fail in the middle of their work and
//! leave no trace, restarts (a clean close, then open), and crashes (`TestQueue::crash`:
//! for sled, the queue's files are copied while it is open and the copy is reopened, as
//! a clean close is no crash: sled flushes on drop), after which every lease is
//! reverted and everything a durable call returned Ok for is there.
//!
//! The model runs against the seam (`QueueBackend`): `run_model` takes a backend's
//! factory, and each backend adds its `proptest!` cases at the end (sled's two: with
//! group commit, and with every call flushed on its own).
//!
//! `PROPTEST_CASES` raises the number of sequences per durability mode (default 64).

mod support;

use std::collections::{BTreeMap, BTreeSet};

use dredge_core::{ItemStart, NewItem, UnixMillis};
use dredge_queue::{
    Durability, ItemCounts, ItemId, ItemState, OutputCursor, QueueBackend, QueueError,
    QueueOptions, Release, RunId, RunState, WrittenItem,
};
use proptest::prelude::*;
use support::{TestQueue, new_run, record};

const LANES: [&str; 2] = ["acct-a", "acct-b"];
const JOBS: [&str; 2] = ["job-x", "job-y"];
const SCOPES: [&str; 2] = ["d1.com", "d2.com"];
const LEASE_UNTIL: UnixMillis = UnixMillis(1000);

#[derive(Debug, Clone)]
struct ItemSpec {
    not_before: Option<u64>,
    scope: Option<usize>,
    dedupe: Option<u8>,
    dead: bool,
}

#[derive(Debug, Clone)]
enum Op {
    CreateRun {
        job: usize,
        lane: usize,
        items: Vec<ItemSpec>,
    },
    Lease {
        lane: usize,
        now: u64,
    },
    Snooze {
        pick: usize,
        until: u64,
    },
    Retry {
        pick: usize,
        not_before: u64,
    },
    Stage {
        pick: usize,
        records: u64,
        follow_ups: Vec<ItemSpec>,
    },
    Commit {
        pick: usize,
        count: usize,
    },
    /// The writer's round: staged items of a run and leased ones (each written with
    /// `records` records and creating its follow-ups) in one commit.
    CommitWritten {
        pick: usize,
        staged: usize,
        written: Vec<(u64, Vec<ItemSpec>)>,
    },
    /// A commit of good items followed by one that must be refused: nothing changes.
    BadCommit {
        pick: usize,
        bad: Bad,
        written: Vec<(u64, Vec<ItemSpec>)>,
    },
    Kill {
        pick: usize,
    },
    RetryDead {
        pick: usize,
    },
    DeferScope {
        lane: usize,
        scope: usize,
        until: u64,
    },
    Pause {
        job: usize,
    },
    Resume {
        job: usize,
    },
    Cancel {
        pick: usize,
    },
    /// What the writer does when a run has nothing open left (or the daemon gives up).
    Finish {
        pick: usize,
        failed: bool,
    },
    Checkpoint,
    Reopen,
    Crash,
}

/// Why the last item of a `BadCommit` is refused.
#[derive(Debug, Clone, Copy)]
enum Bad {
    /// An item of the run that is not leased (waiting, staged, done or dead) given as
    /// written.
    WrittenNotLeased,
    /// A leased item of the run given as staged.
    StagedNotStaged,
    /// A leased item of another run given as written.
    OtherRunsItem,
}

fn item_spec() -> impl Strategy<Value = ItemSpec> {
    (
        proptest::option::of(0u64..6),
        proptest::option::of(0usize..2),
        proptest::option::of(0u8..4),
        proptest::bool::weighted(0.1),
    )
        .prop_map(|(not_before, scope, dedupe, dead)| ItemSpec {
            not_before,
            scope,
            dedupe,
            dead,
        })
}

fn written() -> impl Strategy<Value = Vec<(u64, Vec<ItemSpec>)>> {
    let one = (0u64..3, proptest::collection::vec(item_spec(), 0..3));
    proptest::collection::vec(one, 0..4)
}

fn bad() -> impl Strategy<Value = Bad> {
    prop_oneof![
        Just(Bad::WrittenNotLeased),
        Just(Bad::StagedNotStaged),
        Just(Bad::OtherRunsItem),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let pick = 0usize..64;
    prop_oneof![
        2 => (0usize..2, 0usize..2, proptest::collection::vec(item_spec(), 0..5))
            .prop_map(|(job, lane, items)| Op::CreateRun { job, lane, items }),
        6 => (0usize..2, 0u64..8).prop_map(|(lane, now)| Op::Lease { lane, now }),
        2 => (pick.clone(), 0u64..10).prop_map(|(pick, until)| Op::Snooze { pick, until }),
        2 => (pick.clone(), 0u64..10).prop_map(|(pick, not_before)| Op::Retry { pick, not_before }),
        4 => (pick.clone(), 0u64..3, proptest::collection::vec(item_spec(), 0..3))
            .prop_map(|(pick, records, follow_ups)| Op::Stage { pick, records, follow_ups }),
        3 => (pick.clone(), 1usize..4).prop_map(|(pick, count)| Op::Commit { pick, count }),
        5 => (pick.clone(), 0usize..3, written())
            .prop_map(|(pick, staged, written)| Op::CommitWritten { pick, staged, written }),
        2 => (pick.clone(), bad(), written())
            .prop_map(|(pick, bad, written)| Op::BadCommit { pick, bad, written }),
        1 => pick.clone().prop_map(|pick| Op::Kill { pick }),
        1 => pick.clone().prop_map(|pick| Op::RetryDead { pick }),
        1 => (0usize..2, 0usize..2, 0u64..10)
            .prop_map(|(lane, scope, until)| Op::DeferScope { lane, scope, until }),
        1 => (0usize..2).prop_map(|job| Op::Pause { job }),
        1 => (0usize..2).prop_map(|job| Op::Resume { job }),
        1 => pick.clone().prop_map(|pick| Op::Cancel { pick }),
        1 => (pick.clone(), proptest::bool::ANY)
            .prop_map(|(pick, failed)| Op::Finish { pick, failed }),
        1 => Just(Op::Checkpoint),
        1 => Just(Op::Reopen),
        2 => Just(Op::Crash),
    ]
}

#[derive(Debug, Clone, PartialEq)]
enum MState {
    Ready(u64),
    Snoozed(u64),
    Leased(Box<MState>),
    Staged(u64),
    Done,
    Dead(String),
}

#[derive(Debug, Clone)]
struct MItem {
    run: usize,
    scope: Option<usize>,
    state: MState,
    attempts: u32,
    polls: u32,
    records: u64,
}

#[derive(Debug, Clone)]
struct MRun {
    id: RunId,
    job: usize,
    lane: usize,
    state: RunState,
    cursor: OutputCursor,
    dedupe: BTreeSet<u8>,
}

#[derive(Default)]
struct Model {
    runs: Vec<MRun>,
    items: BTreeMap<u64, MItem>,
    paused: BTreeSet<usize>,
    next_id: u64,
    next_stage: u64,
}

impl Model {
    fn leasable(&self, run: usize) -> bool {
        let r = &self.runs[run];
        r.state == RunState::Running && !self.paused.contains(&r.job)
    }

    fn create(&mut self, run: usize, spec: &ItemSpec) -> Option<u64> {
        if let Some(key) = spec.dedupe
            && !self.runs[run].dedupe.insert(key)
        {
            return None;
        }
        let id = self.next_id;
        self.next_id += 1;
        let state = if spec.dead {
            MState::Dead("born dead".into())
        } else {
            MState::Ready(spec.not_before.unwrap_or(0))
        };
        let item = MItem {
            run,
            scope: spec.scope,
            state,
            attempts: 0,
            polls: 0,
            records: 0,
        };
        self.items.insert(id, item);
        Some(id)
    }

    fn ids_where(&self, f: impl Fn(&MItem) -> bool) -> Vec<u64> {
        self.items
            .iter()
            .filter(|(_, i)| f(i))
            .map(|(id, _)| *id)
            .collect()
    }

    fn pick(ids: &[u64], pick: usize) -> Option<u64> {
        (!ids.is_empty()).then(|| ids[pick % ids.len()])
    }

    fn next_lease(&self, lane: usize, now: u64) -> Option<u64> {
        self.items
            .iter()
            .filter(|(_, i)| self.runs[i.run].lane == lane && self.leasable(i.run))
            .filter_map(|(id, i)| match i.state {
                MState::Ready(t) | MState::Snoozed(t) if t <= now => Some((t, *id)),
                _ => None,
            })
            .min()
            .map(|(_, id)| id)
    }

    fn counts(&self, run: usize) -> ItemCounts {
        let mut c = ItemCounts::default();
        for item in self.items.values().filter(|i| i.run == run) {
            match item.state {
                MState::Ready(_) => c.ready += 1,
                MState::Snoozed(_) => c.snoozed += 1,
                MState::Leased(_) => c.leased += 1,
                MState::Staged(_) => c.staged += 1,
                MState::Done => c.done += 1,
                MState::Dead(_) => c.dead += 1,
            }
        }
        c
    }

    fn staged_order(&self) -> Vec<(RunId, ItemId)> {
        let mut staged: Vec<(u64, u64)> = self
            .items
            .iter()
            .filter_map(|(id, i)| match i.state {
                MState::Staged(seq) => Some((seq, *id)),
                _ => None,
            })
            .collect();
        staged.sort();
        staged
            .into_iter()
            .map(|(_, id)| (self.runs[self.items[&id].run].id.clone(), ItemId(id)))
            .collect()
    }

    fn pick_run(&self, pick: usize) -> Option<usize> {
        (!self.runs.is_empty()).then(|| pick % self.runs.len())
    }

    /// Up to `count` staged items of `run`, in staging order.
    fn staged_of(&self, run: usize, count: usize) -> Vec<ItemId> {
        self.staged_order()
            .into_iter()
            .filter(|(r, _)| *r == self.runs[run].id)
            .map(|(_, id)| id)
            .take(count)
            .collect()
    }

    fn leased_of(&self, run: usize) -> Vec<u64> {
        self.ids_where(|i| i.run == run && matches!(i.state, MState::Leased(_)))
    }

    /// `run`'s cursor once `staged` and items written with `written` records each are
    /// appended.
    fn cursor_after(&self, run: usize, staged: &[ItemId], written: &[u64]) -> OutputCursor {
        let mut cursor = self.runs[run].cursor;
        let staged = staged.iter().map(|id| self.items[&id.0].records);
        for n in staged.chain(written.iter().copied()) {
            cursor.records += n;
            cursor.bytes += 10 * n + 1;
        }
        cursor
    }

    fn revert_leases(&mut self) -> usize {
        let mut n = 0;
        for item in self.items.values_mut() {
            if let MState::Leased(was) = &item.state {
                item.state = (**was).clone();
                n += 1;
            }
        }
        n
    }
}

fn new_item(spec: &ItemSpec, label: String) -> NewItem {
    let mut item = NewItem::ready(label.clone(), label.into_bytes());
    item.scope = spec.scope.map(|s| SCOPES[s].to_string());
    item.dedupe_key = spec.dedupe.map(|k| format!("key-{k}"));
    item.start = if spec.dead {
        ItemStart::Dead {
            reason: "born dead".into(),
        }
    } else {
        ItemStart::Ready {
            not_before: spec.not_before.map(UnixMillis),
            attempts: 0,
        }
    };
    item
}

fn public_state(state: &MState) -> ItemState {
    match state {
        MState::Ready(t) => ItemState::Ready {
            not_before: UnixMillis(*t),
        },
        MState::Snoozed(t) => ItemState::Snoozed {
            until: UnixMillis(*t),
        },
        MState::Leased(_) => ItemState::Leased { until: LEASE_UNTIL },
        MState::Staged(_) => ItemState::Staged,
        MState::Done => ItemState::Done,
        MState::Dead(reason) => ItemState::Dead {
            reason: reason.clone(),
        },
    }
}

/// A plain waiting follow-up.
fn written_spec() -> ItemSpec {
    ItemSpec {
        not_before: None,
        scope: None,
        dedupe: None,
        dead: false,
    }
}

fn follow_ups(parent: u64, specs: &[ItemSpec]) -> Vec<NewItem> {
    let labels = (0..specs.len()).map(|n| format!("follow-{parent}-{n}"));
    specs
        .iter()
        .zip(labels)
        .map(|(s, l)| new_item(s, l))
        .collect()
}

struct Harness {
    /// The queue under test (taken out only while a restart replaces it).
    q: Option<TestQueue>,
    m: Model,
}

impl Harness {
    fn q(&self) -> &dyn QueueBackend {
        self.q.as_deref().expect("queue open")
    }

    fn apply(&mut self, op: &Op) {
        if let Op::Reopen | Op::Crash = op {
            return self.reopen(op);
        }
        let q = self.q.as_deref().expect("queue open");
        let m = &mut self.m;
        match op {
            Op::CreateRun { job, lane, items } => {
                let mut run = new_run(JOBS[*job], LANES[*lane]);
                run.started_at = UnixMillis(0);
                let labels = (0..items.len()).map(|n| format!("first-{n}"));
                let news = items
                    .iter()
                    .zip(labels)
                    .map(|(s, l)| new_item(s, l))
                    .collect();
                let id = q.create_run(run, news).unwrap();
                let dedupe = BTreeSet::new();
                let mrun = MRun {
                    id,
                    job: *job,
                    lane: *lane,
                    state: RunState::Running,
                    cursor: OutputCursor::default(),
                    dedupe,
                };
                m.runs.push(mrun);
                let run = m.runs.len() - 1;
                for spec in items {
                    m.create(run, spec);
                }
            }
            Op::Lease { lane, now } => {
                let got = q
                    .lease_next(LANES[*lane], UnixMillis(*now), LEASE_UNTIL)
                    .unwrap();
                let expected = m.next_lease(*lane, *now);
                assert_eq!(
                    got.as_ref().map(|l| l.id.0),
                    expected,
                    "lease on lane {lane} at {now}"
                );
                if let Some(id) = expected {
                    let item = m.items.get_mut(&id).unwrap();
                    let leased = got.unwrap();
                    assert_eq!((leased.attempts, leased.polls), (item.attempts, item.polls));
                    item.state = MState::Leased(Box::new(item.state.clone()));
                }
            }
            Op::Snooze { pick, until } => {
                let leased = m.ids_where(|i| matches!(i.state, MState::Leased(_)));
                let Some(id) = Model::pick(&leased, *pick) else {
                    return;
                };
                let item = m.items.get_mut(&id).unwrap();
                let polls = item.polls + 1;
                let release = Release::Snooze {
                    until: UnixMillis(*until),
                    polls,
                    note: "202".into(),
                };
                q.release(ItemId(id).into(), release).unwrap();
                item.polls = polls;
                item.state = MState::Snoozed(*until);
            }
            Op::Retry { pick, not_before } => {
                let leased = m.ids_where(|i| matches!(i.state, MState::Leased(_)));
                let Some(id) = Model::pick(&leased, *pick) else {
                    return;
                };
                let item = m.items.get_mut(&id).unwrap();
                let attempts = item.attempts + 1;
                let release = Release::Retry {
                    not_before: UnixMillis(*not_before),
                    attempts,
                    error: "503".into(),
                };
                q.release(ItemId(id).into(), release).unwrap();
                item.attempts = attempts;
                item.state = MState::Ready(*not_before);
            }
            Op::Stage {
                pick,
                records,
                follow_ups,
            } => {
                let leased = m.ids_where(|i| matches!(i.state, MState::Leased(_)));
                let Some(id) = Model::pick(&leased, *pick) else {
                    return;
                };
                let recs: Vec<_> = (0..*records).map(|n| record(id * 10 + n)).collect();
                let news = self::follow_ups(id, follow_ups);
                let result = q.stage(ItemId(id).into(), &recs, news).unwrap();
                let run = m.items[&id].run;
                let created: Vec<u64> =
                    follow_ups.iter().filter_map(|s| m.create(run, s)).collect();
                let got: Vec<u64> = result.created.iter().map(|i| i.0).collect();
                assert_eq!(got, created, "follow-ups created");
                let item = m.items.get_mut(&id).unwrap();
                item.records = *records;
                item.state = MState::Staged(m.next_stage);
                m.next_stage += 1;
            }
            Op::Commit { pick, count } => {
                let Some(run) = m.pick_run(*pick) else {
                    return;
                };
                let staged = m.staged_of(run, *count);
                if staged.is_empty() {
                    return;
                }
                let cursor = m.cursor_after(run, &staged, &[]);
                q.commit(&m.runs[run].id, &staged, cursor).unwrap();
                m.runs[run].cursor = cursor;
                for id in &staged {
                    m.items.get_mut(&id.0).unwrap().state = MState::Done;
                }
            }
            Op::CommitWritten {
                pick,
                staged,
                written,
            } => self.commit_written(*pick, *staged, written),
            Op::BadCommit { pick, bad, written } => self.bad_commit(*pick, *bad, written),
            Op::Kill { pick } => {
                let killable = m.ids_where(|i| {
                    matches!(
                        i.state,
                        MState::Leased(_) | MState::Ready(_) | MState::Snoozed(_)
                    )
                });
                let Some(id) = Model::pick(&killable, *pick) else {
                    return;
                };
                q.kill(ItemId(id).into(), "400").unwrap();
                m.items.get_mut(&id).unwrap().state = MState::Dead("400".into());
            }
            Op::RetryDead { pick } => {
                if m.runs.is_empty() {
                    return;
                }
                let run = pick % m.runs.len();
                let n = q.retry_dead(&m.runs[run].id).unwrap();
                let dead = m.ids_where(|i| i.run == run && matches!(i.state, MState::Dead(_)));
                assert_eq!(n, dead.len());
                for id in &dead {
                    let item = m.items.get_mut(id).unwrap();
                    item.state = MState::Ready(0);
                    item.attempts = 0;
                }
                if !dead.is_empty() {
                    m.runs[run].state = RunState::Running;
                }
            }
            Op::DeferScope { lane, scope, until } => {
                let n = q
                    .defer_scope(LANES[*lane], SCOPES[*scope], UnixMillis(*until))
                    .unwrap();
                let due = m.ids_where(|i| {
                    m.runs[i.run].lane == *lane
                        && i.scope == Some(*scope)
                        && m.leasable(i.run)
                        && matches!(i.state, MState::Ready(t) | MState::Snoozed(t) if t < *until)
                });
                assert_eq!(n, due.len(), "deferred count");
                for id in due {
                    m.items.get_mut(&id).unwrap().state = MState::Snoozed(*until);
                }
            }
            Op::Pause { job } => {
                q.pause_job(JOBS[*job]).unwrap();
                m.paused.insert(*job);
            }
            Op::Resume { job } => {
                q.resume_job(JOBS[*job]).unwrap();
                m.paused.remove(job);
            }
            Op::Cancel { pick } => {
                if m.runs.is_empty() {
                    return;
                }
                let run = pick % m.runs.len();
                q.cancel_run(&m.runs[run].id, UnixMillis(5)).unwrap();
                m.runs[run].state = RunState::Cancelled;
            }
            Op::Finish { pick, failed } => {
                let Some(run) = m.pick_run(*pick) else {
                    return;
                };
                let state = if *failed {
                    RunState::Failed
                } else {
                    RunState::Succeeded
                };
                q.finish_run(&m.runs[run].id, state, UnixMillis(6)).unwrap();
                m.runs[run].state = state;
            }
            // Leases and everything else are kept: a checkpoint is not a recovery.
            Op::Checkpoint => q.checkpoint().unwrap(),
            Op::Reopen | Op::Crash => unreachable!("handled by `reopen`"),
        }
    }

    /// A clean restart, or a crash: the queue is replaced by what opening it again
    /// finds, and the recovery it reports must match the model.
    fn reopen(&mut self, op: &Op) {
        let q = self.q.take().expect("queue open");
        if let Op::Reopen = op {
            let (q, recovery) = q.restart();
            self.q = Some(q);
            assert_eq!(recovery.leases_reset, self.m.revert_leases());
            self.check_recovery(recovery);
            return;
        }
        // The crashed queue is closed after its copy is made (sled flushes as it
        // closes, into its own directory only).
        let (after, recovery) = q.crash();
        drop(q);
        self.q = Some(after);
        // A lease nobody made durable may never have reached the disk: then its
        // item simply is as before, and there is nothing to revert.
        let reverted = self.m.revert_leases();
        assert!(
            recovery.leases_reset <= reverted,
            "{} leases reset, {reverted} held",
            recovery.leases_reset
        );
        self.check_recovery(recovery);
    }

    /// What an open reports matches the model: staged items in order, and the cursor of
    /// every running run.
    fn check_recovery(&self, recovery: dredge_queue::Recovery) {
        assert_eq!(recovery.staged, self.m.staged_order());
        let mut cursors: Vec<_> = self
            .m
            .runs
            .iter()
            .filter(|r| r.state == RunState::Running)
            .map(|r| (r.id.clone(), r.cursor))
            .collect();
        let mut got = recovery.cursors;
        got.sort_by(|a, b| a.0.cmp(&b.0));
        cursors.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, cursors);
    }

    /// The writer's round: up to `staged` staged items of a run, and as many of its
    /// leased items as `written` describes, become Done in one commit.
    fn commit_written(&mut self, pick: usize, staged: usize, written: &[(u64, Vec<ItemSpec>)]) {
        let q = self.q.as_deref().expect("queue open");
        let m = &mut self.m;
        let Some(run) = m.pick_run(pick) else {
            return;
        };
        let staged = m.staged_of(run, staged);
        let written: Vec<(u64, &(u64, Vec<ItemSpec>))> =
            m.leased_of(run).into_iter().zip(written).collect();
        if staged.is_empty() && written.is_empty() {
            return;
        }
        let records: Vec<u64> = written.iter().map(|(_, (n, _))| *n).collect();
        let cursor = m.cursor_after(run, &staged, &records);
        let items = written
            .iter()
            .map(|(id, (_, specs))| WrittenItem {
                id: ItemId(*id),
                follow_ups: follow_ups(*id, specs),
                epoch: None,
            })
            .collect();
        let results = q
            .commit_written(&m.runs[run].id, &staged, items, cursor)
            .unwrap();
        assert_eq!(results.len(), written.len());
        for id in &staged {
            m.items.get_mut(&id.0).unwrap().state = MState::Done;
        }
        for ((id, (_, specs)), result) in written.iter().zip(results) {
            m.items.get_mut(id).unwrap().state = MState::Done;
            let created: Vec<u64> = specs.iter().filter_map(|s| m.create(run, s)).collect();
            let got: Vec<u64> = result.created.iter().map(|i| i.0).collect();
            assert_eq!(got, created, "follow-ups of written item {id}");
            assert_eq!(result.deduplicated, specs.len() - created.len());
        }
        m.runs[run].cursor = cursor;
    }

    /// A commit whose good items (a staged one, leased ones with follow-ups) come first
    /// and whose last item must be refused: the call fails and the model is unchanged,
    /// so `check` finds any trace it left (a Done item, a follow-up, a used id, a cursor).
    fn bad_commit(&mut self, pick: usize, bad: Bad, written: &[(u64, Vec<ItemSpec>)]) {
        let q = self.q();
        let m = &self.m;
        let Some(run) = m.pick_run(pick) else {
            return;
        };
        let bad_id = match bad {
            Bad::WrittenNotLeased => Model::pick(
                &m.ids_where(|i| i.run == run && !matches!(i.state, MState::Leased(_))),
                pick,
            ),
            Bad::StagedNotStaged => m.leased_of(run).last().copied(),
            Bad::OtherRunsItem => Model::pick(
                &m.ids_where(|i| i.run != run && matches!(i.state, MState::Leased(_))),
                pick,
            ),
        };
        let Some(bad_id) = bad_id else {
            return;
        };
        let mut staged = m.staged_of(run, 1);
        let good = m.leased_of(run).into_iter().filter(|id| *id != bad_id);
        let mut items: Vec<WrittenItem> = good
            .zip(written)
            .map(|(id, (_, specs))| WrittenItem {
                id: ItemId(id),
                follow_ups: follow_ups(id, specs),
                epoch: None,
            })
            .collect();
        let would_be = vec![new_item(&written_spec(), format!("never-{bad_id}"))];
        match bad {
            Bad::StagedNotStaged => staged.push(ItemId(bad_id)),
            Bad::WrittenNotLeased | Bad::OtherRunsItem => items.push(WrittenItem {
                id: ItemId(bad_id),
                follow_ups: would_be,
                epoch: None,
            }),
        }
        let cursor = OutputCursor {
            bytes: m.runs[run].cursor.bytes + 1000,
            records: m.runs[run].cursor.records + 100,
        };
        let err = q
            .commit_written(&m.runs[run].id, &staged, items, cursor)
            .unwrap_err();
        let expected = match bad {
            Bad::OtherRunsItem => matches!(err, QueueError::WrongRun { .. }),
            _ => matches!(err, QueueError::WrongState { .. }),
        };
        assert!(expected, "{bad:?} refused with: {err}");
    }

    fn check(&self) {
        let q = self.q();
        for (id, item) in &self.m.items {
            let info = q.item(ItemId(*id)).unwrap().expect("item exists");
            assert_eq!(info.state, public_state(&item.state), "state of item {id}");
            assert_eq!(
                (info.attempts, info.polls),
                (item.attempts, item.polls),
                "item {id}"
            );
            if let MState::Staged(_) = item.state {
                assert_eq!(
                    q.staged_records(ItemId(*id)).unwrap().len() as u64,
                    item.records
                );
            }
        }
        for (n, run) in self.m.runs.iter().enumerate() {
            let info = q.run(&run.id).unwrap().expect("run exists");
            assert_eq!(info.counts, self.m.counts(n), "counts of run {}", run.id);
            assert_eq!(
                (info.state, info.cursor),
                (run.state, run.cursor),
                "run {}",
                run.id
            );
        }
        assert_eq!(q.staged_items().unwrap(), self.m.staged_order());
        let dead = self
            .m
            .ids_where(|i| matches!(i.state, MState::Dead(_)))
            .len();
        assert_eq!(q.dead_items(None).unwrap().len(), dead);
        let paused: Vec<String> = self.m.paused.iter().map(|j| JOBS[*j].to_string()).collect();
        assert_eq!(q.paused_jobs().unwrap(), paused);
    }
}

/// Runs `ops` on an empty queue of one backend, checking it against the model after
/// every step.
fn run_model(ops: &[Op], queue: TestQueue) {
    let m = Model {
        next_id: 1,
        next_stage: 0,
        ..Model::default()
    };
    let mut h = Harness { q: Some(queue), m };
    for op in ops {
        h.apply(op);
        h.check();
    }
}

/// Sequences per durability mode: 64 keeps the crate's tests to seconds; set
/// `PROPTEST_CASES` for a longer search.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn queue_matches_in_memory_model(ops in proptest::collection::vec(op(), 1..60)) {
        run_model(&ops, support::sled());
    }

    /// The same with every call applied to sled at once (no pending group, so leases
    /// are never read through the overlay): what later calls and readers see must not
    /// change.
    #[test]
    fn queue_matches_model_when_every_call_flushes_on_its_own(
        ops in proptest::collection::vec(op(), 1..60)
    ) {
        let options = QueueOptions { durability: Durability::FlushPerCall, ..QueueOptions::default() };
        run_model(&ops, support::sled_with(options));
    }
}

/// Sequences on PostgreSQL: a quarter of sled's (each call is a round trip to a
/// server, and each case a schema created and dropped), at least 8.
fn postgres_cases() -> u32 {
    (cases() / 4).max(8)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: postgres_cases(), ..ProptestConfig::default() })]

    #[test]
    fn postgres_queue_matches_in_memory_model(ops in proptest::collection::vec(op(), 1..60)) {
        run_model(&ops, support::postgres());
    }
}
