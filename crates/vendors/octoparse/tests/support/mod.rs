//! Shared set-up for the tests against `dredge-sim`: accounts, jobs, the driver, and
//! checks of the output against the simulator's ledger and request log.

#![allow(dead_code)] // each test binary uses a different part

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use dredge_core::account::Login;
use dredge_core::job::{JobSpec, OctoparseJob, OctoparseMode, OctoparseTasks, VendorJob};
use dredge_core::testing::{Driver, DriverConfig, RunReport, job_spec};
use dredge_core::{Limits, Secret};
use dredge_octoparse::{OctoparseAccount, OctoparseExecutor, OctoparseFlavor};
use dredge_sim::octoparse::{Config, Faults, ROW_KEY_FIELD, Sim};

pub(crate) const USER: &str = "test-user";
pub(crate) const PASSWORD: &str = "test-pass";

pub(crate) async fn sim(config: Config) -> Sim {
    Sim::start(config, 7, "127.0.0.1", 0)
        .await
        .expect("the simulator starts")
}

/// A simulator with `groups` × `tasks` tasks of `rows` rows each and `faults`.
pub(crate) fn config(groups: u32, tasks: u32, rows: u32, faults: Faults) -> Config {
    Config {
        task_groups: groups,
        tasks_per_group: tasks,
        rows_per_task: rows,
        faults,
        ..Config::default()
    }
}

pub(crate) fn account(
    sim: &Sim,
    flavor: OctoparseFlavor,
    ack: bool,
    password: &str,
) -> OctoparseAccount {
    OctoparseAccount {
        base_url: sim.base_url(),
        login: Login {
            username: USER.into(),
            password: Secret::new(password),
        },
        flavor,
        unexported_ack: ack,
        limits: Limits {
            max_concurrency: 8,
            // Short: a fresh executor's first acknowledged read waits this long.
            timeout: Duration::from_secs(2),
            ..Limits::default()
        },
    }
}

pub(crate) fn executor(account: &OctoparseAccount) -> Arc<OctoparseExecutor> {
    Arc::new(OctoparseExecutor::new(account).expect("an executor"))
}

pub(crate) fn job(tasks: OctoparseTasks, mode: OctoparseMode, page_size: u32) -> JobSpec {
    job_spec(
        "octo",
        "octo",
        VendorJob::Octoparse(OctoparseJob {
            tasks,
            mode,
            page_size,
        }),
    )
}

pub(crate) async fn run(
    executor: Arc<OctoparseExecutor>,
    job: &JobSpec,
    workers: usize,
) -> RunReport {
    let driver = Driver::new(DriverConfig {
        workers,
        per_scope_in_flight: None,
        max_wall: Duration::from_secs(50),
        seed: 3,
    });
    driver.run(executor, job, &[]).await.expect("the run plans")
}

pub(crate) fn task_ids(sim: &Sim) -> Vec<String> {
    sim.tasks().into_iter().map(|t| t.task_id).collect()
}

/// `(task id, row key)` of every record, asserting none appears twice.
pub(crate) fn output_rows(report: &RunReport) -> BTreeSet<(String, String)> {
    let mut seen = HashMap::new();
    for record in &report.records {
        let task = record
            .source
            .strip_prefix("task ")
            .expect("source is `task <id>`");
        let data: serde_json::Value = serde_json::from_str(&record.data).expect("JSON data");
        let key = data[ROW_KEY_FIELD]
            .as_str()
            .expect("the row key")
            .to_string();
        *seen.entry((task.to_string(), key)).or_insert(0) += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "rows output twice: {twice:?}");
    seen.into_keys().collect()
}

/// The output holds every row the simulator handed out, exactly once, and nothing else.
pub(crate) fn assert_output_equals_ledger(sim: &Sim, report: &RunReport, rows: usize, via: &str) {
    assert!(
        report.unfinished.is_empty(),
        "unfinished: {:?}",
        report.unfinished
    );
    assert!(report.dead.is_empty(), "dead: {:?}", report.dead);
    let ledger = sim.ledger();
    assert!(
        ledger.iter().all(|e| e.via == via),
        "rows handed out via {via} only"
    );
    let handed_out: BTreeSet<_> = ledger
        .iter()
        .map(|e| (e.task_id.clone(), e.row_key.clone()))
        .collect();
    assert_eq!(
        handed_out.len(),
        ledger.len(),
        "the simulator handed no row out twice"
    );
    assert_eq!(ledger.len(), rows, "every row was handed out");
    assert_eq!(output_rows(report), handed_out);
    assert_eq!(report.records.len(), rows);
}

/// Requests to the token endpoint (`/token`, both grants).
pub(crate) fn token_requests(sim: &Sim) -> usize {
    sim.log
        .entries()
        .iter()
        .filter(|e| e.path.starts_with("/token"))
        .count()
}

/// Tokens the simulator invalidated (revoked by the fault, or expired).
pub(crate) fn invalidations(sim: &Sim) -> usize {
    sim.log
        .entries()
        .iter()
        .filter(|e| matches!(e.outcome.as_str(), "token_revoked" | "token_expired"))
        .count()
}

/// Tokens revoked by `token_invalid_every = every`, derived from the log when the
/// flavor does not tell revocations from other refusals (OpenAPI answers 401 to all):
/// every `every`-th authorised data request is revoked, and the `accepted` ones plus
/// the revoked ones are all the authorised requests.
pub(crate) fn revocations(sim: &Sim, every: usize) -> usize {
    let accepted = sim
        .log
        .entries()
        .iter()
        // A 429 without an account is the OpenAPI rate limit, refused before the token.
        .filter(|e| !e.path.starts_with("/token") && e.status != 401)
        .filter(|e| !(e.status == 429 && e.account.is_none()))
        .count();
    // revoked = (accepted + revoked) / every, solved for revoked (can be one too many).
    accepted / (every - 1)
}
