//! Shared helpers for the tests against `dredge-sim`: job specs, executors, a driver,
//! and direct single-item execution for the answer-mapping tests.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use dredge_core::account::Login;
use dredge_core::job::{
    HumanDuration, InputList, JobSpec, OxylabsDelivery, OxylabsInputs, OxylabsJob, OxylabsResults,
    VendorJob,
};
use dredge_core::testing::{Driver, DriverConfig, RunReport, job_spec};
use dredge_core::{
    Completion, Executor, ItemContext, Limits, NewItem, Outcome, RateGate, Secret, UnixMillis,
    VendorClient,
};
use dredge_oxylabs::{OxylabsAccount, OxylabsExecutor};
use dredge_sim::oxylabs::{Config, Sim};

pub(crate) const PASSWORD: &str = "pass";

pub(crate) struct JobShape {
    pub urls: bool,
    pub results: OxylabsResults,
    pub delivery: OxylabsDelivery,
    pub poll_interval: Duration,
    pub callback_url: Option<String>,
    pub params_json: String,
    pub max_attempts: u32,
}

impl Default for JobShape {
    fn default() -> Self {
        JobShape {
            urls: false,
            results: OxylabsResults::Parsed,
            delivery: OxylabsDelivery::Poll,
            poll_interval: Duration::from_millis(100),
            callback_url: None,
            params_json: r#"{"domain":"com","parse":true}"#.into(),
            max_attempts: 5,
        }
    }
}

pub(crate) fn job(shape: JobShape) -> JobSpec {
    let list = InputList::Inline(Vec::new());
    JobSpec {
        max_attempts: shape.max_attempts,
        ..job_spec(
            "serp",
            "oxy",
            VendorJob::Oxylabs(OxylabsJob {
                source: if shape.urls {
                    "universal"
                } else {
                    "google_search"
                }
                .into(),
                inputs: if shape.urls {
                    OxylabsInputs::Urls(list)
                } else {
                    OxylabsInputs::Queries(list)
                },
                params_json: shape.params_json,
                results: shape.results,
                delivery: shape.delivery,
                poll_interval: HumanDuration(shape.poll_interval),
                callback_url: shape.callback_url,
            }),
        )
    }
}

pub(crate) async fn sim(config: Config) -> Sim {
    Sim::start(config, 7, "127.0.0.1", 0)
        .await
        .expect("the simulator starts")
}

pub(crate) fn account(sim: &Sim, password: &str) -> OxylabsAccount {
    OxylabsAccount {
        base_url: sim.base_url(),
        login: Login {
            username: "user".into(),
            password: Secret::new(password),
        },
        callback_allow: Vec::new(),
        limits: Limits {
            max_concurrency: 16,
            timeout: Duration::from_secs(20),
            ..Limits::default()
        },
    }
}

pub(crate) fn executor_with(sim: &Sim, password: &str) -> OxylabsExecutor {
    let client = VendorClient::with_gate(
        &sim.base_url(),
        Duration::from_secs(20),
        RateGate::new(None, 16),
    )
    .expect("a client");
    OxylabsExecutor::with_client(client, "user", Secret::new(password))
}

pub(crate) fn executor(sim: &Sim) -> Arc<OxylabsExecutor> {
    Arc::new(executor_with(sim, PASSWORD))
}

pub(crate) fn driver(workers: usize, max_wall_secs: u64) -> Driver {
    Driver::new(DriverConfig {
        workers,
        per_scope_in_flight: None,
        max_wall: Duration::from_secs(max_wall_secs),
        seed: 3,
    })
}

pub(crate) async fn run(exec: Arc<OxylabsExecutor>, job: &JobSpec, values: &[String]) -> RunReport {
    driver(16, 80).run(exec, job, values).await.expect("plans")
}

pub(crate) fn queries(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("query number {i}")).collect()
}

pub(crate) fn urls(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("https://shop{}.example/item/{i}", i % 7))
        .collect()
}

/// Every value produced exactly one record (the simulator answers one page per job)
/// and nothing ended dead or unfinished.
pub(crate) fn assert_each_value_once(values: &[String], report: &RunReport) {
    assert!(
        report.dead.is_empty(),
        "dead: {:?}",
        &report.dead[..report.dead.len().min(5)]
    );
    assert!(
        report.unfinished.is_empty(),
        "unfinished: {} e.g. {:?}",
        report.unfinished.len(),
        report.unfinished.first()
    );
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for r in &report.records {
        *seen.entry(r.source.as_str()).or_default() += 1;
    }
    for v in values {
        assert_eq!(seen.get(v.as_str()), Some(&1), "{v} must have one record");
    }
    assert_eq!(report.records.len(), values.len(), "no other records");
}

/// Execute one item directly, as a fresh item (no attempts, no polls).
pub(crate) async fn execute(exec: &OxylabsExecutor, job: &JobSpec, item: &NewItem) -> Outcome {
    let ctx = ItemContext {
        label: item.label.clone(),
        payload: item.payload.clone(),
        attempts: 0,
        polls: 0,
        run_started: UnixMillis::now(),
    };
    exec.execute(job, &ctx).await
}

/// Plan `values` and execute the (single) submit item; return its follow-ups.
pub(crate) async fn submit(
    exec: &OxylabsExecutor,
    job: &JobSpec,
    values: &[String],
) -> Vec<NewItem> {
    let items = exec.plan(job, values).expect("plans");
    assert_eq!(items.len(), 1, "one submit item");
    match execute(exec, job, &items[0]).await {
        Outcome::Done(Completion { follow_ups, .. }) => follow_ups,
        other => panic!("submission failed: {other:?}"),
    }
}

/// The job id a poll item's dedupe key names.
pub(crate) fn job_id(poll: &NewItem) -> String {
    poll.dedupe_key
        .as_deref()
        .and_then(|k| k.strip_prefix("oxylabs-job:"))
        .expect("a poll item")
        .to_string()
}

/// Requests the simulator logged whose path starts with `prefix`.
pub(crate) fn requests(sim: &Sim, method: &str, prefix: &str) -> Vec<dredge_sim::LoggedRequest> {
    sim.log
        .entries()
        .into_iter()
        .filter(|e| e.method == method && e.path.starts_with(prefix))
        .collect()
}

/// Wait (bounded) until `check` holds.
pub(crate) async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(
            std::time::Instant::now() < until,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
