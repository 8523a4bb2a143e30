//! One request line in, at most one response out: JSON-RPC 2.0 envelope checks
//! (-32700, -32600), method lookup (-32601), access (-32003), params (-32602), then the
//! method's handler (`protocol::Request::answer`).

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::peer::Access;
use crate::protocol::{Api, ApiError, MAX_LINE_BYTES, Request, code};

/// A checked envelope: `id` is `None` for a notification (no answer).
#[derive(Debug, PartialEq)]
struct Envelope {
    id: Option<Value>,
    method: String,
    params: Option<Value>,
}

/// The answer to one line, or `None` when it was a notification or blank.
pub(super) async fn answer(api: &Arc<dyn Api>, line: &[u8], access: Access) -> Option<Value> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let value: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => {
            return Some(error(
                Value::Null,
                code::PARSE_ERROR,
                format!("parse error: {e}"),
            ));
        }
    };
    let envelope = match check_envelope(value) {
        Ok(r) => r,
        Err((id, message)) => return Some(error(id, code::INVALID_REQUEST, message)),
    };
    let outcome = match admit(&envelope.method, access) {
        Ok(()) => match parse(&envelope.method, envelope.params) {
            Ok(request) => call_isolated(api, request).await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    let id = envelope.id?;
    Some(match outcome {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(e) => error(id, e.code, e.message),
    })
}

/// The answer to a line longer than `MAX_LINE_BYTES`; its id is unknown.
pub(super) fn too_long() -> Value {
    error(
        Value::Null,
        code::INVALID_REQUEST,
        format!("request line longer than {MAX_LINE_BYTES} bytes; it was discarded"),
    )
}

/// An error answer with no request behind it (e.g. a refused peer).
pub(super) fn error(id: Value, code: i64, message: String) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn check_envelope(value: Value) -> Result<Envelope, (Value, String)> {
    let mut object = match value {
        Value::Object(o) => o,
        Value::Array(_) => {
            return Err((
                Value::Null,
                "batch requests are not supported; send one object per line".into(),
            ));
        }
        _ => return Err((Value::Null, "a request must be a JSON object".into())),
    };
    let id = match object.remove("id") {
        None => None,
        Some(v @ (Value::Null | Value::String(_) | Value::Number(_))) => Some(v),
        Some(_) => {
            return Err((
                Value::Null,
                "\"id\" must be a string, a number or null".into(),
            ));
        }
    };
    let reply_id = id.clone().unwrap_or(Value::Null);
    if object.get("jsonrpc") != Some(&Value::String("2.0".into())) {
        return Err((reply_id, "\"jsonrpc\" must be \"2.0\"".into()));
    }
    let method = match object.remove("method") {
        Some(Value::String(m)) => m,
        _ => return Err((reply_id, "\"method\" must be a string".into())),
    };
    let params = match object.remove("params") {
        None | Some(Value::Null) => None,
        Some(p @ (Value::Object(_) | Value::Array(_))) => Some(p),
        Some(_) => return Err((reply_id, "\"params\" must be an object or an array".into())),
    };
    Ok(Envelope { id, method, params })
}

/// Whether the method exists (-32601) and the peer may call it (-32003), decided
/// before its params are read.
fn admit(method: &str, access: Access) -> Result<(), ApiError> {
    let Some(known) = Request::named(method) else {
        return Err(ApiError {
            code: code::METHOD_NOT_FOUND,
            message: format!(
                "unknown method {method:?}; known: {}",
                Request::methods().join(", ")
            ),
        });
    };
    if access == Access::ReadOnly && !known.is_read_only() {
        return Err(ApiError {
            code: code::PERMISSION_DENIED,
            message: format!(
                "permission denied: {method:?} changes the daemon; the status group may only call {}. Ask for membership in the control group, or use sudo",
                Request::read_only_methods().join(", ")
            ),
        });
    }
    Ok(())
}

/// The typed request. Params are named fields: absent, `null` and `[]` read as `{}`
/// (so a missing field is named), any other array is refused.
fn parse(method: &str, params: Option<Value>) -> Result<Request, ApiError> {
    let params = match params {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(Value::Array(a)) if a.is_empty() => Value::Object(Map::new()),
        Some(v @ Value::Object(_)) => v,
        Some(_) => {
            return Err(invalid_params(format!(
                "invalid params for {method}: expected an object with named fields"
            )));
        }
    };
    serde_json::from_value(json!({"method": method, "params": params}))
        .map_err(|e| invalid_params(format!("invalid params for {method}: {e}")))
}

/// Runs the call in its own task so a panicking handler costs one error answer,
/// not the connection.
async fn call_isolated(api: &Arc<dyn Api>, request: Request) -> Result<Value, ApiError> {
    let api = Arc::clone(api);
    let task = tokio::spawn(async move { request.answer(api.as_ref()).await });
    match task.await {
        Ok(outcome) => outcome,
        Err(_) => Err(ApiError::internal(
            "internal error while answering the request; see the daemon log",
        )),
    }
}

fn invalid_params(message: String) -> ApiError {
    ApiError {
        code: code::INVALID_PARAMS,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_without_id_is_a_notification() {
        let r = check_envelope(json!({"jsonrpc": "2.0", "method": "status"})).expect("valid");
        assert_eq!(r.id, None);
    }

    #[test]
    fn a_null_id_is_kept_and_answered() {
        let r = check_envelope(json!({"jsonrpc": "2.0", "id": null, "method": "status"}))
            .expect("valid");
        assert_eq!(r.id, Some(Value::Null));
    }

    #[test]
    fn envelope_errors_keep_the_id_when_it_is_valid() {
        let (id, message) = check_envelope(json!({"jsonrpc": "1.0", "id": 7, "method": "status"}))
            .expect_err("bad version");
        assert_eq!(id, json!(7));
        assert!(message.contains("2.0"), "{message}");
        let (id, _) = check_envelope(json!({"jsonrpc": "2.0", "id": {"x": 1}, "method": "status"}))
            .expect_err("bad id");
        assert_eq!(id, Value::Null);
        let (_, message) = check_envelope(json!({"jsonrpc": "2.0", "id": 1, "method": 5}))
            .expect_err("bad method");
        assert!(message.contains("method"), "{message}");
        let (_, message) = check_envelope(json!([1, 2])).expect_err("batch");
        assert!(message.contains("batch"), "{message}");
    }

    #[test]
    fn missing_params_name_the_missing_field() {
        let e = parse("job.run", None).expect_err("job is required");
        assert_eq!(e.code, code::INVALID_PARAMS);
        assert!(e.message.contains("`job`"), "{}", e.message);
    }

    #[test]
    fn optional_filter_accepts_absent_params() {
        let r = parse("runs.list", None).expect("optional");
        assert_eq!(r, Request::RunsList(Default::default()));
    }

    #[test]
    fn methods_without_params_accept_empty_ones_and_refuse_others() {
        for empty in [None, Some(Value::Null), Some(json!({})), Some(json!([]))] {
            assert!(parse("status", empty).is_ok());
        }
        let e = parse("status", Some(json!({"x": 1}))).expect_err("has params");
        assert_eq!(e.code, code::INVALID_PARAMS);
        assert!(e.message.contains("`x`"), "{}", e.message);
    }

    #[test]
    fn an_unknown_method_is_not_found_for_every_peer() {
        for access in [Access::Control, Access::ReadOnly] {
            let e = admit("jobs.delete", access).expect_err("unknown");
            assert_eq!(e.code, code::METHOD_NOT_FOUND);
            assert!(e.message.contains("runs.list"), "{}", e.message);
        }
    }
}
