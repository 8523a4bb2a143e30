//! Faults other than SIGKILL of a healthy daemon: a crash between creating a run and
//! recording why it started, an executor that panics, a state disk that fills up
//! mid-run, an output file removed underneath.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::autoextract_daemon::{autoextract_account, url_job, urls};
use crate::support::*;

/// How often each expected URL appears in the run's output; panics on a URL that
/// was not expected.
fn count_sources(h: &Harness, run: &Value, expected: &[String]) -> HashMap<String, usize> {
    let output = h.path("").join(run["output"].as_str().unwrap());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for line in read_output(&output) {
        let source = line["source"].as_str().unwrap().to_string();
        assert!(expected.contains(&source), "unexpected record {source}");
        *seen.entry(source).or_default() += 1;
    }
    seen
}

/// Every expected URL is in the output exactly once, and nothing is dead.
fn assert_each_once_none_dead(h: &Harness, job: &str, run: &Value, expected: &[String]) {
    let seen = count_sources(h, run, expected);
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "{} records written twice, e.g. {:?}",
        twice.len(),
        &twice[..twice.len().min(3)]
    );
    let missing: Vec<_> = expected.iter().filter(|u| !seen.contains_key(*u)).collect();
    assert!(
        missing.is_empty(),
        "{} URLs missing, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(3)]
    );
    let dead = h.call("dead.list", json!({ "job": job }));
    assert_eq!(dead, json!([]), "no item may die of the fault");
    assert_eq!(run["state"], "succeeded", "{run}");
}

fn failpoint(h: &mut Harness, name: &str) {
    h.env = vec![("DREDGE_FAILPOINTS".into(), name.into())];
}

#[test]
fn a_crash_right_after_a_run_is_created_leaves_exactly_one_run() {
    let rt = runtime();
    let sim = autoextract_sim(&rt, Default::default(), 3);
    let mut h = Harness::new(&autoextract_account(&sim.base_url()));
    failpoint(&mut h, "after_create_run");
    h.start();
    let expected = urls(40, 4);
    url_job(&h, "once", &expected);
    let status = h.wait_exit(Duration::from_secs(30));
    assert!(!status.success(), "the failpoint aborts the daemon");
    h.env.clear();
    h.start();
    let run = h.wait_run_end("once", Duration::from_secs(60));
    let runs = h.runs("once");
    assert_eq!(
        runs.len(),
        1,
        "the restart must not start the same content again: {runs:?}"
    );
    assert_each_once_none_dead(&h, "once", &run, &expected);
}

#[test]
fn a_crash_between_planned_chunks_plans_every_input_once() {
    let rt = runtime();
    let sim = autoextract_sim(&rt, Default::default(), 7);
    let mut h = Harness::new(&autoextract_account(&sim.base_url()));
    failpoint(&mut h, "after_plan_chunk");
    h.start();
    // 5,000 items (a domain per URL) added 256 at a time: the first batch at the
    // start, the crash after the second.
    let expected = urls(5_000, 5_000);
    url_job(&h, "big", &expected);
    let status = h.wait_exit(Duration::from_secs(60));
    assert!(!status.success(), "the failpoint aborts the daemon");
    h.env.clear();
    h.start();
    let run = h.wait_run_end("big", Duration::from_secs(120));
    assert_eq!(h.runs("big").len(), 1);
    assert_each_once_none_dead(&h, "big", &run, &expected);
    let copies = std::fs::read_dir(h.path("state/inputs")).unwrap().count();
    assert_eq!(copies, 0, "a planned run's input copy is removed");
}

#[test]
fn an_executor_that_panics_once_does_not_stop_its_run() {
    let rt = runtime();
    let sim = autoextract_sim(&rt, Default::default(), 4);
    let mut h = Harness::new(&autoextract_account(&sim.base_url()));
    failpoint(&mut h, "executor_panic");
    h.start();
    let expected = urls(60, 6);
    url_job(&h, "panicky", &expected);
    let run = h.wait_run_end("panicky", Duration::from_secs(60));
    assert!(
        h.log().contains("the executor panicked"),
        "the failpoint fired"
    );
    assert_each_once_none_dead(&h, "panicky", &run, &expected);
}

#[test]
fn a_removed_output_file_fails_its_run_with_the_reason_and_others_go_on() {
    let rt = runtime();
    let config = with_faults(dredge_sim::autoextract::Faults {
        slow_rate: 1.0,
        slow_ms: 100,
        ..Default::default()
    });
    let sim = autoextract_sim(&rt, config, 5);
    let mut h = Harness::new(&autoextract_account(&sim.base_url()));
    h.start();
    let doomed = urls(400, 200);
    url_job(&h, "doomed", &doomed);
    wait_until("doomed's first records", Duration::from_secs(60), || {
        h.runs("doomed")
            .first()
            .is_some_and(|r| r["records"].as_u64().unwrap_or(0) > 0)
    });
    let partial = h
        .path("")
        .join(h.runs("doomed")[0]["output"].as_str().unwrap());
    std::fs::remove_file(&partial).unwrap();
    let other: Vec<String> = (0..30)
        .map(|i| format!("https://www.other{}.org/page/{i}", i % 3))
        .collect();
    url_job(&h, "other", &other);

    let failed = h.wait_run_end("doomed", Duration::from_secs(120));
    assert_eq!(failed["state"], "failed", "{failed}");
    let reason = failed["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("output file removed"), "{failed}");
    let ok = h.wait_run_end("other", Duration::from_secs(120));
    assert_each_once_none_dead(&h, "other", &ok, &other);
}

/// A tmpfs mounted for the test's life. Needs root; outside CI a test that cannot mount
/// one says so and does nothing, in CI it fails.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, mib: u32) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        if mounted {
            return Some(Tmpfs(at.to_path_buf()));
        }
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set, and this test needs to mount a small tmpfs (run as root)"
        );
        eprintln!("skipped: cannot mount a tmpfs here (not root?)");
        None
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the filesystem of `path` until a write fails with "no space left".
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 256 * 1024];
    loop {
        match file.write_all(&chunk) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(28) => return,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
}

#[test]
fn a_state_disk_that_fills_up_mid_run_pauses_it_and_it_finishes_by_itself() {
    let rt = runtime();
    let config = with_faults(dredge_sim::autoextract::Faults {
        slow_rate: 1.0,
        slow_ms: 60,
        ..Default::default()
    });
    let sim = autoextract_sim(&rt, config, 6);
    let mut h = Harness::new(&autoextract_account(&sim.base_url()));
    let Some(_tmpfs) = Tmpfs::mount(&h.path("state"), 48) else {
        return;
    };
    h.start();
    let expected = urls(3_000, 600);
    url_job(&h, "full", &expected);
    wait_until("the first records", Duration::from_secs(60), || {
        h.runs("full")
            .first()
            .is_some_and(|r| r["records"].as_u64().unwrap_or(0) > 0)
    });

    let filler = h.path("state/filler");
    fill(&filler);
    wait_until(
        "status to show the full disk",
        Duration::from_secs(30),
        || h.call("status", json!({}))["storage"]["state"] == "disk_full",
    );
    // The disk stays full a while; the socket answers all along.
    let full_since = Instant::now();
    while full_since.elapsed() < Duration::from_secs(3) {
        let status = h.call("status", json!({}));
        assert_eq!(status["storage"]["state"], "disk_full", "{status}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let metrics = h.call("metrics", json!({}));
    assert!(
        metrics["text"]
            .as_str()
            .unwrap()
            .contains("dredge_storage_fault{state=\"disk_full\"} 1"),
        "{metrics}"
    );
    std::fs::remove_file(&filler).unwrap();

    let run = h.wait_run_end("full", Duration::from_secs(180));
    assert!(
        h.call("status", json!({}))["storage"].is_null(),
        "the fault clears by itself"
    );
    assert_eq!(h.runs("full").len(), 1);
    assert_each_once_none_dead(&h, "full", &run, &expected);
    assert!(h.log().contains("storage takes writes again"));
}
