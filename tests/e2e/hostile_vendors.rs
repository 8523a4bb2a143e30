//! Vendor answers that are legal but hostile to a naive client: a 1 GiB body, and
//! pretty-printed JSON. The daemon refuses the first and retries, and writes the
//! second one record per line.
//!
//! How each vendor's records stay on one line differs: AutoExtract, Zyte API and
//! Oxylabs keep the vendor's own text of a record, which `JsonText` compacts; Octoparse
//! and WDS rebuild each record from the parsed answer (`JsonText::from_value`, compact
//! by construction), so a pretty-printed answer cannot reach their output — their tests
//! prove that, and that values holding newlines come through intact.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use dredge_sim::autoextract::Faults;

use crate::autoextract_daemon::{autoextract_account, url_job, urls};
use crate::support::*;

/// The daemon's peak resident memory (VmHWM), in KiB.
fn peak_rss_kib(h: &Harness) -> u64 {
    let pid = h.child.as_ref().expect("daemon running").id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn output_of(h: &Harness, run: &serde_json::Value) -> PathBuf {
    let output = PathBuf::from(run["output"].as_str().unwrap());
    if output.is_absolute() {
        output
    } else {
        h.path("").join(output)
    }
}

#[test]
fn a_one_gib_answer_is_refused_and_retried_and_memory_stays_bounded() {
    let rt = runtime();
    let faults = Faults {
        huge_answer_next: 2,
        ..Default::default()
    };
    let sim = autoextract_sim(&rt, with_faults(faults), 7);
    let mut h = Harness::new(&autoextract_account(&sim.base_url()));
    h.start();
    let expected = urls(20, 1);
    url_job(&h, "huge", &expected);
    let run = h.wait_run_end("huge", Duration::from_secs(90));
    assert_eq!(run["state"], "succeeded", "{run}");
    let lines = read_output(&output_of(&h, &run));
    let sources: HashSet<String> = lines
        .iter()
        .map(|l| l["source"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(lines.len(), 20, "every record once");
    assert_eq!(sources, expected.into_iter().collect());
    let huge = sim
        .log
        .entries()
        .iter()
        .filter(|e| e.outcome == "fault:huge_answer")
        .count();
    assert_eq!(huge, 2, "both huge answers were sent, and retried past");
    // 64 MiB cap, plus the daemon's own ~100 MiB; a buffered gigabyte would be 1 GiB+.
    let peak = peak_rss_kib(&h);
    eprintln!("daemon peak RSS after two 1 GiB answers: {peak} KiB");
    assert!(peak < 400 * 1024, "peak RSS {peak} KiB");
}

#[test]
fn a_pretty_printed_autoextract_answer_is_written_one_record_per_line() {
    let rt = runtime();
    let faults = Faults {
        pretty: true,
        ..Default::default()
    };
    let sim = autoextract_sim(&rt, with_faults(faults), 3);
    let mut h = Harness::new(&autoextract_account(&sim.base_url()));
    h.start();
    url_job(&h, "pretty", &urls(30, 3));
    let run = h.wait_run_end("pretty", Duration::from_secs(60));
    assert_eq!(run["state"], "succeeded", "{run}");
    let path = output_of(&h, &run);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 30, "one line per record");
    // read_output parses every line as one JSON object.
    let lines = read_output(&path);
    assert!(lines.iter().all(|l| l["data"].is_object()));
}

#[test]
fn a_pretty_printed_oxylabs_result_is_written_one_record_per_line() {
    let rt = runtime();
    let config = dredge_sim::oxylabs::Config {
        pretty_results: true,
        finish_delay_ms: [0, 50],
        ..Default::default()
    };
    let sim = rt
        .block_on(dredge_sim::oxylabs::Sim::start(config, 5, "127.0.0.1", 0))
        .unwrap();
    let mut h = Harness::new(&format!(
        "[accounts.oxy]\nvendor = \"oxylabs\"\nbase_url = \"{}\"\nusername = \"user\"\npassword = \"pass\"\n",
        sim.base_url()
    ));
    h.start();
    h.write_job(
        "serp.toml",
        "vendor = \"oxylabs\"\n[oxylabs]\nsource = \"google_search\"\nqueries = [\"a\", \"b\", \"c\"]\npoll_interval = \"1s\"\n",
    );
    let run = h.wait_run_end("serp", Duration::from_secs(60));
    assert_eq!(run["state"], "succeeded", "{run}");
    let path = output_of(&h, &run);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 3, "one line per record");
    assert!(read_output(&path).iter().all(|l| l["data"].is_object()));
}

#[test]
fn a_pretty_printed_zyte_answer_is_written_one_record_per_line() {
    let rt = runtime();
    let config = dredge_sim::zyte::Config {
        pretty: true,
        ..Default::default()
    };
    let sim = rt
        .block_on(dredge_sim::zyte::Sim::start(config, 7, "127.0.0.1", 0))
        .unwrap();
    let mut h = Harness::new(&format!(
        "[accounts.zyte]\nvendor = \"zyte\"\nbase_url = \"{}\"\napi_key = \"test-key\"\n",
        sim.base_url()
    ));
    h.start();
    let urls: Vec<String> = (0..12)
        .map(|i| format!("https://shop{}.example.com/p/{i}", i % 3))
        .collect();
    std::fs::write(h.path("jobs/pretty.txt"), urls.join("\n")).unwrap();
    h.write_job(
        "pretty.toml",
        "vendor = \"zyte\"\n[zyte]\nextract = \"product\"\nurls_file = \"pretty.txt\"\n",
    );
    let run = h.wait_run_end("pretty", Duration::from_secs(60));
    assert_eq!(run["state"], "succeeded", "{run}");
    let path = output_of(&h, &run);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 12, "one line per record");
    assert!(read_output(&path).iter().all(|l| l["data"].is_object()));
}

/// Every line of `path` is one JSON object (the file has exactly `count` lines).
fn one_object_per_line(path: &std::path::Path, count: usize) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap();
    assert_eq!(text.lines().count(), count, "one line per record");
    let lines = read_output(path);
    assert!(lines.iter().all(|l| l["data"].is_object()));
    lines
}

#[test]
fn a_pretty_printed_octoparse_answer_is_written_one_record_per_line() {
    let rt = runtime();
    let config = dredge_sim::octoparse::Config {
        pretty: true,
        task_groups: 1,
        tasks_per_group: 2,
        rows_per_task: 23,
        ..Default::default()
    };
    let sim = rt
        .block_on(dredge_sim::octoparse::Sim::start(config, 9, "127.0.0.1", 0))
        .unwrap();
    let mut h = Harness::new(&format!(
        "[accounts.octo]\nvendor = \"octoparse\"\nbase_url = \"{}\"\nusername = \"test-user\"\npassword = \"test-pass\"\n",
        sim.base_url()
    ));
    h.start();
    let tasks: Vec<String> = sim.tasks().into_iter().map(|t| t.task_id).collect();
    let ids: Vec<String> = tasks.iter().map(|t| format!("{t:?}")).collect();
    h.write_job(
        "rows.toml",
        &format!(
            "vendor = \"octoparse\"\n[octoparse]\ntask_ids = [{}]\nmode = \"all\"\npage_size = 5\n",
            ids.join(", ")
        ),
    );
    let run = h.wait_run_end("rows", Duration::from_secs(60));
    assert_eq!(run["state"], "succeeded", "{run}");
    let lines = one_object_per_line(&output_of(&h, &run), 46);
    for task in &tasks {
        let written: Vec<&serde_json::Value> = lines
            .iter()
            .filter(|l| l["source"] == format!("task {task}"))
            .map(|l| &l["data"])
            .collect();
        let expected = sim.rows(task).unwrap();
        assert!(
            expected[0]["Notes"].as_str().unwrap().contains('\n'),
            "the simulator's values hold newlines"
        );
        assert_eq!(written, expected.iter().collect::<Vec<_>>(), "task {task}");
    }
}

#[test]
fn a_pretty_printed_wds_answer_is_written_one_record_per_line() {
    let rt = runtime();
    let config = dredge_sim::wds::Config {
        pretty: true,
        pages: 60,
        ..Default::default()
    };
    let sim = rt
        .block_on(dredge_sim::wds::Sim::start(config, 7, "127.0.0.1", 0))
        .unwrap();
    let mut h = Harness::new(&format!(
        "[accounts.wds]\nvendor = \"wds\"\nbase_url = \"{}\"\n",
        sim.base_url()
    ));
    h.start();
    // Every catalog listing: its title, and its product list, whose text spans lines.
    let site = sim.site();
    let listings: Vec<usize> = (0..site.len())
        .take_while(|id| matches!(site.kind(*id), dredge_sim::wds::PageKind::Listing(_)))
        .collect();
    let url = |id: usize| format!("https://shop.example{}", site.path(id));
    let starts: Vec<String> = listings
        .iter()
        .map(|id| format!("{:?}", url(*id)))
        .collect();
    h.write_job(
        "lists.toml",
        &format!(
            "vendor = \"wds\"\n[wds]\nstart_urls = [{}]\nfields = [{{ name = \"title\", selector = \"css: h1.title\" }}, {{ name = \"products\", selector = \"css: ul.products\" }}]\n",
            starts.join(", ")
        ),
    );
    let run = h.wait_run_end("lists", Duration::from_secs(60));
    assert_eq!(run["state"], "succeeded", "{run}");
    let lines = one_object_per_line(&output_of(&h, &run), listings.len());
    for (n, id) in listings.iter().enumerate() {
        let products: Vec<String> = site
            .products_of(n)
            .map(|product| match site.kind(product) {
                dredge_sim::wds::PageKind::Product(p) => {
                    let product = dredge_sim::wds::Product::new(7, p);
                    format!("{} {}", product.name, product.price)
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(products.len() > 1);
        let expected = serde_json::json!({
            "url": url(*id),
            "fields": {
                "title": [format!("Catalog page {}", n + 1)],
                "products": [products.join("\n")],
            },
        });
        let written: Vec<&serde_json::Value> = lines
            .iter()
            .filter(|l| l["source"] == url(*id).as_str())
            .map(|l| &l["data"])
            .collect();
        assert_eq!(written, vec![&expected], "listing {n}");
    }
}
