//! The daemon on a PostgreSQL queue (`[queue] backend = "postgres"`): the same
//! exactly-once contract as on sled, through SIGKILLs; the schema created and migrated
//! at start; `dredge migrate --check` and a database written by a newer dredge.
//!
//! These tests need a PostgreSQL server: `DREDGE_TEST_POSTGRES_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/test` (this project's machines run one with
//! trust auth). Without one they fail, saying so: they never pass by skipping.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::autoextract_daemon::{autoextract_account, url_job, urls};
use crate::support::*;

/// A schema of its own for one test, dropped at the end.
pub(crate) struct PgSchema {
    pub url: String,
    pub name: String,
}

impl PgSchema {
    pub(crate) fn new(tag: &str) -> Self {
        let url = std::env::var("DREDGE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let name = format!("e2e_{tag}_{}", std::process::id());
        let schema = PgSchema { url, name };
        schema.sql(&format!("DROP SCHEMA IF EXISTS {} CASCADE", schema.name));
        schema
    }

    /// The `[queue]` section of a daemon using this schema.
    pub(crate) fn queue_section(&self) -> String {
        format!(
            "[queue]\nbackend = \"postgres\"\nurl = \"{}\"\nschema = \"{}\"\n\n",
            self.url, self.name
        )
    }

    /// Runs `sql` (one or more statements) on the test database.
    pub(crate) fn sql(&self, sql: &str) {
        let rt = runtime();
        let (client, connection) = rt
            .block_on(tokio_postgres::connect(&self.url, tokio_postgres::NoTls))
            .unwrap_or_else(|e| {
                panic!(
                    "no PostgreSQL server answers at {} ({e}): start one, or set DREDGE_TEST_POSTGRES_URL",
                    self.url
                )
            });
        rt.spawn(connection);
        rt.block_on(client.batch_execute(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

impl PgSchema {
    /// The first column of the first row of `sql`, as text (`None`: no row, or NULL).
    pub(crate) fn text(&self, sql: &str) -> Option<String> {
        let rt = runtime();
        let (client, connection) = rt
            .block_on(tokio_postgres::connect(&self.url, tokio_postgres::NoTls))
            .unwrap_or_else(|e| panic!("no PostgreSQL server answers at {} ({e})", self.url));
        rt.spawn(connection);
        let rows = rt
            .block_on(client.simple_query(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.iter().find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.sql(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

#[test]
fn sigkill_at_varied_points_on_postgres_never_loses_or_duplicates_a_record() {
    let schema = PgSchema::new("sigkill");
    crate::crash::sigkill_a_run_at_varied_points(&schema.queue_section(), 6_000, 8);
}

#[test]
fn a_daemon_creates_its_schema_and_migrate_check_then_says_it_is_current() {
    let schema = PgSchema::new("migrate");
    let rt = runtime();
    let sim = autoextract_sim(&rt, Default::default(), 3);
    let mut h = Harness::new(&format!(
        "{}{}",
        schema.queue_section(),
        autoextract_account(&sim.base_url())
    ));
    let before = migrate_check(&h);
    assert_eq!(before.status.code(), Some(1), "{before:?}");
    let said = String::from_utf8_lossy(&before.stdout);
    assert!(said.contains("not created yet"), "{said}");

    h.start();
    let expected = urls(300, 3);
    url_job(&h, "small", &expected);
    let run = h.wait_run_end("small", Duration::from_secs(60));
    assert_eq!(run["state"], "succeeded", "{run}");
    let lines = read_output(&h.path("").join(run["output"].as_str().unwrap()));
    assert_eq!(lines.len(), expected.len());
    let status = h.call("status", serde_json::json!({}));
    assert_eq!(status["queue_backend"]["backend"], "postgres", "{status}");
    assert_eq!(
        status["queue_backend"]["schema"],
        schema.name.as_str(),
        "{status}"
    );
    assert!(
        !status.to_string().contains("postgres://"),
        "the URL is not shown: {status}"
    );
    h.stop();

    let after = migrate_check(&h);
    let said = String::from_utf8_lossy(&after.stdout);
    assert_eq!(after.status.code(), Some(0), "{said}");
    assert!(said.contains("nothing to do"), "{said}");
}

fn migrate_check(h: &Harness) -> std::process::Output {
    std::process::Command::new(BIN)
        .args(["migrate", "--check", "--config"])
        .arg(h.config())
        .output()
        .unwrap()
}

#[test]
fn a_second_daemon_under_a_node_in_use_refuses_to_start_naming_the_first() {
    let schema = PgSchema::new("second");
    let queue = |node: &str| {
        format!(
            "{}\nnode = \"{node}\"\n\n",
            schema.queue_section().trim_end()
        )
    };
    let mut first = Harness::new(&queue("worker-1"));
    first.start();
    // Another node shares the schema.
    let mut beside = Harness::new(&queue("worker-2"));
    beside.start();
    let second = Harness::new(&queue("worker-1"));
    let out = run_until_exit(&second, Duration::from_secs(30));
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("node \"worker-1\" of the PostgreSQL queue"),
        "{said}"
    );
    assert!(said.contains("already running"), "{said}");
    assert!(said.contains("give this one another node"), "{said}");
    assert!(!said.contains("panicked"), "{said}");

    // Once the first is gone (even SIGKILLed), its node is free.
    first.kill9();
    let mut second = second;
    second.start();
    let status = second.call("status", serde_json::json!({}));
    assert_eq!(status["queue_backend"]["node"], "worker-1", "{status}");
    assert!(beside.stop().success());
}

/// Runs a daemon that is expected to exit by itself; one still running after `limit`
/// is killed and fails the test.
fn run_until_exit(h: &Harness, limit: Duration) -> std::process::Output {
    let mut child = std::process::Command::new(BIN)
        .args(["daemon", "--config"])
        .arg(h.config())
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the daemon did not exit within {limit:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// A TCP proxy in front of the PostgreSQL server that a test can cut: every open
/// connection is shut down and new ones are closed at once until it is mended — the
/// server gone, as the daemon sees it.
struct CuttableProxy {
    port: u16,
    up: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl CuttableProxy {
    fn to(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (up2, open2, upstream) = (up.clone(), open.clone(), upstream.to_string());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let mut streams = open2.lock().unwrap();
                for s in [&client, &server] {
                    streams.push(s.try_clone().unwrap());
                }
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        CuttableProxy { port, up, open }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn mend(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

#[test]
fn the_server_gone_mid_run_pauses_it_and_it_finishes_by_itself_exactly_once() {
    let schema = PgSchema::new("gone");
    let proxy = CuttableProxy::to("127.0.0.1:5432");
    let through_proxy =
        schema
            .url
            .replacen("127.0.0.1:5432", &format!("127.0.0.1:{}", proxy.port), 1);
    assert_ne!(
        through_proxy, schema.url,
        "the test server is at 127.0.0.1:5432"
    );
    let rt = runtime();
    let sim = autoextract_sim(
        &rt,
        with_faults(dredge_sim::autoextract::Faults {
            slow_rate: 1.0,
            slow_ms: 60,
            ..Default::default()
        }),
        6,
    );
    let queue = format!(
        "[queue]\nbackend = \"postgres\"\nurl = \"{through_proxy}\"\nschema = \"{}\"\n\n",
        schema.name
    );
    let mut h = Harness::new(&format!("{queue}{}", autoextract_account(&sim.base_url())));
    h.start();
    let expected = urls(3_000, 600);
    url_job(&h, "gone", &expected);
    wait_until("the first records", Duration::from_secs(60), || {
        h.runs("gone")
            .first()
            .is_some_and(|r| r["records"].as_u64().unwrap_or(0) > 0)
    });

    proxy.cut();
    wait_until("status to show the fault", Duration::from_secs(60), || {
        h.call("status", json!({}))["storage"]["state"] == "io_error"
    });
    let status = h.call("status", json!({}));
    assert!(
        !status.to_string().contains("postgres://"),
        "no URL in status: {status}"
    );
    proxy.mend();

    let run = h.wait_run_end("gone", Duration::from_secs(180));
    assert!(
        h.call("status", json!({}))["storage"].is_null(),
        "the fault clears by itself"
    );
    assert_eq!(h.runs("gone").len(), 1);
    let lines = read_output(&h.path("").join(run["output"].as_str().unwrap()));
    let mut seen = std::collections::HashMap::new();
    for line in &lines {
        *seen
            .entry(line["source"].as_str().unwrap().to_string())
            .or_insert(0usize) += 1;
    }
    let twice = seen.values().filter(|n| **n > 1).count();
    let missing = expected.iter().filter(|u| !seen.contains_key(*u)).count();
    assert_eq!((twice, missing), (0, 0), "records twice, records missing");
    assert_eq!(seen.len(), expected.len());
    assert_eq!(h.call("dead.list", json!({ "job": "gone" })), json!([]));
    assert_eq!(run["state"], "succeeded", "{run}");
}

#[test]
fn a_schema_written_by_a_newer_dredge_is_refused_at_start_and_by_migrate_check() {
    let schema = PgSchema::new("newer");
    let mut h = Harness::new(&schema.queue_section());
    h.start();
    h.stop();
    schema.sql(&format!(
        "UPDATE {}.schema_version SET version = 999",
        schema.name
    ));

    let out = run_until_exit(&h, Duration::from_secs(30));
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("written by a newer dredge"), "{said}");
    assert!(said.contains("999"), "{said}");
    assert!(!said.contains("panicked"), "{said}");

    let check = migrate_check(&h);
    let said = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{said}");
    assert!(said.contains("written by a newer dredge"), "{said}");
}
