//! After a start or reload, an executor's first acknowledged read waits out the
//! account's timeout (an acknowledgement sent before could still land and would mark
//! that read's rows); later reads and reads without acknowledgement never wait. Checked
//! against `dredge-sim` by executing single steps and reading the snooze each returns.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use dredge_core::job::{JobSpec, OctoparseMode, OctoparseTasks};
use dredge_core::{Executor, ItemContext, Outcome, SnoozeScope, UnixMillis};
use dredge_octoparse::OctoparseFlavor;
use dredge_octoparse::{OctoparseExecutor, Step};
use dredge_sim::octoparse::{Faults, Sim};

use support::*;

/// Short, so the test waits it out; long enough for a local request under load.
const TIMEOUT: Duration = Duration::from_millis(1_500);

/// An executor built now with `TIMEOUT`, and the instants just before and after.
fn fresh(
    sim: &Sim,
    flavor: OctoparseFlavor,
    ack: bool,
) -> (Arc<OctoparseExecutor>, Instant, Instant) {
    let mut account = account(sim, flavor, ack, PASSWORD);
    account.limits.timeout = TIMEOUT;
    let before = Instant::now();
    let executor = executor(&account);
    (executor, before, Instant::now())
}

fn job_for(sim: &Sim, mode: OctoparseMode) -> JobSpec {
    job(OctoparseTasks::Ids(task_ids(sim)), mode, 10)
}

/// Executes `step` once; returns the outcome and the instants around the call.
async fn execute(
    executor: &OctoparseExecutor,
    job: &JobSpec,
    step: Step,
) -> (Outcome, Instant, Instant) {
    let item = step.item();
    let ctx = ItemContext {
        label: item.label,
        payload: item.payload,
        attempts: 0,
        polls: 0,
        run_started: UnixMillis::now(),
    };
    let before = Instant::now();
    let outcome = executor.execute(job, &ctx).await;
    (outcome, before, Instant::now())
}

fn fetch(sim: &Sim, batch: u32) -> Step {
    Step::Fetch {
        task: task_ids(sim)[0].clone(),
        batch,
    }
}

fn rows_read(outcome: &Outcome) -> usize {
    match outcome {
        Outcome::Done(done) => done.records.len(),
        other => panic!("expected rows, got {other:?}"),
    }
}

/// Requests for unexported rows the simulator saw.
fn reads(sim: &Sim) -> usize {
    let read = |p: &str| {
        p.contains("notExportData/getTop")
            || p.contains("notexported")
            || p.contains("notexportdata")
    };
    sim.log.entries().iter().filter(|e| read(&e.path)).count()
}

async fn first_acknowledged_read_waits_until_built_plus_timeout(flavor: OctoparseFlavor) {
    let sim = sim(config(1, 1, 50, Faults::default())).await;
    let job = job_for(&sim, OctoparseMode::Unexported);
    let (executor, built_from, built_by) = fresh(&sim, flavor, true);

    let (outcome, called_from, called_by) = execute(&executor, &job, fetch(&sim, 1)).await;
    let Outcome::Snooze(snooze) = outcome else {
        panic!("a fresh executor's first acknowledged read must wait, got {outcome:?}");
    };
    // The snooze ends at (built + TIMEOUT): bounded by the instants measured around the
    // build and the call, whatever the machine's speed.
    assert!(
        called_from + snooze.delay <= built_by + TIMEOUT,
        "ends no later than built + timeout"
    );
    assert!(
        called_by + snooze.delay >= built_from + TIMEOUT,
        "ends no earlier than built + timeout"
    );
    assert_eq!(snooze.scope, SnoozeScope::Item, "only that item waits");
    assert!(
        snooze.reason.contains("acknowledge"),
        "the note says why: {}",
        snooze.reason
    );
    assert_eq!(reads(&sim), 0, "nothing was read while waiting");

    // Once that instant has passed, reads run, and the next one does not wait either.
    tokio::time::sleep_until((built_by + TIMEOUT).into()).await;
    let (first, ..) = execute(&executor, &job, fetch(&sim, 1)).await;
    assert_eq!(rows_read(&first), 10);
    let (again, ..) = execute(&executor, &job, fetch(&sim, 1)).await;
    assert_eq!(
        rows_read(&again),
        10,
        "a read repeated before its ack returns the same rows"
    );
    assert_eq!(reads(&sim), 2);
}

#[tokio::test]
async fn a_fresh_executors_first_acknowledged_legacy_read_waits_out_the_timeout_and_later_reads_do_not()
 {
    first_acknowledged_read_waits_until_built_plus_timeout(OctoparseFlavor::Legacy).await;
}

#[tokio::test]
async fn a_fresh_executors_first_openapi_read_waits_out_the_timeout_and_later_reads_do_not() {
    first_acknowledged_read_waits_until_built_plus_timeout(OctoparseFlavor::Openapi).await;
}

#[tokio::test]
async fn reads_without_an_acknowledgement_never_wait() {
    let sim = sim(config(1, 1, 50, Faults::default())).await;
    let task = task_ids(&sim)[0].clone();
    let (executor, ..) = fresh(&sim, OctoparseFlavor::Legacy, false);

    // The legacy destructive read: no acknowledgement exists to land late.
    let drain = Step::Drain {
        task: task.clone(),
        batch: 1,
    };
    let (outcome, ..) = execute(&executor, &job_for(&sim, OctoparseMode::Unexported), drain).await;
    assert_eq!(rows_read(&outcome), 10);
    // Paged reads of everything are not destructive.
    let page = Step::Page { task, index: 1 };
    let (outcome, ..) = execute(&executor, &job_for(&sim, OctoparseMode::All), page).await;
    assert_eq!(rows_read(&outcome), 10);
}

#[tokio::test]
async fn an_acknowledgement_never_waits() {
    let sim = sim(config(1, 1, 50, Faults::default())).await;
    let (executor, ..) = fresh(&sim, OctoparseFlavor::Legacy, true);
    let ack = Step::Ack {
        task: task_ids(&sim)[0].clone(),
        batch: 1,
        more: true,
    };
    let (outcome, ..) = execute(&executor, &job_for(&sim, OctoparseMode::Unexported), ack).await;
    let Outcome::Done(done) = outcome else {
        panic!("an ack runs at once, got {outcome:?}");
    };
    assert_eq!(done.follow_ups.len(), 1, "the next fetch");
}
