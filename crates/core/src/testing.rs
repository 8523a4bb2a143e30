//! An in-memory driver for vendor-crate tests: it plans a job with an executor and runs
//! its items on a few concurrent workers through [`crate::step`], the step the daemon's
//! lanes run — counted retries, uncounted waits, domain and account gates, dead items
//! with reasons (split by `split_for_death`), follow-ups — with real wall-clock waiting.
//! Only the plumbing is its own: an in-memory board instead of the queue and the writer.
//!
//! It exists so each vendor crate can test its executor end to end against a simulator
//! without the queue, the scheduler or the daemon. Tests configure the simulator's delays
//! small; the driver waits for real. It records what it did (every execution, every gate
//! closed) so tests can check the simulator's request log against it.
//!
//! ```ignore
//! let report = Driver::new(DriverConfig::default()).run(executor, &job, &urls).await?;
//! assert!(report.unfinished.is_empty());
//! ```

mod fixtures;

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use tokio::sync::Notify;

use crate::executor::{Executor, PlanError};
use crate::item::{ItemContext, ItemStart, NewItem};
use crate::job::JobSpec;
use crate::outcome::SnoozeScope;
use crate::record::Record;
use crate::retry::{AccountStop, GateClosure, ItemBudget};
use crate::step::{self, Plumbing, Requeue, StepItem, Stepped};
use crate::time::UnixMillis;

pub use fixtures::{answer, api_key_defaults, job_spec, resolve_account};

/// How the driver runs a job.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// Items executed at once (the daemon's workers for one account).
    pub workers: usize,
    /// At most this many items of one scope in flight at once; `None` = no limit.
    /// With `Some(1)` a domain gate closed by one answer holds back every later request
    /// for that domain, so "no request while snoozed" can be asserted without races.
    pub per_scope_in_flight: Option<usize>,
    /// Give up after this much wall time; unfinished items are reported, not lost.
    pub max_wall: Duration,
    /// Seed of the policy's jitter.
    pub seed: u64,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            workers: 4,
            per_scope_in_flight: None,
            max_wall: Duration::from_secs(60),
            seed: 0,
        }
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// Everything a run produced and what the driver did on the way.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    pub records: Vec<Record>,
    /// Items that ended dead: created dead by an executor, or killed by the policy.
    pub dead: Vec<DeadItem>,
    /// Every item the run had, in creation order, with its final counters.
    pub items: Vec<ItemTrace>,
    /// Every `execute` call, in the order they finished.
    pub executions: Vec<Execution>,
    /// Every gate the policy closed (domain or account), in order.
    pub gates: Vec<GateTrace>,
    /// Set when an outcome stopped the account (`AuthFailed`, `AccountSuspended`):
    /// `auth_failed: REASON` or `account_suspended: REASON`.
    pub account_stopped: Option<String>,
    /// Labels of items neither done nor dead when the run stopped (time limit or a
    /// stopped account).
    pub unfinished: Vec<String>,
}

/// An item that ended dead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadItem {
    pub label: String,
    pub reason: String,
    pub scope: Option<String>,
    pub attempts: u32,
}

/// One item's final state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemTrace {
    pub label: String,
    pub scope: Option<String>,
    /// Counted attempts when the item ended.
    pub attempts: u32,
    /// Uncounted waits when the item ended.
    pub polls: u32,
    pub executions: u32,
    pub state: ItemState,
}

/// Where an item stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemState {
    Ready,
    Leased,
    Done,
    Dead,
}

/// One `execute` call.
#[derive(Debug, Clone)]
pub struct Execution {
    /// Index into [`RunReport::items`].
    pub item: usize,
    pub scope: Option<String>,
    /// When the driver leased the item (before `execute` was called).
    pub leased_at: UnixMillis,
    pub finished_at: UnixMillis,
    /// The outcome's variant name: `done`, `snooze`, `retry`, `fatal`...
    pub outcome: &'static str,
    /// Whether this execution spent an attempt: the policy counted a retry, or a ready
    /// follow-up carries more attempts than the item had (a regrouped retry).
    pub spent_attempt: bool,
}

/// A gate closed by the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateTrace {
    pub scope: SnoozeScope,
    pub closed_at: UnixMillis,
    pub until: UnixMillis,
}

impl RunReport {
    /// The gates closed on domain `domain`, as `(closed_at, until)`.
    pub fn domain_gates(&self, domain: &str) -> Vec<(UnixMillis, UnixMillis)> {
        self.gates
            .iter()
            .filter(|g| matches!(&g.scope, SnoozeScope::Domain(d) if d == domain))
            .map(|g| (g.closed_at, g.until))
            .collect()
    }

    /// Total counted attempts over every item.
    pub fn total_attempts(&self) -> u64 {
        self.items.iter().map(|i| u64::from(i.attempts)).sum()
    }

    /// Panics unless the first item that ended dead has a reason containing `text`
    /// (showing every dead item otherwise).
    pub fn assert_first_dead_says(&self, text: &str) {
        let first = self.dead.first().map(|d| d.reason.as_str());
        assert!(
            first.is_some_and(|reason| reason.contains(text)),
            "the first dead item should say {text:?}: {:?}",
            self.dead
        );
    }

    /// Panics unless the run finished and each of `labels` ended exactly once, as a
    /// record's source or a dead item's label, and nothing else did.
    pub fn assert_each_once(&self, labels: &[String]) {
        assert!(
            self.unfinished.is_empty(),
            "unfinished: {:?}",
            self.unfinished
        );
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for r in &self.records {
            *seen.entry(r.source.as_str()).or_default() += 1;
        }
        for d in &self.dead {
            *seen.entry(d.label.as_str()).or_default() += 1;
        }
        for label in labels {
            assert_eq!(
                seen.get(label.as_str()),
                Some(&1),
                "{label} must end exactly once"
            );
        }
        assert_eq!(
            self.records.len() + self.dead.len(),
            labels.len(),
            "nothing else was produced"
        );
    }
}

/// Runs one job's items through an executor and the retry policy.
#[derive(Debug, Clone, Default)]
pub struct Driver {
    config: DriverConfig,
}

impl Driver {
    pub fn new(config: DriverConfig) -> Self {
        Driver { config }
    }

    /// Plan `job` with `executor`, then execute until every item is done or dead, the
    /// account is stopped, or `max_wall` passes.
    pub async fn run<E>(
        &self,
        executor: Arc<E>,
        job: &JobSpec,
        inputs: &[String],
    ) -> Result<RunReport, DriverError>
    where
        E: Executor + 'static,
    {
        let planned = executor.plan(job, inputs)?;
        let run_started = UnixMillis::now();
        let state = Arc::new(Shared {
            board: Mutex::new(Board::new(self.config.seed, run_started, job)),
            wake: Notify::new(),
        });
        lock(&state.board).add_all(planned, run_started);
        let stop_at = Instant::now() + self.config.max_wall;
        let executor: Arc<dyn Executor> = executor;
        let job = Arc::new(job.clone());
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..self.config.workers.max(1) {
            let worker = Worker {
                executor: executor.clone(),
                job: job.clone(),
                state: state.clone(),
                per_scope: self.config.per_scope_in_flight,
                stop_at,
            };
            workers.spawn(worker.run());
        }
        while workers.join_next().await.is_some() {}
        let board = lock(&state.board);
        Ok(board.report())
    }
}

struct Shared {
    board: Mutex<Board>,
    wake: Notify,
}

fn lock(m: &Mutex<Board>) -> MutexGuard<'_, Board> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One item on the board.
struct Slot {
    item: NewItem,
    state: ItemState,
    not_before: UnixMillis,
    attempts: u32,
    polls: u32,
    executions: u32,
    /// The last counted error and the last wait's note, as the queue keeps them.
    last_error: Option<String>,
    note: Option<String>,
}

/// The driver's queue: items, gates and what happened.
struct Board {
    slots: Vec<Slot>,
    dedupe: HashSet<String>,
    domain_gates: HashMap<String, UnixMillis>,
    account_gate: UnixMillis,
    in_flight: HashMap<Option<String>, usize>,
    rng: StdRng,
    run_started: UnixMillis,
    max_attempts: u32,
    deadline: UnixMillis,
    report: RunReport,
}

/// What a worker should do next.
enum Next {
    Run(usize, StepItem, UnixMillis),
    Wait(Duration),
    Finished,
}

impl Board {
    fn new(seed: u64, run_started: UnixMillis, job: &JobSpec) -> Self {
        Board {
            slots: Vec::new(),
            dedupe: HashSet::new(),
            domain_gates: HashMap::new(),
            account_gate: UnixMillis(0),
            in_flight: HashMap::new(),
            rng: StdRng::seed_from_u64(seed),
            run_started,
            max_attempts: job.max_attempts,
            deadline: run_started.after(job.deadline),
            report: RunReport::default(),
        }
    }

    fn add_all(&mut self, items: Vec<NewItem>, now: UnixMillis) {
        for item in items {
            self.add(item, now);
        }
    }

    fn add(&mut self, item: NewItem, now: UnixMillis) {
        if let Some(key) = &item.dedupe_key {
            // A run holds at most `cap` distinct keys (WDS `max_pages`), as the queue does.
            let full = item.cap.is_some_and(|cap| self.dedupe.len() as u64 >= cap);
            if self.dedupe.contains(key) || full {
                return;
            }
            self.dedupe.insert(key.clone());
        }
        let (state, not_before, attempts) = match &item.start {
            ItemStart::Ready {
                not_before,
                attempts,
            } => (ItemState::Ready, not_before.unwrap_or(now), *attempts),
            ItemStart::Dead { reason } => {
                self.report.dead.push(DeadItem {
                    label: item.label.clone(),
                    reason: reason.clone(),
                    scope: item.scope.clone(),
                    attempts: 0,
                });
                (ItemState::Dead, now, 0)
            }
        };
        self.slots.push(Slot {
            item,
            state,
            not_before,
            attempts,
            polls: 0,
            executions: 0,
            last_error: None,
            note: None,
        });
    }

    /// The earliest moment slot `i` may run (its own time and its gates).
    fn ready_at(&self, i: usize) -> UnixMillis {
        let slot = &self.slots[i];
        let domain_gate = slot
            .item
            .scope
            .as_ref()
            .and_then(|s| self.domain_gates.get(s).copied())
            .unwrap_or(UnixMillis(0));
        slot.not_before.max(domain_gate).max(self.account_gate)
    }

    fn scope_full(&self, scope: &Option<String>, limit: Option<usize>) -> bool {
        let limit = match (scope, limit) {
            (Some(_), Some(limit)) => limit,
            _ => return false,
        };
        self.in_flight.get(scope).copied().unwrap_or(0) >= limit
    }

    fn next(&mut self, per_scope: Option<usize>, now: UnixMillis) -> Next {
        let mut earliest: Option<UnixMillis> = None;
        let mut pending = self.in_flight.values().any(|n| *n > 0);
        for i in 0..self.slots.len() {
            if self.slots[i].state != ItemState::Ready {
                continue;
            }
            pending = true;
            if self.scope_full(&self.slots[i].item.scope, per_scope) {
                continue;
            }
            let at = self.ready_at(i);
            if at <= now {
                return self.lease(i, now);
            }
            earliest = Some(earliest.map_or(at, |e| e.min(at)));
        }
        match (pending, earliest) {
            (false, _) => Next::Finished,
            (true, Some(at)) => Next::Wait(now.until(at)),
            (true, None) => Next::Wait(Duration::from_millis(25)),
        }
    }

    fn lease(&mut self, i: usize, now: UnixMillis) -> Next {
        let budget = ItemBudget {
            attempts: self.slots[i].attempts,
            polls: self.slots[i].polls,
            max_attempts: self.max_attempts,
            deadline: Some(self.deadline),
        };
        let slot = &mut self.slots[i];
        slot.state = ItemState::Leased;
        *self.in_flight.entry(slot.item.scope.clone()).or_default() += 1;
        let context = ItemContext {
            label: slot.item.label.clone(),
            payload: slot.item.payload.clone(),
            attempts: slot.attempts,
            polls: slot.polls,
            run_started: self.run_started,
        };
        Next::Run(i, StepItem { context, budget }, now)
    }

    fn kill(&mut self, i: usize, reason: String) {
        let slot = &mut self.slots[i];
        slot.state = ItemState::Dead;
        self.report.dead.push(DeadItem {
            label: slot.item.label.clone(),
            reason,
            scope: slot.item.scope.clone(),
            attempts: slot.attempts,
        });
    }

    /// Slot `i`'s step is over: its scope frees up, and an execution is traced.
    fn stepped(&mut self, i: usize, stepped: Stepped, leased_at: UnixMillis) {
        if let Some(n) = self.in_flight.get_mut(&self.slots[i].item.scope) {
            *n = n.saturating_sub(1);
        }
        let Some(outcome) = stepped.outcome else {
            return;
        };
        self.slots[i].executions += 1;
        self.report.executions.push(Execution {
            item: i,
            scope: self.slots[i].item.scope.clone(),
            leased_at,
            finished_at: UnixMillis::now(),
            outcome,
            spent_attempt: stepped.spent_attempt,
        });
    }

    fn close(&mut self, gate: &GateClosure, now: UnixMillis) {
        let until = match &gate.scope {
            SnoozeScope::Item => return,
            SnoozeScope::Domain(d) => self.domain_gates.entry(d.clone()).or_default(),
            SnoozeScope::Account => &mut self.account_gate,
        };
        *until = (*until).max(gate.until);
        self.report.gates.push(GateTrace {
            scope: gate.scope.clone(),
            closed_at: now,
            until: gate.until,
        });
    }

    fn report(&self) -> RunReport {
        let mut report = self.report.clone();
        report.items = self
            .slots
            .iter()
            .map(|s| ItemTrace {
                label: s.item.label.clone(),
                scope: s.item.scope.clone(),
                attempts: s.attempts,
                polls: s.polls,
                executions: s.executions,
                state: s.state.clone(),
            })
            .collect();
        report.unfinished = self
            .slots
            .iter()
            .filter(|s| matches!(s.state, ItemState::Ready | ItemState::Leased))
            .map(|s| s.item.label.clone())
            .collect();
        report
    }
}

/// Where the step of the item on slot `index` lands: the board, in place of the
/// daemon's queue and writer.
struct OnBoard<'a> {
    state: &'a Shared,
    index: usize,
    executor: Arc<dyn Executor>,
    job: Arc<JobSpec>,
}

impl OnBoard<'_> {
    fn board(&self) -> MutexGuard<'_, Board> {
        lock(&self.state.board)
    }
}

#[async_trait]
impl Plumbing for OnBoard<'_> {
    type Error = Infallible;

    fn executor(&self) -> Option<Arc<dyn Executor>> {
        Some(self.executor.clone())
    }

    fn spec(&self) -> Result<Arc<JobSpec>, String> {
        Ok(self.job.clone())
    }

    fn last_words(&self) -> Option<String> {
        let board = self.board();
        let slot = &board.slots[self.index];
        slot.last_error.clone().or_else(|| slot.note.clone())
    }

    /// Seeded from the driver's seed, so a run's jitter repeats.
    fn rng(&self) -> StdRng {
        StdRng::seed_from_u64(self.board().rng.next_u64())
    }

    fn note_gate(&self, gate: &GateClosure) {
        self.board().close(gate, UnixMillis::now());
    }

    async fn close_gate(&self, _gate: GateClosure) -> Result<(), Infallible> {
        // The board's gates hold every item of their scope from the moment they are
        // noted: nothing queued needs deferring.
        Ok(())
    }

    async fn finish(
        &self,
        records: Vec<Record>,
        follow_ups: Vec<NewItem>,
    ) -> Result<(), Infallible> {
        let mut board = self.board();
        board.slots[self.index].state = ItemState::Done;
        board.report.records.extend(records);
        board.add_all(follow_ups, UnixMillis::now());
        Ok(())
    }

    async fn requeue(&self, requeue: Requeue) -> Result<(), Infallible> {
        let mut board = self.board();
        let slot = &mut board.slots[self.index];
        slot.state = ItemState::Ready;
        match requeue {
            Requeue::Wait {
                not_before,
                polls,
                note,
            } => (slot.not_before, slot.polls, slot.note) = (not_before, polls, Some(note)),
            Requeue::Retry {
                not_before,
                attempts,
                error,
            } => {
                (slot.not_before, slot.attempts, slot.last_error) =
                    (not_before, attempts, Some(error))
            }
        }
        Ok(())
    }

    async fn kill(&self, reason: String) -> Result<(), Infallible> {
        self.board().kill(self.index, reason);
        Ok(())
    }

    fn stop_account(&self, kind: AccountStop, reason: &str) {
        self.board().report.account_stopped = Some(format!("{}: {reason}", kind.as_str()));
    }
}

/// One of the driver's concurrent workers.
struct Worker {
    executor: Arc<dyn Executor>,
    job: Arc<JobSpec>,
    state: Arc<Shared>,
    per_scope: Option<usize>,
    stop_at: Instant,
}

impl Worker {
    async fn run(self) {
        loop {
            let next = {
                let mut board = lock(&self.state.board);
                if board.report.account_stopped.is_some() || Instant::now() >= self.stop_at {
                    Next::Finished
                } else {
                    board.next(self.per_scope, UnixMillis::now())
                }
            };
            match next {
                Next::Finished => {
                    self.state.wake.notify_waiters();
                    return;
                }
                Next::Wait(d) => self.wait(d).await,
                Next::Run(i, item, leased_at) => self.execute(i, item, leased_at).await,
            }
        }
    }

    /// Sleep until `d` passes or another worker changes the board; short slices keep a
    /// missed wake-up from costing more than a few milliseconds.
    async fn wait(&self, d: Duration) {
        let left = self.stop_at.saturating_duration_since(Instant::now());
        let d = d.min(Duration::from_millis(25)).min(left);
        let _ = tokio::time::timeout(d, self.state.wake.notified()).await;
    }

    /// The daemon's step, landing on the board.
    async fn execute(&self, index: usize, item: StepItem, leased_at: UnixMillis) {
        let on_board = OnBoard {
            state: &self.state,
            index,
            executor: self.executor.clone(),
            job: self.job.clone(),
        };
        let stepped = match step::run(&on_board, &item).await {
            Ok(stepped) => stepped,
            Err(never) => match never {},
        };
        lock(&self.state.board).stepped(index, stepped, leased_at);
        self.state.wake.notify_waiters();
    }
}

#[cfg(test)]
mod tests {

    use std::sync::atomic::{AtomicU32, Ordering};

    use async_trait::async_trait;

    use super::*;
    use crate::outcome::{Completion, FailureClass, Outcome, Snooze};

    /// An executor scripted by item label: `ok`, `flaky` (fails twice), `busy:d`
    /// (snoozes domain d once), `split` (two follow-ups, one dead), `batch` (fails for
    /// good; dies as one part per input).
    #[derive(Default)]
    struct Scripted {
        calls: AtomicU32,
        flaky_left: AtomicU32,
        busy_once: Mutex<HashSet<String>>,
    }

    fn record(label: &str) -> Record {
        Record {
            source: label.into(),
            item: label.into(),
            fetched_at: UnixMillis::now(),
            data: crate::JsonText::parse("{}".into()).unwrap(),
            attachment: None,
        }
    }

    #[async_trait]
    impl Executor for Scripted {
        fn plan(&self, _job: &JobSpec, inputs: &[String]) -> Result<Vec<NewItem>, PlanError> {
            Ok(inputs
                .iter()
                .map(|l| {
                    let scope = l.split(':').nth(1).unwrap_or("x").to_string();
                    NewItem::ready(l.clone(), Vec::new()).with_scope(scope)
                })
                .collect())
        }

        async fn execute(&self, _job: &JobSpec, item: &ItemContext) -> Outcome {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let label = item.label.as_str();
            if label.starts_with("flaky") && self.flaky_left.fetch_sub(1, Ordering::SeqCst) > 0 {
                return Outcome::retry(FailureClass::Server, "HTTP 500");
            }
            if let Some(domain) = label.strip_prefix("busy:")
                && self.busy_once.lock().unwrap().insert(label.to_string())
            {
                return Outcome::Snooze(Snooze {
                    delay: Duration::from_millis(200),
                    scope: SnoozeScope::Domain(domain.into()),
                    reason: "occupied".into(),
                });
            }
            if label == "batch" {
                return Outcome::fatal("http400 for the whole batch");
            }
            if label == "split" {
                return Outcome::Done(Completion {
                    records: vec![],
                    follow_ups: vec![
                        NewItem::ready("child", Vec::new()),
                        NewItem::ready("gone", Vec::new()).with_start(ItemStart::Dead {
                            reason: "http404".into(),
                        }),
                    ],
                    ..Completion::default()
                });
            }
            if label == "fan" {
                // Keys a, a, b, c, d under a cap of 3: the second a and d are not created.
                let follow_ups = ["a", "a", "b", "c", "d"]
                    .iter()
                    .map(|k| {
                        NewItem::ready(format!("child-{k}"), Vec::new())
                            .with_dedupe_key(*k)
                            .with_cap(3)
                    })
                    .collect();
                return Outcome::Done(Completion {
                    follow_ups,
                    ..Completion::default()
                });
            }
            Outcome::records(vec![record(label)])
        }

        fn split_for_death(&self, item: &ItemContext) -> Vec<NewItem> {
            if item.label != "batch" {
                return Vec::new();
            }
            ["batch/1", "batch/2"]
                .iter()
                .map(|l| NewItem::ready(*l, Vec::new()))
                .collect()
        }
    }

    fn job() -> JobSpec {
        use crate::job::{AutoextractJob, InputList, PageType, VendorJob};
        job_spec(
            "t",
            "zyte",
            VendorJob::Autoextract(AutoextractJob {
                page_type: PageType::Article,
                urls: InputList::Inline(Vec::new()),
                article_body_raw: false,
            }),
        )
    }

    async fn run(exec: Scripted, inputs: &[&str], config: DriverConfig) -> RunReport {
        let inputs: Vec<String> = inputs.iter().map(|s| s.to_string()).collect();
        Driver::new(config)
            .run(Arc::new(exec), &job(), &inputs)
            .await
            .expect("plans")
    }

    #[tokio::test]
    async fn counted_retries_end_in_a_record_with_their_attempts() {
        let exec = Scripted::default();
        exec.flaky_left.store(2, Ordering::SeqCst);
        let report = run(exec, &["flaky:a", "ok:b"], DriverConfig::default()).await;
        assert_eq!(report.records.len(), 2);
        assert!(report.unfinished.is_empty());
        let flaky = report.items.iter().find(|i| i.label == "flaky:a").unwrap();
        assert_eq!((flaky.attempts, flaky.executions), (2, 3));
        let spent = report.executions.iter().filter(|e| e.spent_attempt).count();
        assert_eq!(spent, 2);
    }

    #[tokio::test]
    async fn a_domain_snooze_defers_other_items_of_that_domain_without_an_attempt() {
        let config = DriverConfig {
            workers: 1,
            ..DriverConfig::default()
        };
        let report = run(Scripted::default(), &["busy:d", "ok:d", "ok:e"], config).await;
        assert_eq!(report.records.len(), 3);
        let gates = report.domain_gates("d");
        assert_eq!(gates.len(), 1, "one gate closed on d");
        let (_, until) = gates[0];
        // One worker takes items in creation order: busy:d closes the gate first.
        let ok_d = report.items.iter().position(|i| i.label == "ok:d").unwrap();
        let ran = report.executions.iter().find(|e| e.item == ok_d).unwrap();
        assert!(ran.leased_at >= until, "ok:d must wait for d's gate");
        assert_eq!(report.total_attempts(), 0, "snoozes are not attempts");
        let busy = report.items.iter().find(|i| i.label == "busy:d").unwrap();
        assert_eq!(busy.polls, 1);
    }

    #[tokio::test]
    async fn follow_ups_run_and_dead_follow_ups_are_listed() {
        let report = run(Scripted::default(), &["split"], DriverConfig::default()).await;
        let sources: Vec<_> = report.records.iter().map(|r| r.source.as_str()).collect();
        assert_eq!(sources, ["child"]);
        assert_eq!(report.dead.len(), 1);
        assert_eq!(report.dead[0].label, "gone");
        assert_eq!(report.dead[0].reason, "http404");
    }

    #[tokio::test]
    async fn follow_ups_are_deduplicated_by_key_and_capped_per_run() {
        let report = run(Scripted::default(), &["fan"], DriverConfig::default()).await;
        let mut sources: Vec<_> = report.records.iter().map(|r| r.source.as_str()).collect();
        sources.sort();
        assert_eq!(sources, ["child-a", "child-b", "child-c"]);
        assert!(report.unfinished.is_empty());
    }

    #[tokio::test]
    async fn a_dying_item_of_a_splitting_executor_ends_as_its_dead_parts() {
        let report = run(
            Scripted::default(),
            &["batch", "ok:b"],
            DriverConfig::default(),
        )
        .await;
        let dead: Vec<_> = report
            .dead
            .iter()
            .map(|d| (d.label.as_str(), d.reason.as_str()))
            .collect();
        assert_eq!(
            dead,
            [
                ("batch/1", "http400 for the whole batch"),
                ("batch/2", "http400 for the whole batch"),
            ]
        );
        let batch = report.items.iter().find(|i| i.label == "batch").unwrap();
        assert_eq!(
            batch.state,
            ItemState::Done,
            "the parent ends with no records"
        );
        assert_eq!(report.records.len(), 1);
        assert!(report.unfinished.is_empty());
    }
}
