//! Several daemons on one PostgreSQL queue (a cluster): an account's rate shared among
//! them and held for the cluster, a cron fire started once, `dredge status` listing the
//! live daemons, and a daemon that stops or dies leaving its share to the others.
//!
//! These tests need a PostgreSQL server, as `postgres.rs` says; without one they fail.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use dredge_sim::zyte::{Config, Sim};
use serde_json::{Value, json};

use crate::autoextract_daemon::autoextract_account;
use crate::postgres::PgSchema;
use crate::support::*;

/// The account's quota for the whole cluster.
const QUOTA: usize = 20;
/// The measured stretch (the figure).
const MEASURED: Duration = Duration::from_secs(60);

/// `[queue]` for daemon `node` on `schema`.
fn queue(schema: &PgSchema, node: &str) -> String {
    format!(
        "{}\nnode = \"{node}\"\n\n",
        schema.queue_section().trim_end()
    )
}

/// The same account on each daemon, each with its own API key, so the simulator's log
/// tells whose request each one was. Four requests in flight per daemon: the quota,
/// not a slow round trip on a loaded machine, is what paces them.
fn zyte_account(base_url: &str, key: &str) -> String {
    format!(
        "[accounts.zyte]\nvendor = \"zyte\"\nbase_url = \"{base_url}\"\napi_key = \"{key}\"\nrequests_per_second = {QUOTA}\nmax_concurrency = 8\n"
    )
}

/// The live daemons `h`'s status lists, by node name.
fn live_nodes(h: &Harness) -> Vec<String> {
    let status = h.call("status", json!({}));
    status["cluster"]["nodes"]
        .as_array()
        .map(|nodes| {
            nodes
                .iter()
                .map(|n| n["node"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn cluster_of(schema: &PgSchema, nodes: &[&str], account: impl Fn(&str) -> String) -> Vec<Harness> {
    let mut daemons: Vec<Harness> = nodes
        .iter()
        .map(|node| Harness::new(&format!("{}{}", queue(schema, node), account(node))))
        .collect();
    for h in &mut daemons {
        h.start();
    }
    let all: Vec<String> = nodes.iter().map(|n| n.to_string()).collect();
    wait_until(
        "every daemon sees the others",
        Duration::from_secs(30),
        || daemons.iter().all(|h| live_nodes(h) == all),
    );
    daemons
}

fn seconds_since(start: SystemTime, at: SystemTime) -> f64 {
    at.duration_since(start).unwrap_or_default().as_secs_f64()
}

#[test]
fn two_daemons_hold_an_accounts_rate_for_the_cluster_and_status_lists_both() {
    let schema = PgSchema::new("share");
    let rt = runtime();
    let config = Config {
        api_keys: vec!["key-a".into(), "key-b".into()],
        ..Config::default()
    };
    let sim = rt
        .block_on(Sim::start(config, 5, "127.0.0.1", 0))
        .expect("start the Zyte API simulator");
    let daemons = cluster_of(&schema, &["a", "b"], |node| {
        zyte_account(&sim.base_url(), &format!("key-{node}"))
    });
    let (a, b) = (&daemons[0], &daemons[1]);
    // More URLs than 70 s at the quota: the run lasts past the measured stretch. Both
    // daemons load the job; one of them starts its run, the other is refused.
    let urls: Vec<String> = (0..2_000)
        .map(|i| format!("https://www.shop{}.example/item/{i}", i % 50))
        .collect();
    for h in &daemons {
        std::fs::write(h.path("jobs/shop.txt"), urls.join("\n")).unwrap();
        h.write_job(
            "shop.toml",
            "vendor = \"zyte\"\n[zyte]\nextract = \"product\"\nurls_file = \"shop.txt\"\n",
        );
    }
    wait_until("one run of the job", Duration::from_secs(30), || {
        a.runs("shop").len() == 1
    });
    // The daemon that did not start the run is woken by the queue (LISTEN/NOTIFY).
    wait_until(
        "requests from both daemons",
        Duration::from_secs(30),
        || {
            let seen = sim.requests();
            ["key-a", "key-b"]
                .iter()
                .all(|k| seen.iter().any(|r| r.key.as_deref() == Some(*k)))
        },
    );

    // Status lists both, marks which one answered, and says the share.
    let status = b.call("status", json!({}));
    assert_eq!(status["cluster"]["share"], "1/2", "{status}");
    let nodes = status["cluster"]["nodes"].as_array().unwrap();
    let this: Vec<bool> = nodes.iter().map(|n| n["this"] == true).collect();
    assert_eq!(this, [false, true], "{status}");
    let text = String::from_utf8_lossy(&b.cli(&["status"]).stdout).to_string();
    assert!(text.contains("cluster    2 daemons"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("a ")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("b * ")), "{text}");

    // Both have seen each other (their shares are set) and run: 60 s from here.
    let from = SystemTime::now();
    let to = from + MEASURED;
    wait_until(
        "requests past the measured stretch",
        MEASURED + Duration::from_secs(30),
        || sim.requests().last().is_some_and(|r| r.at > to),
    );
    assert_eq!(a.runs("shop").len(), 1, "one job file content, one run");
    let seen = sim.requests();
    let inside: Vec<_> = seen.iter().filter(|r| r.at >= from && r.at < to).collect();
    let rate = inside.len() as f64 / MEASURED.as_secs_f64();
    assert!(
        (rate - QUOTA as f64).abs() <= QUOTA as f64 * 0.02,
        "together {rate:.2} req/s over {MEASURED:?}, the quota is {QUOTA}"
    );
    for key in ["key-a", "key-b"] {
        let mine = inside
            .iter()
            .filter(|r| r.key.as_deref() == Some(key))
            .count();
        let half = inside.len() / 2;
        assert!(
            mine.abs_diff(half) <= half / 20,
            "{key} made {mine} of {} requests: each daemon takes half",
            inside.len()
        );
    }
    // No 1-s window holds more than the quota plus each daemon's burst of one.
    let times: Vec<f64> = inside.iter().map(|r| seconds_since(from, r.at)).collect();
    let busiest = busiest_second(&times);
    eprintln!(
        "two daemons, quota {QUOTA}/s: {rate:.3} req/s over {MEASURED:?}, busiest 1-s window {busiest}"
    );
    assert!(
        busiest <= QUOTA + 2,
        "{busiest} requests in one 1-s window; the quota is {QUOTA} with a burst of one per daemon"
    );
}

/// The most requests in any window [t, t + 1 s) starting at a request.
fn busiest_second(times: &[f64]) -> usize {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut end = 0;
    let mut busiest = 0;
    for (start, t) in sorted.iter().enumerate() {
        while end < sorted.len() && sorted[end] < t + 1.0 {
            end += 1;
        }
        busiest = busiest.max(end - start);
    }
    busiest
}

/// A job firing every second whose run ends at once (its one URL is refused at
/// planning, so it is dead before any daemon leases it): every fire can start a run.
const EVERY_SECOND: &str = "vendor = \"autoextract\"\nschedule = \"* * * * * *\"\ncatch_up = \"skip\"\n[autoextract]\npage_type = \"product\"\nurls = [\"ftp://example.com/not-http\"]\n";

fn started_at(run: &Value) -> DateTime<Utc> {
    let at = run["started_at"].as_str().unwrap_or_default();
    DateTime::parse_from_rfc3339(at)
        .unwrap_or_else(|e| panic!("{at}: {e}"))
        .with_timezone(&Utc)
}

/// The node names of the heartbeat rows in `schema`.
fn node_rows(schema: &PgSchema) -> Vec<String> {
    let rt = runtime();
    let (client, connection) = rt
        .block_on(tokio_postgres::connect(&schema.url, tokio_postgres::NoTls))
        .expect("the test's PostgreSQL server");
    rt.spawn(connection);
    let sql = format!("SELECT node FROM {}.nodes ORDER BY node", schema.name);
    let rows = rt.block_on(client.query(&sql, &[])).expect(&sql);
    rows.iter().map(|r| r.get(0)).collect()
}

#[test]
fn a_cron_job_on_two_daemons_fires_once_per_tick_and_a_daemon_gone_leaves_its_share() {
    let schema = PgSchema::new("cron");
    let rt = runtime();
    let sim = autoextract_sim(&rt, Default::default(), 1);
    let mut daemons = cluster_of(&schema, &["a", "b"], |_| {
        autoextract_account(&sim.base_url())
    });
    for h in &daemons {
        h.write_job("tick.toml", EVERY_SECOND);
    }
    wait_until("11 fires", Duration::from_secs(60), || {
        daemons[0].runs("tick").len() >= 11
    });
    let runs = daemons[0].runs("tick");
    // Each tick started one run: no two runs in one second, and every run is one that
    // one of the two daemons started.
    let ticks: HashSet<i64> = runs.iter().map(|r| started_at(r).timestamp()).collect();
    assert_eq!(ticks.len(), runs.len(), "two runs for one tick: {runs:#?}");
    for (h, name) in daemons.iter().zip(["a", "b"]) {
        let log = h.log();
        assert!(!log.contains("scheduled run not started"), "{name}: {log}");
    }
    let lost = daemons
        .iter()
        .map(|h| {
            let log = h.log();
            log.matches("already started by another dredge daemon")
                .count()
                + log.matches("fire started by another daemon").count()
        })
        .sum::<usize>();
    assert!(
        lost >= 10,
        "the daemons met each other's fires {lost} times"
    );

    // A clean stop removes its heartbeat at once; a SIGKILL once it expires. Either
    // way the other takes the whole share back.
    assert!(daemons[1].stop().success());
    let status = daemons[0].call("status", json!({}));
    assert!(
        !node_rows(&schema).contains(&"b".to_string()),
        "b left its row behind: {status}"
    );
    wait_until("a alone after b stopped", Duration::from_secs(10), || {
        live_nodes(&daemons[0]) == ["a"]
    });
    daemons[1].start();
    wait_until("b back", Duration::from_secs(30), || {
        live_nodes(&daemons[0]).len() == 2
    });
    daemons[1].kill9();
    wait_until(
        "b dropped once its heartbeat expired",
        Duration::from_secs(30),
        || live_nodes(&daemons[0]) == ["a"],
    );
    let status = daemons[0].call("status", json!({}));
    assert_eq!(status["cluster"]["share"], "1/1", "{status}");
}

#[test]
fn an_account_stop_one_daemon_meets_stops_the_account_on_the_other() {
    let schema = PgSchema::new("stops");
    let rt = runtime();
    let config = Config {
        api_keys: vec!["key-a".into(), "key-b".into()],
        suspended_keys: vec!["key-a".into()],
        ..Config::default()
    };
    let sim = rt
        .block_on(Sim::start(config, 5, "127.0.0.1", 0))
        .expect("start the Zyte API simulator");
    let daemons = cluster_of(&schema, &["a", "b"], |node| {
        zyte_account(&sim.base_url(), &format!("key-{node}"))
    });
    let (a, b) = (&daemons[0], &daemons[1]);
    // Many items, so that both daemons lease some at once (both are woken by the new
    // run): a's first request meets the suspension; b, whose key works, goes on at its
    // share of the rate (500 items: far longer than a heartbeat) until a's stop
    // reaches it.
    let urls: String = (0..500)
        .map(|i| format!("https://www.shop.example/item/{i}\n"))
        .collect();
    std::fs::write(a.path("jobs/shop.txt"), urls).unwrap();
    a.write_job(
        "shop.toml",
        "vendor = \"zyte\"\n[zyte]\nextract = \"product\"\nurls_file = \"shop.txt\"\n",
    );
    let state = |h: &Harness| h.call("status", json!({}))["accounts"][0].clone();
    wait_until("a meets the suspension", Duration::from_secs(30), || {
        state(a)["state"] == "account_suspended"
    });
    wait_until("b stops the account too", Duration::from_secs(30), || {
        state(b)["state"] == "account_suspended"
    });
    let detail = state(b)["detail"].to_string();
    assert!(
        detail.contains("met by the daemon of node \\\"a\\\""),
        "b took a's stop rather than meeting it: {detail}"
    );
    // Both stopped: once b's requests in flight are back, the run's items wait.
    wait_until("no item leased", Duration::from_secs(30), || {
        a.runs("shop")[0]["items"]["leased"] == 0
    });
    let run = &a.runs("shop")[0];
    assert_eq!(run["state"], "running", "{run}");
    assert!(run["items"]["ready"].as_u64() > Some(0), "b went on: {run}");
}
