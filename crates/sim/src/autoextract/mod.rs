//! Simulator of the Scrapinghub AutoExtract API: `POST /v1/extract`.
//!
//! Reproduces HTTP Basic auth with the API key as user name, batches of up to 100
//! queries / 128 KB, results in shuffled order, query-level errors by URL rule, RFC 7807
//! problem bodies for request-level errors (with and without the `.html` suffix on
//! `type`), and the faults a client must survive: per-domain occupation that really lasts
//! its announced time, timeouts, retriable downloader errors, 429 bursts, 5xx and 520,
//! slow answers, resets mid-body, malformed JSON, empty bodies and disabled accounts.

mod config;
mod problem;
mod queries;
pub mod records;
mod request;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, Method, Uri};

pub use config::{Config, Faults, RateLimitKind, TypeSuffix};
pub use queries::{OccupiedWindow, registrable_domain};

use crate::common::Dice;
use crate::{LoggedRequest, RequestLog, SimServer};
use queries::Occupancy;

/// State shared by the handler and the test-facing [`Sim`].
struct Shared {
    config: Config,
    seed: u64,
    faults: Mutex<Faults>,
    rate_limit_left: AtomicU32,
    huge_left: AtomicU32,
    type_counter: AtomicU64,
    dice: Dice,
    occupancy: Mutex<Occupancy>,
    log: RequestLog,
}

impl Shared {
    fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    /// Whether the next problem `type` carries `.html`.
    fn html_suffix(&self) -> bool {
        match self.config.type_suffix {
            TypeSuffix::Html => true,
            TypeSuffix::Bare => false,
            TypeSuffix::Alternate => self
                .type_counter
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(2),
        }
    }

    /// Take one answer from the "next K answers are huge" budget, if any is left.
    fn take_huge(&self) -> bool {
        self.huge_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |k| k.checked_sub(1))
            .is_ok()
    }

    /// Take one request from the "next K answer 429" budget, if any is left.
    fn take_rate_limited(&self) -> bool {
        self.rate_limit_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |k| k.checked_sub(1))
            .is_ok()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running AutoExtract simulator.
pub struct Sim {
    pub server: SimServer,
    pub log: RequestLog,
    shared: Arc<Shared>,
}

impl Sim {
    pub async fn start(config: Config, seed: u64, host: &str, port: u16) -> std::io::Result<Self> {
        let log = RequestLog::default();
        let shared = Arc::new(Shared {
            seed,
            faults: Mutex::new(config.faults.clone()),
            rate_limit_left: AtomicU32::new(config.faults.rate_limit_next),
            huge_left: AtomicU32::new(config.faults.huge_answer_next),
            type_counter: AtomicU64::new(0),
            dice: Dice::new(seed ^ 0xa07e_e47a),
            occupancy: Mutex::default(),
            log: log.clone(),
            config,
        });
        let router = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let server = SimServer::serve(router, host, port).await?;
        Ok(Sim {
            server,
            log,
            shared,
        })
    }

    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        self.shared.faults()
    }

    /// Replace the faults at run time (also resets the "next K answer 429" budget).
    pub fn set_faults(&self, faults: Faults) {
        self.shared
            .rate_limit_left
            .store(faults.rate_limit_next, Ordering::SeqCst);
        self.shared
            .huge_left
            .store(faults.huge_answer_next, Ordering::SeqCst);
        *lock(&self.shared.faults) = faults;
    }

    /// Make the next `k` requests answer 429.
    pub fn rate_limit_next(&self, k: u32) {
        self.shared.rate_limit_left.store(k, Ordering::SeqCst);
    }

    /// Every occupation window opened so far.
    pub fn occupied_windows(&self) -> Vec<OccupiedWindow> {
        lock(&self.shared.occupancy).windows.clone()
    }

    /// Requests that asked for a domain while it was occupied: a well-behaved client
    /// leaves this empty.
    pub fn requests_during_occupation(&self) -> Vec<LoggedRequest> {
        let windows = self.occupied_windows();
        self.log
            .entries()
            .into_iter()
            .filter(|entry| {
                windows.iter().any(|w| {
                    entry.at > w.from && entry.at < w.until && entry.domains.contains(&w.domain)
                })
            })
            .collect()
    }

    /// The product record this simulator extracts from `url`.
    pub fn product_for(&self, url: &str) -> serde_json::Value {
        records::product(self.shared.seed, url)
    }

    /// The article record this simulator extracts from `url` (with `articleBodyRaw`).
    pub fn article_for(&self, url: &str) -> serde_json::Value {
        records::article(self.shared.seed, url, true)
    }
}

/// The one handler: every path and method comes here, so unknown URIs and methods get
/// the vendor's problem bodies rather than axum's.
async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let faults = shared.faults();
    let reply = request::answer(
        &shared,
        &faults,
        &method,
        &uri,
        &headers,
        &body,
        Instant::now(),
    );
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    shared.log.record(
        method.as_str(),
        &path,
        reply.account,
        reply.domains,
        reply.response.status().as_u16(),
        reply.outcome,
    );
    if !reply.occupied.is_empty() {
        let mut occupancy = lock(&shared.occupancy);
        for (domain, seconds) in reply.occupied {
            occupancy.open_window(domain, seconds);
        }
    }
    if shared.dice.chance(faults.slow_rate) {
        tokio::time::sleep(std::time::Duration::from_millis(faults.slow_ms)).await;
    }
    reply.response
}
