//! What an answer means, in both API flavors: every answer is checked for its `error`
//! field (the envelope), whatever the HTTP status, and mapped onto the data it carries,
//! an expired token, or the item's outcome.
//!
//! Legacy: `{"data", "error": "success", "error_Description"}` (capital D); errors as
//! HTTP 200 with another `error` or as an HTTP status; a wrong method answers
//! `{"message": ...}`. OpenAPI: `{"data", "requestId"}` or
//! `{"error": {"code", "message"}, "requestId"}` with an HTTP status.

use crate::account::OctoparseFlavor;
use dredge_core::http::classify_status;
use dredge_core::{Answer, FailureClass, Outcome, SnoozeScope, Throttle, ThrottleCurve, retry};
use serde_json::Value;

/// An answer that carried no data.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// The access token is invalid or expired: refresh it and try again at once.
    Unauthorized,
    /// Anything else, already classified.
    Outcome(Outcome),
}

/// The `data` of a successful answer, or what went wrong.
pub(crate) fn read(flavor: OctoparseFlavor, answer: &Answer) -> Result<Value, Problem> {
    match flavor {
        OctoparseFlavor::Legacy => legacy(answer),
        OctoparseFlavor::Openapi => openapi(answer),
    }
}

fn legacy(answer: &Answer) -> Result<Value, Problem> {
    let body: Option<Value> = answer.json();
    let field = |name: &str| {
        body.as_ref()
            .and_then(|b| b.get(name))
            .and_then(Value::as_str)
    };
    if let Some(code) = field("error") {
        let description = field("error_Description")
            .or_else(|| field("error_description"))
            .unwrap_or_default();
        if code.eq_ignore_ascii_case("success") && answer.is_success() {
            return Ok(body
                .and_then(|mut b| b.get_mut("data").map(Value::take))
                .unwrap_or(Value::Null));
        }
        return Err(legacy_error(code, description, answer));
    }
    if let Some(message) = field("message").or_else(|| field("Message")) {
        return Err(Problem::Outcome(wrong_request(answer.status, message)));
    }
    Err(without_envelope(answer))
}

fn legacy_error(code: &str, description: &str, answer: &Answer) -> Problem {
    let message = if description.is_empty() {
        code.to_string()
    } else {
        format!("{code}: {description}")
    };
    let code = normalised(code);
    if code == "unauthorized" || answer.status == 401 {
        return Problem::Unauthorized;
    }
    let outcome = match code.as_str() {
        _ if server_side(&code) => Outcome::retry(FailureClass::Server, message),
        "taskiderror"
        | "exportpagesizeerror"
        | "clienterror"
        | "notfound"
        | "methodnotallow"
        | "methodnotallowed" => Outcome::fatal(message),
        "quotaexceeded" => quota_exceeded(answer, message),
        _ => by_status(answer, message),
    };
    Problem::Outcome(outcome)
}

fn openapi(answer: &Answer) -> Result<Value, Problem> {
    let body: Option<Value> = answer.json();
    if let Some(error) = body
        .as_ref()
        .and_then(|b| b.get("error"))
        .filter(|e| !e.is_null())
    {
        let text = |name: &str| error.get(name).and_then(Value::as_str).unwrap_or_default();
        let (code, message) = match error {
            Value::String(code) => (code.as_str(), ""),
            _ => (text("code"), text("message")),
        };
        return Err(openapi_error(code, message, answer));
    }
    let data = body.and_then(|mut b| b.get_mut("data").map(Value::take));
    if let Some(data) = data.filter(|_| answer.is_success()) {
        return Ok(data);
    }
    Err(without_envelope(answer))
}

fn openapi_error(code: &str, message: &str, answer: &Answer) -> Problem {
    let text = format!("{code}: {message}");
    let code = normalised(code);
    if answer.status == 401 || code == "unauthorized" {
        return Problem::Unauthorized;
    }
    let outcome = match (answer.status, code.as_str()) {
        // A server-side code is retried whatever the status: the spelling of these
        // codes is unconfirmed, and killing an item for the vendor's fault loses data.
        (500..=599, _) => Outcome::retry(FailureClass::Server, text),
        (_, c) if server_side(c) => Outcome::retry(FailureClass::Server, text),
        (_, "invalidtaskid" | "invalidsize" | "notfound" | "invalidparameter") => {
            Outcome::fatal(text)
        }
        (429, _) | (_, "toomanyrequests") => quota_exceeded(answer, text),
        (405, _) | (_, "methodnotallowed") => wrong_request(answer.status, &text),
        (200..=299, _) => Outcome::retry(FailureClass::Vendor, text),
        _ => Outcome::fatal(text),
    };
    Problem::Outcome(outcome)
}

/// An error code compared loosely: lower case, without `.`, `_`, `-` or spaces
/// (`Server_Error`, `InternalServerError` and `internal.server.error` are one code).
fn normalised(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A normalised code that blames the vendor's side.
fn server_side(code: &str) -> bool {
    [
        "server",
        "internal",
        "unavailable",
        "timeout",
        "timedout",
        "busy",
    ]
    .iter()
    .any(|w| code.contains(w))
}

/// `{"message": "Requested Resource Does Not Support HTTP Method 'POST'"}` and the
/// ASP.NET 404: our request is wrong, so retrying cannot help.
fn wrong_request(status: u16, message: &str) -> Outcome {
    Outcome::fatal(format!(
        "HTTP {status}: {message} (dredge sent a request the API does not accept: a bug, please report it)"
    ))
}

/// An answer with no envelope we know (HTML error page, empty body, missing `error`).
fn without_envelope(answer: &Answer) -> Problem {
    if answer.status == 401 {
        return Problem::Unauthorized;
    }
    let message = format!(
        "HTTP {}: answer without the expected envelope: {}",
        answer.status,
        answer.text(200)
    );
    Problem::Outcome(by_status(answer, message))
}

/// An error code we do not know: its HTTP status decides.
fn by_status(answer: &Answer, message: String) -> Outcome {
    match answer.status {
        429 => quota_exceeded(answer, message),
        // A 2xx without success is a vendor-side hiccup we cannot name: retry, counted.
        200..=299 => Outcome::retry(FailureClass::Vendor, message),
        _ => match classify_status(answer) {
            Some(Outcome::Retry(mut failure)) => {
                failure.message = message;
                Outcome::Retry(failure)
            }
            _ => Outcome::fatal(message),
        },
    }
}

/// 429: the whole account waits, without spending an attempt. Without a `Retry-After`
/// the wait doubles with each time this item was held back (1 s, 2 s … 5 min): the
/// OpenAPI limit is per second, the legacy quota is longer.
fn quota_exceeded(answer: &Answer, message: String) -> Outcome {
    Outcome::Throttled(Throttle {
        delay: answer.retry_after(),
        curve: THROTTLE_CURVE,
        scope: SnoozeScope::Account,
        reason: message,
    })
}

/// The wait after a 429 that named no delay: 1 s, doubling with each earlier wait of
/// the item, at most the retry cap (5 min).
pub(crate) const THROTTLE_CURVE: ThrottleCurve = ThrottleCurve::Doubling {
    cap: retry::RETRY_CAP,
};

#[cfg(test)]
mod tests {

    use super::*;
    use dredge_core::testing::answer;

    fn legacy_read(status: u16, body: &str) -> Result<Value, Problem> {
        read(OctoparseFlavor::Legacy, &answer(status, body))
    }

    fn openapi_read(status: u16, body: &str) -> Result<Value, Problem> {
        read(OctoparseFlavor::Openapi, &answer(status, body))
    }

    fn outcome(result: Result<Value, Problem>) -> Outcome {
        match result {
            Err(Problem::Outcome(o)) => o,
            other => panic!("expected an outcome, got {other:?}"),
        }
    }

    #[test]
    fn server_side_codes_are_retried_whatever_their_spelling_or_4xx_status() {
        for (status, body) in [
            (
                400,
                r#"{"error":{"code":"InternalServerError","message":"x"},"requestId":"r"}"#,
            ),
            (
                400,
                r#"{"error":{"code":"internal.server.error","message":"x"},"requestId":"r"}"#,
            ),
            (
                404,
                r#"{"error":{"code":"Service.Unavailable","message":"x"},"requestId":"r"}"#,
            ),
        ] {
            assert!(
                matches!(outcome(openapi_read(status, body)), Outcome::Retry(_)),
                "{body}"
            );
        }
        for body in [
            r#"{"error":"Server_Error","error_Description":"x"}"#,
            r#"{"error":"ServiceUnavailable","error_Description":"x"}"#,
        ] {
            assert!(
                matches!(outcome(legacy_read(400, body)), Outcome::Retry(_)),
                "{body}"
            );
        }
        // Client codes stay dead in any spelling.
        let body = r#"{"error":{"code":"Invalid_TaskId","message":"x"},"requestId":"r"}"#;
        assert!(matches!(
            outcome(openapi_read(400, body)),
            Outcome::Fatal { .. }
        ));
        let body = r#"{"error":"TaskId_Error","error_Description":"x"}"#;
        assert!(matches!(
            outcome(legacy_read(200, body)),
            Outcome::Fatal { .. }
        ));
    }

    #[test]
    fn success_is_matched_in_any_case() {
        let data = legacy_read(
            200,
            r#"{"data":{"total":1},"error":"Success","error_Description":"Action Success"}"#,
        );
        assert_eq!(data, Ok(serde_json::json!({"total": 1})));
    }

    #[test]
    fn an_unauthorized_field_in_a_200_answer_is_an_expired_token() {
        let body = r#"{"error":"unauthorized","error_Description":"access_token invalid"}"#;
        assert_eq!(legacy_read(200, body), Err(Problem::Unauthorized));
        assert_eq!(legacy_read(401, body), Err(Problem::Unauthorized));
    }

    #[test]
    fn task_and_size_errors_are_dead_with_the_vendors_message() {
        let body = r#"{"error":"taskid_error","error_Description":"TaskID is invalid or the task does not belong to you."}"#;
        let Outcome::Fatal { message } = outcome(legacy_read(200, body)) else {
            panic!("dead expected")
        };
        assert!(message.contains("TaskID is invalid"), "{message}");
        let body =
            r#"{"error":"export_pagesize_error","error_Description":"Size range from 1 to 1000"}"#;
        assert!(
            matches!(outcome(legacy_read(200, body)), Outcome::Fatal { message } if message.contains("Size range"))
        );
    }

    #[test]
    fn a_server_error_in_a_200_answer_is_a_counted_retry() {
        let body = r#"{"error":"server_error","error_Description":"Server Error. Please try again later!"}"#;
        assert!(
            matches!(outcome(legacy_read(200, body)), Outcome::Retry(f) if f.class == FailureClass::Server)
        );
    }

    #[test]
    fn a_wrong_method_is_dead_as_a_bug() {
        let body = r#"{"message":"Requested Resource Does Not Support HTTP Method 'POST'"}"#;
        for status in [200, 405] {
            let Outcome::Fatal { message } = outcome(legacy_read(status, body)) else {
                panic!("dead expected")
            };
            assert!(
                message.contains("Does Not Support HTTP Method"),
                "{message}"
            );
        }
    }

    #[test]
    fn quota_exceeded_snoozes_the_account_without_an_attempt() {
        let body = r#"{"error":"quota_exceeded","error_Description":"Request quota exceeded."}"#;
        let Outcome::Throttled(throttle) = outcome(legacy_read(429, body)) else {
            panic!("a throttle expected")
        };
        assert_eq!(throttle.scope, SnoozeScope::Account);
        assert_eq!((throttle.delay, throttle.curve), (None, THROTTLE_CURVE));
        let body = r#"{"error":{"code":"TooManyRequests","message":"slow down"},"requestId":"x"}"#;
        assert!(matches!(
            outcome(openapi_read(429, body)),
            Outcome::Throttled(_)
        ));
    }

    #[test]
    fn a_2xx_answer_without_an_error_field_is_not_success() {
        assert!(matches!(
            outcome(legacy_read(200, r#"{"data":[]}"#)),
            Outcome::Retry(_)
        ));
        assert!(matches!(
            outcome(legacy_read(200, "<html>")),
            Outcome::Retry(_)
        ));
    }

    #[test]
    fn openapi_data_and_errors_are_read_from_their_envelope() {
        let data = openapi_read(200, r#"{"data":{"total":2},"requestId":"r"}"#);
        assert_eq!(data, Ok(serde_json::json!({"total": 2})));
        let expired = r#"{"error":{"code":"Unauthorized","message":"The access token has expired."},"requestId":"r"}"#;
        assert_eq!(openapi_read(401, expired), Err(Problem::Unauthorized));
        let task =
            r#"{"error":{"code":"Invalid.TaskId","message":"taskId is invalid"},"requestId":"r"}"#;
        assert!(
            matches!(outcome(openapi_read(400, task)), Outcome::Fatal { message } if message.contains("taskId is invalid"))
        );
        let server =
            r#"{"error":{"code":"InternalServerError","message":"later"},"requestId":"r"}"#;
        assert!(matches!(
            outcome(openapi_read(500, server)),
            Outcome::Retry(_)
        ));
        let in_200 = r#"{"error":{"code":"Invalid.Size","message":"size"},"requestId":"r"}"#;
        assert!(matches!(
            outcome(openapi_read(200, in_200)),
            Outcome::Fatal { .. }
        ));
    }
}
