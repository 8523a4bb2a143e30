//! Operating a running daemon: pause/resume, cancel, dead items and retry, and the
//! promise that no log level ever prints a secret.

use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use crate::autoextract_daemon::{autoextract_account, url_job, urls};
use crate::support::*;

#[test]
fn pause_holds_a_job_and_resume_finishes_it() {
    let rt = runtime();
    let config = with_faults(dredge_sim::autoextract::Faults {
        slow_rate: 1.0,
        slow_ms: 300,
        ..Default::default()
    });
    let sim = autoextract_sim(&rt, config, 1);
    let mut h = Harness::new(&autoextract_account(&sim.base_url()));
    h.start();
    url_job(&h, "held", &urls(3_000, 3));
    wait_until("some records", Duration::from_secs(30), || {
        h.runs("held")
            .first()
            .is_some_and(|r| r["records"].as_u64() > Some(0))
    });
    assert!(h.cli(&["pause", "held"]).status.success());
    wait_until("in-flight calls to finish", Duration::from_secs(30), || {
        h.runs("held")[0]["items"]["leased"] == 0
    });
    let requests = sim.log.len();
    let held = h.runs("held")[0].clone();
    assert!(
        held["items"]["ready"].as_u64().unwrap() > 0,
        "work is left: {held}"
    );
    // Another job on the same account runs to its end meanwhile, so the account's lane
    // is demonstrably leasing — yet the paused job's domains get no request.
    let other: Vec<String> = (0..30)
        .map(|i| format!("https://www.other.com/p/{i}"))
        .collect();
    url_job(&h, "other", &other);
    let done = h.wait_run_end("other", Duration::from_secs(60));
    assert_eq!(done["state"], "succeeded");
    let after: Vec<_> = sim.log.entries().into_iter().skip(requests).collect();
    assert!(!after.is_empty());
    assert!(
        after
            .iter()
            .all(|e| e.domains.iter().all(|d| !d.contains("shop"))),
        "a paused job sends nothing: {:?}",
        after.iter().map(|e| &e.domains).collect::<Vec<_>>()
    );
    let jobs = h.call("jobs.list", json!({}));
    let held_job = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "held")
        .unwrap();
    assert_eq!(held_job["state"], "paused");
    assert!(h.cli(&["resume", "held"]).status.success());
    let run = h.wait_run_end("held", Duration::from_secs(120));
    assert_eq!(run["state"], "succeeded");
    assert_eq!(run["records"], 3_000);
}

#[test]
fn cancel_keeps_the_partial_file_and_retry_requeues_dead_items() {
    let rt = runtime();
    let config = with_faults(dredge_sim::autoextract::Faults {
        slow_rate: 1.0,
        slow_ms: 200,
        ..Default::default()
    });
    let sim = autoextract_sim(&rt, config, 1);
    let mut h = Harness::new(&autoextract_account(&sim.base_url()));
    h.start();
    url_job(&h, "long", &urls(3_000, 3));
    wait_until("some records", Duration::from_secs(30), || {
        h.runs("long")
            .first()
            .is_some_and(|r| r["records"].as_u64() > Some(0))
    });
    let run = h.runs("long")[0]["id"].as_str().unwrap().to_string();
    let out = h.cli(&["cancel", &run]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cancelled = h.call("run.get", json!({ "run": run }));
    assert_eq!(cancelled["state"], "cancelled");
    assert!(cancelled["output"].as_str().unwrap().ends_with(".partial"));
    let partial = h.path("").join(cancelled["output"].as_str().unwrap());
    assert!(partial.exists(), "partial output stays");
    // Items in flight at the cancel finish staged, not appended: once none is leased,
    // the file holds exactly the committed records, each once.
    wait_until("in-flight items to settle", Duration::from_secs(30), || {
        h.call("run.get", json!({ "run": run }))["items"]["leased"] == 0
    });
    let settled = h.call("run.get", json!({ "run": run }));
    let text = std::fs::read_to_string(&partial).unwrap();
    assert_eq!(
        Some(text.lines().count() as u64),
        settled["records"].as_u64(),
        "{settled}"
    );
    let mut sources: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["source"].to_string())
        .collect();
    sources.sort();
    let before = sources.len();
    sources.dedup();
    assert_eq!(sources.len(), before, "a record appears twice");

    // Dead items: URLs the vendor answers 404 for; `retry` requeues them.
    let mut list = urls(20, 2);
    list.push("https://www.shop0.com/missing/1".into());
    url_job(&h, "some404", &list);
    let ended = h.wait_run_end("some404", Duration::from_secs(60));
    assert_eq!(
        ended["state"], "failed",
        "a run with dead items ends failed: {ended}"
    );
    assert!(
        ended["output"].as_str().unwrap().ends_with(".jsonl"),
        "and its file is still renamed"
    );
    let dead = h.call("dead.list", json!({"job": "some404"}));
    assert_eq!(dead.as_array().unwrap().len(), 1);
    assert_eq!(dead[0]["what"], "https://www.shop0.com/missing/1", "{dead}");
    assert!(dead[0]["error"].as_str().unwrap().contains("404"), "{dead}");
    let retry = h.call("run.retry", json!({ "run": ended["id"] }));
    assert!(
        retry["message"].as_str().unwrap().starts_with("1 dead"),
        "{retry}"
    );
    let again = h.wait_run_end("some404", Duration::from_secs(60));
    assert_eq!(again["state"], "failed", "the 404 dies again");
    assert_eq!(again["records"], 20, "no record written twice by the retry");
}

#[test]
fn no_log_level_prints_a_secret_or_its_basic_auth_form() {
    let rt = runtime();
    let key = "s3cret-zyte-key-4711";
    let config = dredge_sim::autoextract::Config {
        api_keys: vec![key.into()],
        ..Default::default()
    };
    let sim = autoextract_sim(&rt, config, 1);
    let account = autoextract_account(&sim.base_url()).replace("test-key", key);
    let mut h = Harness::new(&account);
    h.log_filter = "trace".into();
    h.start();
    url_job(&h, "secret", &urls(200, 2));
    let run = h.wait_run_end("secret", Duration::from_secs(60));
    assert_eq!(run["state"], "succeeded");
    // A wrong key too: the rejection must not echo it.
    let status = h.cli(&["status", "--json"]);
    let status = String::from_utf8_lossy(&status.stdout).to_string();
    let log = h.log();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{key}:"));
    for text in [&log, &status] {
        assert!(!text.contains(key), "the key leaked");
        assert!(!text.contains(&basic), "its Basic form leaked");
        assert!(
            !text.to_ascii_lowercase().contains("authorization: basic"),
            "an Authorization header leaked"
        );
    }
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "the log really was verbose"
    );
}

#[test]
fn a_job_file_written_in_chunks_ends_up_loaded_with_its_last_content() {
    let rt = runtime();
    let sim = autoextract_sim(&rt, Default::default(), 1);
    let mut h = Harness::new(&autoextract_account(&sim.base_url()));
    h.start();
    // An editor or `cat >` writing in pieces: the first pieces alone are invalid TOML.
    let text = "vendor = \"autoextract\"\n[autoextract]\npage_type = \"product\"\nurls = [\"https://www.a.com/1\", \"https://www.b.com/2\"]\n";
    let path = h.path("jobs/chunked.toml");
    let mut file = std::fs::File::create(&path).unwrap();
    for chunk in text.as_bytes().chunks(17) {
        use std::io::Write;
        file.write_all(chunk).unwrap();
        file.flush().unwrap();
        std::thread::sleep(Duration::from_millis(120));
    }
    drop(file);
    let run = h.wait_run_end("chunked", Duration::from_secs(30));
    assert_eq!(run["records"], 2);
    wait_until(
        "the interim error to clear",
        Duration::from_secs(10),
        || {
            h.call("status", json!({}))["invalid_job_files"]
                .as_array()
                .unwrap()
                .is_empty()
        },
    );
    assert_eq!(h.runs("chunked").len(), 1, "one run for the final content");
}

#[test]
fn reload_picks_up_a_new_account_and_the_job_waiting_for_it() {
    let rt = runtime();
    let sim = autoextract_sim(&rt, Default::default(), 1);
    let mut h = Harness::new("");
    h.start();
    url_job(&h, "waits", &urls(5, 1));
    wait_until(
        "the job to be rejected for want of an account",
        Duration::from_secs(10),
        || {
            let status = h.call("status", json!({}));
            status["invalid_job_files"]
                .to_string()
                .contains("no autoextract account")
        },
    );
    let config = std::fs::read_to_string(h.config()).unwrap();
    std::fs::write(
        h.config(),
        format!("{config}\n{}", autoextract_account(&sim.base_url())),
    )
    .unwrap();
    let out = h.cli(&["reload"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = h.wait_run_end("waits", Duration::from_secs(30));
    assert_eq!(run["state"], "succeeded");
    // A broken config is refused and the running one kept.
    std::fs::write(h.config(), "state_dir = \"state\"\nbogus = 1\n").unwrap();
    h.cli(&["reload"]);
    let status = h.call("status", json!({}));
    assert!(
        status["invalid_job_files"].to_string().contains("bogus"),
        "{status}"
    );
    assert_eq!(
        status["accounts"].as_array().unwrap().len(),
        1,
        "the running config stays"
    );
}

#[test]
fn metrics_report_items_records_outcomes_and_snoozes() {
    let rt = runtime();
    // Every request fails with a 5xx until one has, then a few queries meet occupied
    // domains: so both kinds of events surely happen, whatever the timing.
    let config = with_faults(dredge_sim::autoextract::Faults {
        server_error_rate: 1.0,
        ..Default::default()
    });
    let sim = autoextract_sim(&rt, config, 1);
    let mut h = Harness::new(&autoextract_account(&sim.base_url()));
    h.start();
    url_job(&h, "m", &urls(400, 4));
    let server_errors = || {
        let log = sim.log.entries();
        log.iter().filter(|e| e.outcome == "fault:5xx").count()
    };
    wait_until("a 5xx answer", Duration::from_secs(30), || {
        server_errors() > 0
    });
    sim.set_faults(dredge_sim::autoextract::Faults {
        occupied_rate: 0.05,
        occupied_seconds: 0.2,
        ..Default::default()
    });
    h.wait_run_end("m", Duration::from_secs(60));
    let text = h.call("metrics", json!({}))["text"]
        .as_str()
        .unwrap()
        .to_string();
    let failures = format!(
        "dredge_failures_total{{vendor=\"autoextract\",class=\"server\"}} {}",
        server_errors()
    );
    for needle in [
        "dredge_records_written_total{job=\"m\"} 400",
        "dredge_items{state=\"ready\"}",
        "dredge_outcomes_total{vendor=\"autoextract\",outcome=\"done\"}",
        failures.as_str(),
        "dredge_snoozes_total{vendor=\"autoextract\",scope=\"domain\"}",
        "# TYPE dredge_token_refreshes_total counter",
    ] {
        assert!(text.contains(needle), "metrics lack {needle}:\n{text}");
    }
}

#[test]
fn a_batch_that_dies_whole_is_listed_url_by_url() {
    let rt = runtime();
    let config = with_faults(dredge_sim::autoextract::Faults {
        occupied_rate: 1.0,
        occupied_seconds: 30.0,
        ..Default::default()
    });
    let sim = autoextract_sim(&rt, config, 1);
    let mut h = Harness::new(&autoextract_account(&sim.base_url()));
    h.start();
    let list = urls(50, 1);
    std::fs::write(h.path("jobs/late.txt"), list.join("\n")).unwrap();
    // The vendor asks for 30 s, the deadline allows 5: the batch cannot finish in time.
    h.write_job(
        "late.toml",
        "vendor = \"autoextract\"\ndeadline = \"5s\"\n[autoextract]\npage_type = \"product\"\nurls_file = \"late.txt\"\n",
    );
    let run = h.wait_run_end("late", Duration::from_secs(30));
    assert_eq!(run["state"], "failed");
    let dead = h.call("dead.list", json!({"job": "late"}));
    let named: std::collections::HashSet<&str> = dead
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["what"].as_str().unwrap())
        .collect();
    let expected: std::collections::HashSet<&str> = list.iter().map(String::as_str).collect();
    assert_eq!(named, expected, "one dead item per URL, named by its URL");
    assert!(
        dead[0]["error"].as_str().unwrap().contains("deadline"),
        "{}",
        dead[0]
    );
}

/// The daemon's own reads of the job files are not changes: an idle daemon reads its
/// jobs directory only on its periodic rescan (every 30 s), not after each read.
#[test]
fn an_idle_daemon_does_not_reread_its_jobs_directory_after_its_own_reads() {
    let rt = runtime();
    let sim = autoextract_sim(&rt, with_faults(Default::default()), 1);
    let mut h = Harness::new(&autoextract_account(&sim.base_url()));
    h.start();
    h.write_job(
        "yearly.toml",
        "vendor = \"autoextract\"\nschedule = \"0 3 1 1 *\"\n[autoextract]\npage_type = \"product\"\nurls = [\"https://a.com/1\"]\n",
    );
    let scans = || {
        let text = h.call("metrics", json!({}))["text"]
            .as_str()
            .unwrap()
            .to_string();
        text.lines()
            .find_map(|l| l.strip_prefix("dredge_job_scans_total "))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    wait_until("the job loaded", Duration::from_secs(10), || {
        h.call("jobs.list", json!({}))
            .to_string()
            .contains("yearly")
    });
    // The write's own events end in one rescan after the 500 ms debounce; a loop of
    // rescans set off by their own reads would go on at that pace.
    let settled = scans();
    let mut last = settled;
    for _ in 0..8 {
        std::thread::sleep(Duration::from_millis(500));
        last = scans();
    }
    assert!(
        last <= settled + 1,
        "the jobs directory was read {} more times while idle",
        last - settled
    );
}
