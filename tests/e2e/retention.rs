//! Bounded history through the real daemon: a job whose `[retention]` keeps two runs
//! loses its older runs — their run records, their dead items and (with
//! `delete_outputs = true`) their output files — right after newer runs end, while the
//! runs it keeps stay whole.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::autoextract_daemon::autoextract_account;
use crate::support::*;

/// A run as `runs.list` last showed it.
#[derive(Debug, Clone)]
struct SeenRun {
    state: String,
    output: PathBuf,
    dead: u64,
}

/// Every URL fails half the time and `max_attempts = 1`, so runs end with records and
/// dead items both (which ones is the simulator's draw; the checks below hold for any).
fn job(schedule: &str) -> String {
    let urls: Vec<String> = (0..6)
        .map(|i| format!("\"https://www.keep{i}.com/p\""))
        .collect();
    format!(
        "vendor = \"autoextract\"\n{schedule}max_attempts = 1\n\n\
         [retention]\nkeep_runs = 2\ndelete_outputs = true\n\n\
         [autoextract]\npage_type = \"product\"\nurls = [{}]\n",
        urls.join(", ")
    )
}

fn resolve(h: &Harness, output: &str) -> PathBuf {
    let path = Path::new(output);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        h.path(output)
    }
}

fn look(h: &Harness, seen: &mut BTreeMap<String, SeenRun>) -> Vec<Value> {
    let runs = h.runs("hist");
    for r in &runs {
        let id = r["id"].as_str().expect("run id").to_string();
        seen.insert(
            id,
            SeenRun {
                state: r["state"].as_str().unwrap_or_default().to_string(),
                output: resolve(h, r["output"].as_str().unwrap_or_default()),
                dead: r["items"]["dead"].as_u64().unwrap_or(0),
            },
        );
    }
    runs
}

#[test]
fn a_job_keeping_two_runs_loses_older_runs_with_their_dead_items_and_outputs() {
    let rt = runtime();
    let faults = dredge_sim::autoextract::Faults {
        retriable_error_rate: 0.5,
        ..Default::default()
    };
    let sim = autoextract_sim(&rt, with_faults(faults), 1);
    let mut h = Harness::new(&autoextract_account(&sim.base_url()));
    h.start();
    h.write_job("hist.toml", &job("schedule = \"* * * * * *\"\n"));

    let mut seen = BTreeMap::new();
    wait_until("six finished runs", Duration::from_secs(60), || {
        look(&h, &mut seen);
        seen.values().filter(|r| r.state != "running").count() >= 6
    });
    // No more fires: the job loses its schedule (new content, so it runs once more),
    // then the last runs end and the history settles.
    h.write_job("hist.toml", &job(""));
    let mut listed = Vec::new();
    wait_until(
        "only the two newest runs listed",
        Duration::from_secs(30),
        || {
            listed = look(&h, &mut seen);
            listed.len() == 2 && listed.iter().all(|r| r["state"] != "running")
        },
    );

    let kept: Vec<String> = listed
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let dead_runs: Vec<String> = h
        .call("dead.list", json!({ "job": "hist" }))
        .as_array()
        .expect("dead.list answers a list")
        .iter()
        .map(|d| d["run"].as_str().expect("dead item's run").to_string())
        .collect();
    for (id, run) in &seen {
        let dead_listed = dead_runs.iter().filter(|r| *r == id).count() as u64;
        if kept.contains(id) {
            assert!(
                run.output.is_file(),
                "kept run {id} keeps its output {run:?}"
            );
            assert_eq!(dead_listed, run.dead, "kept run {id} keeps its dead items");
        } else {
            assert!(
                !run.output.exists(),
                "pruned run {id}: its output is deleted (delete_outputs = true): {run:?}"
            );
            assert_eq!(dead_listed, 0, "pruned run {id}: its dead items are gone");
        }
    }
    let pruned_with_dead = seen
        .iter()
        .filter(|(id, r)| !kept.contains(id) && r.dead > 0)
        .count();
    assert!(
        pruned_with_dead > 0,
        "at least one pruned run had dead items, or this test checked nothing about them: {seen:?}"
    );
    assert!(
        h.log().contains("old runs pruned"),
        "the daemon says what it pruned"
    );
}
