//! What every request passes before it is served: Basic auth with the vendor's three
//! 401 bodies, injected 5xx and slow answers, the job-submission rate limits — and the
//! request log entry each answer leaves.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Shared;
use crate::common::basic_auth;

/// The authenticated caller of one request.
pub(crate) struct Caller {
    pub account: Option<String>,
    method: String,
    path: String,
}

// docs/vendors/oxylabs.md §"Answers by endpoint": error bodies carry `message`.
/// `{"message": …}`: the vendor's error body.
pub(crate) fn message(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({ "message": text }))).into_response()
}

impl Shared {
    /// Authenticate and roll the request-level faults. `Err` is the answer to send (already
    /// logged).
    pub(crate) async fn admit(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<Caller, Response> {
        let mut caller = Caller {
            account: None,
            method: method.to_string(),
            path: uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
        };
        let config = self.config();
        if let Err(text) = authenticate(headers, &config.users, &mut caller) {
            // docs/vendors/oxylabs.md §"Answers by endpoint".
            // Live: wrong credentials answer 401 with an empty body (no content type);
            // only a missing or unreadable header gets a JSON message.
            let answer = if text == "Client not found" {
                StatusCode::UNAUTHORIZED.into_response()
            } else {
                message(StatusCode::UNAUTHORIZED, text)
            };
            return Err(self.answer(&caller, Vec::new(), "unauthorized", answer));
        }
        if self.dice.chance(config.slow_rate) {
            tokio::time::sleep(Duration::from_millis(config.slow_ms)).await;
        }
        // docs/vendors/oxylabs.md §"Answers by endpoint": 500 and 524 ("Timeout / Service
        // unavailable") are documented codes.
        if self.dice.chance(config.server_error_rate) {
            let answer = if self.dice.below(2) == 0 {
                message(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
            } else {
                // 524 comes from the CDN in front of the API: plain text, not JSON.
                let status = StatusCode::from_u16(524).unwrap_or(StatusCode::GATEWAY_TIMEOUT);
                (status, "error code: 524").into_response()
            };
            let outcome = format!("fault:{}", answer.status().as_u16());
            return Err(self.answer(&caller, Vec::new(), &outcome, answer));
        }
        Ok(caller)
    }

    /// Log the answer and hand it back.
    pub(crate) fn answer(
        &self,
        caller: &Caller,
        domains: Vec<String>,
        outcome: &str,
        response: Response,
    ) -> Response {
        self.log.record(
            &caller.method,
            &caller.path,
            caller.account.clone(),
            domains,
            response.status().as_u16(),
            outcome,
        );
        response
    }
}

fn authenticate(
    headers: &HeaderMap,
    users: &[super::User],
    caller: &mut Caller,
) -> Result<(), &'static str> {
    if !headers.contains_key(axum::http::header::AUTHORIZATION) {
        // docs/vendors/oxylabs.md §"Answers by endpoint": the three documented 401 messages.
        return Err("Authorization header not provided");
    }
    let (user, password) = basic_auth(headers).ok_or("Invalid authorization header")?;
    caller.account = Some(user.clone());
    let known = users
        .iter()
        .any(|u| u.username == user && u.password == password);
    if known {
        Ok(())
    } else {
        Err("Client not found")
    }
}

// docs/vendors/oxylabs.md §"429 bodies": jobs per second per account, and 1 req/s
// for a domain with a low success rate.
/// Sliding-window counters of submitted jobs, per account and per target domain.
#[derive(Debug, Default)]
pub(crate) struct Limits {
    account: HashMap<String, VecDeque<Instant>>,
    domain: HashMap<String, VecDeque<Instant>>,
}

/// The verdict on one submission.
pub(crate) enum Admission {
    /// Accepted; these `x-ratelimit-*` headers go on the answer.
    Accepted(Vec<(String, String)>),
    Limited(Response),
}

impl Limits {
    /// Count `domains` (one entry per job) against the limits, or refuse them all.
    pub(crate) fn admit(
        &mut self,
        account: &str,
        domains: &[String],
        config: &super::Config,
    ) -> Admission {
        let now = Instant::now();
        let window = Duration::from_millis(config.rate_window_ms);
        let jobs = domains.len();
        for limited in &config.limited_domains {
            let wanted = domains.iter().filter(|d| *d == limited).count();
            let used = used(self.domain.entry(limited.clone()).or_default(), now, window);
            if wanted > 0 && used + wanted > config.domain_jobs_per_window as usize {
                // The live per-domain text (rate-limits page): the domain follows
                // docs/vendors/oxylabs.md §"429 bodies".
                // "Access to"; the word "domain" is not in it. No Retry-After.
                let text = format!(
                    "Access to {limited} has been limited to 1 req/s due to a low success rate. If you are using custom headers or cookies, ensure they are correct, then try again. The normal request limit will be restored automatically when the success rate improves."
                );
                return Admission::Limited(message(StatusCode::TOO_MANY_REQUESTS, &text));
            }
        }
        let mut headers = Vec::new();
        if let Some(limit) = config.jobs_per_window {
            let used = used(self.account.entry(account.into()).or_default(), now, window);
            let remaining = (limit as usize).saturating_sub(used);
            headers.push(("x-ratelimit-jobs-limit".into(), limit.to_string()));
            if jobs > remaining {
                headers.push(("x-ratelimit-jobs-remaining".into(), remaining.to_string()));
                // docs/vendors/oxylabs.md §"429 bodies".
                // The account-wide text recorded live (2026-09): no Retry-After.
                let answer = message(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many requests. (Total Dynamic).",
                );
                return Admission::Limited(with_headers(answer, &headers));
            }
            let left = remaining - jobs;
            headers.push(("x-ratelimit-jobs-remaining".into(), left.to_string()));
            let times = self.account.entry(account.into()).or_default();
            times.extend(std::iter::repeat_n(now, jobs));
        }
        for domain in domains {
            if config.limited_domains.contains(domain) {
                self.domain
                    .entry(domain.clone())
                    .or_default()
                    .push_back(now);
            }
        }
        Admission::Accepted(headers)
    }
}

fn used(times: &mut VecDeque<Instant>, now: Instant, window: Duration) -> usize {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        times.pop_front();
    }
    times.len()
}

/// Add `x-ratelimit-*` headers to an answer.
pub(crate) fn with_headers(mut response: Response, headers: &[(String, String)]) -> Response {
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}
