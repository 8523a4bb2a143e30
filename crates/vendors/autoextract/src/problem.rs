//! Request-level errors: a non-2xx answer, usually an RFC 7807 `application/problem+json`
//! body, classified by its `type` name (with any `.html` stripped: the docs show both
//! forms) and then by status. A non-JSON or empty body is classified by status alone.

use std::time::Duration;

use dredge_core::Answer;
use serde_json::Value;

/// What a request-level error means for the batch.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestError {
    /// 429: the whole account waits; `delay` is the service's when it gave one.
    Throttled {
        delay: Option<Duration>,
        message: String,
    },
    /// The service could not take this request (too large, malformed, empty): a bug on
    /// our side. Split the batch and try once more, then the queries are dead.
    Rejected { message: String },
    /// The key is refused or the account disabled: stop the account.
    Auth { message: String },
    /// A 403 saying the account's limit is reached: stop the account as suspended,
    /// its items wait.
    Suspended { message: String },
    /// 5xx, or a transport-like problem: a counted retry.
    Transient {
        retry_after: Option<Duration>,
        message: String,
    },
    /// Anything else (unknown endpoint, method not allowed): the queries are dead.
    Permanent { message: String },
}

/// Problem names meaning the request itself was unacceptable.
const REJECTED: &[&str] = &[
    "queries-limit-reached",
    "payload-too-large",
    "malformed-json",
    "malformed-request",
    "empty-request",
    "unrecognized-content-type",
];

/// The problem body's fields we use.
#[derive(Debug, Default, Clone, PartialEq)]
struct Problem {
    name: Option<String>,
    title: Option<String>,
    detail: Option<String>,
    delay: Option<Duration>,
}

/// Classify a non-2xx answer.
pub(crate) fn classify(answer: &Answer) -> RequestError {
    let problem = parse_problem(answer);
    let message = describe(answer, &problem);
    let name = problem.name.as_deref().unwrap_or_default();
    let status = answer.status;
    if matches!(name, "rate-limit-exceeded" | "user-rate-limit-exceeded") || status == 429 {
        let delay = answer.retry_after().or(problem.delay);
        return RequestError::Throttled { delay, message };
    }
    if status == 403 && says_limit_reached(&message) {
        return RequestError::Suspended { message };
    }
    if matches!(name, "account-disabled" | "unauthorized") || matches!(status, 401 | 403) {
        return RequestError::Auth { message };
    }
    if REJECTED.contains(&name) || status == 413 || (status == 400 && name.is_empty()) {
        return RequestError::Rejected { message };
    }
    if name == "http-pipelining-not-supported" || status >= 500 {
        let retry_after = answer.retry_after().or(problem.delay);
        return RequestError::Transient {
            retry_after,
            message,
        };
    }
    RequestError::Permanent { message }
}

/// Whether a 403's words say a usage or spending limit is reached. No captured body
/// exists (the service is discontinued), so any of these words in the type, title or
/// detail counts: waiting loses nothing, killing items would.
fn says_limit_reached(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    ["limit", "quota", "credit", "suspend"]
        .iter()
        .any(|w| lower.contains(w))
}

/// The `<name>` of a problem `type` URI: its last path segment without `.html`
/// (`http://errors.xod.scrapinghub.com/account-disabled.html` → `account-disabled`,
/// `/download/temporary-error` → `temporary-error`).
pub fn type_name(type_uri: &str) -> String {
    let last = type_uri
        .trim()
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    last.strip_suffix(".html")
        .unwrap_or(last)
        .to_ascii_lowercase()
}

fn parse_problem(answer: &Answer) -> Problem {
    let Some(Value::Object(body)) = answer.json::<Value>() else {
        return Problem::default();
    };
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_string);
    Problem {
        name: text("type").map(|t| type_name(&t)),
        title: text("title"),
        detail: text("detail"),
        delay: ["delay", "retry_after", "retryAfter", "retry-after"]
            .iter()
            .find_map(|k| body.get(*k).and_then(seconds)),
    }
}

/// A delay field in seconds, as a number or a numeric string.
fn seconds(value: &Value) -> Option<Duration> {
    let secs = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

/// "HTTP 429 user-rate-limit-exceeded: User rate limit exceeded (Too many requests)",
/// or the body's first words when it is not a problem.
fn describe(answer: &Answer, problem: &Problem) -> String {
    answer.problem_message(
        problem.name.as_deref(),
        problem.title.as_deref(),
        problem.detail.as_deref(),
    )
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    use super::*;

    fn answer(status: u16, body: &str, retry_after: Option<&str>) -> Answer {
        let mut headers = HeaderMap::new();
        if let Some(v) = retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from_str(v).unwrap());
        }
        Answer {
            status,
            headers,
            body: body.as_bytes().to_vec().into(),
        }
    }

    fn problem(status: u16, name: &str) -> Answer {
        let body = format!(
            r#"{{"type":"http://errors.xod.scrapinghub.com/{name}","title":"t","status":{status}}}"#
        );
        answer(status, &body, None)
    }

    #[test]
    fn type_names_are_compared_without_html() {
        let a = "http://errors.xod.scrapinghub.com/account-disabled.html";
        assert_eq!(type_name(a), "account-disabled");
        assert_eq!(
            type_name("http://errors.xod.scrapinghub.com/account-disabled"),
            "account-disabled"
        );
        assert_eq!(type_name("/download/temporary-error"), "temporary-error");
        assert_eq!(type_name(""), "");
    }

    #[test]
    fn rate_limits_snooze_the_account_with_the_services_delay() {
        let a = answer(
            429,
            r#"{"type":"http://errors.xod.scrapinghub.com/user-rate-limit-exceeded.html"}"#,
            Some("7"),
        );
        assert!(matches!(
            classify(&a),
            RequestError::Throttled { delay: Some(d), .. } if d == Duration::from_secs(7)
        ));
        let a = answer(
            429,
            r#"{"type":"http://errors.xod.scrapinghub.com/rate-limit-exceeded","delay":2.5}"#,
            None,
        );
        assert!(matches!(
            classify(&a),
            RequestError::Throttled { delay: Some(d), .. } if d == Duration::from_millis(2500)
        ));
        assert!(matches!(
            classify(&answer(429, "", None)),
            RequestError::Throttled { delay: None, .. }
        ));
    }

    #[test]
    fn a_disabled_account_stops_the_account_in_either_type_form() {
        for name in ["account-disabled", "account-disabled.html"] {
            assert!(matches!(
                classify(&problem(403, name)),
                RequestError::Auth { .. }
            ));
        }
        assert!(matches!(
            classify(&problem(401, "unauthorized")),
            RequestError::Auth { .. }
        ));
    }

    #[test]
    fn a_403_saying_the_limit_is_reached_suspends_the_account() {
        for body in [
            r#"{"type":"http://errors.xod.scrapinghub.com/limit-reached.html","title":"Account limit reached","detail":"Your account's monthly limit has been reached"}"#,
            r#"{"title":"Forbidden","detail":"Monthly quota exceeded"}"#,
        ] {
            let error = classify(&answer(403, body, None));
            assert!(
                matches!(error, RequestError::Suspended { .. }),
                "{body}: {error:?}"
            );
        }
        // A plain disabled account stays a credentials problem.
        let disabled = classify(&problem(403, "account-disabled"));
        assert!(
            matches!(disabled, RequestError::Auth { .. }),
            "{disabled:?}"
        );
    }

    #[test]
    fn too_large_malformed_and_empty_requests_are_rejections() {
        for (status, name) in [
            (413, "queries-limit-reached.html"),
            (413, "payload-too-large"),
            (400, "malformed-json"),
            (400, "malformed-request.html"),
            (400, "empty-request"),
            (415, "unrecognized-content-type"),
        ] {
            assert!(
                matches!(
                    classify(&problem(status, name)),
                    RequestError::Rejected { .. }
                ),
                "{name}"
            );
        }
        assert!(matches!(
            classify(&answer(413, "", None)),
            RequestError::Rejected { .. }
        ));
    }

    #[test]
    fn server_errors_are_transient_and_keep_retry_after() {
        let body = r#"{"type":"/download/temporary-error","title":"Temporary Downloading Error"}"#;
        match classify(&answer(520, body, Some("60"))) {
            RequestError::Transient {
                retry_after,
                message,
            } => {
                assert_eq!(retry_after, Some(Duration::from_secs(60)));
                assert!(message.contains("temporary-error"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            classify(&answer(503, "", None)),
            RequestError::Transient {
                retry_after: None,
                ..
            }
        ));
    }

    #[test]
    fn odd_bodies_never_panic_and_unknown_4xx_are_permanent() {
        for body in [
            "",
            "<html>oops</html>",
            "[1,2]",
            "{\"type\":5}",
            "\u{0}\u{1}",
        ] {
            let _ = classify(&answer(500, body, None));
            assert!(matches!(
                classify(&answer(404, body, None)),
                RequestError::Permanent { .. }
            ));
        }
        assert!(matches!(
            classify(&problem(405, "method-not-allowed")),
            RequestError::Permanent { .. }
        ));
    }
}
