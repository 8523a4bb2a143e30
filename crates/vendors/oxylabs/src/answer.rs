//! What an unsuccessful Oxylabs answer means (README "Retry rules",
//! "Oxylabs specifics"): 401 stops the
//! account, 400/403/422 kill the item with the vendor's message, 404 on a job means its
//! results expired, 429 snoozes the named domain (else the account) without an attempt,
//! 5xx and the CDN's 524 are counted retries.

use std::time::Duration;

use dredge_core::http::classify_status;
use dredge_core::{Answer, Failure, FailureClass, Outcome, SnoozeScope, Throttle, ThrottleCurve};

/// Why a job's endpoints answer 404: Oxylabs keeps results at least 24 h, then forgets.
pub const EXPIRED: &str = "results expired (kept ≥ 24 h)";

/// Which endpoint answered, since a 404 means different things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Submit,
    /// `/v1/queries/{id}` and its results.
    Job,
}

/// The outcome of a non-2xx answer.
pub(crate) fn failure_outcome(answer: &Answer, endpoint: Endpoint) -> Outcome {
    let message = vendor_message(answer);
    match answer.status {
        // Wrong credentials answer 401 with an empty body (live).
        401 if message.is_empty() => Outcome::AuthFailed {
            message: "Oxylabs rejected the credentials (HTTP 401, empty body)".into(),
        },
        401 => Outcome::AuthFailed {
            message: format!("Oxylabs rejected the credentials: {message}"),
        },
        404 if endpoint == Endpoint::Job => Outcome::fatal(EXPIRED),
        400 | 403 | 404 | 422 => Outcome::fatal(format!("HTTP {}: {message}", answer.status)),
        429 => Outcome::Throttled(Throttle {
            delay: answer.retry_after(),
            curve: THROTTLE_CURVE,
            scope: limited_domain(&message).map_or(SnoozeScope::Account, SnoozeScope::Domain),
            reason: format!("HTTP 429: {message}"),
        }),
        500..=599 => Outcome::Retry(Failure {
            class: FailureClass::Server,
            message: format!("HTTP {}: {message}", answer.status),
            retry_after: answer.retry_after(),
            budget: None,
        }),
        _ => classify_status(answer)
            .unwrap_or_else(|| Outcome::fatal(format!("HTTP {}: {message}", answer.status))),
    }
}

/// The vendor's `{"message": …}`, or the start of the body when it is not JSON (the
/// CDN's 524 is plain text).
pub(crate) fn vendor_message(answer: &Answer) -> String {
    #[derive(serde::Deserialize)]
    struct Body {
        message: String,
    }
    match answer.json::<Body>() {
        Some(body) => body.message.chars().take(300).collect(),
        None => answer.text(300),
    }
}

/// The wait after a 429 without `Retry-After`: 1 s, doubling with each earlier wait
/// of the item, at most 60 s (a limited domain is held to about 1 request/s).
pub(crate) const THROTTLE_CURVE: ThrottleCurve = ThrottleCurve::Doubling {
    cap: Duration::from_secs(60),
};

/// The domain a per-domain 429 names. The live text is "Access to {domain} has been
/// limited to 1 req/s due to a low success rate…"; the older documented form "Too many
/// requests for domain {domain}." is read too. The account-wide "Too many requests.
/// (Total Dynamic)." names none.
pub fn limited_domain(message: &str) -> Option<String> {
    let lower = message.to_ascii_lowercase();
    let after = if let Some(i) = lower
        .find("access to ")
        .filter(|_| lower.contains(" has been limited"))
    {
        &lower[i + "access to ".len()..]
    } else {
        let i = lower.find("domain ")?;
        &lower[i + "domain ".len()..]
    };
    let word = after.split_whitespace().next()?;
    let domain = word.trim_matches(|c: char| !(c.is_ascii_alphanumeric() || c == '-'));
    (domain.contains('.') && !domain.is_empty()).then(|| domain.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dredge_core::testing::answer;
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    #[test]
    fn a_429_naming_a_domain_snoozes_that_domain() {
        let a = answer(
            429,
            r#"{"message":"Too many requests for domain google.com. Please try again later."}"#,
        );
        match failure_outcome(&a, Endpoint::Submit) {
            Outcome::Throttled(s) => {
                assert_eq!(s.scope, SnoozeScope::Domain("google.com".into()));
                assert_eq!((s.delay, s.curve), (None, THROTTLE_CURVE));
            }
            other => panic!("expected a snooze, got {other:?}"),
        }
    }

    #[test]
    fn the_live_per_domain_429_snoozes_that_domain_and_total_dynamic_the_account() {
        let a = answer(
            429,
            r#"{"message":"Access to www.example.com has been limited to 1 req/s due to a low success rate. If you are using custom headers or cookies, ensure they are correct, then try again. The normal request limit will be restored automatically when the success rate improves."}"#,
        );
        match failure_outcome(&a, Endpoint::Submit) {
            Outcome::Throttled(s) => {
                assert_eq!(s.scope, SnoozeScope::Domain("www.example.com".into()))
            }
            other => panic!("expected a domain snooze, got {other:?}"),
        }
        let a = answer(
            429,
            r#"{"message":"Too many requests. (Total Dynamic).","instance":"/v1/queries/batch"}"#,
        );
        match failure_outcome(&a, Endpoint::Submit) {
            Outcome::Throttled(s) => {
                assert_eq!(s.scope, SnoozeScope::Account);
                assert_eq!(
                    (s.delay, s.curve),
                    (None, THROTTLE_CURVE),
                    "backoff without Retry-After"
                );
            }
            other => panic!("expected an account snooze, got {other:?}"),
        }
    }

    #[test]
    fn a_401_with_an_empty_body_stops_the_account() {
        assert!(matches!(
            failure_outcome(&answer(401, ""), Endpoint::Submit),
            Outcome::AuthFailed { message } if message.contains("empty body")
        ));
    }

    #[test]
    fn a_429_without_a_domain_snoozes_the_account_for_its_retry_after() {
        let mut a = answer(429, r#"{"message":"Too many requests"}"#);
        a.headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        match failure_outcome(&a, Endpoint::Job) {
            Outcome::Throttled(s) => {
                assert_eq!(s.scope, SnoozeScope::Account);
                assert_eq!(s.delay, Some(Duration::from_secs(7)));
            }
            other => panic!("expected a snooze, got {other:?}"),
        }
    }

    #[test]
    fn a_404_on_a_job_means_its_results_expired() {
        let a = answer(404, r#"{"message":"Job not found"}"#);
        assert_eq!(failure_outcome(&a, Endpoint::Job), Outcome::fatal(EXPIRED));
    }

    #[test]
    fn a_400_kills_the_item_with_the_vendors_message() {
        let a = answer(400, r#"{"message":"Invalid result type"}"#);
        assert_eq!(
            failure_outcome(&a, Endpoint::Job),
            Outcome::fatal("HTTP 400: Invalid result type")
        );
    }

    #[test]
    fn a_401_stops_the_account() {
        let a = answer(401, r#"{"message":"Client not found"}"#);
        assert!(matches!(
            failure_outcome(&a, Endpoint::Submit),
            Outcome::AuthFailed { message } if message.contains("Client not found")
        ));
    }

    #[test]
    fn a_cdn_524_is_a_counted_server_retry() {
        let a = answer(524, "error code: 524");
        assert!(matches!(
            failure_outcome(&a, Endpoint::Job),
            Outcome::Retry(f) if f.class == FailureClass::Server && f.message.contains("524")
        ));
    }

    #[test]
    fn throttle_waits_double_from_one_second_up_to_a_minute() {
        // The curve's steps (1 s, 2 s, 4 s … 60 s) are pinned in dredge-core's tests.
        assert_eq!(
            THROTTLE_CURVE,
            ThrottleCurve::Doubling {
                cap: Duration::from_secs(60)
            }
        );
    }
}
