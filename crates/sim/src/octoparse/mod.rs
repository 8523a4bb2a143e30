//! Simulator of the Octoparse data APIs: the legacy Data Export API (form-encoded
//! `/token`, `/api/...` with the `{"data","error","error_Description"}` envelope, errors
//! as HTTP 200 with another `error` or as an HTTP status) and the newer OpenAPI flavor
//! (JSON `/token`, `/data/...`, `{"error":{"code","message"},"requestId"}`, 20 req/s).
//!
//! Both flavors share one account: tokens that expire, task groups and tasks with rows
//! generated from the seed, and the unexported-data state. Destructive and acknowledged
//! reads are written to a ledger tests compare with a client's output.

mod auth;
mod config;
pub mod data;
mod legacy;
mod openapi;
mod store;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, Method, StatusCode, Uri, header};
use serde_json::Value;

pub use config::{Account, Config, Faults};
pub use data::{LedgerEntry, ROW_KEY_FIELD};

use crate::common::Dice;
use crate::{RequestLog, SimServer};
use auth::Tokens;
use store::Store;

/// State shared by the handler and the test-facing [`Sim`].
struct Shared {
    config: Config,
    faults: Mutex<Faults>,
    quota_left: AtomicU32,
    dice: Dice,
    store: Store,
    tokens: Mutex<Tokens>,
    /// Arrival times of recent OpenAPI requests, for the per-second limit.
    openapi_window: Mutex<VecDeque<Instant>>,
    log: RequestLog,
}

impl Shared {
    fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    fn password_ok(&self, username: &str, password: &str) -> bool {
        self.config
            .accounts
            .iter()
            .any(|a| a.username == username && a.password == password)
    }

    /// Take one request from the "next K answer 429" budget, if any is left.
    fn take_quota_fault(&self) -> bool {
        self.quota_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |k| k.checked_sub(1))
            .is_ok()
    }

    /// Whether an OpenAPI request arriving `now` is within the per-second limit.
    fn openapi_admit(&self, now: Instant) -> bool {
        let mut window = lock(&self.openapi_window);
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            window.pop_front();
        }
        let limit = self.config.openapi_requests_per_second as usize;
        if window.len() >= limit {
            return false;
        }
        window.push_back(now);
        true
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running Octoparse simulator.
pub struct Sim {
    pub server: SimServer,
    pub log: RequestLog,
    shared: Arc<Shared>,
}

/// A task as tests see it.
#[derive(Debug, Clone)]
pub struct TaskInfo {
    pub group_id: i64,
    pub task_id: String,
    pub name: String,
    pub rows: usize,
}

impl Sim {
    pub async fn start(config: Config, seed: u64, host: &str, port: u16) -> std::io::Result<Self> {
        let log = RequestLog::default();
        let mut groups = data::generate(
            seed,
            config.task_groups,
            config.tasks_per_group,
            config.rows_per_task,
        );
        if config.pretty {
            data::add_notes(&mut groups);
        }
        let shared = Arc::new(Shared {
            faults: Mutex::new(config.faults.clone()),
            quota_left: AtomicU32::new(config.faults.quota_exceeded_next),
            dice: Dice::new(seed ^ 0x0c70_9a45),
            store: Store::new(groups),
            tokens: Mutex::default(),
            openapi_window: Mutex::default(),
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

    /// Every task of the account.
    pub fn tasks(&self) -> Vec<TaskInfo> {
        let groups = &self.shared.store.groups;
        groups
            .iter()
            .flat_map(|g| {
                g.tasks.iter().map(|t| TaskInfo {
                    group_id: g.id,
                    task_id: t.id.clone(),
                    name: t.name.clone(),
                    rows: t.rows.len(),
                })
            })
            .collect()
    }

    /// All rows of a task, oldest first.
    pub fn rows(&self, task_id: &str) -> Option<Vec<Value>> {
        self.shared.store.task(task_id).map(|t| t.rows.clone())
    }

    /// How many rows of a task are not exported yet.
    pub fn unexported(&self, task_id: &str) -> Option<usize> {
        let store = &self.shared.store;
        store.task(task_id).map(|t| store.unexported(t))
    }

    /// Every row handed out by a destructive read or acknowledged, in order.
    pub fn ledger(&self) -> Vec<LedgerEntry> {
        self.shared.store.ledger()
    }

    pub fn faults(&self) -> Faults {
        self.shared.faults()
    }

    /// Replace the faults at run time (also resets the "next K answer 429" budget).
    pub fn set_faults(&self, faults: Faults) {
        self.shared
            .quota_left
            .store(faults.quota_exceeded_next, Ordering::SeqCst);
        *lock(&self.shared.faults) = faults;
    }

    /// Expire every access token issued so far.
    pub fn expire_tokens(&self) {
        lock(&self.shared.tokens).expire_all();
    }
}

/// What a request produced, for the answer and the log.
struct Reply {
    response: Response,
    account: Option<String>,
    outcome: String,
}

impl Reply {
    fn new(response: Response, account: Option<String>, outcome: impl Into<String>) -> Self {
        Reply {
            response,
            account,
            outcome: outcome.into(),
        }
    }
}

/// A JSON answer.
fn json(status: StatusCode, body: &Value) -> Response {
    let mut response = Response::new(axum::body::Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// Query parameters with lower-cased names (the real server ignores their case).
struct Params(HashMap<String, String>);

impl Params {
    fn of(uri: &Uri) -> Self {
        let query = uri.query().unwrap_or_default();
        let pairs = auth::parse_form(query.as_bytes());
        Params(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn number(&self, name: &str) -> Option<u64> {
        self.get(name).and_then(|v| v.trim().parse().ok())
    }
}

/// The one handler; paths are matched case-insensitively, as the real server does.
async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let faults = shared.faults();
    let path = uri.path().to_ascii_lowercase();
    let is_openapi = path.starts_with("/data/") || (path == "/token" && is_json(&headers));
    let reply = if is_openapi {
        openapi::route(&shared, &faults, &path, &method, &uri, &headers, &body)
    } else {
        legacy::route(&shared, &faults, &path, &method, &uri, &headers, &body)
    };
    let logged_path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    shared.log.record(
        method.as_str(),
        &logged_path,
        reply.account,
        Vec::new(),
        reply.response.status().as_u16(),
        reply.outcome,
    );
    if shared.dice.chance(faults.slow_rate) {
        tokio::time::sleep(Duration::from_millis(faults.slow_ms)).await;
    }
    if shared.config.pretty {
        return pretty(reply.response).await;
    }
    reply.response
}

/// The same JSON answer, indented over many lines (other answers as they are).
async fn pretty(response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, axum::body::Body::empty());
    };
    let text = match serde_json::from_slice::<Value>(&bytes) {
        Ok(value) => serde_json::to_string_pretty(&value).unwrap_or_default(),
        Err(_) => return Response::from_parts(parts, axum::body::Body::from(bytes)),
    };
    let mut parts = parts;
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(text))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"))
}
