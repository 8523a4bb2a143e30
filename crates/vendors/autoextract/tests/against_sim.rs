//! The AutoExtract executor against `dredge-sim` on 127.0.0.1, driven by
//! `dredge_core::testing::Driver` exactly as the daemon's retry policy would.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dredge_autoextract::AutoextractExecutor;
use dredge_core::account::ApiKeyClient;
use dredge_core::job::{AutoextractJob, InputList, JobSpec, PageType, VendorJob};
use dredge_core::testing::{Driver, DriverConfig, RunReport, job_spec};
use dredge_core::{RateGate, Secret, UnixMillis, VendorClient};
use dredge_sim::autoextract::{Config, Faults, Sim};

const KEY: &str = "test-key";

fn job(max_attempts: u32) -> JobSpec {
    JobSpec {
        max_attempts,
        ..job_spec(
            "extract",
            "zyte",
            VendorJob::Autoextract(AutoextractJob {
                page_type: PageType::Product,
                urls: InputList::Inline(Vec::new()),
                article_body_raw: false,
            }),
        )
    }
}

fn executor(sim: &Sim) -> Arc<AutoextractExecutor> {
    let gate = RateGate::new(None, 8);
    let client =
        VendorClient::with_gate(&sim.base_url(), Duration::from_secs(660), gate).expect("a client");
    Arc::new(AutoextractExecutor::with_client(ApiKeyClient::with_client(
        client,
        Secret::new(KEY),
    )))
}

/// `n` URLs spread round-robin over `domains` registrable domains, with varied
/// subdomains; every `missing_every`-th URL hits the simulator's 404 rule.
fn urls(n: usize, domains: usize, missing_every: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let d = i % domains;
            let sub = ["www", "shop", "m"][i % 3];
            let missing = if missing_every > 0 && i % missing_every == 7 {
                "missing/"
            } else {
                ""
            };
            format!("https://{sub}.site{d}.example/{missing}p/{i}")
        })
        .collect()
}

fn driver(workers: usize) -> Driver {
    Driver::new(DriverConfig {
        workers,
        // One request per domain at a time, so "no request while snoozed" is exact.
        per_scope_in_flight: Some(1),
        max_wall: Duration::from_secs(90),
        seed: 11,
    })
}

/// No request reached the simulator for a domain while the driver held that domain's
/// gate closed, and none fell inside the simulator's own occupation windows.
fn assert_no_request_while_snoozed(sim: &Sim, report: &RunReport) {
    for entry in sim.log.entries() {
        let at = UnixMillis::from(entry.at);
        for domain in &entry.domains {
            for (closed, until) in report.domain_gates(domain) {
                assert!(
                    !(closed < at && at < until),
                    "request for {domain} at {at:?} inside its snooze {closed:?}..{until:?}"
                );
            }
        }
    }
    assert!(
        sim.requests_during_occupation().is_empty(),
        "requests during occupation: {:?}",
        sim.requests_during_occupation()
    );
}

/// Data matched by `meta`: each record is the simulator's record for its own URL.
fn assert_records_match_their_urls(sim: &Sim, report: &RunReport) {
    for r in &report.records {
        let data: serde_json::Value = serde_json::from_str(&r.data).expect("record is JSON");
        assert_eq!(data, sim.product_for(&r.source), "record for {}", r.source);
    }
}

/// Make exactly the requests after the first success answer 500 until one has.
async fn one_server_error(sim: Arc<Sim>, calm: Faults) {
    let bound = Instant::now() + Duration::from_secs(60);
    let until = |want: u16| {
        let sim = sim.clone();
        async move {
            while !sim.log.entries().iter().any(|e| e.status == want) {
                if Instant::now() > bound {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    };
    until(200).await;
    sim.set_faults(Faults {
        server_error_rate: 1.0,
        ..calm.clone()
    });
    until(500).await;
    sim.set_faults(calm);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_urls_through_occupied_domains_timeouts_404s_429s_and_a_500() {
    let faults = Faults {
        occupied_rate: 0.3,
        occupied_seconds: 0.1,
        timeout_rate: 0.05,
        rate_limit_next: 3,
        retry_after_secs: 1,
        ..Faults::default()
    };
    let config = Config {
        faults: faults.clone(),
        ..Config::default()
    };
    let sim = Arc::new(Sim::start(config, 5, "127.0.0.1", 0).await.expect("sim"));
    let calm = Faults {
        rate_limit_next: 0,
        ..faults
    };
    let fault_500 = tokio::spawn(one_server_error(sim.clone(), calm));
    let urls = urls(1000, 5, 97);

    let report = driver(5)
        .run(executor(&sim), &job(8), &urls)
        .await
        .expect("plans");
    fault_500.await.expect("the 500 injector ends");

    report.assert_each_once(&urls);
    let missing = urls.iter().filter(|u| u.contains("/missing/")).count();
    assert_eq!(
        report.dead.len(),
        missing,
        "only the 404s die: {:?}",
        report.dead
    );
    assert!(report.dead.iter().all(|d| d.reason.contains("http404")));
    assert_records_match_their_urls(&sim, &report);
    assert_no_request_while_snoozed(&sim, &report);

    let log = sim.log.entries();
    assert!(
        log.iter().any(|e| e.status == 429),
        "the 429 burst happened"
    );
    assert!(log.iter().any(|e| e.status == 500), "a 500 happened");
    assert!(log.iter().any(|e| e.outcome.contains("domain_occupied")));
    // Attempts are spent only by answers that carried a timeout or a 5xx, one each.
    let counted = log
        .iter()
        .filter(|e| e.status >= 500 || e.outcome.contains("query_timed_out"))
        .count();
    let spent = report.executions.iter().filter(|e| e.spent_attempt).count();
    assert_eq!(spent, counted, "no attempt is spent on snoozes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snoozes_alone_spend_no_attempt() {
    let faults = Faults {
        occupied_rate: 0.3,
        occupied_seconds: 0.1,
        rate_limit_next: 4,
        retry_after_secs: 1,
        ..Faults::default()
    };
    let config = Config {
        faults,
        ..Config::default()
    };
    let sim = Sim::start(config, 9, "127.0.0.1", 0).await.expect("sim");
    let urls = urls(150, 3, 0);
    let report = driver(3)
        .run(executor(&sim), &job(2), &urls)
        .await
        .expect("plans");
    report.assert_each_once(&urls);
    assert_eq!(report.records.len(), urls.len());
    assert_eq!(report.total_attempts(), 0);
    assert!(report.executions.iter().all(|e| !e.spent_attempt));
    assert!(report.executions.iter().any(|e| e.outcome == "snooze"));
    assert_no_request_while_snoozed(&sim, &report);
}

#[tokio::test]
async fn a_batch_the_service_refuses_as_too_large_is_split_once() {
    // 60 queries per request at most: our 100 are refused, the halves of 50 pass.
    let config = Config {
        max_queries: 60,
        ..Config::default()
    };
    let sim = Sim::start(config, 1, "127.0.0.1", 0).await.expect("sim");
    let urls = urls(100, 1, 0);
    let report = driver(2)
        .run(executor(&sim), &job(8), &urls)
        .await
        .expect("plans");
    assert_eq!(report.records.len(), 100);
    assert_eq!(
        sim.log.entries().iter().filter(|e| e.status == 413).count(),
        1
    );
}

#[tokio::test]
async fn a_batch_refused_again_after_its_split_leaves_each_url_dead() {
    let config = Config {
        max_queries: 20,
        ..Config::default()
    };
    let sim = Sim::start(config, 1, "127.0.0.1", 0).await.expect("sim");
    let urls = urls(100, 1, 0);
    let report = driver(2)
        .run(executor(&sim), &job(8), &urls)
        .await
        .expect("plans");
    report.assert_each_once(&urls);
    assert_eq!(report.dead.len(), 100);
    assert!(
        report
            .dead
            .iter()
            .all(|d| d.reason.contains("queries-limit"))
    );
    assert_eq!(
        sim.log.len(),
        3,
        "the batch and its two halves, nothing more"
    );
}

#[tokio::test]
async fn a_disabled_account_stops_without_hammering() {
    let config = Config {
        disabled_keys: vec![KEY.into()],
        ..Config::default()
    };
    let sim = Sim::start(config, 1, "127.0.0.1", 0).await.expect("sim");
    let urls = urls(300, 3, 0);
    let report = driver(2)
        .run(executor(&sim), &job(8), &urls)
        .await
        .expect("plans");
    let reason = report.account_stopped.expect("the account is stopped");
    assert!(reason.contains("account-disabled"), "{reason}");
    assert!(report.records.is_empty() && report.dead.is_empty());
    assert!(sim.log.len() <= 2, "one request per worker at most");
}

#[tokio::test]
async fn a_wrong_key_never_shows_in_the_stop_reason() {
    let sim = Sim::start(Config::default(), 1, "127.0.0.1", 0)
        .await
        .expect("sim");
    let gate = RateGate::new(None, 2);
    let client =
        VendorClient::with_gate(&sim.base_url(), Duration::from_secs(660), gate).expect("a client");
    let secret = "sk-very-secret-value";
    let exec = Arc::new(AutoextractExecutor::with_client(ApiKeyClient::with_client(
        client,
        Secret::new(secret),
    )));
    let report = driver(1)
        .run(exec, &job(8), &urls(5, 1, 0))
        .await
        .expect("plans");
    let reason = report.account_stopped.expect("the account is stopped");
    assert!(reason.contains("401"), "{reason}");
    assert!(!reason.contains(secret));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_answers_never_lose_a_url() {
    const ATTEMPTS: u32 = 5;
    // Every broken answer is retried with the real backoff of README "Retry rules" (1 s
    // doubling, full jitter), so the run's length is bounded by the attempts allowed,
    // not by luck: with 5 attempts an unlucky URL waits at most 1+2+4+8 s before it
    // dies. (With 12, a URL failing seven times in a row (≈ one run in four at these
    // rates) waited 64 s, then 128 s, and outlived the driver.)
    let faults = Faults {
        retriable_error_rate: 0.05,
        malformed_json_rate: 0.1,
        reset_rate: 0.1,
        empty_body_rate: 0.1,
        slow_rate: 0.1,
        slow_ms: 20,
        ..Faults::default()
    };
    let config = Config {
        faults,
        ..Config::default()
    };
    let sim = Sim::start(config, 3, "127.0.0.1", 0).await.expect("sim");
    let urls = urls(400, 4, 50);
    let report = driver(4)
        .run(executor(&sim), &job(ATTEMPTS), &urls)
        .await
        .expect("plans");
    report.assert_each_once(&urls);
    assert_records_match_their_urls(&sim, &report);
    // Dead only for a reason: the page is missing, or every attempt met a broken answer.
    let gave_up = format!("gave up after {ATTEMPTS} attempts");
    assert!(
        report
            .dead
            .iter()
            .all(|d| d.reason.contains("http404") || d.reason.starts_with(&gave_up)),
        "{:?}",
        report.dead
    );
    let missing = urls.iter().filter(|u| u.contains("/missing/")).count();
    let dead_404 = report.dead.iter().filter(|d| d.reason.contains("http404"));
    assert_eq!(
        dead_404.count(),
        missing,
        "every missing page is dead as 404"
    );
}

fn job_of_type(page_type: PageType) -> JobSpec {
    let mut spec = job(8);
    if let VendorJob::Autoextract(a) = &mut spec.work {
        a.page_type = page_type;
    }
    spec
}

#[tokio::test]
async fn every_documented_page_type_yields_its_records() {
    let sim = Sim::start(Config::default(), 1, "127.0.0.1", 0)
        .await
        .expect("sim");
    for page_type in PageType::ALL {
        let urls = urls(6, 2, 0);
        let report = driver(2)
            .run(executor(&sim), &job_of_type(page_type), &urls)
            .await
            .expect("plans");
        report.assert_each_once(&urls);
        assert_eq!(report.records.len(), 6, "{page_type:?}: {:?}", report.dead);
    }
}

#[tokio::test]
async fn a_redirect_network301_is_dead_after_one_request() {
    let sim = Sim::start(Config::default(), 1, "127.0.0.1", 0)
        .await
        .expect("sim");
    let urls = vec![
        "https://www.shop1.example/redirect/1".to_string(),
        "https://www.shop1.example/item/2".to_string(),
    ];
    let report = driver(1)
        .run(executor(&sim), &job(8), &urls)
        .await
        .expect("plans");
    report.assert_each_once(&urls);
    assert_eq!(report.dead.len(), 1);
    report.assert_first_dead_says("network301");
    assert_eq!(
        sim.log.len(),
        1,
        "the redirect is not asked again (each retry is billed)"
    );
}

#[tokio::test]
async fn a_reached_limit_suspends_the_account_and_kills_nothing() {
    let config = Config {
        faults: Faults {
            limit_reached: true,
            ..Faults::default()
        },
        ..Config::default()
    };
    let sim = Sim::start(config, 1, "127.0.0.1", 0).await.expect("sim");
    let urls = urls(50, 2, 0);
    let report = driver(1)
        .run(executor(&sim), &job(8), &urls)
        .await
        .expect("plans");
    let reason = report.account_stopped.expect("the account is stopped");
    assert!(reason.starts_with("account_suspended: "), "{reason}");
    assert!(report.records.is_empty() && report.dead.is_empty());
    assert_eq!(sim.log.len(), 1, "no hammering");
}
