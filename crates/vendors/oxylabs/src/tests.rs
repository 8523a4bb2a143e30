//! Planning: batches, labels, scopes and payloads.

use std::time::Duration;

use dredge_core::job::{
    HumanDuration, InputList, JobSpec, OxylabsDelivery, OxylabsInputs, OxylabsJob, OxylabsResults,
    VendorJob,
};
use dredge_core::{Executor, RateGate, Secret, VendorClient};

use super::*;
use crate::payload::{Submit, Work};
use dredge_core::testing::job_spec;

fn job(inputs: OxylabsInputs) -> JobSpec {
    JobSpec {
        max_attempts: 4,
        ..job_spec(
            "serp",
            "oxy",
            VendorJob::Oxylabs(OxylabsJob {
                source: "google_search".into(),
                inputs,
                params_json: r#"{"domain":"co.uk","parse":true}"#.into(),
                results: OxylabsResults::Parsed,
                delivery: OxylabsDelivery::Poll,
                poll_interval: HumanDuration(Duration::from_secs(10)),
                callback_url: None,
            }),
        )
    }
}

fn executor() -> OxylabsExecutor {
    let client = VendorClient::with_gate(
        "http://127.0.0.1:9",
        Duration::from_secs(5),
        RateGate::new(None, 1),
    )
    .expect("a client");
    OxylabsExecutor::with_client(client, "user", Secret::new("pass"))
}

fn values(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("query {i}")).collect()
}

fn submitted(item: &NewItem) -> Submit {
    match Work::decode(&item.payload).expect("a payload") {
        Work::Submit(s) => s,
        other => panic!("expected a submit, got {other:?}"),
    }
}

#[test]
fn twelve_thousand_queries_plan_into_three_batches_of_at_most_5000() {
    let job = job(OxylabsInputs::Queries(InputList::Inline(Vec::new())));
    let items = executor().plan(&job, &values(12_000)).expect("plans");
    let sizes: Vec<usize> = items.iter().map(|i| submitted(i).values.len()).collect();
    assert_eq!(sizes, [5000, 5000, 2000]);
    assert_eq!(items[0].label, "batch 1/3 (5000 queries)");
    let all: Vec<String> = items.iter().flat_map(|i| submitted(i).values).collect();
    assert_eq!(all, values(12_000), "every value once, in order");
}

#[test]
fn query_batches_are_scoped_to_the_engine_domain() {
    let job = job(OxylabsInputs::Queries(InputList::Inline(Vec::new())));
    let items = executor().plan(&job, &values(3)).expect("plans");
    assert_eq!(items[0].scope.as_deref(), Some("google.co.uk"));
}

#[test]
fn url_batches_are_scoped_only_when_they_share_a_host() {
    let job = job(OxylabsInputs::Urls(InputList::Inline(Vec::new())));
    let same = [
        "https://Shop.example/a".to_string(),
        "https://shop.example/b".into(),
    ];
    let items = executor().plan(&job, &same).expect("plans");
    assert_eq!(items[0].scope.as_deref(), Some("shop.example"));
    let mixed = [
        "https://a.example/".to_string(),
        "https://b.example/".into(),
    ];
    let items = executor().plan(&job, &mixed).expect("plans");
    assert_eq!(items[0].scope, None);
}

#[test]
fn blank_values_are_dropped_and_an_empty_list_cannot_be_planned() {
    let job = job(OxylabsInputs::Queries(InputList::Inline(Vec::new())));
    let items = executor()
        .plan(&job, &[" nike ".into(), "  ".into()])
        .expect("plans");
    assert_eq!(submitted(&items[0]).values, ["nike"]);
    assert!(executor().plan(&job, &["".into()]).is_err());
}

#[test]
fn job_ids_that_could_leave_a_path_segment_are_refused() {
    assert!(is_job_id("7173957294344910849"));
    assert!(!is_job_id(""));
    assert!(!is_job_id("1/../../v1/info"));
    assert!(!is_job_id("1?type=raw"));
}

#[test]
fn a_submit_batch_that_dies_whole_is_listed_value_by_value() {
    let batch = Work::Submit(Submit {
        values: values(3),
        resubmit: false,
    });
    let ctx = dredge_core::ItemContext {
        label: "batch 1/1".into(),
        payload: batch.encode(),
        attempts: 8,
        polls: 0,
        run_started: dredge_core::UnixMillis(0),
    };
    let parts = executor().split_for_death(&ctx);
    let labels: Vec<&str> = parts.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(labels, vec!["query 0", "query 1", "query 2"]);
    assert_eq!(submitted(&parts[1]).values, vec!["query 1".to_string()]);
    let single = Work::Submit(Submit {
        values: values(1),
        resubmit: true,
    });
    let ctx = dredge_core::ItemContext {
        payload: single.encode(),
        ..ctx
    };
    assert!(
        executor().split_for_death(&ctx).is_empty(),
        "one value stays one item"
    );
}
