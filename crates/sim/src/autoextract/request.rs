//! One request from arrival to answer: routing, auth, request-level faults and limits,
//! then the batch of queries and the response-level faults.

use std::time::Instant;

use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use serde_json::{Map, Value};

use super::problem::{self, Problem};
use super::queries::{self, Context};
use super::records;
use super::{Faults, RateLimitKind, Shared, lock};
use crate::common::basic_auth;

/// The answer and what the request log needs to know about it.
pub(super) struct Reply {
    pub response: Response,
    pub account: Option<String>,
    pub domains: Vec<String>,
    pub outcome: String,
    /// Domains newly occupied by this answer, with their seconds.
    pub occupied: Vec<(String, f64)>,
}

impl Reply {
    fn plain(response: Response, account: Option<String>, outcome: &str) -> Self {
        Reply {
            response,
            account,
            domains: Vec::new(),
            outcome: outcome.to_string(),
            occupied: Vec::new(),
        }
    }
}

/// Answer one HTTP request.
pub(super) fn answer(
    shared: &Shared,
    faults: &Faults,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    now: Instant,
) -> Reply {
    let problem = |p: Problem, detail: &str| p.response(detail, shared.html_suffix());
    // docs/vendors/autoextract.md §"Endpoint and authentication": one endpoint, POST,
    // Basic auth with the key as user name.
    if uri.path() != "/v1/extract" {
        let detail = format!("No endpoint at {}", uri.path());
        return Reply::plain(problem(Problem::UnknownUri, &detail), None, "unknown_uri");
    }
    if method != Method::POST {
        let mut response = problem(Problem::MethodNotAllowed, "Use POST");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return Reply::plain(response, None, "method_not_allowed");
    }
    let key = match basic_auth(headers) {
        Some((user, _)) if shared.config.api_keys.contains(&user) => user,
        _ => {
            let mut response = problem(Problem::Unauthorized, "Invalid or missing API key");
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"autoextract\""),
            );
            return Reply::plain(response, None, "unauthorized");
        }
    };
    let account = Some(key.clone());
    // docs/vendors/autoextract.md §"Request-level errors": the 403 of an exhausted limit
    // (an invented body) and `account-disabled`.
    if faults.limit_reached {
        let response = problem(
            Problem::LimitReached,
            "Your account's monthly limit has been reached",
        );
        return Reply::plain(response, account, "limit_reached");
    }
    if faults.account_disabled || shared.config.disabled_keys.contains(&key) {
        let response = problem(Problem::AccountDisabled, "Account has been disabled");
        return Reply::plain(response, account, "account_disabled");
    }
    if let Some(response) = request_fault(shared, faults, &problem) {
        let outcome = fault_outcome(response.status());
        return Reply::plain(response, account, outcome);
    }
    match parse_queries(shared, headers, body) {
        Err((p, detail)) => {
            let outcome = format!("rejected:{}", p.name());
            Reply::plain(problem(p, &detail), account, &outcome)
        }
        Ok(list) => batch(shared, faults, list, account, now),
    }
}

/// A request-level fault rolled for this request, if any.
fn request_fault(
    shared: &Shared,
    faults: &Faults,
    problem: &dyn Fn(Problem, &str) -> Response,
) -> Option<Response> {
    let dice = &shared.dice;
    // docs/vendors/autoextract.md §"Request-level errors": `rate-limit-exceeded` and
    // `user-rate-limit-exceeded` (429); §"The official client's retry policy" retries them.
    if shared.take_rate_limited() || dice.chance(faults.rate_limit_rate) {
        let kind = match faults.rate_limit_kind {
            RateLimitKind::User => Problem::UserRateLimitExceeded,
            RateLimitKind::System => Problem::RateLimitExceeded,
        };
        let mut response = problem(kind, "Too many requests, slow down");
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(faults.retry_after_secs),
        );
        return Some(response);
    }
    if dice.chance(faults.temporary_error_rate) {
        return Some(problem::temporary_error());
    }
    if dice.chance(faults.server_error_rate) {
        return Some(problem(Problem::InternalError, "Please retry later"));
    }
    if dice.chance(faults.disconnect_rate) {
        return Some(problem::disconnect());
    }
    if dice.chance(faults.empty_body_rate) {
        return Some(problem::empty(StatusCode::SERVICE_UNAVAILABLE));
    }
    None
}

fn fault_outcome(status: StatusCode) -> &'static str {
    match status.as_u16() {
        429 => "rate_limited",
        520 => "fault:520",
        503 => "fault:empty",
        200 => "fault:disconnect",
        _ => "fault:5xx",
    }
}

type Rejection = (Problem, String);

/// The validated queries of a request body, or the problem that rejects it.
fn parse_queries(
    shared: &Shared,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<Map<String, Value>>, Rejection> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        let detail = format!("Content type {content_type:?} is not application/json");
        return Err((Problem::UnrecognizedContentType, detail));
    }
    // docs/vendors/autoextract.md §"Endpoint and authentication": a body of at most 128 KB.
    if body.len() > shared.config.max_body_bytes {
        let detail = format!("Body of {} bytes exceeds the limit", body.len());
        return Err((Problem::PayloadTooLarge, detail));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err((Problem::EmptyRequest, "Request body is empty".into()));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| (Problem::MalformedJson, format!("Could not parse JSON: {e}")))?;
    let Value::Array(items) = value else {
        let detail = "Request must be a JSON array of queries".to_string();
        return Err((Problem::MalformedRequest, detail));
    };
    if items.is_empty() {
        return Err((Problem::EmptyRequest, "No queries in request".into()));
    }
    // docs/vendors/autoextract.md §"Endpoint and authentication": at most 100 queries (413).
    if items.len() > shared.config.max_queries {
        let detail = format!("{} queries in request", items.len());
        return Err((Problem::QueriesLimitReached, detail));
    }
    items.into_iter().enumerate().map(validate_query).collect()
}

// docs/vendors/autoextract.md §"Page types and query fields".
/// One query must be an object with a string `url` and one of the ten `pageType`s of
/// the final documentation (automatic-extraction/api.html, "pageType").
fn validate_query((index, item): (usize, Value)) -> Result<Map<String, Value>, Rejection> {
    let bad = |why: &str| (Problem::MalformedRequest, format!("query {index}: {why}"));
    let Value::Object(query) = item else {
        return Err(bad("not an object"));
    };
    if !query.get("url").is_some_and(Value::is_string) {
        return Err(bad("url must be a string"));
    }
    match query.get("pageType").and_then(Value::as_str) {
        Some(t) if records::PAGE_TYPES.contains(&t) => {}
        _ => {
            return Err(bad(
                "pageType must be article, articleList, comments, forumPosts, jobPosting, product, productList, realEstate, reviews or vehicle",
            ));
        }
    }
    if query.get("meta").is_some_and(|m| !m.is_string()) {
        return Err(bad("meta must be a string"));
    }
    Ok(query)
}

/// Answer every query, shuffle the results and apply response-level faults.
fn batch(
    shared: &Shared,
    faults: &Faults,
    list: Vec<Map<String, Value>>,
    account: Option<String>,
    now: Instant,
) -> Reply {
    let mut results = Vec::with_capacity(list.len());
    let mut domains = Vec::new();
    let mut outcomes: Vec<&'static str> = Vec::new();
    let mut occupied = Vec::new();
    {
        let mut occupancy = lock(&shared.occupancy);
        let mut ctx = Context {
            config: &shared.config,
            faults,
            dice: &shared.dice,
            seed: shared.seed,
            occupancy: &mut occupancy,
            now,
        };
        for query in &list {
            let answered = queries::answer(query, &mut ctx);
            if let Some(domain) = answered.domain {
                if let Some(seconds) = answered.occupied_for {
                    occupied.push((domain.clone(), seconds));
                }
                if !domains.contains(&domain) {
                    domains.push(domain);
                }
            }
            outcomes.push(answered.outcome);
            results.push(answered.result);
        }
    }
    // docs/vendors/autoextract.md §"Results".
    // Results come back in any order; clients must match them on `meta`.
    shared.dice.shuffle(&mut results);
    let body = if faults.pretty {
        serde_json::to_string_pretty(&Value::Array(results)).unwrap_or_default()
    } else {
        Value::Array(results).to_string()
    };
    let (response, fault) = if shared.take_huge() {
        (problem::huge(), Some("fault:huge_answer"))
    } else if shared.dice.chance(faults.reset_rate) {
        (problem::cut_mid_body(body), Some("fault:reset"))
    } else if shared.dice.chance(faults.malformed_json_rate) {
        (problem::malformed_json(body), Some("fault:malformed_json"))
    } else {
        (problem::json_text(StatusCode::OK, body), None)
    };
    Reply {
        response,
        account,
        domains,
        outcome: fault.map_or_else(|| summarize(&outcomes), str::to_string),
        // A client that never got the answer cannot know of the occupation, so only
        // delivered answers open a window it must respect.
        occupied: if fault.is_some() {
            Vec::new()
        } else {
            occupied
        },
    }
}

/// "ok" when every query succeeded, else counts per outcome: "ok:3,domain_occupied:1".
fn summarize(outcomes: &[&str]) -> String {
    if outcomes.iter().all(|o| *o == "ok") {
        return "ok".into();
    }
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for outcome in outcomes {
        match counts.iter_mut().find(|(o, _)| o == outcome) {
            Some((_, n)) => *n += 1,
            None => counts.push((outcome, 1)),
        }
    }
    let parts: Vec<String> = counts.iter().map(|(o, n)| format!("{o}:{n}")).collect();
    parts.join(",")
}
