//! The Web Data Source simulator through plain HTTP: every endpoint, every documented
//! error and every fault knob.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use dredge_sim::wds::{Config, PageKind, Sim, TaskState};
use reqwest::StatusCode;
use serde_json::{Value, json};

const START: &str = "https://shop.test/catalog/1.html";

async fn start(config: Config) -> Sim {
    Sim::start(config, 11, "127.0.0.1", 0)
        .await
        .expect("simulator starts")
}

fn small() -> Config {
    Config {
        pages: 60,
        ..Config::default()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

fn get(sim: &Sim, path: &str) -> reqwest::RequestBuilder {
    client()
        .get(format!("{}{path}", sim.base_url()))
        .header("X-Tenant-Id", "default")
}

fn post(sim: &Sim, path: &str) -> reqwest::RequestBuilder {
    client()
        .post(format!("{}{path}", sim.base_url()))
        .header("X-Tenant-Id", "default")
}

async fn json_of(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK, "expected 200");
    response.json().await.expect("JSON body")
}

/// Start a job and return its tasks as `(id, url)`.
async fn start_job(sim: &Sim, job: &str, urls: &[&str]) -> Vec<(String, String)> {
    let body = json!({"StartUrls": urls, "Type": "Internet"});
    let tasks = json_of(
        post(sim, &format!("/api/v2/jobs/{job}/start"))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    pairs(&tasks)
}

fn pairs(tasks: &Value) -> Vec<(String, String)> {
    tasks
        .as_array()
        .expect("array of DownloadTask")
        .iter()
        .map(|t| {
            (
                t["Id"].as_str().unwrap().to_string(),
                t["Url"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn first_task(sim: &Sim) -> String {
    start_job(sim, "shop.test", &[START]).await.remove(0).0
}

async fn scrape(
    sim: &Sim,
    task: &str,
    selector: &str,
    attribute: Option<&str>,
) -> reqwest::Response {
    let mut query = vec![("selector", selector)];
    query.extend(attribute.map(|a| ("attributeName", a)));
    get(sim, &format!("/api/v2/tasks/{task}/scrape"))
        .query(&query)
        .send()
        .await
        .unwrap()
}

async fn crawl(sim: &Sim, task: &str, selector: &str) -> reqwest::Response {
    get(sim, &format!("/api/v2/tasks/{task}/crawl"))
        .query(&[("selector", selector)])
        .send()
        .await
        .unwrap()
}

async fn plain_text(response: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        kind.starts_with("text/plain"),
        "error bodies are plain text, got {kind}"
    );
    response.text().await.unwrap()
}

async fn info(sim: &Sim, task: &str) -> Value {
    json_of(
        get(sim, &format!("/api/v2/tasks/{task}/info"))
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn ready_answers_200_without_credentials() {
    let sim = start(small()).await;
    let response = client()
        .get(format!("{}/ready", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn job_start_gives_one_download_task_per_start_url() {
    let sim = start(small()).await;
    let urls = [START, "https://shop.test/product/3.html"];
    let tasks = start_job(&sim, "shop.test", &urls).await;
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0].1, START);
    assert_eq!(tasks[1].1, urls[1]);
    assert_ne!(tasks[0].0, tasks[1].0);
}

#[tokio::test]
async fn v1_job_start_takes_the_job_name_from_the_body() {
    let sim = start(small()).await;
    let body = json!({"JobName": "shop", "StartUrls": [START]});
    let tasks = json_of(
        post(&sim, "/api/v1/jobs/start")
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(pairs(&tasks)[0].1, START);
    assert_eq!(sim.tasks()[0].job, "shop");
    let nameless = post(&sim, "/api/v1/jobs/start")
        .json(&json!({"StartUrls": [START]}))
        .send()
        .await
        .unwrap();
    assert!(
        plain_text(nameless, StatusCode::BAD_REQUEST)
            .await
            .contains("JobName")
    );
}

#[tokio::test]
async fn job_start_without_start_urls_or_with_bad_values_is_400() {
    let sim = start(small()).await;
    let bodies = [
        json!({"Type": "Internet"}),
        json!({"StartUrls": []}),
        json!({"StartUrls": ["not a url"]}),
        json!({"StartUrls": [START], "Type": "Darknet"}),
        json!({"StartUrls": [START], "Restart": {"JobRestartMode": "Sometimes"}}),
    ];
    for body in bodies {
        let response = post(&sim, "/api/v2/jobs/j/start")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            !plain_text(response, StatusCode::BAD_REQUEST)
                .await
                .is_empty(),
            "{body}"
        );
    }
    let broken = post(&sim, "/api/v2/jobs/j/start")
        .body("{")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    plain_text(broken, StatusCode::BAD_REQUEST).await;
    assert!(sim.tasks().is_empty());
}

#[tokio::test]
async fn restart_continue_reuses_tasks_and_from_scratch_deletes_them() {
    let sim = start(small()).await;
    let first = start_job(&sim, "j", &[START]).await.remove(0).0;
    let again = start_job(&sim, "j", &[START]).await.remove(0).0;
    assert_eq!(first, again, "Continue keeps the task");
    let body = json!({"StartUrls": [START], "Restart": {"JobRestartMode": "FromScratch"}});
    let fresh = pairs(
        &json_of(
            post(&sim, "/api/v2/jobs/j/start")
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await,
    );
    assert_ne!(fresh[0].0, first);
    assert_eq!(info(&sim, &first).await["TaskState"], "Deleted");
    assert_eq!(
        scrape(&sim, &first, "css: h1", None).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn crawl_follows_pagination_with_css_and_xpath() {
    let sim = start(small()).await;
    let task = first_task(&sim).await;
    let by_css = pairs(&json_of(crawl(&sim, &task, "css: a.next").await).await);
    assert_eq!(by_css.len(), 1);
    assert_eq!(by_css[0].1, "https://shop.test/catalog/2.html");
    let by_xpath = pairs(&json_of(crawl(&sim, &task, "XPath: //a[@class='next']").await).await);
    assert_eq!(by_xpath, by_css, "the same link gives the same task");
}

#[tokio::test]
async fn crawling_every_link_reaches_every_page_of_the_site() {
    let sim = start(small()).await;
    let mut queue: VecDeque<(String, String)> = start_job(&sim, "all", &[START]).await.into();
    let mut seen: HashSet<String> = queue.iter().map(|t| t.1.clone()).collect();
    while let Some((task, _)) = queue.pop_front() {
        for found in pairs(&json_of(crawl(&sim, &task, "css: a").await).await) {
            if seen.insert(found.1.clone()) {
                queue.push_back(found);
            }
        }
    }
    assert_eq!(seen.len(), sim.site().len());
}

#[tokio::test]
async fn last_listing_page_has_no_next_link() {
    let sim = start(small()).await;
    let last = (0..sim.site().len())
        .filter(|id| matches!(sim.site().kind(*id), PageKind::Listing(_)))
        .max()
        .unwrap();
    let url = format!("https://shop.test{}", sim.site().path(last));
    let task = start_job(&sim, "j", &[&url]).await.remove(0).0;
    assert_eq!(
        json_of(crawl(&sim, &task, "css: a.next").await).await,
        json!([])
    );
}

#[tokio::test]
async fn scrape_returns_text_or_attribute_values() {
    let sim = start(small()).await;
    let task = first_task(&sim).await;
    let title = json_of(scrape(&sim, &task, "css: h1", None).await).await;
    assert_eq!(title, json!(["Catalog page 1"]));
    let same = json_of(scrape(&sim, &task, "css: h1", Some("val")).await).await;
    assert_eq!(same, title);
    let next = json_of(scrape(&sim, &task, "css: a.next", Some("href")).await).await;
    assert_eq!(next, json!(["/catalog/2.html"]));
    let prices = json_of(scrape(&sim, &task, "css: li.product span.price", None).await).await;
    assert_eq!(prices.as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn xpath_with_reserved_characters_survives_the_query_string() {
    let sim = start(small()).await;
    let task = start_job(&sim, "j", &["https://shop.test/product/1.html"])
        .await
        .remove(0)
        .0;
    let color = "xpath: //table[@class='params']//tr[td='Color']/td[2]/b";
    let values = json_of(scrape(&sim, &task, color, None).await).await;
    assert_eq!(values.as_array().unwrap().len(), 1, "{values}");
    let both = "xpath: //a[@class='category' and @href='/catalog/1.html']/@href";
    assert_eq!(
        json_of(scrape(&sim, &task, both, None).await).await,
        json!(["/catalog/1.html"])
    );
    let description =
        json_of(scrape(&sim, &task, "xpath: //p[@class='description']", None).await).await;
    assert!(
        description[0].as_str().unwrap().contains("& more"),
        "{description}"
    );
}

#[tokio::test]
async fn selector_matching_nothing_gives_an_empty_list() {
    let sim = start(small()).await;
    let task = first_task(&sim).await;
    assert_eq!(
        json_of(scrape(&sim, &task, "css: div.nothing-here", None).await).await,
        json!([])
    );
    assert_eq!(
        json_of(scrape(&sim, &task, "xpath: //nothing", None).await).await,
        json!([])
    );
}

#[tokio::test]
async fn bad_selectors_get_a_plain_text_400() {
    let sim = start(small()).await;
    let task = first_task(&sim).await;
    for selector in ["h1", "jq: .a", "css: a[", "xpath: //a[", "css:   "] {
        let response = scrape(&sim, &task, selector, None).await;
        assert!(
            !plain_text(response, StatusCode::BAD_REQUEST)
                .await
                .is_empty(),
            "{selector}"
        );
    }
    let missing = get(&sim, &format!("/api/v2/tasks/{task}/scrape"))
        .send()
        .await
        .unwrap();
    plain_text(missing, StatusCode::BAD_REQUEST).await;
    plain_text(crawl(&sim, &task, "css: a[").await, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn scrape_multiple_by_query_and_by_body_agree() {
    let sim = start(small()).await;
    let task = start_job(&sim, "j", &["https://shop.test/product/2.html"])
        .await
        .remove(0)
        .0;
    let query = [
        ("scrapeParams[0].Name", "name"),
        ("scrapeParams[0].Selector", "css: h1"),
        ("scrapeParams[0].AttributeName", "val"),
        ("scrapeParams[1].name", "params"),
        (
            "scrapeParams[1].selector",
            "xpath: //table[@class='params']//b",
        ),
        ("scrapeParams[2].Name", "sku"),
        ("scrapeParams[2].Selector", "css: div.product"),
        ("scrapeParams[2].AttributeName", "data-sku"),
    ];
    let path = format!("/api/v2/tasks/{task}/scrape-multiple");
    let by_query = json_of(get(&sim, &path).query(&query).send().await.unwrap()).await;
    let results = by_query.as_array().unwrap();
    let names: Vec<&str> = results
        .iter()
        .map(|r| r["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["name", "params", "sku"]);
    assert_eq!(results[1]["Values"].as_array().unwrap().len(), 2);
    assert!(
        results[2]["Values"][0]
            .as_str()
            .unwrap()
            .starts_with("SKU-")
    );

    let body = json!([
        {"Name": "name", "Selector": "css: h1", "AttributeName": "val"},
        {"Name": "params", "Selector": "xpath: //table[@class='params']//b"},
        {"Name": "sku", "Selector": "css: div.product", "AttributeName": "data-sku"},
    ]);
    let by_body = json_of(post(&sim, &path).json(&body).send().await.unwrap()).await;
    assert_eq!(by_body, by_query);
}

#[tokio::test]
async fn scrape_multiple_with_missing_parts_is_400() {
    let sim = start(small()).await;
    let task = first_task(&sim).await;
    let path = format!("/api/v2/tasks/{task}/scrape-multiple");
    let empty = get(&sim, &path).send().await.unwrap();
    plain_text(empty, StatusCode::BAD_REQUEST).await;
    let no_selector = get(&sim, &path)
        .query(&[("scrapeParams[0].Name", "a")])
        .send()
        .await
        .unwrap();
    assert!(
        plain_text(no_selector, StatusCode::BAD_REQUEST)
            .await
            .contains("Selector")
    );
    let bad_body = post(&sim, &path)
        .json(&json!({"Name": "a"}))
        .send()
        .await
        .unwrap();
    plain_text(bad_body, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn unknown_task_is_404_on_every_endpoint() {
    let sim = start(small()).await;
    let task = "00000000-0000-4000-8000-000000000000";
    let responses = [
        crawl(&sim, task, "css: a").await,
        scrape(&sim, task, "css: a", None).await,
        get(&sim, &format!("/api/v2/tasks/{task}/info"))
            .send()
            .await
            .unwrap(),
        post(&sim, &format!("/api/v2/tasks/{task}/scrape-multiple"))
            .json(&json!([{"Name": "a", "Selector": "css: a"}]))
            .send()
            .await
            .unwrap(),
    ];
    for response in responses {
        assert_eq!(
            plain_text(response, StatusCode::NOT_FOUND).await,
            "Task not found"
        );
    }
}

#[tokio::test]
async fn first_k_polls_of_a_task_answer_202() {
    let sim = start(Config {
        accepted_polls: [2, 2],
        ..small()
    })
    .await;
    let task = first_task(&sim).await;
    assert_eq!(info(&sim, &task).await["TaskState"], "Created");
    assert_eq!(
        scrape(&sim, &task, "css: h1", None).await.status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(info(&sim, &task).await["TaskState"], "InProgress");
    assert_eq!(
        crawl(&sim, &task, "css: a").await.status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        scrape(&sim, &task, "css: h1", None).await.status(),
        StatusCode::OK
    );
    assert_eq!(info(&sim, &task).await["TaskState"], "Handled");
}

#[tokio::test]
async fn robots_denied_page_is_422_and_info_says_access_denied() {
    let sim = start(Config {
        robots_denied: vec![10],
        ..small()
    })
    .await;
    let url = format!("https://shop.test{}", sim.site().path(10));
    let task = start_job(&sim, "j", &[&url]).await.remove(0).0;
    let text = plain_text(
        scrape(&sim, &task, "css: h1", None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(text.contains("robots"));
    let status = info(&sim, &task).await;
    assert_eq!(status["TaskState"], "AccessDeniedForRobots");
    assert!(status["Error"].as_str().unwrap().contains("robots"));
}

#[tokio::test]
async fn seeded_robots_denials_come_from_the_config_count() {
    let sim = start(Config {
        robots_denied_count: 4,
        ..small()
    })
    .await;
    assert_eq!(sim.site().robots_denied().len(), 4);
}

#[tokio::test]
async fn exhausted_request_gates_are_403() {
    let sim = start(Config {
        gates_exhausted: vec![0],
        ..small()
    })
    .await;
    let task = first_task(&sim).await;
    plain_text(crawl(&sim, &task, "css: a").await, StatusCode::FORBIDDEN).await;
    assert_eq!(
        info(&sim, &task).await["TaskState"],
        "AllRequestGatesExhausted"
    );
}

#[tokio::test]
async fn task_state_can_be_sent_as_a_number() {
    let sim = start(Config {
        task_state_as_number: true,
        robots_denied: vec![7],
        ..small()
    })
    .await;
    let handled = first_task(&sim).await;
    assert_eq!(
        info(&sim, &handled).await["TaskState"],
        TaskState::Handled as u8
    );
    let url = format!("https://shop.test{}", sim.site().path(7));
    let denied = start_job(&sim, "j", &[&url]).await.remove(0).0;
    assert_eq!(info(&sim, &denied).await["TaskState"], 1);
}

#[tokio::test]
async fn info_of_a_handled_task_carries_the_download_result() {
    let sim = start(small()).await;
    let task = first_task(&sim).await;
    let status = info(&sim, &task).await;
    assert_eq!(status["Error"], Value::Null);
    assert_eq!(status["Result"]["Url"], START);
    assert_eq!(status["Result"]["HttpStatusCode"], 200);
    assert_eq!(status["IntermedResults"], json!([]));
}

#[tokio::test]
async fn tenant_header_is_required_and_must_be_known() {
    let sim = start(small()).await;
    let url = format!("{}/api/v2/jobs/j/start", sim.base_url());
    let body = json!({"StartUrls": [START]});
    let missing = client().post(&url).json(&body).send().await.unwrap();
    plain_text(missing, StatusCode::BAD_REQUEST).await;
    let unknown = client()
        .post(&url)
        .header("X-Tenant-Id", "other")
        .json(&body)
        .send()
        .await
        .unwrap();
    plain_text(unknown, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn another_tenants_task_is_not_found() {
    let sim = start(Config {
        tenants: vec!["default".into(), "b".into()],
        ..small()
    })
    .await;
    let task = first_task(&sim).await;
    let response = client()
        .get(format!("{}/api/v2/tasks/{task}/info", sim.base_url()))
        .header("X-Tenant-Id", "b")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn configured_bearer_token_is_enforced() {
    let sim = start(Config {
        bearer_token: Some("t0ken".into()),
        ..small()
    })
    .await;
    let body = json!({"StartUrls": [START]});
    let without = post(&sim, "/api/v2/jobs/j/start")
        .json(&body)
        .send()
        .await
        .unwrap();
    plain_text(without, StatusCode::UNAUTHORIZED).await;
    let wrong = post(&sim, "/api/v2/jobs/j/start")
        .bearer_auth("nope")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = post(&sim, "/api/v2/jobs/j/start")
        .bearer_auth("t0ken")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::OK);
}

#[tokio::test]
async fn server_errors_fire_at_the_configured_rate() {
    let sim = start(Config {
        server_error_rate: 1.0,
        ..small()
    })
    .await;
    for _ in 0..4 {
        let response = post(&sim, "/api/v2/jobs/j/start")
            .json(&json!({"StartUrls": [START]}))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert!(status == 500 || status == 503, "{status}");
    }
    assert!(sim.tasks().is_empty());
    sim.update_config(|c| c.server_error_rate = 0.0);
    first_task(&sim).await;
}

#[tokio::test]
async fn slow_answers_outlast_a_short_client_timeout() {
    let sim = start(Config {
        slow_rate: 1.0,
        slow_ms: 5_000,
        ..small()
    })
    .await;
    let outcome = post(&sim, "/api/v2/jobs/j/start")
        .json(&json!({"StartUrls": [START]}))
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(outcome.is_err_and(|e| e.is_timeout()));
}

#[tokio::test]
async fn request_log_records_tenant_domain_and_outcome() {
    let sim = start(Config {
        accepted_polls: [1, 1],
        ..small()
    })
    .await;
    let task = first_task(&sim).await;
    scrape(&sim, &task, "css: h1", None).await;
    let entries = sim.log.entries();
    let last = entries.last().unwrap();
    assert_eq!(last.account.as_deref(), Some("default"));
    assert_eq!(last.domains, ["shop.test"]);
    assert_eq!((last.status, last.outcome.as_str()), (202, "accepted"));
    assert!(
        last.path
            .starts_with(&format!("/api/v2/tasks/{task}/scrape?selector="))
    );
}

#[tokio::test]
async fn unknown_path_on_the_site_is_a_handled_404_page() {
    let sim = start(small()).await;
    let task = start_job(&sim, "j", &["https://shop.test/nowhere.html"])
        .await
        .remove(0)
        .0;
    assert_eq!(
        json_of(scrape(&sim, &task, "css: h1", None).await).await,
        json!(["Not Found"])
    );
    assert_eq!(info(&sim, &task).await["Result"]["HttpStatusCode"], 404);
}

/// The `pretty` option: JSON answers indented over many lines, the same values.
#[tokio::test]
async fn pretty_answers_span_lines() {
    let sim = start(Config {
        pretty: true,
        ..small()
    })
    .await;
    let task = first_task(&sim).await;
    let response = scrape(&sim, &task, "css: ul.products", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(text.starts_with("[\n  \""), "indented: {text}");
    let values: Vec<String> = serde_json::from_str(&text).unwrap();
    assert_eq!(values.len(), 1);
    assert!(values[0].contains('\n'), "the list's text spans lines");
}
