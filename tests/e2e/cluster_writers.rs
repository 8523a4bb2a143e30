//! Two daemons on one PostgreSQL queue share a run: both lease its items, one writes its
//! file; the writer is SIGKILLed mid-run and the other takes the run over — its file
//! cut back to the committed cursor when the output directory is shared, or rebuilt
//! from the records the queue kept when it is not — and finishes it: every record
//! exactly once, in contiguous `seq` order.
//!
//! These tests need a PostgreSQL server (see `postgres.rs`): without one they fail.

use std::collections::HashMap;
use std::time::Duration;

use crate::autoextract_daemon::{autoextract_account, url_job, urls};
use crate::postgres::PgSchema;
use crate::support::*;

const URLS: usize = 20_000;

#[test]
fn the_survivor_of_a_sigkill_finishes_a_shared_run_in_a_shared_output_dir() {
    two_daemons_share_a_run_and_one_is_killed("shared_out", true);
}

#[test]
fn the_survivor_of_a_sigkill_rebuilds_the_file_it_cannot_see_and_finishes_the_run() {
    two_daemons_share_a_run_and_one_is_killed("own_out", false);
}

fn two_daemons_share_a_run_and_one_is_killed(tag: &str, shared_output: bool) {
    let schema = PgSchema::new(tag);
    let rt = runtime();
    let config = with_faults(dredge_sim::autoextract::Faults {
        // Slow enough answers that the kill lands mid-run.
        slow_rate: 1.0,
        slow_ms: 100,
        ..Default::default()
    });
    let sim = autoextract_sim(&rt, config, 7);
    let shared_dir = tempfile::tempdir().unwrap();
    let output_line = if shared_output {
        format!("output_dir = \"{}\"\n", shared_dir.path().display())
    } else {
        String::new()
    };
    let section = format!(
        "{output_line}{}{}",
        schema.queue_section(),
        autoextract_account(&sim.base_url())
    );
    let mut first = Harness::new(&section);
    let mut second = Harness::new(&section);
    // Both daemons lease the run's items (the account is configured on both); the job
    // file is seen by the first only.
    first.start();
    second.start();
    // Over many domains, the run has more items than its first batch (256): the rest
    // is planned by the daemon holding its input copy, while both run its items.
    let expected = urls(URLS, if shared_output { 1_000 } else { 5 });
    url_job(&first, "big", &expected);
    wait_until(
        "a tenth of the run written",
        Duration::from_secs(120),
        || {
            first
                .runs("big")
                .first()
                .is_some_and(|r| r["records"].as_u64().unwrap_or(0) >= (URLS / 10) as u64)
        },
    );
    // The daemon that did not start the run was woken by the queue (LISTEN/NOTIFY),
    // not by a poll a minute later: both are running its items already.
    let leasers = schema.text(&format!(
        "SELECT count(DISTINCT lease_node) FROM {}.items",
        schema.name
    ));
    assert_eq!(
        leasers.as_deref(),
        Some("2"),
        "one daemon idles beside the run"
    );
    // Whichever daemon took the run writes it: that one is killed.
    let writer = schema
        .text(&format!("SELECT writer_node FROM {}.runs", schema.name))
        .expect("the run has a writer");
    // `dredge status` says which daemon writes the run.
    let run_id = first.runs("big")[0]["id"].as_str().unwrap().to_string();
    let status = second.call("status", serde_json::json!({}));
    let writes: Vec<&serde_json::Value> = status["cluster"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("no cluster in {status}"))
        .iter()
        .filter(|n| {
            n["writes"]
                .as_array()
                .is_some_and(|w| w.contains(&run_id.clone().into()))
        })
        .collect();
    assert_eq!(writes.len(), 1, "{status}");
    assert_eq!(writes[0]["node"], writer.as_str(), "{status}");
    let (mut killed, survivor) = if writer == node_of(&first) {
        (first, second)
    } else {
        assert_eq!(writer, node_of(&second), "a node of neither daemon writes");
        (second, first)
    };
    killed.kill9();

    let run = survivor.wait_run_end("big", Duration::from_secs(600));
    assert_eq!(run["state"], "succeeded", "{run}");
    let output = std::path::PathBuf::from(run["output"].as_str().unwrap());
    if shared_output {
        assert!(
            output.starts_with(shared_dir.path()),
            "{}",
            output.display()
        );
    } else {
        assert!(
            output.starts_with(survivor.path("state")),
            "{}",
            output.display()
        );
    }
    let lines = read_output(&output);
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for line in &lines {
        *seen.entry(line["source"].as_str().unwrap()).or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(twice.is_empty(), "records written twice: {twice:?}");
    let missing: Vec<_> = expected
        .iter()
        .filter(|u| !seen.contains_key(u.as_str()))
        .take(5)
        .collect();
    assert!(missing.is_empty(), "URLs never written: {missing:?}");
    assert_eq!(lines.len(), URLS);
    let seqs: Vec<u64> = lines.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=URLS as u64).collect::<Vec<_>>(),
        "seqs contiguous"
    );
    let leasers = schema.text(&format!(
        "SELECT count(DISTINCT lease_node) FROM {}.items",
        schema.name
    ));
    assert_eq!(leasers.as_deref(), Some("2"), "both daemons ran items");

    // The run's file again, from the queue: the same bytes.
    let exported = survivor.path("exported.jsonl");
    let out = std::process::Command::new(BIN)
        .args(["export", run["id"].as_str().unwrap()])
        .arg(&exported)
        .arg("--config")
        .arg(survivor.config())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("wrote {URLS} records")),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        std::fs::read(&exported).unwrap() == std::fs::read(&output).unwrap(),
        "the export differs from the run's file"
    );

    let log = std::fs::read_to_string(survivor.path("daemon.log")).unwrap();
    assert!(
        log.contains("this daemon writes the run now"),
        "no take-over logged"
    );
    if !shared_output {
        assert!(
            log.contains("rebuilt the run's file from the records the queue kept"),
            "no rebuild logged"
        );
    }
}

/// The `[queue] node` a daemon reports.
fn node_of(h: &Harness) -> String {
    let status = h.call("status", serde_json::json!({}));
    status["queue_backend"]["node"]
        .as_str()
        .unwrap_or_else(|| panic!("no node in {status}"))
        .to_string()
}

#[test]
fn a_run_cancelled_on_the_daemon_that_does_not_write_it_keeps_exactly_its_committed_records() {
    let schema = PgSchema::new("cancel_elsewhere");
    let rt = runtime();
    let config = with_faults(dredge_sim::autoextract::Faults {
        slow_rate: 1.0,
        slow_ms: 200,
        ..Default::default()
    });
    let sim = autoextract_sim(&rt, config, 1);
    let shared_dir = tempfile::tempdir().unwrap();
    let section = format!(
        "output_dir = \"{}\"\n{}{}",
        shared_dir.path().display(),
        schema.queue_section(),
        autoextract_account(&sim.base_url())
    );
    let mut first = Harness::new(&section);
    let mut second = Harness::new(&section);
    first.start();
    second.start();
    url_job(&first, "long", &urls(3_000, 300));
    wait_until("some records", Duration::from_secs(60), || {
        first
            .runs("long")
            .first()
            .is_some_and(|r| r["records"].as_u64() > Some(0))
    });
    let writer = schema
        .text(&format!("SELECT writer_node FROM {}.runs", schema.name))
        .expect("the run has a writer");
    let other = if writer == node_of(&first) {
        &second
    } else {
        &first
    };
    let run = other.runs("long")[0]["id"].as_str().unwrap().to_string();
    let out = other.cli(&["cancel", &run]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Items in flight at the cancel end staged, never appended; the writer lets the
    // run go and cuts its file back to the committed records.
    wait_until(
        "in-flight items to settle and the writer to let go",
        Duration::from_secs(60),
        || {
            let run_now = other.call("run.get", serde_json::json!({ "run": run }));
            run_now["items"]["leased"] == 0
                && schema
                    .text(&format!("SELECT writer_node FROM {}.runs", schema.name))
                    .is_none()
        },
    );
    let settled = other.call("run.get", serde_json::json!({ "run": run }));
    assert_eq!(settled["state"], "cancelled", "{settled}");
    let partial = std::path::PathBuf::from(settled["output"].as_str().unwrap());
    assert!(partial.to_string_lossy().ends_with(".partial"), "{settled}");
    let lines = read_output(&partial);
    assert_eq!(
        Some(lines.len() as u64),
        settled["records"].as_u64(),
        "the file holds exactly the committed records: {settled}"
    );
    let mut sources: Vec<&str> = lines
        .iter()
        .map(|l| l["source"].as_str().unwrap())
        .collect();
    sources.sort_unstable();
    let before = sources.len();
    sources.dedup();
    assert_eq!(sources.len(), before, "a record appears twice");
}
