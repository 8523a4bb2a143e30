//! Answering one query of a batch: URL rules, per-domain occupation, query-level faults
//! and the extracted record.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use super::{Config, Faults, records};
use crate::common::Dice;

// docs/vendors/autoextract.md §"Query-level errors": documented texts the official
// client retries.
/// Query errors the official client retries (besides "query timed out" and occupation).
const RETRIABLE_ERRORS: &[&str] = &[
    "Downloader error: No response (network5)",
    "Downloader error: http500",
    "Downloader error: http503",
    "Downloader error: GlobalTimeoutError",
    "Proxy error: banned",
    "Proxy error: internal_error",
    "Proxy error: ssl_tunnel_error",
    "Proxy error: timeout",
];

// "URL cannot be longer than" is a documented unbilled error (docs/vendors/autoextract.md
// §"Query-level errors"); the length itself is unconfirmed.
/// Longest URL accepted (longer ones are a permanent, unbilled query error).
const MAX_URL_LEN: usize = 2048;

/// A period in which the simulator answers "occupied" for a domain. A client that
/// honours the answer sends no query for `domain` between `from` and `until`.
#[derive(Debug, Clone, PartialEq)]
pub struct OccupiedWindow {
    pub domain: String,
    pub from: SystemTime,
    pub until: SystemTime,
}

/// Which domains are occupied until when, and every window opened so far.
#[derive(Debug, Default)]
pub(super) struct Occupancy {
    until: HashMap<String, Instant>,
    pub windows: Vec<OccupiedWindow>,
}

impl Occupancy {
    /// Seconds left on `domain`'s occupation, if it is occupied at `now`.
    fn remaining(&self, domain: &str, now: Instant) -> Option<f64> {
        let until = *self.until.get(domain)?;
        (until > now).then(|| until.duration_since(now).as_secs_f64())
    }

    /// Occupy `domain` for `seconds` from `now`; the window is recorded by the caller
    /// once the answer is logged, so the occupying request is not inside its own window.
    fn occupy(&mut self, domain: &str, seconds: f64, now: Instant) {
        let length = Duration::from_secs_f64(seconds.max(0.0));
        self.until.insert(domain.to_string(), now + length);
    }

    /// Record the window of an occupation that has just been answered.
    pub(super) fn open_window(&mut self, domain: String, seconds: f64) {
        // The window ends as a client counting in whole milliseconds from when it read
        // the answer can see it: the named time from the start of this millisecond.
        let from = SystemTime::now();
        let ms = from
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        let until =
            UNIX_EPOCH + Duration::from_millis(ms) + Duration::from_secs_f64(seconds.max(0.0));
        self.windows.push(OccupiedWindow {
            domain,
            from,
            until,
        });
    }
}

/// What one query produced.
pub(super) struct Answered {
    /// The result object as it goes into the response array.
    pub result: Value,
    /// The query's domain, when its URL had one.
    pub domain: Option<String>,
    /// Short outcome word for the request log.
    pub outcome: &'static str,
    /// Set when this query newly occupied its domain for that many seconds.
    pub occupied_for: Option<f64>,
}

/// Everything a query needs besides itself.
pub(super) struct Context<'a> {
    pub config: &'a Config,
    pub faults: &'a Faults,
    pub dice: &'a Dice,
    pub seed: u64,
    pub occupancy: &'a mut Occupancy,
    pub now: Instant,
}

/// Answer one (already validated) query object.
pub(super) fn answer(query: &Map<String, Value>, ctx: &mut Context<'_>) -> Answered {
    let url = query.get("url").and_then(Value::as_str).unwrap_or_default();
    let page_type = query
        .get("pageType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut echo = query.clone();
    if ctx.config.echo_user_agent {
        // docs/vendors/autoextract.md §"Results": the echo may carry `userAgent`.
        // The real echo carries fields the user never sent; clients must re-send their
        // own query, not the echo.
        echo.entry("userAgent").or_insert(json!("desktop"));
    }
    let (domain, outcome, payload) = match parse_host(url) {
        Err(error) => (None, error.outcome(), Err(error.message().to_string())),
        Ok(host) => {
            let domain = registrable_domain(&host);
            let (outcome, payload) = extract(url, page_type, query, &domain, ctx);
            (Some(domain), outcome, payload)
        }
    };
    let occupied_for = (outcome == "domain_occupied_new").then_some(ctx.faults.occupied_seconds);
    let mut result = Map::new();
    result.insert(
        "query".into(),
        json!({
            "id": query_id(ctx.dice),
            "domain": domain.clone().unwrap_or_default(),
            "userQuery": echo,
        }),
    );
    match payload {
        Ok(record) => result.insert(page_type.to_string(), record),
        Err(message) => result.insert("error".into(), json!(message)),
    };
    let outcome = if outcome == "domain_occupied_new" {
        "domain_occupied"
    } else {
        outcome
    };
    Answered {
        result: Value::Object(result),
        domain,
        outcome,
        occupied_for,
    }
}

/// The record or query error for a query whose URL parsed.
fn extract(
    url: &str,
    page_type: &str,
    query: &Map<String, Value>,
    domain: &str,
    ctx: &mut Context<'_>,
) -> (&'static str, Result<Value, String>) {
    // docs/vendors/autoextract.md §"Domain occupied": an occupation lasts the time it named.
    if let Some(left) = ctx.occupancy.remaining(domain, ctx.now) {
        return ("domain_occupied", Err(occupied_message(domain, left)));
    }
    let config = ctx.config;
    let path = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    if !config.missing_marker.is_empty() && path.contains(&config.missing_marker) {
        // docs/vendors/autoextract.md §"Query-level errors": `Downloader error: http404`.
        return ("http404", Err("Downloader error: http404".into()));
    }
    // docs/vendors/autoextract.md §"Query-level errors".
    // Reference table: "Downloader error: No response (network301) — Redirects are
    // not supported"; the same URL answers the same every time.
    if !config.redirect_marker.is_empty() && path.contains(&config.redirect_marker) {
        let message = "Downloader error: No response (network301)";
        return ("network301", Err(message.into()));
    }
    // docs/vendors/autoextract.md §"Query-level errors": `Proxy error: domain_forbidden`,
    // `Proxy error: nxdomain`.
    if config.forbidden_domains.iter().any(|d| d == domain) {
        return (
            "domain_forbidden",
            Err("Proxy error: domain_forbidden".into()),
        );
    }
    if config.nxdomain_domains.iter().any(|d| d == domain) {
        return ("nxdomain", Err("Proxy error: nxdomain".into()));
    }
    let faults = ctx.faults;
    if ctx.dice.chance(faults.occupied_rate) {
        let seconds = faults.occupied_seconds;
        ctx.occupancy.occupy(domain, seconds, ctx.now);
        return (
            "domain_occupied_new",
            Err(occupied_message(domain, seconds)),
        );
    }
    // docs/vendors/autoextract.md §"Query-level errors": "query timed out" (the 10-minute
    // limit of §"Endpoint and authentication").
    if ctx.dice.chance(faults.timeout_rate) {
        return ("query_timed_out", Err("query timed out".into()));
    }
    if ctx.dice.chance(faults.retriable_error_rate) {
        let error = RETRIABLE_ERRORS[ctx.dice.below(RETRIABLE_ERRORS.len())];
        return ("retriable_error", Err(error.into()));
    }
    let record = match page_type {
        "product" => records::product(ctx.seed, url),
        "article" => {
            let with_raw = query
                .get("articleBodyRaw")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            records::article(ctx.seed, url, with_raw)
        }
        other => records::other(ctx.seed, url, other),
    };
    ("ok", Ok(record))
}

// docs/vendors/autoextract.md §"Domain occupied": the text the official client matches.
/// "Domain X is occupied, please retry in N seconds", N to a tenth of a second.
fn occupied_message(domain: &str, seconds: f64) -> String {
    let tenths = (seconds * 10.0).ceil().max(1.0) / 10.0;
    format!("Domain {domain} is occupied, please retry in {tenths} seconds")
}

// docs/vendors/autoextract.md §"Results": `query.id`.
/// A query id like the real ones: `<unix millis>-<16 hex digits>`.
fn query_id(dice: &Dice) -> String {
    let millis = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    format!("{millis}-{:016x}", dice.next_u64())
}

/// Why a URL was refused before any download.
enum UrlError {
    Malformed,
    NotHttp,
    TooLong,
}

impl UrlError {
    fn message(&self) -> &'static str {
        match self {
            // docs/vendors/autoextract.md §"Query-level errors".
            UrlError::Malformed => "malformed url",
            UrlError::NotHttp => "non-HTTP schemas are not allowed",
            UrlError::TooLong => "URL cannot be longer than 2048 characters",
        }
    }

    fn outcome(&self) -> &'static str {
        match self {
            UrlError::Malformed => "malformed_url",
            UrlError::NotHttp => "non_http_schema",
            UrlError::TooLong => "url_too_long",
        }
    }
}

/// The lower-cased host of an absolute http(s) URL.
fn parse_host(url: &str) -> Result<String, UrlError> {
    if url.len() > MAX_URL_LEN {
        return Err(UrlError::TooLong);
    }
    let uri: http::Uri = url.parse().map_err(|_| UrlError::Malformed)?;
    let scheme = uri.scheme_str().ok_or(UrlError::Malformed)?;
    let host = uri.host().filter(|h| !h.is_empty());
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(UrlError::NotHttp);
    }
    host.map(str::to_ascii_lowercase).ok_or(UrlError::Malformed)
}

/// The registrable domain the real service reports (`blog.scrapinghub.com` →
/// `scrapinghub.com`), by the public suffix list.
pub fn registrable_domain(host: &str) -> String {
    // The public suffix list, as the real service names domains in its answers.
    if host.parse::<std::net::IpAddr>().is_ok() || !host.contains('.') {
        return host.to_string();
    }
    psl::domain_str(host).unwrap_or(host).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrable_domain_drops_subdomains() {
        assert_eq!(
            registrable_domain("blog.scrapinghub.com"),
            "scrapinghub.com"
        );
        assert_eq!(registrable_domain("www.shop.co.uk"), "shop.co.uk");
        assert_eq!(registrable_domain("127.0.0.1"), "127.0.0.1");
    }

    #[test]
    fn occupied_message_keeps_decimals() {
        assert_eq!(
            occupied_message("example.com", 23.5),
            "Domain example.com is occupied, please retry in 23.5 seconds"
        );
        assert_eq!(
            occupied_message("example.com", 23.0),
            "Domain example.com is occupied, please retry in 23 seconds"
        );
    }
}
