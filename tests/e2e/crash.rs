//! Crash safety, tested: SIGKILL the real daemon at varied points of a large run and
//! restart it each time; the final output holds every record exactly once, and no
//! item died that the injected faults do not explain.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use rand::{Rng, SeedableRng};

use crate::autoextract_daemon::{autoextract_account, url_job, urls};
use crate::support::*;

#[test]
fn sigkill_at_varied_points_never_loses_or_duplicates_a_record() {
    sigkill_a_run_at_varied_points("", 20_000, 12);
}

/// A run of `url_count` URLs in a daemon whose config starts with `queue` (a `[queue]`
/// section, or nothing for sled), SIGKILLed `kills` times at random points and
/// restarted each time; then its output is checked record by record.
pub(crate) fn sigkill_a_run_at_varied_points(queue: &str, url_count: usize, kills_wanted: usize) {
    let rt = runtime();
    let config = with_faults(dredge_sim::autoextract::Faults {
        // Every answer takes a while, so the run lasts long enough for the kills to
        // land mid-run; a few snoozes and retries on the way.
        slow_rate: 1.0,
        slow_ms: 150,
        occupied_rate: 0.002,
        occupied_seconds: 0.2,
        timeout_rate: 0.01,
        ..Default::default()
    });
    let sim = autoextract_sim(&rt, config, 7);
    let mut h = Harness::new(&format!("{queue}{}", autoextract_account(&sim.base_url())));
    h.start();
    let expected = urls(url_count, 5);
    url_job(&h, "big", &expected);
    wait_until("the run to start", Duration::from_secs(30), || {
        !h.runs("big").is_empty()
    });

    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let mut kills = 0;
    while kills < kills_wanted {
        std::thread::sleep(Duration::from_millis(rng.random_range(50..400)));
        if h.runs("big").iter().any(|r| r["state"] != "running") {
            break;
        }
        h.kill9();
        kills += 1;
        h.start();
    }
    assert!(
        kills >= kills_wanted * 3 / 4,
        "the run ended after only {kills} kills: make it slower"
    );

    let run = h.wait_run_end("big", Duration::from_secs(300));
    let runs = h.runs("big");
    assert_eq!(runs.len(), 1, "restarts must not start new runs: {runs:?}");
    let output = h.path("").join(run["output"].as_str().unwrap());
    let lines = read_output(&output);
    let mut seen: HashMap<String, usize> = HashMap::new();
    for line in &lines {
        *seen
            .entry(line["source"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    // A URL dies only after `max_attempts` (8) timeouts in a row, at 1 % each: none is
    // expected, and a kill must never kill an item.
    let dead = dead_items(&h, "big");
    assert_dead_explained("big", &dead, 0, |d| d.error.contains("timed out"));
    let dead = dead_names(&dead);
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "records written twice: {:?}",
        &twice[..twice.len().min(5)]
    );
    let missing: Vec<_> = expected
        .iter()
        .filter(|u| seen.contains_key(*u) == dead.contains(*u))
        .collect();
    assert!(
        missing.is_empty(),
        "{} URLs neither written nor dead (or both), e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    let asked: HashSet<&String> = expected.iter().collect();
    let unknown: Vec<_> = seen.keys().filter(|u| !asked.contains(u)).collect();
    assert!(
        unknown.is_empty(),
        "records of URLs never asked for: {unknown:?}"
    );
    let seqs: Vec<u64> = lines.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=lines.len() as u64).collect::<Vec<_>>(),
        "seq numbers are contiguous"
    );
    assert_eq!(run["records"].as_u64().unwrap(), lines.len() as u64);
}
