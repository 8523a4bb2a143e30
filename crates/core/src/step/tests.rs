//! The step's rules, seen through a plumbing that writes down every call in order.

use std::convert::Infallible;
use std::sync::Mutex;
use std::time::Duration;

use super::*;
use crate::executor::PlanError;
use crate::outcome::{Completion, Snooze};

/// Answers by label: `panic`, `fatal`, `snooze:DOMAIN`, `done-snoozing-item` (done,
/// asking only itself to wait), `auth`, else a record. Splits a dying item into `parts` items when `parts > 0`.
struct Scripted {
    parts: usize,
}

#[async_trait]
impl Executor for Scripted {
    fn plan(&self, _job: &JobSpec, _inputs: &[String]) -> Result<Vec<NewItem>, PlanError> {
        Ok(Vec::new())
    }

    async fn execute(&self, _job: &JobSpec, item: &ItemContext) -> Outcome {
        let label = item.label.as_str();
        if label == "panic" {
            panic!("boom");
        }
        if label == "fatal" {
            return Outcome::fatal("http404");
        }
        if label == "auth" {
            return Outcome::AuthFailed {
                message: "bad key".into(),
            };
        }
        if label == "done-snoozing-item" {
            return Outcome::Done(Completion {
                snoozes: vec![Snooze {
                    delay: Duration::from_secs(5),
                    scope: SnoozeScope::Item,
                    reason: "later".into(),
                }],
                ..Completion::default()
            });
        }
        if let Some(domain) = label.strip_prefix("snooze:") {
            return Outcome::Snooze(Snooze {
                delay: Duration::from_secs(5),
                scope: SnoozeScope::Domain(domain.into()),
                reason: "occupied".into(),
            });
        }
        Outcome::records(Vec::new())
    }

    fn split_for_death(&self, item: &ItemContext) -> Vec<NewItem> {
        (0..self.parts)
            .map(|i| NewItem::ready(format!("{}/{i}", item.label), Vec::new()))
            .collect()
    }
}

/// Writes down every call, in order.
struct Recorder {
    executor: Option<Arc<dyn Executor>>,
    calls: Mutex<Vec<String>>,
    /// The parts handed to `finish`.
    finished: Mutex<Vec<NewItem>>,
}

impl Recorder {
    fn new(parts: usize) -> Self {
        Recorder {
            executor: Some(Arc::new(Scripted { parts })),
            calls: Mutex::new(Vec::new()),
            finished: Mutex::new(Vec::new()),
        }
    }

    fn note(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

fn scope_name(scope: &SnoozeScope) -> String {
    match scope {
        SnoozeScope::Item => "item".into(),
        SnoozeScope::Domain(d) => format!("domain {d}"),
        SnoozeScope::Account => "account".into(),
    }
}

#[async_trait]
impl Plumbing for Recorder {
    type Error = Infallible;

    fn executor(&self) -> Option<Arc<dyn Executor>> {
        self.executor.clone()
    }

    fn spec(&self) -> Result<Arc<JobSpec>, String> {
        Ok(Arc::new(job()))
    }

    fn last_words(&self) -> Option<String> {
        Some("HTTP 500".into())
    }

    fn executed(&self, outcome: &Outcome) {
        self.note(format!("executed {}", outcome_name(outcome)));
    }

    fn panicked(&self, why: &str) {
        self.note(format!("panicked {why}"));
    }

    fn died(&self, reason: &str, items: u64) {
        self.note(format!("died {items}: {reason}"));
    }

    fn requeued(&self) {
        self.note("requeued".into());
    }

    fn note_gate(&self, gate: &GateClosure) {
        self.note(format!("note {}", scope_name(&gate.scope)));
    }

    async fn close_gate(&self, gate: GateClosure) -> Result<(), Infallible> {
        self.note(format!("close {}", scope_name(&gate.scope)));
        Ok(())
    }

    async fn finish(
        &self,
        records: Vec<Record>,
        follow_ups: Vec<NewItem>,
    ) -> Result<(), Infallible> {
        self.note(format!("finish {} {}", records.len(), follow_ups.len()));
        self.finished.lock().unwrap().extend(follow_ups);
        Ok(())
    }

    async fn requeue(&self, requeue: Requeue) -> Result<(), Infallible> {
        let call = match requeue {
            Requeue::Wait { polls, note, .. } => format!("wait {polls}: {note}"),
            Requeue::Retry {
                attempts, error, ..
            } => format!("retry {attempts}: {error}"),
        };
        self.note(call);
        Ok(())
    }

    async fn kill(&self, reason: String) -> Result<(), Infallible> {
        self.note(format!("kill: {reason}"));
        Ok(())
    }

    fn stop_account(&self, kind: AccountStop, reason: &str) {
        self.note(format!("stop {}: {reason}", kind.as_str()));
    }
}

fn job() -> JobSpec {
    use crate::job::{AutoextractJob, InputList, PageType, VendorJob};
    let work = VendorJob::Autoextract(AutoextractJob {
        page_type: PageType::Article,
        urls: InputList::Inline(Vec::new()),
        article_body_raw: false,
    });
    JobSpec {
        max_attempts: 3,
        ..crate::testing::job_spec("t", "a", work)
    }
}

fn item(label: &str, attempts: u32) -> StepItem {
    StepItem {
        context: ItemContext {
            label: label.into(),
            payload: Vec::new(),
            attempts,
            polls: 4,
            run_started: UnixMillis::now(),
        },
        budget: ItemBudget {
            attempts,
            polls: 4,
            max_attempts: 3,
            deadline: Some(UnixMillis::now().after(Duration::from_secs(600))),
        },
    }
}

async fn step(plumbing: &Recorder, item: &StepItem) -> Stepped {
    match run(plumbing, item).await {
        Ok(stepped) => stepped,
        Err(never) => match never {},
    }
}

#[tokio::test]
async fn a_panicking_executor_is_a_counted_retry_with_the_panic_text() {
    let plumbing = Recorder::new(0);
    let stepped = step(&plumbing, &item("panic", 0)).await;
    assert_eq!(
        plumbing.calls(),
        [
            "panicked boom",
            "executed retry",
            "retry 1: vendor: the executor panicked (boom); a bug in dredge",
            "requeued",
        ]
    );
    assert_eq!(stepped.outcome, Some("retry"));
    assert!(stepped.spent_attempt);
}

#[tokio::test]
async fn a_panic_on_the_last_attempt_kills_the_item_with_the_panic_text() {
    let plumbing = Recorder::new(0);
    step(&plumbing, &item("panic", 2)).await;
    let calls = plumbing.calls();
    assert_eq!(
        calls.last().map(String::as_str),
        Some(
            "kill: gave up after 3 attempts: vendor: the executor panicked (boom); a bug in dredge"
        ),
        "{calls:?}"
    );
}

#[tokio::test]
async fn a_dead_item_of_a_splitting_executor_ends_as_its_dead_parts() {
    let plumbing = Recorder::new(2);
    let stepped = step(&plumbing, &item("fatal", 0)).await;
    assert_eq!(
        plumbing.calls(),
        ["executed fatal", "died 2: http404", "finish 0 2"]
    );
    let parts = plumbing.finished.lock().unwrap().clone();
    let labels: Vec<_> = parts.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(labels, ["fatal/0", "fatal/1"]);
    let dead = ItemStart::Dead {
        reason: "http404".into(),
    };
    assert!(parts.iter().all(|p| p.start == dead), "{parts:?}");
    assert!(!stepped.spent_attempt);
}

#[tokio::test]
async fn a_dead_item_without_parts_is_killed_as_itself() {
    let plumbing = Recorder::new(0);
    step(&plumbing, &item("fatal", 0)).await;
    assert_eq!(
        plumbing.calls(),
        ["executed fatal", "died 1: http404", "kill: http404"]
    );
}

#[tokio::test]
async fn a_domain_snooze_closes_its_gate_in_memory_before_the_item_goes_back() {
    let plumbing = Recorder::new(0);
    step(&plumbing, &item("snooze:d", 0)).await;
    assert_eq!(
        plumbing.calls(),
        [
            "executed snooze",
            "note domain d",
            "wait 5: occupied",
            "close domain d",
            "requeued",
        ]
    );
}

#[tokio::test]
async fn an_item_scoped_snooze_closes_no_gate() {
    let plumbing = Recorder::new(0);
    step(&plumbing, &item("done-snoozing-item", 0)).await;
    assert_eq!(plumbing.calls(), ["executed done", "finish 0 0"]);
}

#[tokio::test]
async fn an_item_past_its_deadline_dies_unexecuted_with_its_last_words() {
    let plumbing = Recorder::new(0);
    let mut late = item("ok", 1);
    late.budget.deadline = Some(UnixMillis::now());
    let stepped = step(&plumbing, &late).await;
    assert_eq!(
        plumbing.calls(),
        [
            "died 1: deadline passed before the item could finish (HTTP 500)",
            "kill: deadline passed before the item could finish (HTTP 500)",
        ]
    );
    assert_eq!(stepped.outcome, None);
}

#[tokio::test]
async fn a_rejected_account_stops_and_its_item_goes_back_untouched() {
    let plumbing = Recorder::new(0);
    step(&plumbing, &item("auth", 1)).await;
    assert_eq!(
        plumbing.calls(),
        [
            "executed auth_failed",
            "stop auth_failed: bad key",
            "wait 4: auth_failed: bad key",
        ]
    );
}

#[tokio::test]
async fn without_an_executor_the_item_goes_back_untouched() {
    let mut plumbing = Recorder::new(0);
    plumbing.executor = None;
    step(&plumbing, &item("ok", 1)).await;
    assert_eq!(
        plumbing.calls(),
        ["wait 4: account not available", "requeued"]
    );
}
