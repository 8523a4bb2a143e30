//! Zyte API's RFC 7807 problem answers (Zyte API reference, "Errors": the OpenAPI
//! response examples; the 403 detail is the live body recorded in 2026). Each variant
//! is one documented `type`; the live `type` is a bare path such as
//! `/limits/over-domain-limit`.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};

/// One documented problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// 400: an unknown field, a missing `url`, a bad value.
    Invalid,
    /// 400: the body is not JSON.
    InvalidJson,
    /// 401: no key, or a key that does not exist.
    KeyNotFound,
    /// 403: the account is suspended (e.g. its spending limit is reached).
    AccountSuspended,
    /// 422: incompatible fields (two extraction types, httpResponseBody+browserHtml).
    Unprocessable,
    /// 429: the key's per-minute limit.
    OverUserLimit,
    /// 429: too many requests for one domain at once.
    OverDomainLimit,
    /// 451: the domain may not be extracted.
    DomainForbidden,
    /// 500.
    Internal,
    /// 503: the service's global limit.
    OverGlobalLimit,
    /// 520: no ban-free response in time (temporary).
    TemporaryDownload,
    /// 521: the downloader failed (permanent, retried once by the official client).
    InternalDownload,
}

impl Problem {
    pub fn status(self) -> u16 {
        match self {
            Problem::Invalid | Problem::InvalidJson => 400,
            Problem::KeyNotFound => 401,
            Problem::AccountSuspended => 403,
            Problem::Unprocessable => 422,
            Problem::OverUserLimit | Problem::OverDomainLimit => 429,
            Problem::DomainForbidden => 451,
            Problem::Internal => 500,
            Problem::OverGlobalLimit => 503,
            Problem::TemporaryDownload => 520,
            Problem::InternalDownload => 521,
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Problem::Invalid => "/request/invalid",
            Problem::InvalidJson => "/request/invalid-json",
            Problem::KeyNotFound => "/auth/key-not-found",
            Problem::AccountSuspended => "/auth/account-suspended",
            Problem::Unprocessable => "/request/unprocessable",
            Problem::OverUserLimit => "/limits/over-user-limit",
            Problem::OverDomainLimit => "/limits/over-domain-limit",
            Problem::DomainForbidden => "/download/domain-forbidden",
            Problem::Internal => "/server/internal",
            Problem::OverGlobalLimit => "/limits/over-global-limit",
            Problem::TemporaryDownload => "/download/temporary-error",
            Problem::InternalDownload => "/download/internal-error",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Problem::Invalid => "Bad Request",
            Problem::InvalidJson => "Invalid JSON",
            Problem::KeyNotFound => "Authentication Key Not Found",
            Problem::AccountSuspended => "Account Suspended",
            Problem::Unprocessable => "Unprocessable Request",
            Problem::OverUserLimit => "Over User Requests Limit",
            Problem::OverDomainLimit => "Over Domain Requests Limit",
            Problem::DomainForbidden => "Domain Forbidden",
            Problem::Internal => "Internal Server Error",
            Problem::OverGlobalLimit => "Global Requests Limit Reached",
            Problem::TemporaryDownload => "Website Ban",
            Problem::InternalDownload => "Internal Downloading Error",
        }
    }

    /// The answer, with `Retry-After` when given (whole seconds on the wire when the
    /// delay is whole; decimals only in shortened test scenarios).
    pub fn response(self, detail: &str, retry_after: Option<f64>) -> Response {
        let body = serde_json::json!({
            "type": self.kind(),
            "title": self.title(),
            "status": self.status(),
            "detail": detail,
        });
        let mut response = Response::new(Body::from(body.to_string()));
        *response.status_mut() =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = retry_after
            && let Ok(v) = HeaderValue::from_str(&seconds_text(secs))
        {
            headers.insert(header::RETRY_AFTER, v);
        }
        response
    }
}

fn seconds_text(secs: f64) -> String {
    if secs.fract() == 0.0 {
        format!("{}", secs.max(0.0) as u64)
    } else {
        // Rounded up to the millisecond: never announce less than the real wait.
        format!("{:.3}", (secs.max(0.0) * 1000.0).ceil() / 1000.0)
    }
}
