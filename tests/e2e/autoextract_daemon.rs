//! A job dropped into a running daemon's directory runs to completion, exactly once.

use std::collections::HashSet;
use std::time::Duration;

use crate::support::*;

pub(crate) fn autoextract_account(base_url: &str) -> String {
    format!(
        "[accounts.zyte]\nvendor = \"autoextract\"\nbase_url = \"{base_url}\"\napi_key = \"test-key\"\nmax_concurrency = 4\n"
    )
}

pub(crate) fn urls(n: usize, domains: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("https://www.shop{}.com/item/{i}", i % domains))
        .collect()
}

/// A job reading `urls` from `NAME.txt`; the job file names the URL count, so a new
/// list is also a new job file content (what triggers a run of an unscheduled job).
pub(crate) fn url_job(h: &Harness, name: &str, urls: &[String]) {
    std::fs::write(h.path(&format!("jobs/{name}.txt")), urls.join("\n")).unwrap();
    h.write_job(
        &format!("{name}.toml"),
        &format!(
            "# {} URLs\nvendor = \"autoextract\"\n[autoextract]\npage_type = \"product\"\nurls_file = \"{name}.txt\"\n",
            urls.len()
        ),
    );
}

#[test]
fn a_dropped_job_runs_once_and_every_record_lands_once() {
    let rt = runtime();
    let sim = autoextract_sim(&rt, Default::default(), 1);
    let mut h = Harness::new(&autoextract_account(&sim.base_url()));
    h.start();
    let expected = urls(500, 5);
    url_job(&h, "shop", &expected);

    let run = h.wait_run_end("shop", Duration::from_secs(60));
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["records"], 500);
    assert_eq!(run["items"]["dead"], 0);
    let output = std::path::PathBuf::from(run["output"].as_str().unwrap());
    assert!(
        output.to_str().unwrap().ends_with(".jsonl"),
        "renamed on success: {output:?}"
    );
    let output = if output.is_absolute() {
        output
    } else {
        h.path("").join(output)
    };
    let lines = read_output(&output);
    let sources: Vec<&str> = lines
        .iter()
        .map(|l| l["source"].as_str().unwrap())
        .collect();
    let unique: HashSet<&str> = sources.iter().copied().collect();
    assert_eq!(sources.len(), 500, "one line per URL");
    assert_eq!(
        unique,
        expected.iter().map(String::as_str).collect(),
        "every URL once"
    );
    let seqs: Vec<u64> = lines.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=500).collect::<Vec<_>>());
    assert_eq!(lines[0]["job"], "shop");
    assert_eq!(lines[0]["vendor"], "autoextract");
    assert!(lines[0]["data"].is_object());
    let partials: Vec<_> = std::fs::read_dir(output.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(partials.is_empty(), "no .partial left after success");

    // A restart does not run a schedule-less job again.
    assert!(h.stop().success(), "SIGTERM exits 0");
    // Job files are read before the socket answers, so a re-run would exist by now.
    h.start();
    assert_eq!(
        h.runs("shop").len(),
        1,
        "restart must not re-run an unchanged job"
    );
    // A content change does.
    url_job(&h, "shop", &urls(10, 2));
    wait_until(
        "a second run after the content changed",
        Duration::from_secs(30),
        || h.runs("shop").len() == 2,
    );
    let cli = h.cli(&["runs", "shop", "--json"]);
    assert!(cli.status.success());
    let listed: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
}

/// The measurement, through the daemon: 300 URLs on subdomains of ten shops,
/// 30 % of queries answered "occupied", some timing out (retried and regrouped). No
/// query may reach a domain before the time named for it. One batch in flight
/// (`max_concurrency = 1`), so a request sent before an answer named a time cannot be
/// mistaken for one sent after it.
#[test]
fn no_query_reaches_an_occupied_domain_before_the_time_named_for_it() {
    let rt = runtime();
    let faults = dredge_sim::autoextract::Faults {
        occupied_rate: 0.3,
        occupied_seconds: 0.4,
        timeout_rate: 0.05,
        ..Default::default()
    };
    let sim = autoextract_sim(&rt, with_faults(faults), 9);
    let mut h = Harness::new(&format!(
        "[accounts.ae]\nvendor = \"autoextract\"\nbase_url = \"{}\"\napi_key = \"test-key\"\nmax_concurrency = 1\n",
        sim.base_url()
    ));
    h.start();
    let expected: Vec<String> = (0..300)
        .map(|i| {
            let sub = ["www", "shop", "m"][i % 3];
            format!("https://{sub}.shop{}.co.uk/item/{i}", i % 10)
        })
        .collect();
    url_job(&h, "occupied", &expected);
    let run = h.wait_run_end("occupied", Duration::from_secs(120));
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["records"], 300);
    assert!(
        sim.occupied_windows().len() >= 10,
        "domains were occupied: {}",
        sim.occupied_windows().len()
    );
    let early = sim.requests_during_occupation();
    assert!(early.is_empty(), "queries before the named time: {early:?}");
}
