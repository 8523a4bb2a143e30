//! `mode = "unexported"` against `dredge-sim`: a task group of 3 tasks × 2,500 rows is
//! drained while the simulator revokes the token every 7 requests and fails 5 % of
//! calls, in each protocol — the legacy destructive read, the legacy acknowledged read
//! (`unexported_ack`), and the OpenAPI. The output must equal the simulator's ledger of
//! rows handed out, each row once, with one token request per invalidated token.

mod support;

use dredge_core::job::{OctoparseMode, OctoparseTasks};
use dredge_octoparse::OctoparseFlavor;
use dredge_sim::octoparse::Faults;

use support::*;

const ROWS: u32 = 2_500;

fn hostile() -> Faults {
    Faults {
        token_invalid_every: 7,
        server_error_rate: 0.05,
        ..Faults::default()
    }
}

fn first_group(sim: &dredge_sim::octoparse::Sim) -> String {
    sim.tasks()[0].group_id.to_string()
}

#[tokio::test]
async fn a_task_group_drains_every_row_once_through_revoked_tokens_and_server_errors() {
    let sim = sim(config(1, 3, ROWS, hostile())).await;
    let job = job(
        OctoparseTasks::Group(first_group(&sim)),
        OctoparseMode::Unexported,
        100,
    );
    let report = run(
        executor(&account(&sim, OctoparseFlavor::Legacy, false, PASSWORD)),
        &job,
        4,
    )
    .await;
    assert_output_equals_ledger(&sim, &report, 3 * ROWS as usize, "notexportdata");
    let tokens = token_requests(&sim);
    let invalidated = invalidations(&sim);
    assert!(invalidated >= 5, "the fault fired ({invalidated})");
    assert!(tokens >= 2, "expired tokens were refreshed ({tokens})");
    assert!(
        tokens <= 1 + invalidated,
        "one token request per invalidated token: {tokens} requests for {invalidated} invalidations"
    );
    assert!(report.items.iter().any(|i| i.label.ends_with("drain 25")));
    let server_errors = sim.log.count(|e| e.outcome == "fault:server_error");
    assert!(server_errors >= 1, "the server_error fault fired");
    assert!(
        report.total_attempts() >= server_errors as u64,
        "server errors are counted retries"
    );
}

#[tokio::test]
async fn the_acknowledged_drain_acks_only_staged_rows_and_loses_none() {
    let sim = sim(config(1, 3, ROWS, hostile())).await;
    let job = job(
        OctoparseTasks::Group(first_group(&sim)),
        OctoparseMode::Unexported,
        100,
    );
    let report = run(
        executor(&account(&sim, OctoparseFlavor::Legacy, true, PASSWORD)),
        &job,
        4,
    )
    .await;
    assert_output_equals_ledger(&sim, &report, 3 * ROWS as usize, "update");
    let tokens = token_requests(&sim);
    assert!(
        tokens >= 2 && tokens <= 1 + invalidations(&sim),
        "{tokens} token requests"
    );
    for task in task_ids(&sim) {
        assert_eq!(
            sim.unexported(&task),
            Some(0),
            "task {task} fully acknowledged"
        );
    }
    // Each ack follows its fetch: the fetch's rows were output before any ack ran.
    let acks = report
        .items
        .iter()
        .filter(|i| i.label.contains(" ack "))
        .count();
    assert_eq!(acks, 3 * 25, "one ack per non-empty batch");
}

#[tokio::test]
async fn the_openapi_drain_outputs_every_row_once() {
    let sim = sim(config(1, 3, ROWS, hostile())).await;
    let job = job(
        OctoparseTasks::Ids(task_ids(&sim)),
        OctoparseMode::Unexported,
        250,
    );
    let report = run(
        executor(&account(&sim, OctoparseFlavor::Openapi, false, PASSWORD)),
        &job,
        4,
    )
    .await;
    assert_output_equals_ledger(&sim, &report, 3 * ROWS as usize, "markexported");
    let tokens = token_requests(&sim);
    let revoked = revocations(&sim, 7);
    assert!(tokens >= 2, "expired tokens were refreshed ({tokens})");
    assert!(
        tokens <= 1 + revoked,
        "{tokens} token requests for {revoked} revoked tokens"
    );
}

#[tokio::test]
async fn quota_exceeded_snoozes_the_account_without_spending_attempts() {
    let faults = Faults {
        quota_exceeded_next: 2,
        ..Faults::default()
    };
    let sim = sim(config(1, 2, 300, faults)).await;
    let job = job(
        OctoparseTasks::Ids(task_ids(&sim)),
        OctoparseMode::Unexported,
        100,
    );
    let report = run(
        executor(&account(&sim, OctoparseFlavor::Legacy, false, PASSWORD)),
        &job,
        2,
    )
    .await;
    assert_output_equals_ledger(&sim, &report, 600, "notexportdata");
    let quota = sim.log.count(|e| e.status == 429);
    assert_eq!(quota, 2);
    let account_gates = report
        .gates
        .iter()
        .filter(|g| g.scope == dredge_core::SnoozeScope::Account)
        .count();
    assert_eq!(account_gates, 2, "each 429 closed the account's gate");
    assert_eq!(report.total_attempts(), 0, "no attempt was spent");
}
