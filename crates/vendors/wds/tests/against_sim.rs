//! The WDS executor against `dredge-sim` on 127.0.0.1, driven by
//! `dredge_core::testing::Driver` exactly as the daemon's retry policy would.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use dredge_core::job::{JobSpec, VendorJob, WdsField, WdsFollow, WdsJob, WdsRestart};
use dredge_core::testing::{Driver, DriverConfig, RunReport, job_spec};
use dredge_core::{Limits, Secret};
use dredge_sim::wds::{Config, PageKind, Product, Sim, TaskState};
use dredge_wds::{ScrapeVia, WdsAccount, WdsExecutor};

const HOST: &str = "https://shop.example";
const SEED: u64 = 7;

/// Link classes the crawl follows in most tests: pagination forward, the products of a
/// listing, related products and the way back to a product's listing (cycles).
const FOLLOWED: [&str; 4] = ["next", "product-link", "related", "category"];

fn follow_everything() -> Vec<(&'static str, Option<&'static str>)> {
    vec![
        ("css: a.next", None),
        (
            "xpath: //a[@class='product-link' or @class='related']",
            Some("href"),
        ),
        ("CSS: a.category", Some("href")),
    ]
}

fn title_field() -> Vec<(&'static str, &'static str, Option<&'static str>)> {
    vec![("title", "css: h1.title", None)]
}

struct JobShape {
    start: Vec<String>,
    follow: Vec<(&'static str, Option<&'static str>)>,
    fields: Vec<(&'static str, &'static str, Option<&'static str>)>,
    max_depth: u32,
    max_pages: u64,
    restart: WdsRestart,
}

impl Default for JobShape {
    fn default() -> Self {
        JobShape {
            start: vec![format!("{HOST}/catalog/1.html")],
            follow: follow_everything(),
            fields: title_field(),
            max_depth: 100,
            max_pages: 10_000,
            restart: WdsRestart::FromScratch,
        }
    }
}

fn job(shape: JobShape) -> JobSpec {
    let follow = shape
        .follow
        .iter()
        .map(|(selector, attribute)| WdsFollow {
            selector: selector.to_string().try_into().expect("a valid selector"),
            attribute: attribute.map(str::to_string),
        })
        .collect();
    let fields = shape
        .fields
        .iter()
        .map(|(name, selector, attribute)| WdsField {
            name: name.to_string(),
            selector: selector.to_string().try_into().expect("a valid selector"),
            attribute: attribute.map(str::to_string),
        })
        .collect();
    JobSpec {
        max_attempts: 12,
        ..job_spec(
            "shop",
            "wds",
            VendorJob::Wds(WdsJob {
                job_name: "shop.example".into(),
                start_urls: shape
                    .start
                    .into_iter()
                    .map(|u| u.try_into().expect("a valid URL"))
                    .collect(),
                crawl_delay: Some("0".to_string().try_into().expect("a valid delay")),
                follow,
                max_depth: shape.max_depth,
                max_pages: shape.max_pages,
                fields,
                restart: shape.restart,
            }),
        )
    }
}

fn account(sim: &Sim, tenant: &str, token: Option<&str>, scrape_via: ScrapeVia) -> WdsAccount {
    WdsAccount {
        base_url: sim.base_url(),
        tenant: tenant.parse().expect("a header value"),
        token: token.map(Secret::new),
        scrape_via,
        limits: Limits {
            max_concurrency: 8,
            timeout: Duration::from_secs(10),
            ..Limits::default()
        },
    }
}

async fn sim(config: Config) -> Sim {
    Sim::start(config, SEED, "127.0.0.1", 0)
        .await
        .expect("the simulator starts")
}

async fn run(sim: &Sim, account: &WdsAccount, job: &JobSpec) -> RunReport {
    let executor = Arc::new(WdsExecutor::new(account).expect("an executor"));
    let driver = Driver::new(DriverConfig {
        workers: 6,
        per_scope_in_flight: None,
        max_wall: Duration::from_secs(80),
        seed: 3,
    });
    let report = driver.run(executor, job, &[]).await.expect("plans");
    assert!(!sim.log.is_empty(), "the run reached the simulator");
    report
}

/// The page ids a crawl following `classes` reaches from page 0 within `max_depth`,
/// not following links of robots-denied pages (WDS cannot read them).
fn reachable(sim: &Sim, classes: &[&str], max_depth: u32) -> BTreeSet<usize> {
    let site = sim.site();
    let mut seen = BTreeSet::from([0]);
    let mut queue = VecDeque::from([(0usize, 0u32)]);
    while let Some((id, depth)) = queue.pop_front() {
        if depth >= max_depth || site.is_robots_denied(id) {
            continue;
        }
        for path in links(&site.html(id), classes) {
            let next = site.page_for_path(&path).expect("links name pages");
            if seen.insert(next) {
                queue.push_back((next, depth + 1));
            }
        }
    }
    seen
}

/// `href`s of `<a class="C" href="...">` with C in `classes` (the site's markup).
fn links(html: &str, classes: &[&str]) -> Vec<String> {
    html.split("<a class=\"")
        .skip(1)
        .filter_map(|rest| {
            let (class, rest) = rest.split_once('"')?;
            let href = rest.strip_prefix(" href=\"")?.split('"').next()?;
            classes.contains(&class).then(|| href.to_string())
        })
        .collect()
}

fn url_of(sim: &Sim, id: usize) -> String {
    format!("{HOST}{}", sim.site().path(id))
}

fn expected_title(sim: &Sim, id: usize) -> String {
    match sim.site().kind(id) {
        PageKind::Listing(n) => format!("Catalog page {}", n + 1),
        PageKind::Product(n) => Product::new(SEED, n).name,
    }
}

fn data(record: &dredge_core::Record) -> serde_json::Value {
    serde_json::from_str(&record.data).expect("a record is JSON")
}

/// How many records each source produced.
fn record_counts(report: &RunReport) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in &report.records {
        *counts.entry(r.source.clone()).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn crawl_with_cycles_and_202s_records_each_reachable_page_once_and_robots_pages_dead() {
    let sim = sim(Config {
        pages: 500,
        robots_denied_count: 10,
        accepted_polls: [1, 3],
        ..Config::default()
    })
    .await;
    let job = job(JobShape::default());
    let report = run(&sim, &account(&sim, "default", None, ScrapeVia::Post), &job).await;

    assert!(
        report.unfinished.is_empty(),
        "unfinished: {:?}",
        report.unfinished.len()
    );
    let reach = reachable(&sim, &FOLLOWED, 100);
    assert_eq!(reach.len(), 500, "the whole site is reachable");
    let denied: BTreeSet<usize> = sim.site().robots_denied().into_iter().collect();
    assert_eq!(denied.len(), 10);

    let counts = record_counts(&report);
    assert!(counts.values().all(|n| *n == 1), "a page recorded twice");
    let expected: BTreeSet<String> = reach
        .iter()
        .filter(|id| !denied.contains(id))
        .map(|id| url_of(&sim, *id))
        .collect();
    let got: BTreeSet<String> = counts.keys().cloned().collect();
    assert_eq!(got, expected);
    for r in &report.records {
        let id = sim
            .site()
            .page_for_path(&r.source[HOST.len()..])
            .expect("a page");
        let d = data(r);
        assert_eq!(d["url"], r.source.as_str());
        assert_eq!(
            d["fields"]["title"],
            serde_json::json!([expected_title(&sim, id)])
        );
    }

    let dead: BTreeMap<&str, &str> = report
        .dead
        .iter()
        .map(|d| (d.label.as_str(), d.reason.as_str()))
        .collect();
    let denied_urls: BTreeSet<String> = denied.iter().map(|id| url_of(&sim, *id)).collect();
    assert_eq!(
        dead.keys().map(|k| k.to_string()).collect::<BTreeSet<_>>(),
        denied_urls
    );
    for reason in dead.values() {
        assert!(
            reason.contains("TaskState AccessDeniedForRobots"),
            "{reason}"
        );
        assert!(reason.contains("robots.txt"), "{reason}");
    }
    // Every page waited through its 202s without spending an attempt.
    assert_eq!(report.total_attempts(), 0);
    assert!(report.items.iter().filter(|i| i.polls > 0).count() >= 500);
}

#[tokio::test]
async fn max_pages_bounds_the_pages_of_a_run_exactly() {
    let sim = sim(Config {
        pages: 300,
        accepted_polls: [0, 1],
        ..Config::default()
    })
    .await;
    let job = job(JobShape {
        max_pages: 37,
        ..JobShape::default()
    });
    let report = run(&sim, &account(&sim, "default", None, ScrapeVia::Post), &job).await;
    assert!(report.unfinished.is_empty());
    // Items: the start item and one per page.
    assert_eq!(report.items.len(), 1 + 37);
    assert_eq!(report.records.len(), 37);
    assert!(record_counts(&report).values().all(|n| *n == 1));
    assert!(report.dead.is_empty(), "{:?}", report.dead);
}

#[tokio::test]
async fn max_depth_stops_the_crawl_and_start_pages_count_toward_max_pages() {
    let sim = sim(Config {
        pages: 120,
        ..Config::default()
    })
    .await;
    let job = job(JobShape {
        max_depth: 2,
        ..JobShape::default()
    });
    let report = run(&sim, &account(&sim, "default", None, ScrapeVia::Post), &job).await;
    let expected: BTreeSet<String> = reachable(&sim, &FOLLOWED, 2)
        .into_iter()
        .map(|id| url_of(&sim, id))
        .collect();
    assert!(
        expected.len() < 120,
        "depth 2 does not reach the whole site"
    );
    let got: BTreeSet<String> = record_counts(&report).keys().cloned().collect();
    assert_eq!(got, expected);
    // Pages at the depth limit are not crawled.
    let crawls = sim.log.count(|e| e.path.contains("/crawl?"));
    let inner = reachable(&sim, &FOLLOWED, 1).len();
    assert_eq!(
        crawls,
        inner * 3,
        "three follow selectors per page above the limit"
    );

    let two_starts = job_with_starts(&[1, 2, 3], 2);
    let report = run(
        &sim,
        &account(&sim, "default", None, ScrapeVia::Post),
        &two_starts,
    )
    .await;
    assert_eq!(
        report.records.len(),
        2,
        "start pages count toward max_pages"
    );
}

/// The task ids of the simulator's tasks that are not deleted, and how many are.
fn live_tasks(sim: &Sim) -> (BTreeSet<String>, usize) {
    let tasks = sim.tasks();
    let deleted = tasks
        .iter()
        .filter(|t| t.state == TaskState::Deleted)
        .count();
    let live = tasks
        .into_iter()
        .filter(|t| t.state != TaskState::Deleted)
        .map(|t| t.id)
        .collect();
    (live, deleted)
}

/// docs/vendors/wds.md §"Restart modes": `FromScratch` clears the job's cached tasks,
/// `Continue` reuses them. A job's `restart` decides its run's first start.
#[tokio::test]
async fn a_runs_first_start_sends_the_jobs_restart_mode() {
    let sim = sim(Config {
        pages: 30,
        ..Config::default()
    })
    .await;
    let account = account(&sim, "default", None, ScrapeVia::Post);
    let shape = || JobShape {
        max_depth: 2,
        ..JobShape::default()
    };
    let first = run(&sim, &account, &job(shape())).await;
    assert!(first.dead.is_empty(), "{:?}", first.dead);
    let (tasks, deleted) = live_tasks(&sim);
    assert_eq!(deleted, 0);
    assert!(!tasks.is_empty());

    let continuing = job(JobShape {
        restart: WdsRestart::Continue,
        ..shape()
    });
    let second = run(&sim, &account, &continuing).await;
    assert_eq!(second.records.len(), first.records.len());
    assert_eq!(
        live_tasks(&sim),
        (tasks.clone(), 0),
        "Continue: the crawl is answered from the tasks WDS already has"
    );

    let from_scratch = run(&sim, &account, &job(shape())).await;
    assert_eq!(from_scratch.records.len(), first.records.len());
    let (fresh, deleted) = live_tasks(&sim);
    assert_eq!(deleted, tasks.len(), "FromScratch deletes the job's tasks");
    assert!(fresh.is_disjoint(&tasks), "and downloads every page anew");
}

fn job_with_starts(catalogs: &[usize], max_pages: u64) -> JobSpec {
    job(JobShape {
        start: catalogs
            .iter()
            .map(|n| format!("{HOST}/catalog/{n}.html"))
            .collect(),
        max_pages,
        ..JobShape::default()
    })
}

#[tokio::test]
async fn numeric_task_states_show_by_name_in_dead_reasons() {
    let sim = sim(Config {
        pages: 30,
        robots_denied: vec![4, 9],
        gates_exhausted: vec![6],
        task_state_as_number: true,
        accepted_polls: [0, 1],
        ..Config::default()
    })
    .await;
    let report = run(
        &sim,
        &account(&sim, "default", None, ScrapeVia::Post),
        &job(JobShape::default()),
    )
    .await;
    let reasons: HashMap<String, String> = report
        .dead
        .iter()
        .map(|d| (d.label.clone(), d.reason.clone()))
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    for id in [4, 9] {
        let reason = &reasons[&url_of(&sim, id)];
        assert!(
            reason.starts_with("TaskState AccessDeniedForRobots: "),
            "{reason}"
        );
        assert!(reason.contains("HTTP 422"), "{reason}");
    }
    let reason = &reasons[&url_of(&sim, 6)];
    assert!(
        reason.starts_with("TaskState AllRequestGatesExhausted: "),
        "{reason}"
    );
    assert!(reason.contains("HTTP 403"), "{reason}");
    // A 403 is the target page out of reach, not our credentials: the account goes on.
    assert_eq!(report.account_stopped, None);
    assert_eq!(report.records.len(), 27);
}

#[tokio::test]
async fn a_bad_field_selector_kills_the_page_with_the_servers_text() {
    let sim = sim(Config {
        pages: 30,
        accepted_polls: [1, 2],
        ..Config::default()
    })
    .await;
    let job = job(JobShape {
        fields: vec![("title", "css: h1[", None)],
        ..JobShape::default()
    });
    let report = run(&sim, &account(&sim, "default", None, ScrapeVia::Post), &job).await;
    assert!(report.records.is_empty());
    assert_eq!(
        report.dead.len(),
        1,
        "no links are followed from a dead page"
    );
    let reason = &report.dead[0].reason;
    assert!(
        reason.starts_with("scrape-multiple: HTTP 400: Invalid CSS selector 'h1['"),
        "{reason}"
    );
    assert_eq!(report.total_attempts(), 0, "a 400 is not retried");
}

#[tokio::test]
async fn a_bad_follow_selector_keeps_the_record_and_lists_the_links_as_dead() {
    let sim = sim(Config {
        pages: 30,
        accepted_polls: [1, 1],
        ..Config::default()
    })
    .await;
    let job = job(JobShape {
        follow: vec![("xpath: //a[@class=", None), ("css: a.next", None)],
        ..JobShape::default()
    });
    let report = run(&sim, &account(&sim, "default", None, ScrapeVia::Post), &job).await;
    let start = url_of(&sim, 0);
    let sources: Vec<_> = report.records.iter().map(|r| r.source.as_str()).collect();
    assert_eq!(sources, [start.as_str()]);
    let dead: Vec<_> = report.dead.iter().map(|d| d.label.as_str()).collect();
    assert_eq!(dead, [start.as_str()], "{:?}", report.dead);
    let reason = &report.dead[0].reason;
    assert!(
        reason.starts_with(
            "page scraped, links not followed: crawl (xpath: //a[@class=): HTTP 400: Invalid XPath selector"
        ),
        "{reason}"
    );
    // The page was scraped once: the crawl's failure did not repeat the scrape.
    let scrapes = sim
        .log
        .count(|e| e.status == 200 && e.path.contains("/scrape-multiple"));
    assert_eq!(scrapes, 1);
    assert!(sim.log.entries().iter().all(|e| !e.path.contains("a.next")));
}

/// Fields whose selectors hold `/ [ ] @ = & ' +` and spaces; their values prove the
/// server read each selector intact.
fn tricky_fields() -> Vec<(&'static str, &'static str, Option<&'static str>)> {
    vec![
        (
            "price",
            "xpath: //span[@class='price' and @data-currency='USD']",
            None,
        ),
        (
            "description",
            "xpath: //p[contains(., ' & more')]",
            Some("val"),
        ),
        ("params", "css: td + td > b", None),
        ("sku", "XPATH: //div[@class = 'product']", Some("data-sku")),
    ]
}

async fn tricky_selectors_reach_the_server_intact(via: ScrapeVia) -> Sim {
    let sim = sim(Config {
        pages: 30,
        accepted_polls: [1, 1],
        ..Config::default()
    })
    .await;
    let first_product = (0..30)
        .find(|id| matches!(sim.site().kind(*id), PageKind::Product(0)))
        .expect("a product page");
    let job = job(JobShape {
        start: vec![url_of(&sim, first_product)],
        follow: vec![("xpath: //a[@class='related']/@href", None)],
        fields: tricky_fields(),
        max_depth: 0,
        ..JobShape::default()
    });
    let report = run(&sim, &account(&sim, "default", None, via), &job).await;
    assert_eq!(report.records.len(), 1, "{:?}", report.dead);
    let product = Product::new(SEED, 0);
    let fields = &data(&report.records[0])["fields"];
    assert_eq!(fields["price"], serde_json::json!([product.price]));
    assert_eq!(
        fields["description"],
        serde_json::json!([product.description])
    );
    assert_eq!(
        fields["params"],
        serde_json::json!([product.color, product.rating])
    );
    assert_eq!(fields["sku"], serde_json::json!([product.sku]));
    sim
}

#[tokio::test]
async fn tricky_selectors_reach_the_server_intact_in_a_post_body() {
    let sim = tricky_selectors_reach_the_server_intact(ScrapeVia::Post).await;
    let scrapes: Vec<_> = sim
        .log
        .entries()
        .into_iter()
        .filter(|e| e.path.contains("/scrape-multiple"))
        .collect();
    assert!(
        scrapes
            .iter()
            .all(|e| e.method == "POST" && !e.path.contains('?'))
    );
}

#[tokio::test]
async fn scrape_via_get_sends_percent_encoded_scrape_params() {
    let sim = tricky_selectors_reach_the_server_intact(ScrapeVia::Get).await;
    let scrapes: Vec<_> = sim
        .log
        .entries()
        .into_iter()
        .filter(|e| e.path.contains("/scrape-multiple"))
        .collect();
    assert!(!scrapes.is_empty());
    for e in &scrapes {
        assert_eq!(e.method, "GET");
        assert!(
            e.path.contains(
                "scrapeParams%5B0%5D.Selector=xpath%3A%20%2F%2Fspan%5B%40class%3D%27price%27"
            ),
            "{}",
            e.path
        );
        assert!(
            e.path
                .contains("scrapeParams%5B2%5D.Selector=css%3A%20td%20%2B%20td"),
            "{}",
            e.path
        );
        assert!(!e.path.contains(' ') && !e.path.contains('+'));
    }
}

#[tokio::test]
async fn tenant_and_bearer_token_reach_the_server() {
    let sim = sim(Config {
        pages: 30,
        tenants: vec!["acme".into()],
        bearer_token: Some("tok-123".into()),
        ..Config::default()
    })
    .await;
    let job = job(JobShape {
        max_depth: 1,
        ..JobShape::default()
    });
    let report = run(
        &sim,
        &account(&sim, "acme", Some("tok-123"), ScrapeVia::Post),
        &job,
    )
    .await;
    assert!(report.dead.is_empty(), "{:?}", report.dead);
    assert_eq!(report.records.len(), reachable(&sim, &FOLLOWED, 1).len());
    assert!(
        sim.log
            .entries()
            .iter()
            .all(|e| e.account.as_deref() == Some("acme"))
    );
    assert!(
        sim.tasks()
            .iter()
            .all(|t| t.tenant == "acme" && t.job == "shop.example")
    );

    let report = run(
        &sim,
        &account(&sim, "acme", Some("wrong"), ScrapeVia::Post),
        &job,
    )
    .await;
    let stopped = report
        .account_stopped
        .expect("a refused token stops the account");
    assert!(stopped.contains("HTTP 401"), "{stopped}");
    assert!(
        !stopped.contains("wrong"),
        "the token never shows: {stopped}"
    );
}

#[tokio::test]
async fn server_errors_are_counted_retries_and_answered_calls_are_not_repeated() {
    let sim = sim(Config {
        pages: 40,
        server_error_rate: 0.15,
        ..Config::default()
    })
    .await;
    let job = job(JobShape::default());
    let report = run(&sim, &account(&sim, "default", None, ScrapeVia::Post), &job).await;
    assert!(report.unfinished.is_empty());
    assert!(report.dead.is_empty(), "{:?}", report.dead);
    assert_eq!(report.records.len(), 40);
    assert!(record_counts(&report).values().all(|n| *n == 1));
    assert!(report.total_attempts() > 0, "5xx answers spend attempts");
    assert!(
        report.items.len() > 1 + 40,
        "some page continued as a new item after a 5xx"
    );
    // A page's scrape and each of its crawls are answered once: a 5xx after an answered
    // call continues from there instead of starting the page over.
    let mut answered: HashMap<String, usize> = HashMap::new();
    for e in sim
        .log
        .entries()
        .iter()
        .filter(|e| e.status == 200 && e.path.contains("/tasks/"))
    {
        *answered.entry(e.path.clone()).or_default() += 1;
    }
    let repeated: Vec<_> = answered.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "{repeated:?}");
}
