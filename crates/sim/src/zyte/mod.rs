//! Simulator of Zyte API automatic extraction: `POST /v1/extract`, one URL per request.
//!
//! Reproduces HTTP Basic auth with the API key as user name and an empty password,
//! the request checks (unknown fields 400, incompatible fields 422), RFC 7807 problem
//! bodies with bare-path `type`s, and the answers a client must handle: per-domain and
//! per-key rate limits with `Retry-After` that really last their announced time, the
//! global limit (503), 520/521 download errors with `Retry-After`, a suspended account
//! (403), forbidden domains (451), and target pages that answered 404 arriving as a
//! billed 200 with `statusCode`. Every announced wait is kept as a [`Window`], so a
//! test can ask which requests arrived inside one.

mod config;
mod problem;
pub mod records;
mod request;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use serde_json::json;

pub use config::{Config, Faults};
pub use problem::Problem;
pub use request::host_of;

use crate::common::{Dice, basic_auth};
use crate::{RequestLog, SimServer};

/// Who an announced wait holds back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowScope {
    /// One host (`/limits/over-domain-limit`).
    Domain(String),
    /// Every request of one API key (`/limits/over-user-limit`, 503 global limit).
    Account(String),
    /// One URL (`Retry-After` on 520/521).
    Url(String),
}

/// A wait the simulator announced: no request in its scope should arrive inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub scope: WindowScope,
    /// Millisecond-aligned: a client counting from when it read the answer, in whole
    /// milliseconds, is never early by construction.
    pub from: SystemTime,
    pub until: SystemTime,
    /// The index (in [`Sim::requests`]) of the request whose answer announced it.
    pub opened_by: usize,
}

/// One request as this simulator saw it (beyond the shared request log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub at: SystemTime,
    pub key: Option<String>,
    pub url: Option<String>,
    pub host: Option<String>,
    pub status: u16,
    /// A word for what happened: `ok`, `target_404`, `domain_limit`, `user_limit`…
    pub outcome: String,
}

#[derive(Default)]
struct Book {
    seen: Vec<Seen>,
    windows: Vec<Window>,
    user_limit_left: u32,
    billed: u64,
}

struct Shared {
    config: Config,
    seed: u64,
    faults: Mutex<Faults>,
    dice: Dice,
    book: Mutex<Book>,
    log: RequestLog,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running Zyte API simulator.
pub struct Sim {
    pub server: SimServer,
    pub log: RequestLog,
    shared: Arc<Shared>,
}

impl Sim {
    pub async fn start(config: Config, seed: u64, host: &str, port: u16) -> std::io::Result<Self> {
        let log = RequestLog::default();
        let book = Book {
            user_limit_left: config.faults.user_limit_next,
            ..Book::default()
        };
        let shared = Arc::new(Shared {
            seed,
            faults: Mutex::new(config.faults.clone()),
            dice: Dice::new(seed ^ 0x02e7_ea91),
            book: Mutex::new(book),
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

    /// Replace the faults at run time (also resets the "next K answer 429" budget).
    pub fn set_faults(&self, faults: Faults) {
        lock(&self.shared.book).user_limit_left = faults.user_limit_next;
        *lock(&self.shared.faults) = faults;
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Seen> {
        lock(&self.shared.book).seen.clone()
    }

    /// Every wait announced so far.
    pub fn windows(&self) -> Vec<Window> {
        lock(&self.shared.book).windows.clone()
    }

    /// Successful (billed) answers so far: 200s, including target errors.
    pub fn billed(&self) -> u64 {
        lock(&self.shared.book).billed
    }

    /// Requests answered after a window for their host, key or URL was announced and
    /// before it ended (the request that opened a window is not inside it). A well-behaved client
    /// that sends one request at a time leaves this empty.
    pub fn requests_inside_windows(&self) -> Vec<(Seen, Window)> {
        let book = lock(&self.shared.book);
        let mut inside = Vec::new();
        for (i, seen) in book.seen.iter().enumerate() {
            for w in &book.windows {
                let in_scope = match &w.scope {
                    WindowScope::Domain(h) => seen.host.as_ref() == Some(h),
                    WindowScope::Account(k) => seen.key.as_ref() == Some(k),
                    WindowScope::Url(u) => seen.url.as_ref() == Some(u),
                };
                // Answered after the window opened (the book is kept in answer order)
                // and arrived before it ended.
                if in_scope && i > w.opened_by && seen.at < w.until {
                    inside.push((seen.clone(), w.clone()));
                }
            }
        }
        inside
    }

    /// The object this simulator extracts as `field` from `url`.
    pub fn extracted(&self, field: &str, url: &str) -> serde_json::Value {
        records::extracted(self.shared.seed, field, url)
    }
}

/// An answer and what the book keeps of it.
struct Reply {
    response: Response,
    outcome: &'static str,
    window: Option<(WindowScope, f64)>,
}

fn reply(response: Response, outcome: &'static str) -> Reply {
    Reply {
        response,
        outcome,
        window: None,
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let faults = lock(&shared.faults).clone();
    let key = basic_auth(&headers).map(|(user, _)| user);
    let parsed = request::parse(&body).ok();
    let url = parsed
        .as_ref()
        .map(|p| p.url.clone())
        .or_else(|| request::peek_url(&body));
    let mut book = lock(&shared.book);
    let now = SystemTime::now();
    let r = answer(
        &shared,
        &faults,
        &mut book,
        (&method, &uri),
        key.as_deref(),
        &body,
        now,
    );
    let status = r.response.status().as_u16();
    let index = book.seen.len();
    if let Some((scope, secs)) = r.window {
        let from = floor_ms(now);
        book.windows.push(Window {
            scope,
            from,
            until: from + Duration::from_secs_f64(secs),
            opened_by: index,
        });
    }
    if status == 200 {
        book.billed += 1;
    }
    book.seen.push(Seen {
        at: now,
        key: key.clone(),
        url,
        host: parsed.as_ref().map(|p| p.host.clone()),
        status,
        outcome: r.outcome.to_string(),
    });
    drop(book);
    let path = uri
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let domains = parsed.map(|p| vec![p.host]).unwrap_or_default();
    shared
        .log
        .record(method.as_str(), &path, key, domains, status, r.outcome);
    r.response
}

fn floor_ms(t: SystemTime) -> SystemTime {
    let ms = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// The wait left in the latest window of `scope` still open at `now`, in seconds.
fn open_window(book: &Book, scope: &WindowScope, now: SystemTime) -> Option<f64> {
    book.windows
        .iter()
        .filter(|w| &w.scope == scope && w.until > now)
        .map(|w| {
            w.until
                .duration_since(now)
                .unwrap_or_default()
                .as_secs_f64()
        })
        .reduce(f64::max)
}

fn answer(
    shared: &Shared,
    faults: &Faults,
    book: &mut Book,
    (method, uri): (&Method, &Uri),
    key: Option<&str>,
    body: &[u8],
    now: SystemTime,
) -> Reply {
    if uri.path() != "/v1/extract" {
        return reply(plain(StatusCode::NOT_FOUND), "unknown_path");
    }
    if method != Method::POST {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED);
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return reply(r, "method_not_allowed");
    }
    let key = match key {
        Some(k) if shared.config.api_keys.iter().any(|a| a == k) => k.to_string(),
        _ => {
            let detail = "The authentication key is not valid or can't be matched.";
            return reply(Problem::KeyNotFound.response(detail, None), "key_not_found");
        }
    };
    // Zyte API reference, 403 `/auth/account-suspended`; detail as recorded live when
    // a spending limit was reached.
    if faults.suspended || shared.config.suspended_keys.contains(&key) {
        let detail = "Your account has been suspended. Check your Zyte API subscription details at https://app.zyte.com/o/settings/billing-subscriptions for more information. If you have reached your spending limit, increasing your spending limit will immediately lift your account suspension.";
        return reply(
            Problem::AccountSuspended.response(detail, None),
            "account_suspended",
        );
    }
    let req = match request::parse(body) {
        Ok(req) => req,
        Err((p, detail)) => return reply(p.response(&detail, None), "bad_request"),
    };
    limits(shared, faults, book, &key, &req, now)
        .or_else(|| download_faults(shared, faults, &req))
        .unwrap_or_else(|| extraction(shared, &req))
}

/// Rate limits: waits already announced are answered again with what is left; new
/// ones roll the dice. Not billed (Zyte API "Errors": rate-limiting responses).
fn limits(
    shared: &Shared,
    faults: &Faults,
    book: &mut Book,
    key: &str,
    req: &request::Request,
    now: SystemTime,
) -> Option<Reply> {
    let account = WindowScope::Account(key.to_string());
    let domain = WindowScope::Domain(req.host.clone());
    let too_many = "Too many requests. Retry in N seconds from 'Retry-After' header.";
    if let Some(left) = open_window(book, &account, now) {
        return Some(reply(
            Problem::OverUserLimit.response(too_many, Some(left)),
            "user_limit",
        ));
    }
    if let Some(left) = open_window(book, &domain, now) {
        let r = Problem::OverDomainLimit.response(too_many, Some(left));
        return Some(reply(r, "domain_limit"));
    }
    let secs = faults.user_limit_seconds;
    if book.user_limit_left > 0 || shared.dice.chance(faults.user_limit_rate) {
        book.user_limit_left = book.user_limit_left.saturating_sub(1);
        let response = Problem::OverUserLimit.response(too_many, Some(secs));
        return Some(Reply {
            response,
            outcome: "user_limit",
            window: Some((account, secs)),
        });
    }
    if shared.dice.chance(faults.global_limit_rate) {
        let response =
            Problem::OverGlobalLimit.response("Global requests limit reached.", Some(secs));
        return Some(Reply {
            response,
            outcome: "global_limit",
            window: Some((account, secs)),
        });
    }
    if shared.dice.chance(faults.domain_limit_rate) {
        let secs = faults.domain_limit_seconds;
        let response = Problem::OverDomainLimit.response(too_many, Some(secs));
        return Some(Reply {
            response,
            outcome: "domain_limit",
            window: Some((domain, secs)),
        });
    }
    None
}

/// Download-side failures for this URL (not billed).
fn download_faults(shared: &Shared, faults: &Faults, req: &request::Request) -> Option<Reply> {
    let forbidden = shared
        .config
        .forbidden_domains
        .iter()
        .any(|d| req.host == *d || req.host.ends_with(&format!(".{d}")));
    if forbidden {
        // Zyte API reference, 451 `/download/domain-forbidden` (with `blockedDomain`).
        let detail = format!("Extraction for the domain {} is forbidden.", req.host);
        return Some(reply(
            Problem::DomainForbidden.response(&detail, None),
            "domain_forbidden",
        ));
    }
    let retry_after = faults.download_retry_after;
    let url = WindowScope::Url(req.url.clone());
    if shared.dice.chance(faults.temporary_error_rate) {
        // 520 with `Retry-After`, as recorded live (`Retry-After: 60`).
        let detail = "Zyte API could not get a ban-free response in a reasonable time.";
        let response = Problem::TemporaryDownload.response(detail, Some(retry_after));
        return Some(Reply {
            response,
            outcome: "temporary_error",
            window: Some((url, retry_after)),
        });
    }
    if shared.dice.chance(faults.internal_error_rate) {
        let detail =
            "Server encountered a problem while downloading. Check request and contact support.";
        let response = Problem::InternalDownload.response(detail, Some(retry_after));
        return Some(Reply {
            response,
            outcome: "internal_error",
            window: Some((url, retry_after)),
        });
    }
    if shared.dice.chance(faults.server_error_rate) {
        return Some(reply(
            Problem::Internal.response("Internal server error.", None),
            "server_error",
        ));
    }
    None
}

/// A successful (billed) answer; a target 404 is still one, with `statusCode`
/// (Zyte API "Errors", bad website responses).
fn extraction(shared: &Shared, req: &request::Request) -> Reply {
    let marker = &shared.config.missing_marker;
    let missing = !marker.is_empty() && req.url.contains(marker.as_str());
    let status_code = if missing { 404 } else { 200 };
    let mut body = json!({"url": req.url, "statusCode": status_code});
    if let Some(field) = &req.extract {
        let mut object = records::extracted(shared.seed, field, &req.url);
        if missing {
            // Mismatches are still answered, with a low probability.
            object["metadata"]["probability"] = json!(0.02);
        }
        body[field.as_str()] = object;
    }
    if let Some(echo) = &req.echo_data {
        body["echoData"] = echo.clone();
    }
    let text = if shared.config.pretty {
        serde_json::to_string_pretty(&body).unwrap_or_default()
    } else {
        body.to_string()
    };
    let mut response = Response::new(Body::from(text));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    reply(response, if missing { "target_404" } else { "ok" })
}

fn plain(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}
