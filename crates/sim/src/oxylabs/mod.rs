//! Simulator of the Oxylabs Scraper API, Push-Pull flavour (`{base}/v1/queries`).
//!
//! It owns what a Push-Pull client meets: Basic auth with the three real 401 bodies,
//! single and batch submission (≤ 5,000 values, only `query` *or* `url` a list), job JSON
//! with 19-digit string ids and `_links`, jobs that finish after a seeded delay, 204 for
//! early results, 404 once a job expired, raw / parsed / png results, callbacks to a
//! job's `callback_url`, and `callbacker_ips`. Faults: `faulted` jobs (612/613) that
//! succeed when resubmitted, lost callbacks, per-domain and account 429s, 500/524, slow
//! answers. Every request lands in the [`RequestLog`].

mod callback;
mod content;
mod gate;
mod handlers;
mod jobs;
mod submission;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use axum::Router;
use axum::routing::{get, post};
use serde::Deserialize;

use crate::common::Dice;
use crate::{RequestLog, SimServer};

pub use jobs::JobSummary;

/// One account the simulator accepts.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub username: String,
    pub password: String,
}

/// Behaviour and fault injection of the Oxylabs simulator. Every field has a default,
/// so a scenario names only what it changes; the defaults inject no faults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Accounts accepted by Basic auth (default: `user` / `pass`).
    pub users: Vec<User>,
    /// A job finishes after a seeded random delay in this range, in milliseconds.
    pub finish_delay_ms: [u64; 2],
    /// How long results stay available after a job finished (then 404).
    pub results_ttl_secs: u64,
    /// Share of jobs (0..=1) that end `faulted` (results with status 612/613). A
    /// resubmission of the same source and query/url always succeeds.
    pub faulted_share: f64,
    /// Share of done jobs whose parsed result has `parse_status_code` 12002.
    pub parse_failure_share: f64,
    /// Share of callbacks that are never sent ("lost callback").
    pub lost_callback_share: f64,
    /// What `GET /v1/info/callbacker_ips` lists.
    pub callbacker_ips: Vec<String>,
    /// Share of requests answered 500 or 524 instead of being served.
    pub server_error_rate: f64,
    /// Share of requests answered only after `slow_ms`.
    pub slow_rate: f64,
    pub slow_ms: u64,
    /// Account limit on submitted jobs per window (`None` = unlimited); beyond it 429.
    pub jobs_per_window: Option<u32>,
    /// Target domains limited to `domain_jobs_per_window` jobs per window (per-domain 429).
    pub limited_domains: Vec<String>,
    pub domain_jobs_per_window: u32,
    /// The window of both rate limits, in milliseconds.
    pub rate_window_ms: u64,
    /// Sources this account may not use (403).
    pub denied_sources: Vec<String>,
    /// Results documents are pretty-printed: legal JSON over many lines.
    pub pretty_results: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            users: vec![User {
                username: "user".into(),
                password: "pass".into(),
            }],
            finish_delay_ms: [200, 1000],
            results_ttl_secs: 24 * 3600,
            faulted_share: 0.0,
            parse_failure_share: 0.0,
            lost_callback_share: 0.0,
            callbacker_ips: vec!["127.0.0.1".into()],
            server_error_rate: 0.0,
            slow_rate: 0.0,
            slow_ms: 2000,
            jobs_per_window: None,
            limited_domains: Vec::new(),
            domain_jobs_per_window: 1,
            rate_window_ms: 1000,
            denied_sources: Vec::new(),
            pretty_results: false,
        }
    }
}

/// Counts tests read to see faults fire.
#[derive(Debug, Default)]
pub struct Counters {
    pub jobs_submitted: AtomicU64,
    pub jobs_faulted: AtomicU64,
    pub callbacks_sent: AtomicU64,
    pub callbacks_lost: AtomicU64,
    pub callbacks_failed: AtomicU64,
}

/// State shared by all handlers of one simulator.
pub(crate) struct Shared {
    pub(crate) config: RwLock<Config>,
    pub(crate) seed: u64,
    pub(crate) log: RequestLog,
    pub(crate) dice: Dice,
    pub(crate) jobs: Mutex<jobs::JobStore>,
    pub(crate) limits: Mutex<gate::Limits>,
    pub(crate) counters: Counters,
    pub(crate) http: reqwest::Client,
}

impl Shared {
    /// A copy of the current configuration (never hold the lock across an await).
    pub(crate) fn config(&self) -> Config {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A running Oxylabs simulator.
pub struct Sim {
    pub server: SimServer,
    pub log: RequestLog,
    shared: Arc<Shared>,
}

impl Sim {
    pub async fn start(config: Config, seed: u64, host: &str, port: u16) -> std::io::Result<Self> {
        let log = RequestLog::default();
        let shared = Arc::new(Shared {
            config: RwLock::new(config),
            seed,
            log: log.clone(),
            dice: Dice::new(seed ^ 0x09c7_1ab5),
            jobs: Mutex::default(),
            limits: Mutex::default(),
            counters: Counters::default(),
            http: reqwest::Client::new(),
        });
        let server = SimServer::serve(router(shared.clone()), host, port).await?;
        Ok(Sim {
            server,
            log,
            shared,
        })
    }

    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Change faults or data knobs while the simulator runs.
    pub fn update_config(&self, change: impl FnOnce(&mut Config)) {
        let mut config = self
            .shared
            .config
            .write()
            .unwrap_or_else(|e| e.into_inner());
        change(&mut config);
    }

    /// The configuration now in force.
    pub fn config(&self) -> Config {
        self.shared.config()
    }

    /// Make a job's results unavailable now (as if its 24 h had passed): 404 from then on.
    pub fn expire_job(&self, id: &str) -> bool {
        self.shared.lock_jobs().expire(id)
    }

    /// Every job submitted so far, in submission order.
    pub fn jobs(&self) -> Vec<JobSummary> {
        self.shared.lock_jobs().summaries()
    }

    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// Shorthand for reading one counter.
    pub fn count(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::SeqCst)
    }
}

impl Shared {
    pub(crate) fn lock_jobs(&self) -> std::sync::MutexGuard<'_, jobs::JobStore> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/queries", post(handlers::submit_one))
        .route("/v1/queries/batch", post(handlers::submit_batch))
        .route("/v1/queries/{id}", get(handlers::job_status))
        .route("/v1/queries/{id}/results", get(handlers::results))
        .route(
            "/v1/queries/{id}/results/{n}/content",
            get(handlers::result_content),
        )
        .route("/v1/info/callbacker_ips", get(handlers::callbacker_ips))
        .fallback(handlers::not_found)
        .with_state(shared)
}
