//! A Zyte API job through the daemon, against a simulator that limits domains and the
//! key, answers 520 with `Retry-After`, serves target 404s and later suspends the
//! account: every URL ends as one record or one dead item, and no request arrives
//! inside a wait the simulator announced.

use std::collections::HashSet;
use std::time::Duration;

use dredge_sim::zyte::{Config, Faults, Sim, WindowScope};
use serde_json::json;

use crate::support::*;

/// One request in flight (`max_concurrency = 1`): a wait announced in one answer then
/// holds back every later request, so "none inside a window" is exact, not a race.
fn zyte_account(base_url: &str, rps: u32) -> String {
    format!(
        "[accounts.zyte]\nvendor = \"zyte\"\nbase_url = \"{base_url}\"\napi_key = \"test-key\"\nrequests_per_second = {rps}\nmax_concurrency = 1\n"
    )
}

fn url_job(h: &Harness, name: &str, urls: &[String]) {
    std::fs::write(h.path(&format!("jobs/{name}.txt")), urls.join("\n")).unwrap();
    h.write_job(
        &format!("{name}.toml"),
        &format!("vendor = \"zyte\"\n[zyte]\nextract = \"product\"\nurls_file = \"{name}.txt\"\n"),
    );
}

fn faulty() -> Faults {
    Faults {
        domain_limit_rate: 0.08,
        domain_limit_seconds: 0.4,
        user_limit_next: 2,
        global_limit_rate: 0.02,
        user_limit_seconds: 0.3,
        temporary_error_rate: 0.05,
        download_retry_after: 1.5,
        ..Faults::default()
    }
}

fn account_state(h: &Harness) -> String {
    h.call("status", json!({}))["accounts"][0]["state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_zyte_job_lands_every_url_once_and_never_asks_inside_an_announced_wait() {
    let rt = runtime();
    let sim: Sim = rt
        .block_on(Sim::start(
            Config {
                faults: faulty(),
                ..Config::default()
            },
            5,
            "127.0.0.1",
            0,
        ))
        .expect("start the Zyte API simulator");
    let mut h = Harness::new(&zyte_account(&sim.base_url(), 200));
    h.start();
    let urls: Vec<String> = (0..120)
        .map(|i| {
            let kind = if i % 30 == 7 { "missing" } else { "item" };
            format!("https://www.shop{}.example/{kind}/{i}", i % 4)
        })
        .collect();
    url_job(&h, "shop", &urls);

    let run = h.wait_run_end("shop", Duration::from_secs(120));
    assert_eq!(run["state"], "failed", "target 404s are dead items: {run}");
    let lines = read_output(&h.path("").join(run["output"].as_str().unwrap()));
    let dead = h.call("dead.list", json!({ "job": "shop" }));
    let dead = dead.as_array().unwrap();
    assert_eq!(dead.len(), 4, "{dead:?}");
    for d in dead {
        assert!(d["error"].as_str().unwrap().contains("HTTP 404"), "{d}");
    }
    let written: Vec<&str> = lines
        .iter()
        .map(|l| l["source"].as_str().unwrap())
        .collect();
    let mut ended: Vec<String> = written.iter().map(|s| s.to_string()).collect();
    ended.extend(dead.iter().map(|d| d["what"].as_str().unwrap().to_string()));
    ended.sort();
    let mut expected = urls.clone();
    expected.sort();
    assert_eq!(ended, expected, "every URL one record or one dead item");
    assert_eq!(lines[0]["vendor"], "zyte");
    let source = written[0];
    assert_eq!(lines[0]["data"], sim.extracted("product", source));

    let windows = sim.windows();
    let kinds: HashSet<&str> = windows
        .iter()
        .map(|w| match w.scope {
            WindowScope::Domain(_) => "domain",
            WindowScope::Account(_) => "account",
            WindowScope::Url(_) => "url",
        })
        .collect();
    assert_eq!(
        kinds.len(),
        3,
        "every kind of wait was announced: {kinds:?}"
    );
    let inside = sim.requests_inside_windows();
    assert!(
        inside.is_empty(),
        "requests inside announced waits: {inside:?}"
    );

    // The spending limit is reached: the account stops, nothing dies, one request.
    sim.set_faults(Faults {
        suspended: true,
        ..Faults::default()
    });
    let more: Vec<String> = (0..10)
        .map(|i| format!("https://more.example.com/p/{i}"))
        .collect();
    url_job(&h, "more", &more);
    wait_until("the account is suspended", Duration::from_secs(30), || {
        account_state(&h) == "account_suspended"
    });
    let suspended = |sim: &Sim| {
        sim.requests()
            .iter()
            .filter(|s| s.outcome == "account_suspended")
            .count()
    };
    assert_eq!(suspended(&sim), 1, "no hammering a suspended account");
    assert!(
        h.call("dead.list", json!({ "job": "more" }))
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(h.runs("more")[0]["state"], "running");

    // The limit is raised; the operator changes the config and reloads: the run ends.
    sim.set_faults(Faults::default());
    std::fs::write(
        h.config(),
        format!(
            "state_dir = \"state\"\njobs_dir = \"jobs\"\nsocket = \"state/dredge.sock\"\n\n{}",
            zyte_account(&sim.base_url(), 100)
        ),
    )
    .unwrap();
    h.call("reload", json!({}));
    let run = h.wait_run_end("more", Duration::from_secs(60));
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["records"], 10);
    assert_eq!(suspended(&sim), 1);
}
