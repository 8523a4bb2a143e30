//! Request-level answers: RFC 7807 problem bodies and the broken answers faults produce
//! (empty bodies, truncated bodies that end in a reset, malformed JSON).

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};

/// The `type` URI prefix the real service uses.
// docs/vendors/autoextract.md §"Request-level errors": types, titles and statuses.
const TYPE_PREFIX: &str = "http://errors.xod.scrapinghub.com/";

/// One request-level problem, by its short type name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Problem {
    QueriesLimitReached,
    PayloadTooLarge,
    MalformedJson,
    RateLimitExceeded,
    UserRateLimitExceeded,
    AccountDisabled,
    LimitReached,
    UnrecognizedContentType,
    EmptyRequest,
    MalformedRequest,
    UnknownUri,
    MethodNotAllowed,
    Unauthorized,
    InternalError,
}

impl Problem {
    /// The `<name>` in `http://errors.xod.scrapinghub.com/<name>.html`.
    pub(super) fn name(self) -> &'static str {
        match self {
            Problem::QueriesLimitReached => "queries-limit-reached",
            // Not in the reference table: the 128 KB limit of §"Endpoint and authentication" needs
            // some answer; its name and title are the simulator's own (unconfirmed).
            Problem::PayloadTooLarge => "payload-too-large",
            Problem::MalformedJson => "malformed-json",
            Problem::RateLimitExceeded => "rate-limit-exceeded",
            Problem::UserRateLimitExceeded => "user-rate-limit-exceeded",
            Problem::AccountDisabled => "account-disabled",
            // No body for an exhausted limit was ever published (docs/vendors/autoextract.md
            // §"Request-level errors"): this one is invented, with the words a client may match.
            Problem::LimitReached => "limit-reached",
            Problem::UnrecognizedContentType => "unrecognized-content-type",
            Problem::EmptyRequest => "empty-request",
            Problem::MalformedRequest => "malformed-request",
            Problem::UnknownUri => "unknown-uri",
            Problem::MethodNotAllowed => "method-not-allowed",
            Problem::Unauthorized => "unauthorized",
            // A 5xx fault; its name is the simulator's own.
            Problem::InternalError => "internal-error",
        }
    }

    /// The title the docs' reference table gives.
    pub(super) fn title(self) -> &'static str {
        match self {
            Problem::QueriesLimitReached => "Limit of 100 queries per request exceeded",
            Problem::PayloadTooLarge => "Request payload size too large",
            Problem::MalformedJson => "Could not parse request JSON",
            Problem::RateLimitExceeded => "System-wide rate limit exceeded",
            Problem::UserRateLimitExceeded => "User rate limit exceeded",
            Problem::AccountDisabled => "Account has been disabled - contact support",
            Problem::LimitReached => "Account limit reached",
            Problem::UnrecognizedContentType => {
                "Unsupported request content type: should be application/json"
            }
            Problem::EmptyRequest => "Empty request body - should be JSON document",
            Problem::MalformedRequest => "Unparseable request",
            Problem::UnknownUri => "Invalid API endpoint",
            Problem::MethodNotAllowed => "Invalid HTTP method (only POST is supported)",
            Problem::Unauthorized => "Authentication failed",
            Problem::InternalError => "Internal server error",
        }
    }

    pub(super) fn status(self) -> StatusCode {
        match self {
            Problem::QueriesLimitReached | Problem::PayloadTooLarge => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Problem::MalformedJson | Problem::EmptyRequest | Problem::MalformedRequest => {
                StatusCode::BAD_REQUEST
            }
            Problem::RateLimitExceeded | Problem::UserRateLimitExceeded => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Problem::AccountDisabled | Problem::LimitReached => StatusCode::FORBIDDEN,
            Problem::UnrecognizedContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Problem::UnknownUri => StatusCode::NOT_FOUND,
            Problem::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Problem::Unauthorized => StatusCode::UNAUTHORIZED,
            Problem::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The full problem+json answer; `html_suffix` picks between the two `type` forms the
    /// docs show (`…/name.html` and `…/name`), so clients must compare by name.
    // docs/vendors/autoextract.md §"Request-level errors": compare types by `<name>`.
    pub(super) fn response(self, detail: &str, html_suffix: bool) -> Response {
        let suffix = if html_suffix { ".html" } else { "" };
        let body = serde_json::json!({
            "type": format!("{TYPE_PREFIX}{}{suffix}", self.name()),
            "title": self.title(),
            "status": self.status().as_u16(),
            "detail": detail,
        });
        problem_json(self.status(), &body)
    }
}

/// A `application/problem+json` answer with the given status and body.
pub(super) fn problem_json(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

// A Zyte API answer (docs/vendors/zyte.md §4, §5: 520 with `Retry-After: 60`), kept
// here as a fault an AutoExtract client behind a newer gateway must survive.
/// The 520 answer: a problem body with a relative `type` and `Retry-After: 60`.
pub(super) fn temporary_error() -> Response {
    let body = serde_json::json!({
        "type": "/download/temporary-error",
        "title": "Temporary Downloading Error",
        "status": 520,
        "detail": "Temporary error while downloading the content, please retry",
    });
    let status = StatusCode::from_u16(520).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = problem_json(status, &body);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    response
}

/// An answer with no content type and an empty body (the docs' fallback when the
/// server cannot describe the error).
pub(super) fn empty(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// A JSON answer of `status` carrying `body` as given.
pub(super) fn json_text(status: StatusCode, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Leading whitespace on a cut answer: hyper flushes its write buffer once it holds
/// more than ~400 KB, so the status, headers and first half of the body reach the
/// client before the connection is dropped.
const CUT_PADDING: usize = 512 * 1024;

/// A 200 that announces the whole body's length but sends only part of it: the server
/// then closes the connection, so the client sees a reset mid-body.
pub(super) fn cut_mid_body(body: String) -> Response {
    let full_len = CUT_PADDING + body.len();
    let mut sent = vec![b' '; CUT_PADDING];
    sent.extend_from_slice(&body.as_bytes()[..body.len() / 2]);
    // Streamed, so the body has no known length and hyper trusts the header; when the
    // stream ends early hyper aborts the connection.
    let stream = Body::from(sent).into_data_stream();
    let mut response = Response::new(Body::from_stream(stream));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(full_len));
    response
}

/// A 200 of 1 GiB (spaces, then `[]`), made chunk by chunk as the client reads, with
/// no `Content-Length`: only a client that stops reading is spared the gigabyte.
pub(super) fn huge() -> Response {
    const CHUNK: usize = 1 << 20;
    const CHUNKS: usize = 1024;
    let chunks = (0..=CHUNKS).map(|i| {
        let chunk = if i == CHUNKS {
            bytes::Bytes::from_static(b"[]")
        } else {
            bytes::Bytes::from(vec![b' '; CHUNK])
        };
        Ok::<_, std::convert::Infallible>(chunk)
    });
    let stream = Body::from_stream(futures::stream::iter(chunks));
    let mut response = Response::new(stream);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// An answer that never arrives: it announces a body and ends at once, so hyper drops
/// the connection before flushing anything.
pub(super) fn disconnect() -> Response {
    let stream = Body::empty().into_data_stream();
    let mut response = Response::new(Body::from_stream(stream));
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(1));
    response
}

/// A 200 `application/json` answer whose body is not valid JSON (cut short).
pub(super) fn malformed_json(body: String) -> Response {
    let cut: String = body.chars().take(body.chars().count() / 2).collect();
    json_text(StatusCode::OK, cut)
}
