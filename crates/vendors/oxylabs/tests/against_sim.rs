//! The Oxylabs executor against `dredge-sim` on 127.0.0.1, driven by
//! `dredge_core::testing::Driver` exactly as the daemon's retry policy would, plus
//! single executions for the answer mappings (204, 404, 401, 400, 429).

mod support;

use std::time::Duration;

use dredge_core::job::OxylabsResults;
use dredge_core::{Carry, Executor, ItemStart, Outcome, SnoozeScope};
use dredge_sim::oxylabs::{Config, Sim};

use support::*;

const PNG_SIGNATURE: &[u8] = &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_thousand_queries_in_three_batches_each_produce_their_results_once() {
    let sim = sim(Config {
        finish_delay_ms: [20, 300],
        faulted_share: 0.02,
        parse_failure_share: 0.01,
        ..Config::default()
    })
    .await;
    let values = queries(12_000);
    // Most jobs are done by their first poll: two requests per job keep this test quick.
    let job = job(JobShape {
        poll_interval: Duration::from_millis(250),
        ..JobShape::default()
    });
    let report = run(executor(&sim), &job, &values).await;

    assert_each_value_once(&values, &report);
    let batches = requests(&sim, "POST", "/v1/queries/batch");
    assert_eq!(batches.len(), 3, "three batch submissions");
    let faulted = Sim::count(&sim.counters().jobs_faulted);
    assert!(
        faulted > 100,
        "about 2% of 12,000 jobs faulted, got {faulted}"
    );
    let resubmits = requests(&sim, "POST", "/v1/queries").len() - batches.len();
    assert_eq!(
        resubmits as u64, faulted,
        "each faulted job resubmitted once"
    );
    let spent = report.executions.iter().filter(|e| e.spent_attempt).count();
    assert_eq!(spent as u64, faulted, "a resubmission is one attempt");
    // Parsed records keep the target's status and the parse status for filtering.
    let partial = report
        .records
        .iter()
        .map(|r| serde_json::from_str::<serde_json::Value>(&r.data).expect("JSON data"))
        .inspect(|d| assert_eq!(d["status_code"], 200))
        .filter(|d| d["content"]["parse_status_code"] == 12002)
        .count();
    assert!(partial > 0, "failed parses are kept and marked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_results_keep_the_page_as_sent() {
    let sim = sim(Config {
        finish_delay_ms: [20, 200],
        ..Config::default()
    })
    .await;
    let values = urls(150);
    let job = job(JobShape {
        urls: true,
        results: OxylabsResults::Raw,
        params_json: "{}".into(),
        ..JobShape::default()
    });
    let report = run(executor(&sim), &job, &values).await;
    assert_each_value_once(&values, &report);
    for r in &report.records {
        let data: serde_json::Value = serde_json::from_str(&r.data).expect("JSON data");
        assert_eq!(data["url"], r.source.as_str());
        assert_eq!(data["type"], "raw");
        assert!(
            data["content"]
                .as_str()
                .unwrap_or("")
                .starts_with("<!doctype html>")
        );
        assert!(r.attachment.is_none());
    }
    assert!(
        requests(&sim, "GET", "/v1/queries/")
            .iter()
            .filter(|e| e.path.contains("/results"))
            .all(|e| e.path.ends_with("?type=raw"))
    );
}

/// docs/vendors/oxylabs.md §"Result types": markdown needs `"markdown": true` on the
/// job, which the job's loading sets; without it every result would be empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markdown_results_are_enabled_on_the_job_and_come_back_full() {
    let sim = sim(Config {
        finish_delay_ms: [20, 200],
        ..Config::default()
    })
    .await;
    let values = urls(40);
    let params = dredge_oxylabs::params(Default::default(), OxylabsResults::Markdown)
        .expect("markdown gets its flag");
    let job = job(JobShape {
        urls: true,
        results: OxylabsResults::Markdown,
        params_json: serde_json::Value::Object(params).to_string(),
        ..JobShape::default()
    });
    let report = run(executor(&sim), &job, &values).await;
    assert_each_value_once(&values, &report);
    for r in &report.records {
        let data: serde_json::Value = serde_json::from_str(&r.data).expect("JSON data");
        assert_eq!(data["type"], "markdown");
        let text = data["content"].as_str().unwrap_or("");
        assert!(
            text.starts_with(&format!("# {}\n\n- [", r.source)),
            "{text:?}"
        );
    }
    // The simulator answers empty content to a job submitted without the flag.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn png_results_come_back_as_attachments_named_by_job_and_page() {
    let sim = sim(Config {
        finish_delay_ms: [20, 200],
        ..Config::default()
    })
    .await;
    let values = urls(100);
    let job = job(JobShape {
        urls: true,
        results: OxylabsResults::Png,
        params_json: r#"{"render":"png"}"#.into(),
        ..JobShape::default()
    });
    let report = run(executor(&sim), &job, &values).await;
    assert_each_value_once(&values, &report);
    let ids: std::collections::HashSet<String> = sim.jobs().into_iter().map(|j| j.id).collect();
    for r in &report.records {
        let png = r.attachment.as_ref().expect("a png attachment");
        assert!(png.bytes.starts_with(PNG_SIGNATURE), "a real png");
        let id = png
            .name
            .strip_suffix("-1.png")
            .expect("<job id>-<page>.png");
        assert!(ids.contains(id), "named after its job: {}", png.name);
        let data: serde_json::Value = serde_json::from_str(&r.data).expect("JSON data");
        assert!(data.get("content").is_none(), "the image is not inlined");
        assert_eq!(
            (data["status_code"].clone(), data["url"].clone()),
            (200.into(), r.source.clone().into())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_counted_retries_that_still_deliver_everything_once() {
    let sim = sim(Config {
        finish_delay_ms: [20, 100],
        server_error_rate: 0.1,
        ..Config::default()
    })
    .await;
    let values = queries(60);
    let job = job(JobShape {
        max_attempts: 30,
        ..JobShape::default()
    });
    let report = run(executor(&sim), &job, &values).await;
    assert_each_value_once(&values, &report);
    assert!(
        report.total_attempts() > 0,
        "5xx/524 answers count as attempts"
    );
    let faults = sim.log.count(|e| e.outcome.starts_with("fault:"));
    assert_eq!(
        report.total_attempts(),
        faults as u64,
        "one attempt per server error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_keeps_faulting_ends_dead_at_max_attempts() {
    let sim = sim(Config {
        finish_delay_ms: [10, 50],
        faulted_share: 1.0,
        ..Config::default()
    })
    .await;
    let values = queries(5);
    // One attempt allowed: the first fault is already the last.
    let job = job(JobShape {
        max_attempts: 1,
        ..JobShape::default()
    });
    let report = run(executor(&sim), &job, &values).await;
    assert!(report.records.is_empty());
    assert_eq!(report.dead.len(), 5, "{:?}", report.dead);
    assert!(report.dead.iter().all(|d| d.reason.contains("faulted")));
    assert_eq!(
        requests(&sim, "POST", "/v1/queries").len(),
        1,
        "no resubmission"
    );
}

#[tokio::test]
async fn results_asked_for_too_early_are_not_ready() {
    let sim = sim(Config {
        finish_delay_ms: [5_000, 5_000],
        ..Config::default()
    })
    .await;
    let exec = executor_with(&sim, PASSWORD);
    let job = job(JobShape::default());
    let polls = submit(&exec, &job, &queries(1)).await;
    let id = job_id(&polls[0]);
    // A (premature) callback makes the poll skip the status and ask for results.
    exec.callback_received(&id);
    let outcome = execute(&exec, &job, &polls[0]).await;
    assert_eq!(
        outcome,
        Outcome::NotReady {
            after: Some(Duration::from_millis(100))
        }
    );
    let results = requests(&sim, "GET", &format!("/v1/queries/{id}/results"));
    assert_eq!(results.iter().map(|e| e.status).collect::<Vec<_>>(), [204]);
    // The 204 drops the mark: the next poll asks for the status again.
    let outcome = execute(&exec, &job, &polls[0]).await;
    assert!(matches!(outcome, Outcome::NotReady { .. }));
    let status = requests(&sim, "GET", &format!("/v1/queries/{id}"));
    assert_eq!(
        status.len(),
        2,
        "one results request, then one status request"
    );
}

/// Expired results answer 204 with the job `done` (live): the value is submitted
/// again, with one more attempt, rather than polled forever.
#[tokio::test]
async fn expired_results_are_resubmitted_and_counted_not_polled_forever() {
    let sim = sim(Config {
        finish_delay_ms: [0, 0],
        ..Config::default()
    })
    .await;
    let exec = executor_with(&sim, PASSWORD);
    let job = job(JobShape::default());
    let polls = submit(&exec, &job, &queries(1)).await;
    assert!(sim.expire_job(&job_id(&polls[0])));
    match execute(&exec, &job, &polls[0]).await {
        Outcome::Done(c) => {
            assert!(c.follow_ups.is_empty());
            assert_eq!(c.continuations.len(), 1, "one resubmission");
            // Counted: the policy gives it one more attempt (dredge-core's tests).
            assert!(matches!(
                &c.continuations[0].carry,
                Carry::After(stop) if matches!(&**stop, Outcome::Retry(f) if f.message.contains("expired"))
            ));
        }
        other => panic!("expected a resubmission, got {other:?}"),
    }
}

#[tokio::test]
async fn rejected_credentials_stop_the_account() {
    let sim = sim(Config::default()).await;
    let exec = std::sync::Arc::new(executor_with(&sim, "wrong"));
    let job = job(JobShape::default());
    let report = run(exec, &job, &queries(3)).await;
    let reason = report.account_stopped.expect("the account stops");
    assert!(reason.contains("HTTP 401, empty body"), "{reason}");
    assert!(!reason.contains("wrong"), "no secret in the reason");
    assert_eq!(sim.log.len(), 1, "no hammering after a 401");
}

#[tokio::test]
async fn a_bad_request_kills_the_item_with_the_vendors_message() {
    let sim = sim(Config::default()).await;
    // A url parameter next to a query list: the vendor refuses the batch.
    let job = job(JobShape {
        params_json: r#"{"url":"https://example.com/"}"#.into(),
        ..JobShape::default()
    });
    let report = run(executor(&sim), &job, &queries(2)).await;
    // As the daemon lists it: one dead item per query of the refused batch
    // (`split_for_death`), each with the vendor's message.
    let dead: Vec<_> = report.dead.iter().map(|d| d.label.clone()).collect();
    assert_eq!(dead, queries(2), "{:?}", report.dead);
    for d in &report.dead {
        assert_eq!(
            d.reason,
            "HTTP 400: Batch must contain either a query or a url list, not both"
        );
    }
    assert_eq!(report.total_attempts(), 0);
}

#[tokio::test]
async fn a_domain_429_snoozes_that_domain_and_an_account_429_the_account() {
    let sim = sim(Config {
        limited_domains: vec!["google.com".into()],
        domain_jobs_per_window: 1,
        rate_window_ms: 60_000,
        ..Config::default()
    })
    .await;
    let exec = executor_with(&sim, PASSWORD);
    let job = job(JobShape::default());
    let item = exec.plan(&job, &queries(1)).expect("plans").remove(0);
    assert_eq!(item.scope.as_deref(), Some("google.com"));
    assert!(matches!(
        execute(&exec, &job, &item).await,
        Outcome::Done(_)
    ));
    match execute(&exec, &job, &item).await {
        Outcome::Throttled(s) => assert_eq!(s.scope, SnoozeScope::Domain("google.com".into())),
        other => panic!("expected a domain snooze, got {other:?}"),
    }
    sim.update_config(|c| {
        c.limited_domains.clear();
        c.jobs_per_window = Some(0);
    });
    match execute(&exec, &job, &item).await {
        Outcome::Throttled(s) => assert_eq!(s.scope, SnoozeScope::Account),
        other => panic!("expected an account snooze, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_429_is_waited_out_without_spending_an_attempt() {
    let sim = sim(Config {
        finish_delay_ms: [10, 50],
        limited_domains: vec!["google.com".into()],
        domain_jobs_per_window: 1,
        rate_window_ms: 800,
        ..Config::default()
    })
    .await;
    let exec = executor(&sim);
    let job = job(JobShape::default());
    // Use up the domain's window so the run's submission meets a 429 first.
    let _ = submit(&exec, &job, &queries(1)).await;
    let values = vec!["fresh query".to_string()];
    let report = run(exec, &job, &values).await;
    assert_each_value_once(&values, &report);
    assert_eq!(report.total_attempts(), 0, "a 429 is not an attempt");
    assert_eq!(
        report.domain_gates("google.com").len(),
        1,
        "the domain's gate closed"
    );
    let limited = sim.log.count(|e| e.status == 429);
    assert_eq!(limited, 1);
}

#[tokio::test]
async fn every_value_of_a_batch_gets_a_poll_item_keyed_by_its_19_digit_job_id() {
    let sim = sim(Config::default()).await;
    let exec = executor_with(&sim, PASSWORD);
    let job = job(JobShape::default());
    let polls = submit(&exec, &job, &queries(3)).await;
    assert_eq!(polls.len(), 3);
    assert!(
        polls
            .iter()
            .all(|p| matches!(p.start, ItemStart::Ready { .. }))
    );
    let ids: Vec<String> = polls.iter().map(job_id).collect();
    assert!(
        ids.iter()
            .all(|id| id.len() == 19 && id.bytes().all(|b| b.is_ascii_digit()))
    );
}

/// A batch with some invalid values answers 202 with `errors` (live): those values are
/// dead with the vendor's message, the others are collected.
#[tokio::test]
async fn values_a_batch_refuses_are_dead_with_the_vendors_message_and_the_rest_proceed() {
    let sim = sim(Config {
        finish_delay_ms: [0, 50],
        ..Config::default()
    })
    .await;
    let job = job(JobShape {
        urls: true,
        ..JobShape::default()
    });
    let mut values = urls(3);
    values.push("not a url".into());
    let report = run(executor(&sim), &job, &values).await;
    assert!(report.unfinished.is_empty(), "{:?}", report.unfinished);
    assert_eq!(report.records.len(), 3);
    assert_eq!(report.dead.len(), 1);
    report.assert_first_dead_says("Parameter `url` is invalid.");
}

/// `pages > 1`: every page is written, one record each.
#[tokio::test]
async fn a_job_with_several_pages_writes_every_page() {
    let sim = sim(Config {
        finish_delay_ms: [0, 50],
        ..Config::default()
    })
    .await;
    let job = job(JobShape {
        params_json: r#"{"domain":"com","parse":true,"pages":3}"#.into(),
        ..JobShape::default()
    });
    let report = run(executor(&sim), &job, &queries(2)).await;
    assert!(report.unfinished.is_empty() && report.dead.is_empty());
    assert_eq!(report.records.len(), 6, "3 pages for each of 2 queries");
    let mut pages: Vec<(String, u64)> = report
        .records
        .iter()
        .map(|r| {
            let data: serde_json::Value = serde_json::from_str(&r.data).unwrap();
            (r.source.clone(), data["page"].as_u64().unwrap())
        })
        .collect();
    pages.sort();
    assert_eq!(pages.iter().filter(|(_, p)| *p == 3).count(), 2);
}
