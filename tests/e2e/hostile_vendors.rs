//! Vendor answers that are legal but hostile to a naive client: a 1 GiB body, and
//! pretty-printed JSON. The daemon refuses the first and retries, and writes the
//! second one record per line.

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
