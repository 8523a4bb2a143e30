//! The AutoExtract simulator through plain HTTP: the endpoint, every documented error
//! case, and each fault kind firing as configured.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use dredge_sim::autoextract::{Config, Faults, RateLimitKind, Sim, TypeSuffix};
use serde_json::{Value, json};

const KEY: &str = "test-key";

async fn start(config: Config) -> Sim {
    Sim::start(config, 42, "127.0.0.1", 0)
        .await
        .expect("simulator starts")
}

fn with_faults(faults: Faults) -> Config {
    Config {
        faults,
        ..Config::default()
    }
}

fn endpoint(sim: &Sim) -> String {
    format!("{}/v1/extract", sim.base_url())
}

async fn post(sim: &Sim, queries: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(endpoint(sim))
        .basic_auth(KEY, Some(""))
        .json(queries)
        .send()
        .await
        .expect("request sent")
}

/// Status, content type and JSON body of an answer.
async fn answer(response: reqwest::Response) -> (u16, String, Value) {
    let status = response.status().as_u16();
    let content_type = header(&response, "content-type");
    let body = response.json().await.expect("JSON body");
    (status, content_type, body)
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The problem `type` with the prefix and any `.html` removed.
fn problem_name(body: &Value) -> String {
    let kind = body["type"].as_str().expect("problem type");
    let name = kind
        .strip_prefix("http://errors.xod.scrapinghub.com/")
        .expect("problem type prefix");
    name.trim_end_matches(".html").to_string()
}

fn query(url: &str, page_type: &str, meta: &str) -> Value {
    json!({"url": url, "pageType": page_type, "meta": meta})
}

/// Results keyed by `query.userQuery.meta`.
fn by_meta(results: &Value) -> HashMap<String, Value> {
    let list = results.as_array().expect("array of results");
    list.iter()
        .map(|r| {
            let meta = r["query"]["userQuery"]["meta"].as_str().expect("meta");
            (meta.to_string(), r.clone())
        })
        .collect()
}

async fn single_error(sim: &Sim, url: &str) -> String {
    let (status, _, body) = answer(post(sim, &json!([query(url, "product", "0")])).await).await;
    assert_eq!(status, 200);
    body[0]["error"].as_str().expect("query error").to_string()
}

#[tokio::test]
async fn extracts_products_and_articles_matched_by_meta() {
    let sim = start(Config::default()).await;
    let product_url = "https://shop.example.com/p/1";
    let article_url = "https://blog.scrapinghub.com/gopro-study";
    let queries = json!([
        query(product_url, "product", "a"),
        query(article_url, "article", "b"),
    ]);
    let (status, content_type, body) = answer(post(&sim, &queries).await).await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("application/json"));
    let results = by_meta(&body);
    let product = &results["a"];
    assert_eq!(product["product"], sim.product_for(product_url));
    assert_eq!(product["query"]["domain"], "example.com");
    assert_eq!(product["query"]["userQuery"]["url"], product_url);
    assert_eq!(product["query"]["userQuery"]["pageType"], "product");
    let id = product["query"]["id"].as_str().expect("query id");
    let (millis, hex) = id.split_once('-').expect("id is <millis>-<hex>");
    assert!(millis.parse::<u64>().is_ok() && hex.len() == 16);
    let article = &results["b"];
    assert_eq!(article["article"], sim.article_for(article_url));
    assert_eq!(article["query"]["domain"], "scrapinghub.com");
    assert!(article["article"]["articleBodyRaw"].is_string());
}

#[tokio::test]
async fn same_url_gives_same_record_in_later_requests() {
    let sim = start(Config::default()).await;
    let q = json!([query("https://shop.example.com/p/9", "product", "x")]);
    let (_, _, first) = answer(post(&sim, &q).await).await;
    let (_, _, second) = answer(post(&sim, &q).await).await;
    assert_eq!(first[0]["product"], second[0]["product"]);
    assert!(first[0]["product"]["name"].is_string());
    assert!(first[0]["product"]["offers"][0]["price"].is_string());
}

#[tokio::test]
async fn article_body_raw_false_leaves_the_html_out() {
    let sim = start(Config::default()).await;
    let q = json!([{"url": "https://blog.example.org/a", "pageType": "article",
                    "articleBodyRaw": false}]);
    let (_, _, body) = answer(post(&sim, &q).await).await;
    assert!(body[0]["article"]["articleBody"].is_string());
    assert!(body[0]["article"].get("articleBodyRaw").is_none());
}

#[tokio::test]
async fn results_come_back_shuffled() {
    let sim = start(Config::default()).await;
    let queries: Vec<Value> = (0..30)
        .map(|i| {
            query(
                &format!("https://shop.example.com/p/{i}"),
                "product",
                &i.to_string(),
            )
        })
        .collect();
    let (_, _, body) = answer(post(&sim, &Value::Array(queries)).await).await;
    let order: Vec<String> = body
        .as_array()
        .expect("array")
        .iter()
        .map(|r| {
            r["query"]["userQuery"]["meta"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    let sent: Vec<String> = (0..30).map(|i| i.to_string()).collect();
    assert_eq!(order.len(), 30);
    assert_ne!(
        order, sent,
        "results must not simply follow the request order"
    );
}

#[tokio::test]
async fn echoed_user_query_carries_extra_fields() {
    let sim = start(Config::default()).await;
    let (_, _, body) = answer(
        post(
            &sim,
            &json!([query("https://a.example.com/", "product", "m")]),
        )
        .await,
    )
    .await;
    assert_eq!(body[0]["query"]["userQuery"]["userAgent"], "desktop");
}

#[tokio::test]
async fn wrong_or_missing_key_gets_401_problem() {
    let sim = start(Config::default()).await;
    let client = reqwest::Client::new();
    let wrong = client
        .post(endpoint(&sim))
        .basic_auth("not-a-key", Some(""))
        .json(&json!([query("https://a.example.com/", "product", "0")]))
        .send()
        .await
        .expect("sent");
    let (status, content_type, body) = answer(wrong).await;
    assert_eq!(status, 401);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(problem_name(&body), "unauthorized");
    assert_eq!(body["status"], 401);
    let missing = client
        .post(endpoint(&sim))
        .json(&json!([]))
        .send()
        .await
        .expect("sent");
    assert_eq!(missing.status().as_u16(), 401);
}

#[tokio::test]
async fn more_than_100_queries_get_413_queries_limit_reached() {
    let sim = start(Config::default()).await;
    let queries = vec![query("http://www.example.com", "product", "0"); 101];
    let (status, content_type, body) = answer(post(&sim, &Value::Array(queries)).await).await;
    assert_eq!(status, 413);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["title"], "Limit of 100 queries per request exceeded");
    assert_eq!(problem_name(&body), "queries-limit-reached");
    let hundred = vec![query("http://www.example.com", "product", "0"); 100];
    assert_eq!(
        post(&sim, &Value::Array(hundred)).await.status().as_u16(),
        200
    );
}

#[tokio::test]
async fn body_over_128_kb_gets_413() {
    let sim = start(Config::default()).await;
    let meta = "m".repeat(4000);
    let queries = vec![query("http://www.example.com", "product", &meta); 40];
    let (status, content_type, _) = answer(post(&sim, &Value::Array(queries)).await).await;
    assert_eq!(status, 413);
    assert_eq!(content_type, "application/problem+json");
}

/// Send `body` raw with `content_type` and return status and problem name.
async fn raw(
    sim: &Sim,
    method: reqwest::Method,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", sim.base_url()))
        .basic_auth(KEY, Some(""))
        .body(body.to_string());
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    let response = request.send().await.expect("sent");
    let (status, content_type, body) = answer(response).await;
    assert_eq!(content_type, "application/problem+json");
    (status, problem_name(&body))
}

#[tokio::test]
async fn request_level_errors_get_their_problem_types() {
    let sim = start(Config::default()).await;
    let json_ct = Some("application/json");
    let post = reqwest::Method::POST;
    let cases = [
        (
            raw(&sim, post.clone(), "/v1/extract", json_ct, "[{").await,
            (400, "malformed-json"),
        ),
        (
            raw(&sim, post.clone(), "/v1/extract", json_ct, "[]").await,
            (400, "empty-request"),
        ),
        (
            raw(&sim, post.clone(), "/v1/extract", json_ct, "").await,
            (400, "empty-request"),
        ),
        (
            raw(&sim, post.clone(), "/v1/extract", json_ct, "{\"url\":1}").await,
            (400, "malformed-request"),
        ),
        (
            raw(
                &sim,
                post.clone(),
                "/v1/extract",
                json_ct,
                "[{\"url\":\"http://a.b/\",\"pageType\":\"video\"}]",
            )
            .await,
            (400, "malformed-request"),
        ),
        (
            raw(&sim, post.clone(), "/v1/extract", Some("text/plain"), "[]").await,
            (415, "unrecognized-content-type"),
        ),
        (
            raw(&sim, post.clone(), "/v1/extract", None, "[]").await,
            (415, "unrecognized-content-type"),
        ),
        (
            raw(&sim, reqwest::Method::GET, "/v1/extract", None, "").await,
            (405, "method-not-allowed"),
        ),
        (
            raw(&sim, post.clone(), "/v2/extract", json_ct, "[]").await,
            (404, "unknown-uri"),
        ),
    ];
    for ((status, name), (want_status, want_name)) in cases {
        assert_eq!((status, name.as_str()), (want_status, want_name));
    }
}

#[tokio::test]
async fn problem_type_alternates_between_html_and_bare_forms() {
    let sim = start(Config::default()).await;
    let mut kinds = Vec::new();
    for _ in 0..2 {
        let (_, _, body) = answer(post(&sim, &json!([])).await).await;
        kinds.push(body["type"].as_str().unwrap_or_default().to_string());
    }
    assert!(kinds.iter().any(|k| k.ends_with("/empty-request.html")));
    assert!(kinds.iter().any(|k| k.ends_with("/empty-request")));
    let bare = start(Config {
        type_suffix: TypeSuffix::Bare,
        ..Config::default()
    })
    .await;
    let (_, _, body) = answer(post(&bare, &json!([])).await).await;
    assert_eq!(
        body["type"],
        "http://errors.xod.scrapinghub.com/empty-request"
    );
}

#[tokio::test]
async fn urls_get_query_level_errors_by_rule() {
    let config = Config {
        forbidden_domains: vec!["forbidden.com".into()],
        nxdomain_domains: vec!["nowhere.net".into()],
        ..Config::default()
    };
    let sim = start(config).await;
    assert_eq!(single_error(&sim, "not a url").await, "malformed url");
    assert_eq!(
        single_error(&sim, "ftp://files.example.com/a").await,
        "non-HTTP schemas are not allowed"
    );
    assert_eq!(
        single_error(&sim, "https://shop.example.com/missing/1").await,
        "Downloader error: http404"
    );
    assert_eq!(
        single_error(&sim, "https://www.forbidden.com/").await,
        "Proxy error: domain_forbidden"
    );
    assert_eq!(
        single_error(&sim, "http://a.nowhere.net/x").await,
        "Proxy error: nxdomain"
    );
    let long = format!("https://a.example.com/{}", "x".repeat(2100));
    assert_eq!(
        single_error(&sim, &long).await,
        "URL cannot be longer than 2048 characters"
    );
}

#[tokio::test]
async fn occupied_domain_is_answered_occupied_until_its_time_passes() {
    let faults = Faults {
        occupied_rate: 1.0,
        occupied_seconds: 3.5,
        ..Faults::default()
    };
    let sim = start(with_faults(faults)).await;
    let q = json!([query("https://shop.busy.com/p/1", "product", "0")]);
    let (_, _, body) = answer(post(&sim, &q).await).await;
    assert_eq!(
        body[0]["error"],
        "Domain busy.com is occupied, please retry in 3.5 seconds"
    );
    // The fault is off now, but the domain stays occupied for its announced time.
    sim.set_faults(Faults::default());
    let (_, _, again) = answer(post(&sim, &q).await).await;
    let error = again[0]["error"].as_str().expect("still occupied");
    assert!(
        error.starts_with("Domain busy.com is occupied, please retry in "),
        "{error}"
    );
    let window = sim.occupied_windows()[0].clone();
    assert_eq!(window.domain, "busy.com");
    assert_eq!(
        sim.requests_during_occupation().len(),
        1,
        "the second request was inside the window"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while SystemTime::now() <= window.until && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, _, after) = answer(post(&sim, &q).await).await;
    assert!(
        after[0]["product"].is_object(),
        "free again after the window: {after}"
    );
}

#[tokio::test]
async fn other_domains_are_not_occupied_with_one() {
    let faults = Faults {
        occupied_rate: 1.0,
        occupied_seconds: 30.0,
        ..Faults::default()
    };
    let sim = start(with_faults(faults)).await;
    post(&sim, &json!([query("https://busy.com/", "product", "0")])).await;
    sim.set_faults(Faults::default());
    let (_, _, body) =
        answer(post(&sim, &json!([query("https://calm.org/", "product", "0")])).await).await;
    assert!(body[0]["product"].is_object());
    let entries = sim.log.entries();
    assert_eq!(entries[0].domains, vec!["busy.com".to_string()]);
    assert_eq!(entries[0].outcome, "domain_occupied:1");
    assert_eq!(entries[1].outcome, "ok");
    assert_eq!(entries[1].account.as_deref(), Some(KEY));
}

#[tokio::test]
async fn timeout_fault_answers_query_timed_out() {
    let sim = start(with_faults(Faults {
        timeout_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    assert_eq!(
        single_error(&sim, "https://a.example.com/").await,
        "query timed out"
    );
}

#[tokio::test]
async fn retriable_error_fault_answers_downloader_or_proxy_errors() {
    let sim = start(with_faults(Faults {
        retriable_error_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let error = single_error(&sim, "https://a.example.com/").await;
    assert!(
        error.starts_with("Downloader error: ") || error.starts_with("Proxy error: "),
        "{error}"
    );
    assert_ne!(error, "Downloader error: http404");
}

#[tokio::test]
async fn next_k_requests_answer_429_with_retry_after() {
    let faults = Faults {
        rate_limit_next: 2,
        retry_after_secs: 7,
        ..Faults::default()
    };
    let sim = start(with_faults(faults)).await;
    let q = json!([query("https://a.example.com/", "product", "0")]);
    for _ in 0..2 {
        let response = post(&sim, &q).await;
        assert_eq!(header(&response, "retry-after"), "7");
        let (status, content_type, body) = answer(response).await;
        assert_eq!(
            (status, content_type.as_str()),
            (429, "application/problem+json")
        );
        assert_eq!(problem_name(&body), "user-rate-limit-exceeded");
    }
    assert_eq!(post(&sim, &q).await.status().as_u16(), 200);
    sim.rate_limit_next(1);
    assert_eq!(post(&sim, &q).await.status().as_u16(), 429);
}

#[tokio::test]
async fn system_rate_limit_fault_uses_its_own_type() {
    let faults = Faults {
        rate_limit_rate: 1.0,
        rate_limit_kind: RateLimitKind::System,
        ..Faults::default()
    };
    let sim = start(with_faults(faults)).await;
    let (status, _, body) =
        answer(post(&sim, &json!([query("https://a.b.com/", "product", "0")])).await).await;
    assert_eq!(status, 429);
    assert_eq!(problem_name(&body), "rate-limit-exceeded");
}

#[tokio::test]
async fn server_error_fault_answers_500_problem() {
    let sim = start(with_faults(Faults {
        server_error_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let (status, content_type, body) =
        answer(post(&sim, &json!([query("https://a.b.com/", "product", "0")])).await).await;
    assert_eq!(
        (status, content_type.as_str()),
        (500, "application/problem+json")
    );
    assert_eq!(body["status"], 500);
}

#[tokio::test]
async fn temporary_error_fault_answers_520_with_retry_after_60() {
    let sim = start(with_faults(Faults {
        temporary_error_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let response = post(&sim, &json!([query("https://a.b.com/", "product", "0")])).await;
    assert_eq!(header(&response, "retry-after"), "60");
    let (status, _, body) = answer(response).await;
    assert_eq!(status, 520);
    assert_eq!(body["type"], "/download/temporary-error");
}

#[tokio::test]
async fn empty_body_fault_has_no_content_type() {
    let sim = start(with_faults(Faults {
        empty_body_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let response = post(&sim, &json!([query("https://a.b.com/", "product", "0")])).await;
    assert!(response.status().is_server_error());
    assert!(response.headers().get("content-type").is_none());
    assert!(response.bytes().await.expect("body").is_empty());
}

#[tokio::test]
async fn reset_fault_cuts_the_body_short() {
    let sim = start(with_faults(Faults {
        reset_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let response = post(&sim, &json!([query("https://a.b.com/", "product", "0")])).await;
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.bytes().await.is_err(),
        "body must not arrive whole"
    );
    assert_eq!(sim.log.entries()[0].outcome, "fault:reset");
}

#[tokio::test]
async fn malformed_json_fault_sends_unparseable_body() {
    let sim = start(with_faults(Faults {
        malformed_json_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let response = post(&sim, &json!([query("https://a.b.com/", "product", "0")])).await;
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.expect("body");
    assert!(serde_json::from_str::<Value>(&text).is_err());
}

#[tokio::test]
async fn slow_fault_delays_the_answer() {
    let sim = start(with_faults(Faults {
        slow_rate: 1.0,
        slow_ms: 3_000,
        ..Faults::default()
    }))
    .await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let result = impatient
        .post(endpoint(&sim))
        .basic_auth(KEY, Some(""))
        .json(&json!([query("https://a.b.com/", "product", "0")]))
        .send()
        .await;
    assert!(result.is_err_and(|e| e.is_timeout()));
}

#[tokio::test]
async fn disabled_account_gets_403_account_disabled() {
    let config = Config {
        disabled_keys: vec![KEY.into()],
        ..Config::default()
    };
    let sim = start(config).await;
    let (status, _, body) =
        answer(post(&sim, &json!([query("https://a.b.com/", "product", "0")])).await).await;
    assert_eq!(status, 403);
    assert_eq!(problem_name(&body), "account-disabled");
    let other = start(Config::default()).await;
    other.set_faults(Faults {
        account_disabled: true,
        ..Faults::default()
    });
    let response = post(&other, &json!([query("https://a.b.com/", "product", "0")])).await;
    assert_eq!(response.status().as_u16(), 403);
}

#[tokio::test]
async fn disconnect_fault_drops_the_connection_before_any_answer() {
    let sim = start(with_faults(Faults {
        disconnect_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let result = reqwest::Client::new()
        .post(endpoint(&sim))
        .basic_auth(KEY, Some(""))
        .json(&json!([query("https://a.b.com/", "product", "0")]))
        .send()
        .await;
    assert!(result.is_err(), "no response may arrive");
    assert_eq!(sim.log.entries()[0].outcome, "fault:disconnect");
}

#[test]
fn scenario_toml_configures_keys_and_faults_and_rejects_unknown_keys() {
    let text = "[autoextract]\napi_keys = [\"k1\"]\n[autoextract.faults]\noccupied_rate = 0.25\noccupied_seconds = 23.5\n";
    let scenario = dredge_sim::Scenario::from_toml(text).expect("valid scenario");
    let config = scenario.autoextract.expect("autoextract section");
    assert_eq!(config.api_keys, vec!["k1".to_string()]);
    assert_eq!(config.faults.occupied_seconds, 23.5);
    assert_eq!(config.max_queries, 100, "unset knobs keep their defaults");
    assert!(dredge_sim::Scenario::from_toml("[autoextract]\nnope = 1\n").is_err());
}

// Final AutoExtract docs (automatic-extraction/api.html, "pageType"): ten values, the
// record under the page type's own key; anything else is a malformed request.
#[tokio::test]
async fn all_ten_documented_page_types_are_extracted_under_their_own_key() {
    let sim = start(Config::default()).await;
    let types = [
        "article",
        "articleList",
        "comments",
        "forumPosts",
        "jobPosting",
        "product",
        "productList",
        "realEstate",
        "reviews",
        "vehicle",
    ];
    let queries: Vec<Value> = types
        .iter()
        .map(|t| query(&format!("https://site.example.com/{t}"), t, t))
        .collect();
    let (status, _, body) = answer(post(&sim, &json!(queries)).await).await;
    assert_eq!(status, 200);
    let results = by_meta(&body);
    for t in types {
        assert!(results[t][t].is_object(), "{t}: {}", results[t]);
    }
    let (status, _, body) = answer(
        post(
            &sim,
            &json!([query("https://site.example.com/x", "recipe", "0")]),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(problem_name(&body), "malformed-request");
}

// Reference table: "Downloader error: No response (network301) — Redirects are not
// supported", the same on every request for that URL.
#[tokio::test]
async fn a_redirecting_url_answers_network301_every_time() {
    let sim = start(Config::default()).await;
    for _ in 0..2 {
        assert_eq!(
            single_error(&sim, "https://shop.example.com/redirect/1").await,
            "Downloader error: No response (network301)"
        );
    }
}

// No captured body exists for an exhausted AutoExtract limit (docs/vendors/autoextract.md §"Request-level errors":
// unconfirmed); modelled as a 403 problem whose words say the limit is reached.
#[tokio::test]
async fn a_reached_limit_answers_403_saying_so() {
    let sim = start(with_faults(Faults {
        limit_reached: true,
        ..Faults::default()
    }))
    .await;
    let (status, _, body) = answer(
        post(
            &sim,
            &json!([query("https://a.example.com/", "product", "0")]),
        )
        .await,
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(problem_name(&body), "limit-reached");
    assert!(body["title"].as_str().unwrap().contains("limit reached"));
}
