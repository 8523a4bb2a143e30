//! Non-200 answers: RFC 7807 `application/problem+json` bodies classified by `type`
//! (never by `detail`: the published 429 details are swapped), then by status when
//! there is no problem object ("the client should be ready for the absence of a
//! problem object"). See `docs/vendors/zyte.md` for each row's source.

use std::time::Duration;

use dredge_core::{Answer, Failure, FailureClass, Outcome, SnoozeScope, Throttle, ThrottleCurve};
use serde_json::Value;

/// Counted attempts (of any failure) after which a 520 `/download/temporary-error`
/// is no longer retried: the official client's `max_total=4`.
pub const TEMPORARY_DOWNLOAD_BUDGET: u32 = 4;
/// The same for 521 `/download/internal-error` ("permanent downloading error"):
/// retried once, as the official client does (`max_permanent=2`).
pub const INTERNAL_DOWNLOAD_BUDGET: u32 = 2;

/// The problem body's fields we use.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Problem {
    /// The `type` path, e.g. `/limits/over-domain-limit` (any scheme and host cut off).
    pub kind: String,
    pub title: Option<String>,
    pub detail: Option<String>,
}

impl Problem {
    pub fn parse(answer: &Answer) -> Problem {
        let Some(Value::Object(body)) = answer.json::<Value>() else {
            return Problem::default();
        };
        let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_string);
        Problem {
            kind: text("type").map(|t| type_path(&t)).unwrap_or_default(),
            title: text("title"),
            detail: text("detail"),
        }
    }
}

/// The path of a problem `type`: `/limits/over-domain-limit` from either that or a
/// full URI (`https://docs.zyte.com/zyte-api/usage/errors.html#/limits/...` forms
/// included), lower-cased.
pub fn type_path(type_uri: &str) -> String {
    let t = type_uri.trim();
    let path = match t.find("#/") {
        Some(i) => &t[i + 1..],
        None => match t.find("://") {
            Some(i) => t[i + 3..].find('/').map_or("", |j| &t[i + 3 + j..]),
            None => t,
        },
    };
    path.trim_end_matches('/').to_ascii_lowercase()
}

/// "HTTP 451 /download/domain-forbidden: Domain Forbidden (Extraction for the domain
/// x is forbidden.)", or the body's first words when there is no problem object.
pub(crate) fn describe(answer: &Answer, problem: &Problem) -> String {
    answer.problem_message(
        Some(problem.kind.as_str()).filter(|k| !k.is_empty()),
        problem.title.as_deref(),
        problem.detail.as_deref(),
    )
}

/// What a non-200 answer means for the URL whose item has scope `scope`.
pub fn outcome(answer: &Answer, scope: &str) -> Outcome {
    let problem = Problem::parse(answer);
    let message = describe(answer, &problem);
    // Without a `Retry-After`, the official client's curve.
    let wait = |scope: SnoozeScope| {
        Outcome::Throttled(Throttle {
            delay: answer.retry_after(),
            curve: ThrottleCurve::ZyteClient,
            scope,
            reason: message.clone(),
        })
    };
    match (answer.status, problem.kind.as_str()) {
        (429, "/limits/over-domain-limit" | "/limits/over-org-domain-limit") => {
            wait(SnoozeScope::Domain(scope.to_string()))
        }
        // Over the key's per-minute limit, or the service's global one: not billed,
        // retried as long as needed, never counted.
        (429 | 503, _) => wait(SnoozeScope::Account),
        (403, "/auth/account-suspended") => Outcome::AccountSuspended { message },
        (401 | 403, _) => Outcome::AuthFailed { message },
        (520, _) => download_error(message, answer.retry_after(), TEMPORARY_DOWNLOAD_BUDGET),
        (521, _) => download_error(message, answer.retry_after(), INTERNAL_DOWNLOAD_BUDGET),
        // Seen live when Zyte's proxy cannot reach the site; said to be transient.
        (421, "/website/connection-error") => server_retry(message, answer.retry_after()),
        (500..=599, _) => server_retry(message, answer.retry_after()),
        // 400, 422 (our request), 451 (the domain is forbidden for good), 421
        // domain-unreachable ("should not be retried"), and anything else.
        _ => Outcome::Fatal { message },
    }
}

fn download_error(message: String, retry_after: Option<Duration>, budget: u32) -> Outcome {
    Outcome::Retry(
        Failure::new(FailureClass::Server, message)
            .with_retry_after(retry_after)
            .with_budget(budget),
    )
}

fn server_retry(message: String, retry_after: Option<Duration>) -> Outcome {
    Outcome::Retry(Failure::new(FailureClass::Server, message).with_retry_after(retry_after))
}
