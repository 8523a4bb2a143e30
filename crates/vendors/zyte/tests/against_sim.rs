//! The Zyte API executor against `dredge-sim` on 127.0.0.1, driven by
//! `dredge_core::testing::Driver` exactly as the daemon's retry policy would.

use std::sync::Arc;
use std::time::Duration;

use dredge_core::account::ApiKeyClient;
use dredge_core::job::{InputList, JobSpec, VendorJob, ZyteExtract, ZyteJob};
use dredge_core::testing::{Driver, DriverConfig, job_spec};
use dredge_core::{RateGate, Secret, VendorClient};
use dredge_sim::zyte::{Config, Faults, Sim};
use dredge_zyte::{TEMPORARY_DOWNLOAD_BUDGET, ZyteExecutor};

const KEY: &str = "test-key";

fn job(max_attempts: u32, params_json: &str) -> JobSpec {
    JobSpec {
        max_attempts,
        ..job_spec(
            "shop",
            "zyte",
            VendorJob::Zyte(ZyteJob {
                extract: ZyteExtract::Product,
                extract_from: None,
                geolocation: None,
                urls: InputList::Inline(Vec::new()),
                params_json: params_json.into(),
            }),
        )
    }
}

async fn sim(config: Config) -> Sim {
    Sim::start(config, 7, "127.0.0.1", 0)
        .await
        .expect("sim starts")
}

fn executor(sim: &Sim) -> Arc<ZyteExecutor> {
    let client = VendorClient::with_gate(
        &sim.base_url(),
        Duration::from_secs(30),
        RateGate::new(None, 8),
    )
    .expect("a client");
    Arc::new(ZyteExecutor::with_client(ApiKeyClient::with_client(
        client,
        Secret::new(KEY),
    )))
}

fn driver(workers: usize) -> Driver {
    Driver::new(DriverConfig {
        workers,
        // One request per host at a time, so "no request inside a window" is exact.
        per_scope_in_flight: Some(1),
        max_wall: Duration::from_secs(60),
        seed: 3,
    })
}

fn urls(n: usize, hosts: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("https://www.shop{}.example/item/{i}", i % hosts))
        .collect()
}

fn requests_for(sim: &Sim, url: &str) -> usize {
    sim.requests()
        .iter()
        .filter(|s| s.url.as_deref() == Some(url))
        .count()
}

#[tokio::test]
async fn every_url_becomes_its_extracted_object_and_a_target_404_is_dead_without_retry() {
    let sim = sim(Config::default()).await;
    let mut urls = urls(20, 4);
    urls.push("https://shop0.example.com/missing/1".into());
    let report = driver(4)
        .run(executor(&sim), &job(8, "{}"), &urls)
        .await
        .unwrap();
    report.assert_each_once(&urls);
    for record in &report.records {
        let data: serde_json::Value = serde_json::from_str(&record.data).unwrap();
        assert_eq!(data, sim.extracted("product", &record.source));
    }
    assert_eq!(report.dead.len(), 1);
    report.assert_first_dead_says("HTTP 404");
    assert_eq!(
        requests_for(&sim, "https://shop0.example.com/missing/1"),
        1,
        "a billed 404 is not asked again"
    );
    assert_eq!(sim.billed(), 21);
}

#[tokio::test]
async fn domain_limits_snooze_their_host_uncounted_and_no_request_lands_inside_one() {
    let sim = sim(Config {
        faults: Faults {
            domain_limit_rate: 0.3,
            domain_limit_seconds: 0.4,
            ..Faults::default()
        },
        ..Config::default()
    })
    .await;
    let urls = urls(40, 4);
    let report = driver(4)
        .run(executor(&sim), &job(8, "{}"), &urls)
        .await
        .unwrap();
    report.assert_each_once(&urls);
    assert!(report.dead.is_empty(), "{:?}", report.dead);
    assert!(
        sim.windows().len() >= 3,
        "the limit fired: {}",
        sim.windows().len()
    );
    assert!(
        sim.requests_inside_windows().is_empty(),
        "{:?}",
        sim.requests_inside_windows()
    );
    assert_eq!(
        report.total_attempts(),
        0,
        "domain limits are never counted"
    );
}

#[tokio::test]
async fn account_rate_limits_hold_back_every_request_until_retry_after() {
    let sim = sim(Config {
        faults: Faults {
            user_limit_next: 2,
            global_limit_rate: 0.1,
            user_limit_seconds: 0.3,
            ..Faults::default()
        },
        ..Config::default()
    })
    .await;
    let urls = urls(15, 3);
    // One worker: an account window closes for requests sent after its answer only.
    let report = driver(1)
        .run(executor(&sim), &job(8, "{}"), &urls)
        .await
        .unwrap();
    report.assert_each_once(&urls);
    assert!(report.dead.is_empty());
    assert!(sim.windows().len() >= 2);
    assert!(
        sim.requests_inside_windows().is_empty(),
        "{:?}",
        sim.requests_inside_windows()
    );
    assert_eq!(report.total_attempts(), 0);
}

#[tokio::test]
async fn temporary_download_errors_wait_retry_after_and_stop_after_their_own_budget() {
    let sim = sim(Config {
        faults: Faults {
            temporary_error_rate: 1.0,
            download_retry_after: 0.3,
            ..Faults::default()
        },
        ..Config::default()
    })
    .await;
    let urls = urls(2, 2);
    let report = driver(2)
        .run(executor(&sim), &job(8, "{}"), &urls)
        .await
        .unwrap();
    report.assert_each_once(&urls);
    assert_eq!(report.dead.len(), 2);
    for url in &urls {
        assert_eq!(
            requests_for(&sim, url),
            TEMPORARY_DOWNLOAD_BUDGET as usize,
            "at most 4 attempts though the job allows 8"
        );
    }
    report.assert_first_dead_says("/download/temporary-error");
    assert!(
        sim.requests_inside_windows().is_empty(),
        "{:?}",
        sim.requests_inside_windows()
    );
}

#[tokio::test]
async fn a_suspended_account_stops_with_account_suspended_and_no_url_is_dead() {
    let sim = sim(Config {
        faults: Faults {
            suspended: true,
            ..Faults::default()
        },
        ..Config::default()
    })
    .await;
    let urls = urls(5, 1);
    let report = driver(1)
        .run(executor(&sim), &job(8, "{}"), &urls)
        .await
        .unwrap();
    let why = report.account_stopped.expect("the account stops");
    assert!(
        why.starts_with("account_suspended: HTTP 403 /auth/account-suspended"),
        "{why}"
    );
    assert!(report.dead.is_empty());
    assert_eq!(
        report.unfinished.len(),
        5,
        "every URL waits for the account"
    );
    assert_eq!(sim.requests().len(), 1, "no hammering");
}

#[tokio::test]
async fn forbidden_domains_and_refused_requests_are_dead_with_the_vendors_title() {
    let forbidden = vec!["blocked.example.com".to_string()];
    let sim = sim(Config {
        forbidden_domains: forbidden,
        ..Config::default()
    })
    .await;
    // The second sends a field the API does not know (never written by a loaded job).
    for (url, params, reason) in [
        (
            "https://blocked.example.com/a",
            "{}",
            "HTTP 451 /download/domain-forbidden: Domain Forbidden",
        ),
        (
            "https://ok.example.com/a",
            r#"{"pageType":"product"}"#,
            "HTTP 400 /request/invalid: Bad Request",
        ),
    ] {
        let report = driver(1)
            .run(executor(&sim), &job(8, params), &[url.to_string()])
            .await
            .unwrap();
        report.assert_first_dead_says(reason);
        assert_eq!(requests_for(&sim, url), 1, "dead at once: {url}");
    }
}
