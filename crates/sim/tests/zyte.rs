//! The Zyte API simulator through plain HTTP. Each modelled answer names the section
//! of `docs/vendors/zyte.md` it reproduces.

use std::time::Duration;

use dredge_sim::zyte::{Config, Faults, Sim, WindowScope};
use serde_json::{Value, json};

const KEY: &str = "test-key";

async fn start(config: Config) -> Sim {
    Sim::start(config, 42, "127.0.0.1", 0)
        .await
        .expect("simulator starts")
}

fn faults(f: Faults) -> Config {
    Config {
        faults: f,
        ..Config::default()
    }
}

async fn post_as(sim: &Sim, key: &str, body: &Value) -> (u16, Option<String>, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/extract", sim.base_url()))
        .basic_auth(key, Some(""))
        .json(body)
        .send()
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, retry_after, body)
}

async fn post(sim: &Sim, body: &Value) -> (u16, Option<String>, Value) {
    post_as(sim, KEY, body).await
}

fn product(url: &str) -> Value {
    json!({"url": url, "product": true})
}

// §1, §3: one URL, Basic auth with the key as user name, the object with url and metadata.
#[tokio::test]
async fn a_product_request_answers_200_with_the_target_status_and_the_object() {
    let sim = start(Config::default()).await;
    let (status, _, body) = post(&sim, &product("https://shop.example.com/p/1")).await;
    assert_eq!(status, 200);
    assert_eq!(body["statusCode"], 200);
    assert_eq!(body["url"], "https://shop.example.com/p/1");
    assert_eq!(
        body["product"],
        sim.extracted("product", "https://shop.example.com/p/1")
    );
    assert!(body["product"]["metadata"]["probability"].is_number());
    assert_eq!(sim.billed(), 1);
}

// §3: a target 404 is a billed 200 carrying statusCode 404.
#[tokio::test]
async fn a_page_the_target_answers_404_is_a_billed_200_with_status_code() {
    let sim = start(Config::default()).await;
    let (status, _, body) = post(&sim, &product("https://a.example.com/missing/1")).await;
    assert_eq!(status, 200);
    assert_eq!(body["statusCode"], 404);
    assert_eq!(sim.billed(), 1);
}

// §2: unknown field 400 /request/invalid naming it; two extraction types 422; bad JSON 400.
#[tokio::test]
async fn unknown_and_incompatible_fields_are_refused_as_documented() {
    let sim = start(Config::default()).await;
    let (status, _, body) = post(
        &sim,
        &json!({"url": "https://a.example.com/", "article": true, "articleBodyRaw": true}),
    )
    .await;
    assert_eq!(
        (status, body["type"].as_str()),
        (400, Some("/request/invalid"))
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("Unrecognized field \"articleBodyRaw\"")
    );
    let (status, _, body) = post(
        &sim,
        &json!({"url": "https://a.example.com/", "product": true, "productList": true}),
    )
    .await;
    assert_eq!(
        (status, body["type"].as_str()),
        (422, Some("/request/unprocessable"))
    );
    let response = reqwest::Client::new()
        .post(format!("{}/v1/extract", sim.base_url()))
        .basic_auth(KEY, Some(""))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "/request/invalid-json");
    assert_eq!(sim.billed(), 0, "errors are not billed");
}

// §4: 401 for an unknown key; 403 /auth/account-suspended with the live detail.
#[tokio::test]
async fn a_wrong_key_is_401_and_a_suspended_account_is_403() {
    let sim = start(Config {
        api_keys: vec![KEY.into(), "broke".into()],
        suspended_keys: vec!["broke".into()],
        ..Config::default()
    })
    .await;
    let (status, _, body) = post_as(&sim, "nope", &product("https://a.example.com/")).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (401, Some("/auth/key-not-found"))
    );
    let (status, _, body) = post_as(&sim, "broke", &product("https://a.example.com/")).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (403, Some("/auth/account-suspended"))
    );
    assert!(body["detail"].as_str().unwrap().contains("spending limit"));
}

// §4, §5: a domain limit is a 429 with Retry-After, and lasts: the same host is refused
// until it ends, other hosts are not.
#[tokio::test]
async fn a_domain_limit_lasts_its_retry_after_for_that_host_only() {
    let sim = start(faults(Faults {
        domain_limit_rate: 1.0,
        domain_limit_seconds: 30.0,
        ..Faults::default()
    }))
    .await;
    let (status, retry_after, body) = post(&sim, &product("https://a.example.com/1")).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (429, Some("/limits/over-domain-limit"))
    );
    assert_eq!(retry_after.as_deref(), Some("30"));
    sim.set_faults(Faults::default());
    let (status, retry_after, _) = post(&sim, &product("https://a.example.com/2")).await;
    assert_eq!(status, 429, "still limited");
    let left: f64 = retry_after.unwrap().parse().unwrap();
    assert!(left > 0.0 && left <= 30.0, "{left}");
    let (status, _, _) = post(&sim, &product("https://b.example.com/1")).await;
    assert_eq!(status, 200, "another host is not limited");
    let inside = sim.requests_inside_windows();
    assert_eq!(
        inside.len(),
        1,
        "the second request for a.example.com: {inside:?}"
    );
    assert_eq!(
        inside[0].1.scope,
        WindowScope::Domain("a.example.com".into())
    );
}

// §4: the key's limit (429) and the global limit (503) hold back the whole key.
#[tokio::test]
async fn user_and_global_limits_hold_back_every_request_of_the_key() {
    let sim = start(faults(Faults {
        user_limit_next: 1,
        user_limit_seconds: 30.0,
        ..Faults::default()
    }))
    .await;
    let (status, retry_after, body) = post(&sim, &product("https://a.example.com/1")).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (429, Some("/limits/over-user-limit"))
    );
    assert_eq!(retry_after.as_deref(), Some("30"));
    let (status, _, _) = post(&sim, &product("https://b.example.com/1")).await;
    assert_eq!(status, 429, "another host of the same key waits too");
    let sim = start(faults(Faults {
        global_limit_rate: 1.0,
        user_limit_seconds: 0.25,
        ..Faults::default()
    }))
    .await;
    let (status, retry_after, body) = post(&sim, &product("https://a.example.com/1")).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (503, Some("/limits/over-global-limit"))
    );
    assert_eq!(retry_after.as_deref(), Some("0.250"));
}

// §4, §5: 520 carries Retry-After (60 s live); 521 too; 451 names the domain.
#[tokio::test]
async fn download_errors_carry_retry_after_and_forbidden_domains_answer_451() {
    let sim = start(faults(Faults {
        temporary_error_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let (status, retry_after, body) = post(&sim, &product("https://a.example.com/1")).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (520, Some("/download/temporary-error"))
    );
    assert_eq!(retry_after.as_deref(), Some("60"));
    assert_eq!(
        sim.windows()[0].scope,
        WindowScope::Url("https://a.example.com/1".into())
    );
    sim.set_faults(Faults {
        internal_error_rate: 1.0,
        download_retry_after: 2.0,
        ..Faults::default()
    });
    let (status, retry_after, body) = post(&sim, &product("https://a.example.com/2")).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (521, Some("/download/internal-error"))
    );
    assert_eq!(retry_after.as_deref(), Some("2"));
    let sim = start(Config {
        forbidden_domains: vec!["linkedin.com".into()],
        ..Config::default()
    })
    .await;
    let (status, _, body) = post(&sim, &product("https://www.linkedin.com/in/x")).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (451, Some("/download/domain-forbidden"))
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("www.linkedin.com")
    );
}

// §5: windows end when announced: a request after the end is answered normally.
#[tokio::test]
async fn a_window_ends_when_announced() {
    let sim = start(faults(Faults {
        domain_limit_rate: 1.0,
        domain_limit_seconds: 0.2,
        ..Faults::default()
    }))
    .await;
    assert_eq!(post(&sim, &product("https://a.example.com/1")).await.0, 429);
    sim.set_faults(Faults::default());
    let until = sim.windows()[0].until;
    while std::time::SystemTime::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(post(&sim, &product("https://a.example.com/1")).await.0, 200);
    assert!(sim.requests_inside_windows().is_empty());
}
