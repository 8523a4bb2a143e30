//! The Oxylabs Push-Pull simulator through plain HTTP: every endpoint, every documented
//! error and every fault knob.

use std::time::Duration;

use base64::Engine;
use dredge_sim::oxylabs::{Config, Sim, User};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn start(config: Config) -> Sim {
    Sim::start(config, 7, "127.0.0.1", 0)
        .await
        .expect("simulator starts")
}

/// Jobs that finish at once.
fn quick() -> Config {
    Config {
        finish_delay_ms: [0, 0],
        ..Config::default()
    }
}

/// Jobs that stay pending for the whole test.
fn slow_jobs() -> Config {
    Config {
        finish_delay_ms: [600_000, 600_000],
        ..Config::default()
    }
}

async fn post(sim: &Sim, path: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}{path}", sim.base_url()))
        .basic_auth("user", Some("pass"))
        .json(body)
        .send()
        .await
        .expect("request sent")
}

async fn get(sim: &Sim, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}{path}", sim.base_url()))
        .basic_auth("user", Some("pass"))
        .send()
        .await
        .expect("request sent")
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.expect("JSON body")
}

async fn submit(sim: &Sim, body: Value) -> Value {
    let response = post(sim, "/v1/queries", &body).await;
    assert_eq!(
        response.status(),
        StatusCode::ACCEPTED,
        "a submission is 202 (live)"
    );
    json_of(response).await
}

/// Poll the status endpoint until the job is no longer pending (at most 10 s).
async fn finished(sim: &Sim, id: &str) -> Value {
    for _ in 0..200 {
        let job = json_of(get(sim, &format!("/v1/queries/{id}")).await).await;
        if job["status"] != "pending" {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} still pending after 10 s");
}

fn id_of(job: &Value) -> String {
    job["id"].as_str().expect("id is a string").to_string()
}

#[tokio::test]
async fn submitted_job_has_19_digit_string_id_timestamps_and_links() {
    let sim = start(slow_jobs()).await;
    let job = submit(
        &sim,
        json!({"source": "google_search", "query": "adidas", "geo_location": "Berlin"}),
    )
    .await;
    let id = id_of(&job);
    assert_eq!(id.len(), 19);
    assert!(id.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(job["status"], "pending");
    assert_eq!(job["query"], "adidas");
    assert_eq!(
        job["geo_location"], "Berlin",
        "other parameters pass through"
    );
    let created = job["created_at"].as_str().unwrap();
    assert!(
        chrono::NaiveDateTime::parse_from_str(created, "%Y-%m-%d %H:%M:%S").is_ok(),
        "{created}"
    );
    let links = job["_links"].as_array().unwrap();
    let rels: Vec<&str> = links.iter().map(|l| l["rel"].as_str().unwrap()).collect();
    for rel in [
        "self",
        "results",
        "results-html",
        "results-parsed",
        "results-content",
    ] {
        assert!(rels.contains(&rel), "missing {rel} in {rels:?}");
    }
    let content = links
        .iter()
        .find(|l| l["rel"] == "results-content")
        .unwrap();
    assert!(content["href_list"].is_array() && content.get("href").is_none());
    let me = format!("{}/v1/queries/{id}", sim.base_url());
    assert!(
        links
            .iter()
            .any(|l| l["rel"] == "self" && l["href"] == me.as_str())
    );
}

#[tokio::test]
async fn status_of_a_pending_job_is_pending_and_results_answer_204() {
    let sim = start(slow_jobs()).await;
    let id = id_of(
        &submit(
            &sim,
            json!({"source": "universal", "url": "https://a.test/x"}),
        )
        .await,
    );
    let status = json_of(get(&sim, &format!("/v1/queries/{id}")).await).await;
    assert_eq!(status["status"], "pending");
    let early = get(&sim, &format!("/v1/queries/{id}/results")).await;
    assert_eq!(early.status(), StatusCode::NO_CONTENT);
    assert!(early.bytes().await.unwrap().is_empty());
}

// docs/vendors/oxylabs.md §"Result types": each type but raw must be enabled on the
// job (`parse`, `render = "png"`, `markdown`).
#[tokio::test]
async fn done_job_serves_raw_parsed_png_and_markdown_results() {
    let sim = start(quick()).await;
    let id = id_of(
        &submit(
            &sim,
            json!({"source": "universal", "url": "https://shop.test/p/1", "parse": true, "render": "png", "markdown": true}),
        )
        .await,
    );
    let job = finished(&sim, &id).await;
    assert_eq!(job["status"], "done");

    let raw = json_of(get(&sim, &format!("/v1/queries/{id}/results?type=raw")).await).await;
    let result = &raw["results"][0];
    for key in [
        "content",
        "status_code",
        "page",
        "url",
        "job_id",
        "type",
        "created_at",
        "updated_at",
    ] {
        assert!(result.get(key).is_some(), "result lacks {key}: {result}");
    }
    assert_eq!(result["type"], "raw");
    assert_eq!(result["status_code"], 200);
    assert_eq!(result["job_id"], id.as_str());
    assert_eq!(result["url"], "https://shop.test/p/1");
    assert!(
        result["content"]
            .as_str()
            .unwrap()
            .starts_with("<!doctype html>")
    );
    assert_eq!(raw["job"]["status"], "done");

    let parsed = json_of(get(&sim, &format!("/v1/queries/{id}/results?type=parsed")).await).await;
    assert_eq!(parsed["results"][0]["type"], "parsed");
    assert_eq!(parsed["results"][0]["content"]["parse_status_code"], 12000);

    let png = json_of(get(&sim, &format!("/v1/queries/{id}/results?type=png")).await).await;
    let encoded = png["results"][0]["content"].as_str().unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));

    let markdown =
        json_of(get(&sim, &format!("/v1/queries/{id}/results?type=markdown")).await).await;
    assert_eq!(markdown["results"][0]["type"], "markdown");
    let text = markdown["results"][0]["content"].as_str().unwrap();
    assert!(text.starts_with("# https://shop.test/p/1\n\n- ["), "{text}");

    let bad = get(&sim, &format!("/v1/queries/{id}/results?type=pdf")).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

// docs/vendors/oxylabs.md §"Result types": a type the job did not enable comes back
// as an entry with empty content.
#[tokio::test]
async fn a_result_type_the_job_did_not_enable_comes_back_empty() {
    let sim = start(quick()).await;
    let id = id_of(
        &submit(
            &sim,
            json!({"source": "universal", "url": "https://shop.test/p/2"}),
        )
        .await,
    );
    finished(&sim, &id).await;
    for kind in ["parsed", "png", "markdown"] {
        let doc = json_of(get(&sim, &format!("/v1/queries/{id}/results?type={kind}")).await).await;
        assert_eq!(doc["results"][0]["type"], kind);
        assert_eq!(doc["results"][0]["content"], "", "{kind}: {doc}");
    }
    let raw = json_of(get(&sim, &format!("/v1/queries/{id}/results?type=raw")).await).await;
    assert_ne!(raw["results"][0]["content"], "");
}

#[tokio::test]
async fn parse_true_makes_parsed_the_default_result_type() {
    let sim = start(quick()).await;
    let id = id_of(
        &submit(
            &sim,
            json!({"source": "amazon_search", "query": "kettle", "parse": true}),
        )
        .await,
    );
    finished(&sim, &id).await;
    let results = json_of(get(&sim, &format!("/v1/queries/{id}/results")).await).await;
    assert_eq!(results["results"][0]["type"], "parsed");
    assert!(results["results"][0]["content"]["results"]["organic"].is_array());
}

#[tokio::test]
async fn results_content_link_serves_the_page_itself() {
    let sim = start(quick()).await;
    let job = submit(
        &sim,
        json!({"source": "universal", "url": "https://shop.test/p/2"}),
    )
    .await;
    finished(&sim, &id_of(&job)).await;
    let link = job["_links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "results-content")
        .unwrap()["href_list"][0]
        .as_str()
        .unwrap()
        .to_string();
    let response = reqwest::Client::new()
        .get(link)
        .basic_auth("user", Some("pass"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .starts_with("<!doctype html>")
    );
}

#[tokio::test]
async fn batch_of_queries_creates_one_job_per_query() {
    let sim = start(slow_jobs()).await;
    let body = json!({"source": "google_search", "domain": "de", "query": ["adidas", "nike", "reebok"],
                      "callback_url": "http://127.0.0.1:9/cb"});
    let answer = json_of(post(&sim, "/v1/queries/batch", &body).await).await;
    let jobs = answer["queries"].as_array().unwrap();
    let queries: Vec<&str> = jobs.iter().map(|j| j["query"].as_str().unwrap()).collect();
    assert_eq!(queries, ["adidas", "nike", "reebok"]);
    let mut ids: Vec<String> = jobs.iter().map(id_of).collect();
    ids.dedup();
    assert_eq!(ids.len(), 3);
    assert!(
        jobs.iter()
            .all(|j| j["domain"] == "de" && j["callback_url"] == "http://127.0.0.1:9/cb")
    );
    assert_eq!(sim.jobs().len(), 3);
    assert_eq!(sim.jobs()[0].domain, "google.de");
}

#[tokio::test]
async fn batch_of_urls_creates_one_job_per_url() {
    let sim = start(slow_jobs()).await;
    let body = json!({"source": "universal", "url": ["https://a.test/1", "https://b.test/2"]});
    let answer = json_of(post(&sim, "/v1/queries/batch", &body).await).await;
    let urls: Vec<&str> = answer["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["url"].as_str().unwrap())
        .collect();
    assert_eq!(urls, ["https://a.test/1", "https://b.test/2"]);
}

async fn message_of(response: reqwest::Response) -> String {
    json_of(response).await["message"]
        .as_str()
        .expect("message")
        .to_string()
}

#[tokio::test]
async fn batch_with_both_query_and_url_lists_is_refused() {
    let sim = start(slow_jobs()).await;
    let body = json!({"source": "universal", "query": ["a"], "url": ["https://a.test/"]});
    let response = post(&sim, "/v1/queries/batch", &body).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(message_of(response).await.contains("not both"));
    assert!(sim.jobs().is_empty());
}

#[tokio::test]
async fn batch_above_5000_values_is_refused() {
    let sim = start(slow_jobs()).await;
    let queries: Vec<String> = (0..5001).map(|i| format!("q{i}")).collect();
    let response = post(
        &sim,
        "/v1/queries/batch",
        &json!({"source": "google_search", "query": queries}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(message_of(response).await.contains("5000"));
    let queries: Vec<String> = (0..5000).map(|i| format!("q{i}")).collect();
    let response = post(
        &sim,
        "/v1/queries/batch",
        &json!({"source": "google_search", "query": queries}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn batch_with_a_list_in_another_parameter_is_refused() {
    let sim = start(slow_jobs()).await;
    let body =
        json!({"source": "google_search", "query": ["a"], "geo_location": ["Berlin", "Paris"]});
    let response = post(&sim, "/v1/queries/batch", &body).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(message_of(response).await.contains("geo_location"));
}

#[tokio::test]
async fn submission_without_query_or_url_is_a_bad_request() {
    let sim = start(slow_jobs()).await;
    let response = post(&sim, "/v1/queries", &json!({"source": "universal"})).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(!message_of(response).await.is_empty());
}

#[tokio::test]
// docs/vendors/oxylabs.md §"Answers by endpoint": malformed JSON answers 400 "Json error: Unexpected
// value." (the docs say 422).
async fn invalid_json_is_400_as_live() {
    let sim = start(slow_jobs()).await;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/queries", sim.base_url()))
        .basic_auth("user", Some("pass"))
        .header("content-type", "application/json")
        .body("{\"source\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(message_of(response).await, "Json error: Unexpected value.");
}

#[tokio::test]
async fn denied_source_is_403() {
    let sim = start(Config {
        denied_sources: vec!["amazon_search".into()],
        ..slow_jobs()
    })
    .await;
    let response = post(
        &sim,
        "/v1/queries",
        &json!({"source": "amazon_search", "query": "x"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(message_of(response).await.contains("amazon_search"));
}

#[tokio::test]
async fn wrong_credentials_get_the_three_real_401_bodies() {
    let sim = start(Config {
        users: vec![User {
            username: "alice".into(),
            password: "s3cret".into(),
        }],
        ..slow_jobs()
    })
    .await;
    let url = format!("{}/v1/info/callbacker_ips", sim.base_url());
    let client = reqwest::Client::new();
    let none = client.get(&url).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(message_of(none).await, "Authorization header not provided");
    let garbled = client
        .get(&url)
        .header("authorization", "Basic !!!")
        .send()
        .await
        .unwrap();
    assert_eq!(garbled.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(message_of(garbled).await, "Invalid authorization header");
    let wrong = client
        .get(&url)
        .basic_auth("alice", Some("nope"))
        .send()
        .await
        .unwrap();
    // docs/vendors/oxylabs.md §"Answers by endpoint": wrong credentials answer 401 with an empty body.
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get("content-type").is_none());
    assert_eq!(wrong.text().await.unwrap(), "");
    let right = client
        .get(&url)
        .basic_auth("alice", Some("s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_job_is_404() {
    let sim = start(quick()).await;
    for path in [
        "/v1/queries/1234567890123456789",
        "/v1/queries/1234567890123456789/results",
    ] {
        let response = get(&sim, path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(!message_of(response).await.is_empty());
    }
}

// docs/vendors/oxylabs.md §"Answers by endpoint": results after expiry answer 204 with
// `x-oxylabs-job-status: done`; the status stays readable.
#[tokio::test]
async fn expired_results_answer_204_done_and_the_status_stays() {
    let sim = start(quick()).await;
    let id = id_of(
        &submit(
            &sim,
            json!({"source": "universal", "url": "https://a.test/"}),
        )
        .await,
    );
    finished(&sim, &id).await;
    assert!(sim.expire_job(&id));
    let results = get(&sim, &format!("/v1/queries/{id}/results")).await;
    assert_eq!(results.status(), StatusCode::NO_CONTENT);
    assert_eq!(results.headers()["x-oxylabs-job-status"], "done");
    let status = get(&sim, &format!("/v1/queries/{id}")).await;
    assert_eq!(status.status(), StatusCode::OK);
    assert_eq!(json_of(status).await["status"], "done");
}

#[tokio::test]
async fn results_expire_after_the_configured_ttl() {
    let sim = start(Config {
        results_ttl_secs: 0,
        ..quick()
    })
    .await;
    let id = id_of(
        &submit(
            &sim,
            json!({"source": "universal", "url": "https://a.test/"}),
        )
        .await,
    );
    let mut status = StatusCode::OK;
    for _ in 0..100 {
        status = get(&sim, &format!("/v1/queries/{id}/results"))
            .await
            .status();
        if status == StatusCode::NO_CONTENT {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn callbacker_ips_lists_the_configured_addresses() {
    let sim = start(quick()).await;
    assert_eq!(
        json_of(get(&sim, "/v1/info/callbacker_ips").await).await,
        json!({"ips": ["127.0.0.1"]})
    );
    sim.update_config(|c| c.callbacker_ips = vec!["10.0.0.1".into(), "10.0.0.2".into()]);
    let ips = json_of(get(&sim, "/v1/info/callbacker_ips").await).await;
    assert_eq!(ips, json!({"ips": ["10.0.0.1", "10.0.0.2"]}));
}

#[tokio::test]
async fn limited_domain_gets_429_naming_it_while_others_pass() {
    let sim = start(Config {
        limited_domains: vec!["slow.test".into()],
        domain_jobs_per_window: 1,
        rate_window_ms: 3_600_000,
        ..slow_jobs()
    })
    .await;
    let job = |url: &str| json!({"source": "universal", "url": url});
    assert_eq!(
        post(&sim, "/v1/queries", &job("https://slow.test/1"))
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    let limited = post(&sim, "/v1/queries", &job("https://slow.test/2")).await;
    // docs/vendors/oxylabs.md §"429 bodies": the live per-domain text, the domain after "Access to".
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().get("retry-after").is_none());
    assert!(
        message_of(limited).await.starts_with(
            "Access to slow.test has been limited to 1 req/s due to a low success rate."
        )
    );
    assert_eq!(
        post(&sim, "/v1/queries", &job("https://fast.test/1"))
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    let outcomes: Vec<String> = sim
        .log
        .entries()
        .iter()
        .map(|e| e.outcome.clone())
        .collect();
    assert_eq!(outcomes, ["ok", "rate_limited", "ok"]);
    assert_eq!(sim.log.entries()[1].domains, ["slow.test"]);
}

#[tokio::test]
async fn account_limit_answers_429_with_ratelimit_headers() {
    let sim = start(Config {
        jobs_per_window: Some(2),
        rate_window_ms: 3_600_000,
        ..slow_jobs()
    })
    .await;
    let body = json!({"source": "google_search", "query": ["a", "b"]});
    let accepted = post(&sim, "/v1/queries/batch", &body).await;
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    assert_eq!(accepted.headers()["x-ratelimit-jobs-limit"], "2");
    assert_eq!(accepted.headers()["x-ratelimit-jobs-remaining"], "0");
    let refused = post(
        &sim,
        "/v1/queries",
        &json!({"source": "google_search", "query": "c"}),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["x-ratelimit-jobs-remaining"], "0");
    assert_eq!(sim.jobs().len(), 2);
}

#[tokio::test]
async fn server_errors_fire_at_the_configured_rate() {
    let sim = start(Config {
        server_error_rate: 1.0,
        ..quick()
    })
    .await;
    for _ in 0..4 {
        let status = get(&sim, "/v1/info/callbacker_ips").await.status().as_u16();
        assert!(status == 500 || status == 524, "{status}");
    }
    assert!(
        sim.log
            .entries()
            .iter()
            .all(|e| e.outcome.starts_with("fault:"))
    );
    sim.update_config(|c| c.server_error_rate = 0.0);
    assert_eq!(
        get(&sim, "/v1/info/callbacker_ips").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn slow_answers_outlast_a_short_client_timeout() {
    let sim = start(Config {
        slow_rate: 1.0,
        slow_ms: 5_000,
        ..quick()
    })
    .await;
    let outcome = reqwest::Client::new()
        .get(format!("{}/v1/info/callbacker_ips", sim.base_url()))
        .basic_auth("user", Some("pass"))
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(outcome.is_err_and(|e| e.is_timeout()));
}

#[tokio::test]
async fn faulted_job_returns_612_or_613_and_succeeds_when_resubmitted() {
    let sim = start(Config {
        faulted_share: 1.0,
        ..quick()
    })
    .await;
    let body = json!({"source": "google_search", "query": "adidas"});
    let first = id_of(&submit(&sim, body.clone()).await);
    assert_eq!(finished(&sim, &first).await["status"], "faulted");
    let results = json_of(get(&sim, &format!("/v1/queries/{first}/results")).await).await;
    let code = results["results"][0]["status_code"].as_u64().unwrap();
    assert!(code == 612 || code == 613, "{code}");
    assert_eq!(results["job"]["status"], "faulted");

    let again = id_of(&submit(&sim, body).await);
    assert_eq!(finished(&sim, &again).await["status"], "done");
    assert_eq!(Sim::count(&sim.counters().jobs_faulted), 1);
}

#[tokio::test]
async fn parse_failures_carry_parse_status_code_12002() {
    let sim = start(Config {
        parse_failure_share: 1.0,
        ..quick()
    })
    .await;
    let id = id_of(
        &submit(
            &sim,
            json!({"source": "universal", "url": "https://a.test/", "parse": true}),
        )
        .await,
    );
    finished(&sim, &id).await;
    let results = json_of(get(&sim, &format!("/v1/queries/{id}/results")).await).await;
    assert_eq!(results["results"][0]["status_code"], 200);
    assert_eq!(results["results"][0]["content"]["parse_status_code"], 12002);
}

#[tokio::test]
async fn request_log_records_account_domains_and_outcome() {
    let sim = start(slow_jobs()).await;
    submit(
        &sim,
        json!({"source": "universal", "url": "https://Shop.Test:8443/a?b=c"}),
    )
    .await;
    let entry = &sim.log.entries()[0];
    assert_eq!(entry.method, "POST");
    assert_eq!(entry.path, "/v1/queries");
    assert_eq!(entry.account.as_deref(), Some("user"));
    assert_eq!(entry.domains, ["shop.test"]);
    assert_eq!((entry.status, entry.outcome.as_str()), (202, "ok"));
}

mod callbacks {
    use super::*;
    use axum::Json;
    use axum::extract::State;
    use axum::routing::post;
    use tokio::sync::mpsc;

    /// Wait (at most 10 s) until `counter` reaches `value`.
    async fn counter_reaches(counter: &std::sync::atomic::AtomicU64, value: u64) {
        for _ in 0..200 {
            if Sim::count(counter) >= value {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(Sim::count(counter), value);
    }

    /// A callback receiver on 127.0.0.1; returns its URL and the bodies it gets.
    async fn receiver() -> (String, mpsc::UnboundedReceiver<Value>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let app =
            axum::Router::new()
                .route(
                    "/job_listener",
                    post(
                        |State(tx): State<mpsc::UnboundedSender<Value>>,
                         Json(body): Json<Value>| async move {
                            let _ = tx.send(body);
                            Json(json!({"status": "ok"}))
                        },
                    ),
                )
                .with_state(tx);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/job_listener", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (url, rx)
    }

    #[tokio::test]
    async fn finished_job_posts_its_job_json_to_callback_url_once() {
        let (url, mut received) = receiver().await;
        let sim = start(quick()).await;
        let id = id_of(
            &submit(
                &sim,
                json!({"source": "universal", "url": "https://a.test/", "callback_url": url}),
            )
            .await,
        );
        let body = tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .expect("callback within 10 s")
            .expect("receiver open");
        assert_eq!(body["id"], id.as_str());
        assert_eq!(body["status"], "done");
        assert!(
            body["_links"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["rel"] == "results")
        );
        counter_reaches(&sim.counters().callbacks_sent, 1).await;
        assert!(received.try_recv().is_err(), "one callback per job");
    }

    #[tokio::test]
    async fn lost_callbacks_are_never_sent() {
        let (url, mut received) = receiver().await;
        let sim = start(Config {
            lost_callback_share: 1.0,
            ..quick()
        })
        .await;
        submit(
            &sim,
            json!({"source": "universal", "url": "https://a.test/", "callback_url": url}),
        )
        .await;
        counter_reaches(&sim.counters().callbacks_lost, 1).await;
        assert_eq!(Sim::count(&sim.counters().callbacks_sent), 0);
        assert!(received.try_recv().is_err());
    }
}

#[tokio::test]
async fn scenario_toml_configures_oxylabs_and_wds() {
    let text = r#"
        seed = 3
        [oxylabs]
        finish_delay_ms = [0, 0]
        faulted_share = 0.25
        limited_domains = ["slow.test"]
        [[oxylabs.users]]
        username = "bob"
        password = "pw"
        [wds]
        pages = 40
        accepted_polls = [1, 3]
        robots_denied = [5]
    "#;
    let scenario = dredge_sim::Scenario::from_toml(text).expect("scenario parses");
    let oxylabs = scenario.oxylabs.clone().unwrap();
    assert_eq!(
        oxylabs.users,
        [User {
            username: "bob".into(),
            password: "pw".into()
        }]
    );
    assert_eq!(oxylabs.faulted_share, 0.25);
    assert_eq!(scenario.wds.as_ref().unwrap().accepted_polls, [1, 3]);
    assert!(dredge_sim::Scenario::from_toml("[oxylabs]\nno_such_knob = 1\n").is_err());

    let sims = dredge_sim::start(&scenario, "127.0.0.1", None)
        .await
        .expect("started");
    let oxylabs = sims.oxylabs.as_ref().unwrap();
    let ips = reqwest::Client::new()
        .get(format!("{}/v1/info/callbacker_ips", oxylabs.base_url()))
        .basic_auth("bob", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(ips.status(), StatusCode::OK);
    assert_eq!(sims.wds.as_ref().unwrap().site().len(), 40);
}

// docs/vendors/oxylabs.md §"429 bodies": the live account-wide 429 text, no Retry-After.
#[tokio::test]
async fn the_account_limit_answers_the_live_total_dynamic_text() {
    let sim = start(Config {
        jobs_per_window: Some(1),
        rate_window_ms: 3_600_000,
        ..slow_jobs()
    })
    .await;
    let job = |url: &str| json!({"source": "universal", "url": url});
    assert_eq!(
        post(&sim, "/v1/queries", &job("https://a.test/1"))
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    let limited = post(&sim, "/v1/queries", &job("https://a.test/2")).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().get("retry-after").is_none());
    assert_eq!(
        message_of(limited).await,
        "Too many requests. (Total Dynamic)."
    );
}

// docs/vendors/oxylabs.md §"Answers by endpoint": a batch with some invalid values answers 202; the valid
// ones become jobs, the rest are listed under `errors` with the vendor's message.
#[tokio::test]
async fn a_batch_with_invalid_values_answers_202_with_errors() {
    let sim = start(slow_jobs()).await;
    let body = json!({"source": "universal", "url": ["https://a.test/1", "not a url"]});
    let response = post(&sim, "/v1/queries/batch", &body).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let answer = json_of(response).await;
    assert_eq!(answer["queries"].as_array().unwrap().len(), 1);
    assert_eq!(
        answer["errors"],
        json!([{"message": "Parameter `url` is invalid.", "url": "not a url"}])
    );
}

// docs/vendors/oxylabs.md §"Result types": a `pages: N` job has one `results[]` entry per page, numbered
// from `start_page`.
#[tokio::test]
async fn a_job_with_several_pages_serves_every_page() {
    let sim = start(quick()).await;
    let id = id_of(
        &submit(
            &sim,
            json!({"source": "google_search", "query": "shoes", "parse": true, "pages": 3, "start_page": 2}),
        )
        .await,
    );
    finished(&sim, &id).await;
    let results = json_of(get(&sim, &format!("/v1/queries/{id}/results")).await).await;
    let pages: Vec<u64> = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["page"].as_u64().unwrap())
        .collect();
    assert_eq!(pages, [2, 3, 4]);
}
