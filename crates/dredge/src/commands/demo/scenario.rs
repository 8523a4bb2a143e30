//! What the demo runs: the simulators with their faults, the daemon config pointing at
//! them, and one job file per vendor. Sizes are modest so that the whole demo ends
//! well within a minute on two cores; account quotas stretch each run over several
//! seconds so the SIGKILL lands while every run is still busy.

use std::path::{Path, PathBuf};

use anyhow::Context;
use dredge_sim::{autoextract, octoparse, oxylabs, wds, zyte};

/// Seed of all simulated data: the same demo every time.
const SEED: u64 = 2026;
const AE_URLS: usize = 2_000;
const AE_DOMAINS: usize = 5;
/// URLs the AutoExtract simulator answers with a 404 download error: dead items.
const AE_MISSING: usize = 4;
const OCTO_TASKS: u32 = 2;
const OCTO_ROWS: u32 = 600;
const WDS_PAGES: usize = 100;
const OXY_QUERIES: usize = 200;
const ZYTE_URLS: usize = 300;
const ZYTE_DOMAINS: usize = 6;
/// URLs whose target page answers 404 (a billed 200 from Zyte API): dead items.
const ZYTE_MISSING: usize = 3;

/// How a job's output is checked for "exactly once".
#[derive(Debug, Clone)]
pub(super) enum Expect {
    /// Every input (URL or query) appears once as a record's `source`, or is dead.
    Inputs(Vec<String>),
    /// Every crawled page appears once as a record's `source`.
    Pages,
    /// The rows match the Octoparse simulator's ledger of rows it handed out.
    Ledger,
}

/// One example job of the demo.
#[derive(Debug, Clone)]
pub(super) struct DemoJob {
    pub name: &'static str,
    pub vendor: &'static str,
    /// Records expected when nothing dies (the progress bar's length).
    pub expected: u64,
    /// The faults injected, for the opening lines.
    pub faults: &'static str,
    pub expect: Expect,
}

/// The five simulators, each with its faults.
pub(super) async fn start_sims() -> std::io::Result<dredge_sim::Sims> {
    let host = "127.0.0.1";
    Ok(dredge_sim::Sims {
        autoextract: Some(autoextract::Sim::start(autoextract_config(), SEED, host, 0).await?),
        octoparse: Some(octoparse::Sim::start(octoparse_config(), SEED, host, 0).await?),
        oxylabs: Some(oxylabs::Sim::start(oxylabs_config(), SEED, host, 0).await?),
        wds: Some(wds::Sim::start(wds_config(), SEED, host, 0).await?),
        zyte: Some(zyte::Sim::start(zyte_config(), SEED, host, 0).await?),
    })
}

fn zyte_config() -> zyte::Config {
    zyte::Config {
        faults: zyte::Faults {
            domain_limit_rate: 0.02,
            domain_limit_seconds: 1.0,
            user_limit_next: 2,
            user_limit_seconds: 1.0,
            temporary_error_rate: 0.03,
            download_retry_after: 1.0,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn autoextract_config() -> autoextract::Config {
    autoextract::Config {
        faults: autoextract::Faults {
            occupied_rate: 0.004,
            occupied_seconds: 1.5,
            rate_limit_next: 3,
            retry_after_secs: 1,
            server_error_rate: 0.05,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn octoparse_config() -> octoparse::Config {
    octoparse::Config {
        task_groups: 1,
        tasks_per_group: OCTO_TASKS,
        rows_per_task: OCTO_ROWS,
        faults: octoparse::Faults {
            token_invalid_every: 9,
            server_error_rate: 0.05,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn wds_config() -> wds::Config {
    wds::Config {
        pages: WDS_PAGES,
        robots_denied_count: 3,
        accepted_polls: [1, 1],
        server_error_rate: 0.03,
        ..Default::default()
    }
}

fn oxylabs_config() -> oxylabs::Config {
    oxylabs::Config {
        finish_delay_ms: [300, 1_500],
        faulted_share: 0.05,
        ..Default::default()
    }
}

/// Paths of the demo's directory.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub(super) fn config(&self) -> PathBuf {
        self.root.join("dredge.toml")
    }
    pub(super) fn jobs(&self) -> PathBuf {
        self.root.join("jobs")
    }
    pub(super) fn state(&self) -> PathBuf {
        self.root.join("state")
    }
    pub(super) fn socket(&self) -> PathBuf {
        self.state().join("dredge.sock")
    }
    pub(super) fn log(&self) -> PathBuf {
        self.root.join("daemon.log")
    }
}

/// Write the daemon config and the job files; returns the jobs.
pub(super) fn write(layout: &Layout, sims: &dredge_sim::Sims) -> anyhow::Result<Vec<DemoJob>> {
    std::fs::create_dir_all(layout.jobs()).context("cannot create the jobs directory")?;
    std::fs::create_dir_all(layout.state()).context("cannot create the state directory")?;
    let url = |s: Option<String>| s.context("a simulator did not start");
    let config = daemon_config(
        layout,
        &url(sims.autoextract.as_ref().map(|s| s.base_url()))?,
        &url(sims.octoparse.as_ref().map(|s| s.base_url()))?,
        &url(sims.wds.as_ref().map(|s| s.base_url()))?,
        &url(sims.oxylabs.as_ref().map(|s| s.base_url()))?,
        &url(sims.zyte.as_ref().map(|s| s.base_url()))?,
    );
    write_file(&layout.config(), &config)?;
    let group = sims
        .octoparse
        .as_ref()
        .and_then(|s| s.tasks().first().map(|t| t.group_id))
        .context("the Octoparse simulator has no task group")?;
    let urls = autoextract_urls();
    let queries: Vec<String> = (0..OXY_QUERIES)
        .map(|i| format!("demo-query-{i}"))
        .collect();
    let jobs = layout.jobs();
    write_file(&jobs.join("shop-products.txt"), &(urls.join("\n") + "\n"))?;
    write_file(&jobs.join("shop-products.toml"), AUTOEXTRACT_JOB)?;
    write_file(&jobs.join("octo-drain.toml"), &octoparse_job(group))?;
    write_file(&jobs.join("site-crawl.toml"), WDS_JOB)?;
    write_file(&jobs.join("serp-queries.txt"), &(queries.join("\n") + "\n"))?;
    write_file(&jobs.join("serp-queries.toml"), OXYLABS_JOB)?;
    let zyte_urls = zyte_urls();
    write_file(
        &jobs.join("zyte-products.txt"),
        &(zyte_urls.join("\n") + "\n"),
    )?;
    write_file(&jobs.join("zyte-products.toml"), ZYTE_JOB)?;
    Ok(demo_jobs(urls, queries, zyte_urls))
}

fn demo_jobs(urls: Vec<String>, queries: Vec<String>, zyte_urls: Vec<String>) -> Vec<DemoJob> {
    vec![
        DemoJob {
            name: "zyte-products",
            vendor: "zyte",
            expected: ZYTE_URLS as u64,
            faults: "domain limits, a 429 burst, 3% HTTP 520 with Retry-After, 3 target 404s",
            expect: Expect::Inputs(zyte_urls),
        },
        DemoJob {
            name: "shop-products",
            vendor: "autoextract",
            expected: AE_URLS as u64,
            faults: "\"domain occupied\", a 429 burst, 5% HTTP 500, 4 URLs that 404",
            expect: Expect::Inputs(urls),
        },
        DemoJob {
            name: "octo-drain",
            vendor: "octoparse",
            expected: u64::from(OCTO_TASKS * OCTO_ROWS),
            faults: "token revoked every 9th call, 5% server_error",
            expect: Expect::Ledger,
        },
        DemoJob {
            name: "site-crawl",
            vendor: "wds",
            expected: WDS_PAGES as u64,
            faults: "202 Accepted once per page, 3 robots-denied pages, 3% 5xx",
            expect: Expect::Pages,
        },
        DemoJob {
            name: "serp-queries",
            vendor: "oxylabs",
            expected: OXY_QUERIES as u64,
            faults: "5% of jobs end faulted (612/613) once",
            expect: Expect::Inputs(queries),
        },
    ]
}

/// Zyte API product pages over several shops, a few of which answer 404.
fn zyte_urls() -> Vec<String> {
    (0..ZYTE_URLS)
        .map(|i| {
            let shop = i % ZYTE_DOMAINS;
            let kind = if i < ZYTE_MISSING { "missing" } else { "item" };
            format!("https://www.store{shop}.test/{kind}/{i}")
        })
        .collect()
}

/// URLs spread over several shops, a few of which the simulator cannot download.
fn autoextract_urls() -> Vec<String> {
    (0..AE_URLS)
        .map(|i| {
            let shop = i % AE_DOMAINS;
            if i < AE_MISSING {
                format!("https://www.shop{shop}.com/missing/{i}")
            } else {
                format!("https://www.shop{shop}.com/item/{i}")
            }
        })
        .collect()
}

fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// One account per vendor, each pointing at its simulator. The quotas are low on
/// purpose: they make each run last long enough to watch (and to be killed midway).
fn daemon_config(
    layout: &Layout,
    ae: &str,
    octo: &str,
    wds: &str,
    oxy: &str,
    zyte: &str,
) -> String {
    format!(
        r#"# Written by `dredge demo`: one account per vendor, each pointing at a simulator.
state_dir = {state:?}
jobs_dir = {jobs:?}
socket = {socket:?}

[accounts.zyte]
vendor = "zyte"
base_url = "{zyte}"
api_key = "test-key"
requests_per_second = 20
max_concurrency = 4

[accounts.autoextract]
vendor = "autoextract"
base_url = "{ae}"
api_key = "test-key"
requests_per_second = 2
max_concurrency = 2

[accounts.octo]
vendor = "octoparse"
base_url = "{octo}"
username = "test-user"
password = "test-pass"
unexported_ack = true
# After the demo's SIGKILL an acknowledged drain waits out this timeout (README, Octoparse).
timeout = "5s"
requests_per_second = 3
max_concurrency = 2

[accounts.wds]
vendor = "wds"
base_url = "{wds}"
tenant = "default"
requests_per_second = 50
max_concurrency = 8

[accounts.oxy]
vendor = "oxylabs"
base_url = "{oxy}"
username = "user"
password = "pass"
requests_per_second = 50
max_concurrency = 8
"#,
        state = layout.state().display().to_string(),
        jobs = layout.jobs().display().to_string(),
        socket = layout.socket().display().to_string(),
    )
}

const ZYTE_JOB: &str = r#"# 300 product pages over six shops, through Zyte API.
vendor = "zyte"
[zyte]
extract = "product"
urls_file = "zyte-products.txt"
"#;

const AUTOEXTRACT_JOB: &str = r#"# 2,000 product pages over five shops.
vendor = "autoextract"
[autoextract]
page_type = "product"
urls_file = "shop-products.txt"
"#;

fn octoparse_job(group: i64) -> String {
    format!(
        r#"# Drain every task of a group; each batch is acknowledged only once it is stored.
vendor = "octoparse"
[octoparse]
task_group_id = "{group}"
mode = "unexported"
page_size = 100
"#
    )
}

const WDS_JOB: &str = r#"# Crawl a shop's catalog and product pages.
vendor = "wds"
[wds]
start_urls = ["https://shop.example/catalog/1.html"]
follow = [
  { selector = "css: a.next" },
  { selector = "xpath: //a[@class='product-link' or @class='related']", attribute = "href" },
  { selector = "css: a.category", attribute = "href" },
]
max_depth = 100
max_pages = 1000
fields = [
  { name = "title", selector = "css: h1.title" },
  { name = "price", selector = "css: span.price" },
]
"#;

const OXYLABS_JOB: &str = r#"# 200 search queries, submitted as one batch and polled.
vendor = "oxylabs"
[oxylabs]
source = "google_search"
input_file = "serp-queries.txt"
parse = true
delivery = "poll"
poll_interval = "1s"
"#;
