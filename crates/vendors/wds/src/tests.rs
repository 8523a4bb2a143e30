//! Unit tests of the pure parts: encoding, TaskState names, dead reasons, the JobConfig
//! body, payloads and planning. The HTTP behaviour is tested against the simulator in
//! `tests/against_sim.rs`.

use std::time::Duration;

use dredge_core::job::{JobSpec, VendorJob, WdsField, WdsFollow, WdsJob, WdsRestart};
use dredge_core::testing::job_spec;
use dredge_core::{Executor, Limits};
use serde_json::json;

use crate::answer::describe;
use crate::api::{DownloadTask, scrape_query};
use crate::encode::{component, query};
use crate::page::page_item;
use crate::{JobConfig, PageWork, Payload, WdsAccount, WdsExecutor, task_state, urls};

fn wds_job(start: &[&str], crawl_delay: Option<&str>) -> WdsJob {
    WdsJob {
        job_name: "example.com".into(),
        start_urls: start
            .iter()
            .map(|u| u.to_string().try_into().expect("a URL"))
            .collect(),
        crawl_delay: crawl_delay.map(|d| d.to_string().try_into().expect("a delay")),
        follow: vec![WdsFollow {
            selector: "css: a.next".to_string().try_into().expect("a selector"),
            attribute: None,
        }],
        max_depth: 3,
        max_pages: 10,
        fields: vec![field("title", "css: h1", None)],
        restart: WdsRestart::FromScratch,
    }
}

fn field(name: &str, selector: &str, attribute: Option<&str>) -> WdsField {
    WdsField {
        name: name.into(),
        selector: selector.to_string().try_into().expect("a selector"),
        attribute: attribute.map(str::to_string),
    }
}

fn spec(work: WdsJob) -> JobSpec {
    JobSpec {
        deadline: Duration::from_secs(60),
        ..job_spec("example", "wds", VendorJob::Wds(work))
    }
}

fn account() -> WdsAccount {
    WdsAccount {
        base_url: "http://127.0.0.1:9".into(),
        tenant: crate::account::DEFAULT_TENANT
            .parse()
            .expect("a header value"),
        token: None,
        scrape_via: Default::default(),
        limits: Limits {
            max_concurrency: 1,
            timeout: Duration::from_secs(1),
            ..Limits::default()
        },
    }
}

#[test]
fn xpath_characters_and_spaces_are_percent_encoded() {
    assert_eq!(
        component("xpath: //a[@class='n' and @x=\"1\"]/@href&b=c +#?"),
        "xpath%3A%20%2F%2Fa%5B%40class%3D%27n%27%20and%20%40x%3D%221%22%5D%2F%40href%26b%3Dc%20%2B%23%3F"
    );
    assert_eq!(component("Aa0-._~"), "Aa0-._~");
    assert_eq!(component("é"), "%C3%A9");
    let pairs = vec![("selector".to_string(), "css: a".to_string())];
    assert_eq!(query(&pairs), "selector=css%3A%20a");
}

#[test]
fn task_states_map_numbers_to_names_and_keep_names() {
    let name = |v| task_state::name(&v);
    assert_eq!(name(json!(1)).as_deref(), Some("AccessDeniedForRobots"));
    assert_eq!(name(json!(2)).as_deref(), Some("AllRequestGatesExhausted"));
    assert_eq!(name(json!(0)).as_deref(), Some("Handled"));
    assert_eq!(name(json!(10)).as_deref(), Some("Created"));
    assert_eq!(name(json!(11)).as_deref(), Some("InProgress"));
    assert_eq!(name(json!(12)).as_deref(), Some("Deleted"));
    assert_eq!(name(json!("1")).as_deref(), Some("AccessDeniedForRobots"));
    assert_eq!(
        name(json!("AccessDeniedForRobots")).as_deref(),
        Some("AccessDeniedForRobots")
    );
    assert_eq!(name(json!(7)).as_deref(), Some("TaskState 7"));
    assert_eq!(name(json!(null)), None);
}

#[test]
fn dead_reasons_name_the_state_and_keep_the_error() {
    let info = |v: serde_json::Value| serde_json::from_value(v).ok();
    assert_eq!(
        describe(
            info(json!({"TaskState": 1, "Error": " Access denied by robots.txt "})),
            "HTTP 422: denied"
        ),
        "TaskState AccessDeniedForRobots: Access denied by robots.txt (HTTP 422: denied)"
    );
    assert_eq!(
        describe(
            info(json!({"TaskState": "AllRequestGatesExhausted"})),
            "HTTP 403: x"
        ),
        "TaskState AllRequestGatesExhausted (HTTP 403: x)"
    );
    assert_eq!(describe(info(json!({})), "HTTP 422: x"), "HTTP 422: x");
    assert_eq!(
        describe(None, "HTTP 422: x"),
        "HTTP 422: x (task info unavailable)"
    );
}

#[test]
fn get_form_scrape_params_are_indexed_and_pascal_case() {
    let fields = [
        field("title", "css: h1", None),
        field("price", "xpath: //span[@class='p']", Some("val")),
    ];
    let pairs = scrape_query(&fields);
    let keys: Vec<_> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "scrapeParams[0].Name",
            "scrapeParams[0].Selector",
            "scrapeParams[1].Name",
            "scrapeParams[1].Selector",
            "scrapeParams[1].AttributeName"
        ]
    );
    assert_eq!(pairs[3].1, "xpath: //span[@class='p']");
}

#[test]
fn job_config_is_pascal_case_with_a_crawl_delay_per_start_host() {
    let job = wds_job(
        &[
            "https://a.test/x",
            "https://b.test:8443/y",
            "https://a.test/z",
        ],
        Some("1-5"),
    );
    let body = serde_json::to_value(JobConfig::for_job(&job)).expect("serialises");
    assert_eq!(
        body,
        json!({
            "StartUrls": ["https://a.test/x", "https://b.test:8443/y", "https://a.test/z"],
            "Type": "Internet",
            "Restart": {"JobRestartMode": "FromScratch"},
            "CrawlersProtectionBypass": {"CrawlDelays": [
                {"Host": "a.test", "Delay": "1-5"},
                {"Host": "b.test", "Delay": "1-5"}
            ]}
        })
    );
    let without = serde_json::to_value(JobConfig::for_job(&wds_job(&["https://a.test/"], None)))
        .expect("serialises");
    assert!(without.get("CrawlersProtectionBypass").is_none());
}

#[test]
fn plan_makes_one_start_item_carrying_the_body() {
    let executor = WdsExecutor::new(&account()).expect("an executor");
    let work = wds_job(&["https://a.test/x"], Some("robots"));
    let items = executor.plan(&spec(work.clone()), &[]).expect("plans");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].dedupe_key, None);
    assert_eq!(
        Payload::decode(&items[0].payload).expect("decodes"),
        Payload::Start {
            job_name: "example.com".into(),
            config: JobConfig::for_job(&work),
        }
    );
    let mut empty = work;
    empty.fields.clear();
    assert!(executor.plan(&spec(empty), &[]).is_err());
}

#[test]
fn page_items_are_keyed_by_normalised_url_and_capped_at_max_pages() {
    let task = DownloadTask {
        id: "t1".into(),
        url: "HTTPS://Shop.Test:443/a/../b?p=1#frag".into(),
    };
    let item = page_item(task, 2, 37).expect("an item");
    assert_eq!(item.dedupe_key.as_deref(), Some("https://shop.test/b?p=1"));
    assert_eq!(item.cap, Some(37));
    assert_eq!(item.label, "HTTPS://Shop.Test:443/a/../b?p=1#frag");
    let Payload::Page(work) = Payload::decode(&item.payload).expect("decodes") else {
        panic!("a page payload");
    };
    assert_eq!(
        work,
        PageWork {
            task: "t1".into(),
            url: "HTTPS://Shop.Test:443/a/../b?p=1#frag".into(),
            depth: 2,
            scraped: false,
            next_follow: 0,
        }
    );
    let blank = DownloadTask {
        id: " ".into(),
        url: "https://a.test/".into(),
    };
    assert!(page_item(blank, 1, 5).is_none());
    assert_eq!(urls::normalise(" not a url "), "not a url");
}

#[test]
fn payloads_written_before_progress_fields_existed_still_decode() {
    let old = br#"{"kind":"page","task":"t","url":"https://a.test/","depth":1}"#;
    let Payload::Page(work) = Payload::decode(old).expect("decodes") else {
        panic!("a page payload");
    };
    assert!(!work.scraped);
    assert_eq!(work.next_follow, 0);
}

fn start_context(payload: Vec<u8>, attempts: u32, polls: u32) -> dredge_core::ItemContext {
    dredge_core::ItemContext {
        label: "start WDS job example.com".into(),
        payload,
        attempts,
        polls,
        run_started: dredge_core::UnixMillis(0),
    }
}

fn restart_mode(config: &JobConfig) -> String {
    config.restart.job_restart_mode.clone()
}

#[test]
fn a_runs_first_start_is_from_scratch_and_every_later_start_continues() {
    let config = JobConfig::for_job(&wds_job(&["https://a.test/x"], None));
    let first = start_context(Vec::new(), 0, 0);
    assert_eq!(restart_mode(&config.for_execution(&first)), "FromScratch");
    for (attempts, polls) in [(1, 0), (0, 1), (3, 2)] {
        let later = start_context(Vec::new(), attempts, polls);
        assert_eq!(restart_mode(&config.for_execution(&later)), "Continue");
    }
}

#[test]
fn a_job_saying_restart_continue_continues_from_its_first_start() {
    let mut work = wds_job(&["https://a.test/x"], None);
    work.restart = WdsRestart::Continue;
    let config = JobConfig::for_job(&work);
    for (attempts, polls) in [(0, 0), (1, 0), (0, 1)] {
        let start = start_context(Vec::new(), attempts, polls);
        assert_eq!(restart_mode(&config.for_execution(&start)), "Continue");
    }
}

#[test]
fn a_dead_start_is_listed_as_one_that_continues_so_dredge_retry_keeps_the_crawl() {
    let executor = WdsExecutor::new(&account()).expect("an executor");
    let work = wds_job(&["https://a.test/x"], None);
    let items = executor.plan(&spec(work), &[]).expect("plans");
    let dead = start_context(items[0].payload.clone(), 8, 0);
    let parts = executor.split_for_death(&dead);
    assert_eq!(parts.len(), 1);
    match Payload::decode(&parts[0].payload).expect("decodes") {
        Payload::Start { config, .. } => assert_eq!(restart_mode(&config), "Continue"),
        other => panic!("unexpected {other:?}"),
    }
    // Pages die as themselves.
    let page = Payload::Page(PageWork {
        task: "t".into(),
        url: "https://a.test/x".into(),
        depth: 0,
        scraped: false,
        next_follow: 0,
    });
    assert!(
        executor
            .split_for_death(&start_context(page.encode(), 8, 0))
            .is_empty()
    );
}
