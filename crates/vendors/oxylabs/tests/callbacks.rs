//! The callback endpoint on a real axum server on 127.0.0.1, alone and with the
//! simulator posting callbacks while the driver runs a callback-delivery job.

mod support;

use std::collections::HashSet;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use dredge_core::job::OxylabsDelivery;
use dredge_oxylabs::OxylabsExecutor;
use dredge_oxylabs::callback::{
    Allowlist, CallbackSink, callback_router, callback_router_with_secret, fetch_callbacker_ips,
    refresh_allowlist,
};
use dredge_sim::oxylabs::{Config, Sim};

use support::*;

const JOB_ID: &str = "7173957294344910849";

/// A sink that knows a fixed set of jobs and records what it was told.
#[derive(Default)]
struct KnownJobs {
    known: HashSet<String>,
    told: Mutex<Vec<String>>,
}

impl CallbackSink for KnownJobs {
    fn job_done(&self, job_id: &str) -> bool {
        if !self.known.contains(job_id) {
            return false;
        }
        self.told.lock().unwrap().push(job_id.to_string());
        true
    }
}

fn known(ids: &[&str]) -> Arc<KnownJobs> {
    Arc::new(KnownJobs {
        known: ids.iter().map(|s| s.to_string()).collect(),
        told: Mutex::default(),
    })
}

fn allow(ips: &[&str]) -> Arc<RwLock<Allowlist>> {
    let ips: Vec<_> = ips.iter().map(|ip| ip.parse().unwrap()).collect();
    Arc::new(RwLock::new(Allowlist::new(&ips, &[]).unwrap()))
}

async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    addr
}

async fn post(addr: SocketAddr, body: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("http://{addr}/oxylabs/callback"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("the endpoint answers")
        .status()
        .as_u16()
}

fn job_json(id: &str) -> String {
    format!(r#"{{"id":"{id}","status":"done","_links":[]}}"#)
}

#[tokio::test]
async fn a_callback_from_an_allowed_peer_for_a_known_job_is_accepted() {
    let sink = known(&[JOB_ID]);
    let addr = serve(callback_router(allow(&["127.0.0.1"]), sink.clone())).await;
    assert_eq!(post(addr, &job_json(JOB_ID)).await, 200);
    assert_eq!(*sink.told.lock().unwrap(), [JOB_ID]);
}

#[tokio::test]
async fn a_callback_for_an_unknown_job_is_404_and_changes_nothing() {
    let sink = known(&[JOB_ID]);
    let addr = serve(callback_router(allow(&["127.0.0.1"]), sink.clone())).await;
    assert_eq!(post(addr, &job_json("7000000000000000001")).await, 404);
    assert!(sink.told.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_malformed_callback_is_400() {
    let sink = known(&[JOB_ID]);
    let addr = serve(callback_router(allow(&["127.0.0.1"]), sink.clone())).await;
    assert_eq!(post(addr, "not json").await, 400);
    assert_eq!(
        post(addr, &format!(r#"{{"id":{JOB_ID}}}"#)).await,
        400,
        "a numeric id"
    );
    assert_eq!(post(addr, r#"{"status":"done"}"#).await, 400, "no id");
    assert!(sink.told.lock().unwrap().is_empty());
}

/// Log lines written while a test runs (single-threaded runtime, so the thread's
/// default subscriber sees the server's events too).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_callback_from_outside_the_allowlist_is_403_and_logged() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let sink = known(&[JOB_ID]);
    // The allowlist lacks 127.0.0.1: to it, our local peer is a spoofed sender.
    let addr = serve(callback_router(allow(&["203.0.113.9"]), sink.clone())).await;
    assert_eq!(post(addr, &job_json(JOB_ID)).await, 403);
    assert!(sink.told.lock().unwrap().is_empty());
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("WARN")
            && text.contains("outside the allowlist")
            && text.contains("127.0.0.1"),
        "{text}"
    );
}

#[tokio::test]
async fn a_refreshed_allowlist_takes_effect_without_a_new_router() {
    let sim = sim(Config {
        callbacker_ips: vec!["203.0.113.9".into()],
        ..Config::default()
    })
    .await;
    let sink = known(&[JOB_ID]);
    let list = allow(&[]);
    let addr = serve(callback_router(list.clone(), sink.clone())).await;
    assert_eq!(post(addr, &job_json(JOB_ID)).await, 403);
    let mut account = account(&sim, PASSWORD);
    account.callback_allow = vec!["127.0.0.0/8".into()];
    let size = refresh_allowlist(&account, &list).await.expect("refreshes");
    assert_eq!(size, 2, "the vendor's address and the configured CIDR");
    assert_eq!(post(addr, &job_json(JOB_ID)).await, 200);
}

#[tokio::test]
async fn callbacker_ips_are_fetched_with_the_accounts_credentials() {
    let sim = sim(Config {
        callbacker_ips: vec!["203.0.113.9".into(), "198.51.100.4".into()],
        ..Config::default()
    })
    .await;
    let ips = fetch_callbacker_ips(&account(&sim, PASSWORD))
        .await
        .expect("fetches");
    let want: Vec<std::net::IpAddr> = vec![
        "203.0.113.9".parse().unwrap(),
        "198.51.100.4".parse().unwrap(),
    ];
    assert_eq!(ips, want);
    let refused = fetch_callbacker_ips(&account(&sim, "wrong"))
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("401"), "{refused}");
    assert!(!refused.to_string().contains("wrong"));
}

/// The daemon's part in the end-to-end tests: a job is known when the simulator has
/// it; a known job's callback marks it in the executor.
struct ExecutorSink {
    sim_jobs: Arc<Sim>,
    exec: Arc<OxylabsExecutor>,
    told: Mutex<HashSet<String>>,
}

impl CallbackSink for ExecutorSink {
    fn job_done(&self, job_id: &str) -> bool {
        if !self.sim_jobs.jobs().iter().any(|j| j.id == job_id) {
            return false;
        }
        self.exec.callback_received(job_id);
        self.told.lock().unwrap().insert(job_id.to_string());
        true
    }
}

async fn callback_run(
    config: Config,
    safety: Duration,
    n: usize,
) -> (Arc<Sim>, Arc<ExecutorSink>, Vec<String>) {
    let sim = Arc::new(sim(config).await);
    let exec = Arc::new(executor_with(&sim, PASSWORD).with_safety_poll(safety));
    let ips = fetch_callbacker_ips(&account(&sim, PASSWORD))
        .await
        .expect("fetches");
    let list = Arc::new(RwLock::new(Allowlist::new(&ips, &[]).unwrap()));
    let sink = Arc::new(ExecutorSink {
        sim_jobs: sim.clone(),
        exec: exec.clone(),
        told: Mutex::default(),
    });
    let addr = serve(callback_router(list, sink.clone())).await;
    let job = job(JobShape {
        delivery: OxylabsDelivery::Callback,
        poll_interval: Duration::from_millis(50),
        callback_url: Some(format!("http://{addr}/oxylabs/callback")),
        ..JobShape::default()
    });
    let values = queries(n);
    let report = run(exec, &job, &values).await;
    assert_each_value_once(&values, &report);
    (sim, sink, values)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_spare_status_polls_and_lost_ones_are_recovered_by_the_safety_poll() {
    let config = Config {
        finish_delay_ms: [20, 100],
        lost_callback_share: 0.3,
        ..Config::default()
    };
    let (sim, sink, _) = callback_run(config, Duration::from_millis(1500), 40).await;
    let told = sink.told.lock().unwrap().clone();
    let lost = Sim::count(&sim.counters().callbacks_lost);
    assert!(lost > 0, "some callbacks were lost");
    assert_eq!(
        told.len() as u64,
        Sim::count(&sim.counters().callbacks_sent)
    );
    assert_eq!(told.len() as u64 + lost, 40);
    for job in sim.jobs() {
        let status_polls = requests(&sim, "GET", &format!("/v1/queries/{}", job.id))
            .iter()
            .filter(|e| !e.path.contains("/results"))
            .count();
        if told.contains(&job.id) {
            assert_eq!(
                status_polls, 0,
                "a called-back job goes straight to its results"
            );
        } else {
            assert!(status_polls > 0, "a job whose callback was lost is polled");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofed_callbacks_are_refused_and_the_safety_poll_still_collects_every_job() {
    let config = Config {
        finish_delay_ms: [20, 100],
        // The vendor's senders exclude 127.0.0.1, where the simulator posts from.
        callbacker_ips: vec!["203.0.113.9".into()],
        ..Config::default()
    };
    let (sim, sink, values) = callback_run(config, Duration::from_millis(300), 20).await;
    eventually("every callback was answered", || {
        Sim::count(&sim.counters().callbacks_failed) == values.len() as u64
    })
    .await;
    assert!(
        sink.told.lock().unwrap().is_empty(),
        "no refused callback reached the sink"
    );
}

async fn post_to(addr: SocketAddr, path: &str, body: String) -> u16 {
    reqwest::Client::new()
        .post(format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("the endpoint answers")
        .status()
        .as_u16()
}

#[tokio::test]
async fn behind_a_proxy_a_callback_needs_the_path_secret() {
    let sink = known(&[JOB_ID]);
    let secret = dredge_core::Secret::new("0a1b2c3d4e5f");
    let router = callback_router_with_secret(allow(&["127.0.0.1"]), sink.clone(), Some(secret));
    let addr = serve(router).await;
    assert_eq!(
        post_to(addr, "/oxylabs/callback", job_json(JOB_ID)).await,
        404
    );
    assert_eq!(
        post_to(addr, "/oxylabs/0a1b2c3d4e5", job_json(JOB_ID)).await,
        404
    );
    assert!(sink.told.lock().unwrap().is_empty());
    assert_eq!(
        post_to(addr, "/oxylabs/0a1b2c3d4e5f", job_json(JOB_ID)).await,
        200
    );
    assert_eq!(*sink.told.lock().unwrap(), [JOB_ID]);
}

#[tokio::test]
async fn an_oversized_callback_body_is_refused() {
    let sink = known(&[JOB_ID]);
    let addr = serve(callback_router(allow(&["127.0.0.1"]), sink.clone())).await;
    let padding = " ".repeat(dredge_oxylabs::callback::MAX_CALLBACK_BODY);
    let body = format!(r#"{{"id":"{JOB_ID}","pad":"{padding}"}}"#);
    assert_eq!(post_to(addr, "/cb", body).await, 413);
    assert!(sink.told.lock().unwrap().is_empty());
}
