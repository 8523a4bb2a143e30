//! The chaos suite: all four vendors at once, every simulator fault switched on,
//! repeated SIGKILLs of the daemon and a full restart while Oxylabs jobs are pending.
//! Every expected record lands exactly once; every failure is a dead item with a reason
//! that the injected faults explain, matched by exact name.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::support::*;

const JOBS: [&str; 4] = ["ae", "octo", "oxy", "crawl"];

struct ChaosSims {
    ae: dredge_sim::autoextract::Sim,
    octo: dredge_sim::octoparse::Sim,
    oxy: dredge_sim::oxylabs::Sim,
    wds: dredge_sim::wds::Sim,
}

fn start_sims(rt: &tokio::runtime::Runtime) -> ChaosSims {
    use dredge_sim::{autoextract, octoparse, oxylabs, wds};
    rt.block_on(async {
        let ae = autoextract::Config {
            faults: autoextract::Faults {
                occupied_rate: 0.02,
                occupied_seconds: 0.3,
                timeout_rate: 0.03,
                retriable_error_rate: 0.02,
                rate_limit_next: 3,
                retry_after_secs: 1,
                server_error_rate: 0.03,
                reset_rate: 0.02,
                malformed_json_rate: 0.02,
                empty_body_rate: 0.02,
                slow_rate: 0.3,
                slow_ms: 100,
                ..Default::default()
            },
            ..Default::default()
        };
        let octo = octoparse::Config {
            task_groups: 1,
            tasks_per_group: 3,
            rows_per_task: 1_500,
            faults: octoparse::Faults {
                token_invalid_every: 7,
                server_error_rate: 0.03,
                server_error_http_rate: 0.02,
                quota_exceeded_rate: 0.02,
                slow_rate: 0.5,
                slow_ms: 100,
                ..Default::default()
            },
            ..Default::default()
        };
        let oxy = oxylabs::Config {
            finish_delay_ms: [300, 2_000],
            faulted_share: 0.05,
            server_error_rate: 0.03,
            slow_rate: 0.3,
            slow_ms: 80,
            ..Default::default()
        };
        let wds = wds::Config {
            pages: 150,
            robots_denied_count: 4,
            accepted_polls: [0, 2],
            server_error_rate: 0.03,
            ..Default::default()
        };
        ChaosSims {
            ae: autoextract::Sim::start(ae, 21, "127.0.0.1", 0)
                .await
                .unwrap(),
            octo: octoparse::Sim::start(octo, 22, "127.0.0.1", 0)
                .await
                .unwrap(),
            oxy: oxylabs::Sim::start(oxy, 23, "127.0.0.1", 0).await.unwrap(),
            wds: wds::Sim::start(wds, 24, "127.0.0.1", 0).await.unwrap(),
        }
    })
}

fn accounts(s: &ChaosSims) -> String {
    format!(
        "[accounts.zyte]\nvendor = \"autoextract\"\nbase_url = \"{}\"\napi_key = \"test-key\"\n\n\
         [accounts.octo]\nvendor = \"octoparse\"\nbase_url = \"{}\"\nusername = \"test-user\"\npassword = \"test-pass\"\nunexported_ack = true\ntimeout = \"1s\"\n\n\
         [accounts.oxy]\nvendor = \"oxylabs\"\nbase_url = \"{}\"\nusername = \"user\"\npassword = \"pass\"\n\n\
         [accounts.wds]\nvendor = \"wds\"\nbase_url = \"{}\"\nmax_concurrency = 8\n",
        s.ae.base_url(),
        s.octo.base_url(),
        s.oxy.base_url(),
        s.wds.base_url()
    )
}

fn write_jobs(h: &Harness, s: &ChaosSims) -> (Vec<String>, Vec<String>) {
    let urls: Vec<String> = (0..3_000)
        .map(|i| format!("https://www.shop{}.com/p/{i}", i % 7))
        .collect();
    std::fs::write(h.path("jobs/ae.txt"), urls.join("\n")).unwrap();
    h.write_job("ae.toml", "vendor = \"autoextract\"\nmax_attempts = 20\n[autoextract]\npage_type = \"product\"\nurls_file = \"ae.txt\"\n");
    let group = s.octo.tasks()[0].group_id;
    h.write_job(
        "octo.toml",
        &format!("vendor = \"octoparse\"\nmax_attempts = 20\n[octoparse]\ntask_group_id = {group}\npage_size = 100\n"),
    );
    let queries: Vec<String> = (0..300).map(|i| format!("query {i}")).collect();
    std::fs::write(h.path("jobs/oxy.txt"), queries.join("\n")).unwrap();
    h.write_job(
        "oxy.toml",
        "vendor = \"oxylabs\"\nmax_attempts = 20\n[oxylabs]\nsource = \"google_search\"\ninput_file = \"oxy.txt\"\npoll_interval = \"1s\"\n",
    );
    h.write_job(
        "crawl.toml",
        "vendor = \"wds\"\nmax_attempts = 20\n[wds]\nstart_urls = [\"https://shop.example/catalog/1.html\"]\nmax_depth = 100\nmax_pages = 1000\nfollow = [{ selector = \"css: a.next\" }, { selector = \"xpath: //a[@class='product-link' or @class='related']\", attribute = \"href\" }]\nfields = [{ name = \"title\", selector = \"css: h1.title\" }]\n",
    );
    (urls, queries)
}

fn active(h: &Harness) -> usize {
    h.call("runs.list", json!({}))
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] == "running")
        .count()
}

fn output_of(h: &Harness, job: &str) -> (Value, Vec<Value>) {
    let runs = h.runs(job);
    assert_eq!(runs.len(), 1, "{job}: one run despite restarts: {runs:?}");
    let run = runs[0].clone();
    assert_ne!(run["state"], "running", "{job} ended");
    let lines = read_output(&h.path("").join(run["output"].as_str().unwrap()));
    (run, lines)
}

/// Where the simulated WDS site lives (the crawl's start URL's origin).
const SHOP: &str = "https://shop.example";

/// Each input is written or dead, never both and never neither (by exact name), and
/// nothing else is written or dead.
fn exactly_the_inputs(
    job: &str,
    inputs: &[String],
    written: &HashSet<String>,
    dead: &HashSet<String>,
) {
    let inputs: HashSet<&String> = inputs.iter().collect();
    let wrong: Vec<_> = inputs
        .iter()
        .filter(|i| written.contains(**i) == dead.contains(**i))
        .collect();
    assert!(
        wrong.is_empty(),
        "{job}: {} inputs neither written nor dead (or both), e.g. {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
    let unknown: Vec<_> = written
        .iter()
        .chain(dead)
        .filter(|w| !inputs.contains(w))
        .collect();
    assert!(
        unknown.is_empty(),
        "{job}: written or dead but never asked for: {:?}",
        &unknown[..unknown.len().min(5)]
    );
}

fn once_each(lines: &[Value], key: impl Fn(&Value) -> String) -> HashSet<String> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for l in lines {
        *counts.entry(key(l)).or_default() += 1;
    }
    let twice: Vec<_> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, _)| k.clone())
        .collect();
    assert!(
        twice.is_empty(),
        "written twice: {:?}",
        &twice[..twice.len().min(5)]
    );
    counts.into_keys().collect()
}

#[test]
fn every_vendor_at_once_with_every_fault_and_repeated_sigkills() {
    let rt = runtime();
    let sims = start_sims(&rt);
    let mut h = Harness::new(&accounts(&sims));
    h.start();
    let (urls, queries) = write_jobs(&h, &sims);
    wait_until("all four runs to start", Duration::from_secs(30), || {
        JOBS.iter().all(|j| !h.runs(j).is_empty())
    });

    let mut rng = rand::rngs::StdRng::seed_from_u64(99);
    let mut kills = 0;
    while kills < 8 && active(&h) > 0 {
        std::thread::sleep(Duration::from_millis(rng.random_range(100..600)));
        h.kill9();
        kills += 1;
        h.start();
    }
    assert!(
        kills >= 5,
        "runs ended after {kills} kills: the suite must be slower"
    );
    // A full, clean restart while Oxylabs jobs are still pending.
    if h.runs("oxy")[0]["state"] == "running" {
        assert!(h.stop().success());
        h.start();
    }
    wait_until("every run to end", Duration::from_secs(240), || {
        active(&h) == 0
    });

    // AutoExtract: every URL one record or one dead item. Every fault is transient and a
    // URL gets 20 attempts: none is expected to die.
    let (_, lines) = output_of(&h, "ae");
    let written = once_each(&lines, |l| l["source"].as_str().unwrap().to_string());
    let dead = dead_items(&h, "ae");
    assert_dead_explained("ae", &dead, 0, |_| false);
    exactly_the_inputs("ae", &urls, &written, &dead_names(&dead));

    // Octoparse (acknowledged drain): the output is exactly the vendor's ledger.
    let (run, lines) = output_of(&h, "octo");
    let written = once_each(&lines, |l| l["data"]["Url"].as_str().unwrap().to_string());
    let ledger: HashSet<String> = sims.octo.ledger().into_iter().map(|e| e.row_key).collect();
    assert_eq!(
        written, ledger,
        "octoparse output equals the ledger ({run})"
    );
    assert_eq!(ledger.len(), 4_500);
    assert_dead_explained("octo", &dead_items(&h, "octo"), 0, |_| false);

    // Oxylabs: every query's result once. The simulator faults a job at most once per
    // query and the resubmission succeeds, so nothing is expected to die.
    let (_, lines) = output_of(&h, "oxy");
    let sources = once_each(&lines, |l| l["source"].as_str().unwrap().to_string());
    let dead = dead_items(&h, "oxy");
    assert_dead_explained("oxy", &dead, 0, |_| false);
    exactly_the_inputs("oxy", &queries, &sources, &dead_names(&dead));

    // WDS: complete. Every page of the site (all within max_pages and max_depth) is one
    // record, except the pages robots.txt denies, each of which is a dead item naming
    // the denial; nothing else.
    let (_, lines) = output_of(&h, "crawl");
    let written = once_each(&lines, |l| l["source"].as_str().unwrap().to_string());
    let dead = dead_items(&h, "crawl");
    let site = sims.wds.site();
    let denied: HashSet<String> = (0..site.len())
        .filter(|&id| site.is_robots_denied(id))
        .map(|id| format!("{SHOP}{}", site.path(id)))
        .collect();
    assert_eq!(denied.len(), 4, "the simulator denies 4 pages");
    assert_dead_explained("crawl", &dead, denied.len(), |d| {
        denied.contains(&d.what) && d.error.contains("AccessDeniedForRobots")
    });
    let pages: Vec<String> = (0..site.len())
        .map(|id| format!("{SHOP}{}", site.path(id)))
        .collect();
    exactly_the_inputs("crawl", &pages, &written, &dead_names(&dead));
    assert!(kills >= 5);
}
