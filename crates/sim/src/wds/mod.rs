//! Simulator of Web Data Source (WDS), the self-hosted crawl/scrape server.
//!
//! It owns what a WDS client meets: the `X-Tenant-Id` header (and an optional bearer
//! token, as when WDS sits behind an authenticating proxy), `/ready`, job start (v2 and
//! v1 forms) answering one DownloadTask per start URL, and per task crawl / scrape /
//! scrape-multiple (GET and POST) / info over a deterministic site graph whose pages are
//! evaluated with real CSS and XPath engines. Quirks and faults: 202 for the first K
//! polls of a task, robots-denied pages (422, then `AccessDeniedForRobots`), exhausted
//! request gates (403), `TaskState` as a name or a number, plain-text error bodies,
//! 5xx at a rate and slow answers. Every request lands in the [`RequestLog`].

mod gate;
mod handlers;
mod params;
mod selector;
mod site;
mod tasks;
mod urls;

use std::sync::{Arc, Mutex, RwLock};

use axum::Router;
use axum::routing::{get, post};
use serde::Deserialize;

use crate::common::Dice;
use crate::{RequestLog, SimServer};

pub use site::{PageKind, Product, Site};
pub use tasks::TaskState;

/// Behaviour, site shape and fault injection of the WDS simulator. Every field has a
/// default; the defaults inject no faults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Accepted `X-Tenant-Id` values (default: `default`).
    pub tenants: Vec<String>,
    /// When set, every API request must carry `Authorization: Bearer <token>`.
    pub bearer_token: Option<String>,
    /// Pages in the site graph (listings plus products). Fixed at start.
    pub pages: usize,
    /// Products per catalog listing page. Fixed at start.
    pub products_per_listing: usize,
    /// Page ids robots.txt denies (422, then `AccessDeniedForRobots`). Fixed at start.
    pub robots_denied: Vec<usize>,
    /// How many further product pages, chosen from the seed, robots.txt denies.
    pub robots_denied_count: usize,
    /// Page ids whose download exhausts all request gates (403,
    /// `AllRequestGatesExhausted`). Fixed at start.
    pub gates_exhausted: Vec<usize>,
    /// Each task answers 202 to its first K polls, K seeded in this range.
    pub accepted_polls: [u32; 2],
    /// Send `TaskState` as its number (0, 1, 2, 10, 11, 12) instead of its name.
    pub task_state_as_number: bool,
    /// Share of API requests answered with a plain-text 500 or 503.
    pub server_error_rate: f64,
    /// Share of API requests answered only after `slow_ms`.
    pub slow_rate: f64,
    pub slow_ms: u64,
    /// JSON answers are pretty-printed: legal JSON over many lines (a client must
    /// still write one record per line).
    pub pretty: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tenants: vec!["default".into()],
            bearer_token: None,
            pages: 500,
            products_per_listing: 10,
            robots_denied: Vec::new(),
            robots_denied_count: 0,
            gates_exhausted: Vec::new(),
            accepted_polls: [0, 0],
            task_state_as_number: false,
            server_error_rate: 0.0,
            slow_rate: 0.0,
            slow_ms: 2000,
            pretty: false,
        }
    }
}

/// What tests see of a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSummary {
    pub id: String,
    pub tenant: String,
    pub job: String,
    pub url: String,
    pub state: TaskState,
    /// Polls (crawl / scrape / scrape-multiple) that reached the task.
    pub polls: u32,
}

/// State shared by all handlers of one simulator.
pub(crate) struct Shared {
    config: RwLock<Config>,
    site: Site,
    log: RequestLog,
    dice: Dice,
    store: Mutex<tasks::TaskStore>,
}

impl Shared {
    /// A copy of the current configuration (never hold the lock across an await).
    fn config(&self) -> Config {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn store(&self) -> std::sync::MutexGuard<'_, tasks::TaskStore> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running WDS simulator.
pub struct Sim {
    pub server: SimServer,
    pub log: RequestLog,
    shared: Arc<Shared>,
}

impl Sim {
    pub async fn start(config: Config, seed: u64, host: &str, port: u16) -> std::io::Result<Self> {
        let log = RequestLog::default();
        let shared = Arc::new(Shared {
            site: Site::new(seed, &config),
            config: RwLock::new(config),
            log: log.clone(),
            dice: Dice::new(seed ^ 0x03d5_7a11),
            store: Mutex::default(),
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

    /// Change faults while the simulator runs (the site's shape stays as started).
    pub fn update_config(&self, change: impl FnOnce(&mut Config)) {
        let mut config = self
            .shared
            .config
            .write()
            .unwrap_or_else(|e| e.into_inner());
        change(&mut config);
    }

    /// The site graph the simulator serves.
    pub fn site(&self) -> &Site {
        &self.shared.site
    }

    /// Every task created so far, in creation order.
    pub fn tasks(&self) -> Vec<TaskSummary> {
        let site = &self.shared.site;
        self.shared
            .store()
            .all()
            .into_iter()
            .map(|t| TaskSummary {
                state: t.state(site),
                id: t.id,
                tenant: t.tenant,
                job: t.job,
                url: t.url,
                polls: t.polls,
            })
            .collect()
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/ready", get(handlers::ready))
        .route("/api/v2/jobs/{job}/start", post(handlers::start_job))
        .route("/api/v1/jobs/start", post(handlers::start_job_v1))
        .route("/api/v2/tasks/{task}/crawl", get(handlers::crawl))
        .route("/api/v2/tasks/{task}/scrape", get(handlers::scrape))
        .route(
            "/api/v2/tasks/{task}/scrape-multiple",
            get(handlers::scrape_multiple_query).post(handlers::scrape_multiple_body),
        )
        .route("/api/v2/tasks/{task}/info", get(handlers::info))
        .fallback(handlers::not_found)
        .with_state(shared)
}
