//! Each vendor through the real daemon: Octoparse's destructive drain under SIGKILL,
//! a WDS crawl bounded by `max_pages`, Oxylabs callbacks.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use serde_json::Value;

use crate::support::*;

/// After each start the first acknowledged read waits out the account's timeout (an
/// acknowledgement the killed daemon sent could still land), so tests keep it short.
const OCTO_TIMEOUT: Duration = Duration::from_secs(1);

fn octoparse_account(base_url: &str, ack: bool) -> String {
    format!(
        "[accounts.octo]\nvendor = \"octoparse\"\nbase_url = \"{base_url}\"\nusername = \"test-user\"\npassword = \"test-pass\"\nunexported_ack = {ack}\nmax_concurrency = 4\ntimeout = \"{}ms\"\n",
        OCTO_TIMEOUT.as_millis()
    )
}

/// Start a run, SIGKILL the daemon `kills` times at random moments (each at least
/// `settle` after the start, so that it can land mid-work), restart, and wait for the
/// run to end; returns the run and every output line. Fails when the run ended before
/// the kills did (the test would then prove nothing about crashes).
fn run_with_kills(
    h: &mut Harness,
    job: &str,
    kills: usize,
    settle: Duration,
    seed: u64,
) -> (Value, Vec<Value>) {
    wait_until("the run to start", Duration::from_secs(30), || {
        !h.runs(job).is_empty()
    });
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for done in 0..kills {
        std::thread::sleep(settle + Duration::from_millis(rng.random_range(50..350)));
        let ended = h.runs(job).iter().any(|r| r["state"] != "running");
        assert!(
            !ended,
            "the run ended after {done} of {kills} kills: make it slower"
        );
        h.kill9();
        h.start();
    }
    let run = h.wait_run_end(job, Duration::from_secs(180));
    assert_eq!(h.runs(job).len(), 1, "restarts must not start new runs");
    let lines = read_output(&h.path("").join(run["output"].as_str().unwrap()));
    (run, lines)
}

fn count_by(lines: &[Value], key: impl Fn(&Value) -> String) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for l in lines {
        *seen.entry(key(l)).or_default() += 1;
    }
    seen
}

#[test]
fn octoparse_acknowledged_drain_under_sigkill_equals_the_vendor_ledger() {
    let rt = runtime();
    let config = dredge_sim::octoparse::Config {
        task_groups: 1,
        tasks_per_group: 4,
        rows_per_task: 5_000,
        faults: dredge_sim::octoparse::Faults {
            token_invalid_every: 7,
            server_error_rate: 0.05,
            slow_rate: 1.0,
            slow_ms: 60,
            ..Default::default()
        },
        ..Default::default()
    };
    let sim = rt
        .block_on(dredge_sim::octoparse::Sim::start(config, 3, "127.0.0.1", 0))
        .unwrap();
    let group = sim.tasks()[0].group_id;
    let mut h = Harness::new(&octoparse_account(&sim.base_url(), true));
    h.start();
    h.write_job(
        "drain.toml",
        &format!("vendor = \"octoparse\"\n[octoparse]\ntask_group_id = {group}\nmode = \"unexported\"\npage_size = 250\n"),
    );
    // Past the wait for the account's timeout after each restart, so kills land
    // between a read and its acknowledgement.
    let (run, lines) = run_with_kills(&mut h, "drain", 10, OCTO_TIMEOUT, 11);
    assert_eq!(run["state"], "succeeded", "{run}");
    let output = count_by(&lines, |l| l["data"]["Url"].as_str().unwrap().to_string());
    let twice: Vec<_> = output
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, _)| k)
        .collect();
    assert!(
        twice.is_empty(),
        "rows written twice: {:?}",
        &twice[..twice.len().min(5)]
    );
    let ledger: HashSet<String> = sim.ledger().into_iter().map(|e| e.row_key).collect();
    let written: HashSet<String> = output.into_keys().collect();
    assert_eq!(ledger.len(), 20_000, "every row was handed out");
    assert_eq!(
        written, ledger,
        "the output equals the rows the vendor marked exported"
    );
}

#[test]
fn octoparse_destructive_drain_under_sigkill_loses_at_most_the_batches_in_flight() {
    // The legacy destructive read marks rows exported when it answers: a kill between
    // the answer and our durable stage loses that batch, which no client can prevent
    // (`unexported_ack = true` is the lossless mode). What dredge guarantees here: no
    // row twice, nothing invented, every batch that was staged is written, and a kill
    // loses at most the one batch in flight per task (each task's next read is created
    // only by the stage of the previous one).
    const TASKS: usize = 2;
    const PAGE: usize = 200;
    const KILLS: usize = 6;
    let rt = runtime();
    let config = dredge_sim::octoparse::Config {
        task_groups: 1,
        tasks_per_group: TASKS as u32,
        rows_per_task: 2_000,
        faults: dredge_sim::octoparse::Faults {
            slow_rate: 1.0,
            slow_ms: 200,
            ..Default::default()
        },
        ..Default::default()
    };
    let sim = rt
        .block_on(dredge_sim::octoparse::Sim::start(config, 4, "127.0.0.1", 0))
        .unwrap();
    let ids: Vec<String> = sim
        .tasks()
        .into_iter()
        .map(|t| format!("\"{}\"", t.task_id))
        .collect();
    let mut h = Harness::new(&octoparse_account(&sim.base_url(), false));
    h.start();
    h.write_job(
        "legacy.toml",
        &format!(
            "vendor = \"octoparse\"\n[octoparse]\ntask_ids = [{}]\npage_size = {PAGE}\n",
            ids.join(", ")
        ),
    );
    let (run, lines) = run_with_kills(&mut h, "legacy", KILLS, Duration::ZERO, 5);
    let output = count_by(&lines, |l| l["data"]["Url"].as_str().unwrap().to_string());
    assert!(output.values().all(|n| *n == 1), "no row twice");
    let ledger = sim.ledger();
    assert_eq!(ledger.len(), 4_000, "the drain reached the end");
    assert!(
        output
            .keys()
            .all(|k| ledger.iter().any(|e| e.row_key == *k)),
        "only rows the vendor handed out"
    );
    // Each task's rows were handed out in order, PAGE at a time: batch n of a task is
    // its ledger rows n*PAGE.. . A batch is written whole or lost whole.
    let mut lost_batches = 0;
    for task in sim.tasks() {
        let rows: Vec<&str> = ledger
            .iter()
            .filter(|e| e.task_id == task.task_id)
            .map(|e| e.row_key.as_str())
            .collect();
        for (n, batch) in rows.chunks(PAGE).enumerate() {
            let written = batch.iter().filter(|r| output.contains_key(**r)).count();
            assert!(
                written == 0 || written == batch.len(),
                "task {} batch {n}: {written} of {} rows written",
                task.task_id,
                batch.len()
            );
            lost_batches += usize::from(written == 0);
        }
    }
    assert!(
        lost_batches <= KILLS * TASKS,
        "{lost_batches} batches lost to {KILLS} kills of {TASKS} tasks draining"
    );
    assert_eq!(
        run["records"].as_u64().unwrap() as usize,
        4_000 - lost_batches * PAGE,
        "every row handed out and not lost to a kill is written: {run}"
    );
}

#[test]
fn wds_crawl_through_the_daemon_holds_max_pages_exactly_and_names_robots_denials() {
    let rt = runtime();
    let config = dredge_sim::wds::Config {
        pages: 300,
        robots_denied_count: 5,
        accepted_polls: [0, 1],
        ..Default::default()
    };
    let sim = rt
        .block_on(dredge_sim::wds::Sim::start(config, 7, "127.0.0.1", 0))
        .unwrap();
    let mut h = Harness::new(&format!(
        "[accounts.wds]\nvendor = \"wds\"\nbase_url = \"{}\"\nmax_concurrency = 8\n",
        sim.base_url()
    ));
    h.start();
    let job = |name: &str, max_pages: u64| {
        format!(
            "# {name}\nvendor = \"wds\"\n[wds]\njob_name = \"{name}\"\nstart_urls = [\"https://shop.example/catalog/1.html\"]\nmax_depth = 100\nmax_pages = {max_pages}\nfollow = [{{ selector = \"css: a.next\" }}, {{ selector = \"xpath: //a[@class='product-link' or @class='related']\", attribute = \"href\" }}]\nfields = [{{ name = \"title\", selector = \"css: h1.title\" }}]\n"
        )
    };
    h.write_job("capped.toml", &job("capped", 60));
    let run = h.wait_run_end("capped", Duration::from_secs(120));
    let lines = read_output(&h.path("").join(run["output"].as_str().unwrap()));
    let dead = h.call("dead.list", serde_json::json!({"job": "capped"}));
    let pages = count_by(&lines, |l| l["source"].as_str().unwrap().to_string());
    assert!(
        pages.values().all(|n| *n == 1),
        "no page twice despite cycles"
    );
    let dead_pages = dead
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["what"].as_str().unwrap().starts_with("http"))
        .count();
    assert_eq!(
        pages.len() + dead_pages,
        60,
        "exactly max_pages pages: {run}"
    );
    for d in dead.as_array().unwrap() {
        let error = d["error"].as_str().unwrap();
        assert!(
            error.contains("AccessDeniedForRobots") || !error.contains("TaskState"),
            "{error}"
        );
    }
}

#[test]
fn oxylabs_callbacks_reach_the_daemon_and_finish_jobs() {
    // With callbacks, jobs finish long before the 60 s safety poll would find them.
    callbacks_finish_every_job([100, 400]);
}

/// Jobs that finish at once call back before the daemon has committed the submit that
/// created their poll items: those callbacks are looked for again, not dropped (each
/// would otherwise wait for the 60 s safety poll).
#[test]
fn oxylabs_callbacks_that_beat_the_submit_commit_are_not_lost() {
    callbacks_finish_every_job([0, 0]);
}

/// 50 queries with `delivery = "callback"` whose jobs finish after `finish_delay_ms`:
/// the run must end well before the safety poll, with every callback accepted.
fn callbacks_finish_every_job(finish_delay_ms: [u64; 2]) {
    let rt = runtime();
    let config = dredge_sim::oxylabs::Config {
        finish_delay_ms,
        callbacker_ips: vec!["127.0.0.1".into()],
        ..Default::default()
    };
    let sim = rt
        .block_on(dredge_sim::oxylabs::Sim::start(config, 9, "127.0.0.1", 0))
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut h = Harness::new(&format!(
        "[accounts.oxy]\nvendor = \"oxylabs\"\nbase_url = \"{}\"\nusername = \"user\"\npassword = \"pass\"\n",
        sim.base_url()
    ));
    let config_text = std::fs::read_to_string(h.config()).unwrap();
    std::fs::write(
        h.config(),
        format!("callback_listen = \"127.0.0.1:{port}\"\n{config_text}"),
    )
    .unwrap();
    h.start();
    let queries: Vec<String> = (0..50).map(|i| format!("\"q{i}\"")).collect();
    h.write_job(
        "cb.toml",
        &format!(
            "vendor = \"oxylabs\"\n[oxylabs]\nsource = \"google_search\"\nqueries = [{}]\ndelivery = \"callback\"\ncallback_url = \"http://127.0.0.1:{port}/oxylabs\"\n",
            queries.join(", ")
        ),
    );
    let run = h.wait_run_end("cb", Duration::from_secs(45));
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["records"], 50);
    let counters = sim.counters();
    let sent = dredge_sim::oxylabs::Sim::count(&counters.callbacks_sent);
    let failed = dredge_sim::oxylabs::Sim::count(&counters.callbacks_failed);
    assert!(sent >= 50, "the simulator sent a callback per job ({sent})");
    assert_eq!(failed, 0, "the daemon accepted every callback");
}
