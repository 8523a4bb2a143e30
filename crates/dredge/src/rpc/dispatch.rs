//! One request line in, at most one response out: JSON-RPC 2.0 envelope checks
//! (-32700, -32600), method lookup (-32601), params (-32602), then the `Api` call.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::peer::Access;
use crate::protocol::{Api, ApiError, JobFilter, JobParam, MAX_LINE_BYTES, RunParam, code, method};

/// A checked request: `id` is `None` for a notification (no answer).
#[derive(Debug, PartialEq)]
struct Request {
    id: Option<Value>,
    method: String,
    params: Option<Value>,
}

/// Methods a member of the status group may call: they change nothing.
pub const READ_ONLY: [&str; 6] = [
    method::STATUS,
    method::JOBS_LIST,
    method::RUNS_LIST,
    method::RUN_GET,
    method::DEAD_LIST,
    method::METRICS,
];

/// The answer to one line, or `None` when it was a notification or blank.
pub async fn answer(api: &Arc<dyn Api>, line: &[u8], access: Access) -> Option<Value> {
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
    let request = match check_envelope(value) {
        Ok(r) => r,
        Err((id, message)) => return Some(error(id, code::INVALID_REQUEST, message)),
    };
    let outcome = if access == Access::ReadOnly && !READ_ONLY.contains(&request.method.as_str()) {
        Err(ApiError {
            code: code::PERMISSION_DENIED,
            message: format!(
                "permission denied: {:?} changes the daemon; the status group may only call {}. Ask for membership in the control group, or use sudo",
                request.method,
                READ_ONLY.join(", ")
            ),
        })
    } else {
        call_isolated(api, request.method, request.params).await
    };
    let id = request.id?;
    Some(match outcome {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(e) => error(id, e.code, e.message),
    })
}

/// The answer to a line longer than `MAX_LINE_BYTES`; its id is unknown.
pub fn too_long() -> Value {
    error(
        Value::Null,
        code::INVALID_REQUEST,
        format!("request line longer than {MAX_LINE_BYTES} bytes; it was discarded"),
    )
}

/// An error answer with no request behind it (e.g. a refused peer).
pub fn error(id: Value, code: i64, message: String) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn check_envelope(value: Value) -> Result<Request, (Value, String)> {
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
    Ok(Request { id, method, params })
}

/// Runs the call in its own task so a panicking `Api` costs one error answer,
/// not the connection.
async fn call_isolated(
    api: &Arc<dyn Api>,
    method: String,
    params: Option<Value>,
) -> Result<Value, ApiError> {
    let api = Arc::clone(api);
    let task = tokio::spawn(async move { call(api.as_ref(), &method, params).await });
    match task.await {
        Ok(outcome) => outcome,
        Err(_) => Err(ApiError::internal(
            "internal error while answering the request; see the daemon log",
        )),
    }
}

async fn call(api: &dyn Api, name: &str, params: Option<Value>) -> Result<Value, ApiError> {
    match name {
        method::STATUS => {
            no_params(name, params)?;
            api.status().await.and_then(to_json)
        }
        method::JOBS_LIST => {
            no_params(name, params)?;
            api.jobs().await.and_then(to_json)
        }
        method::RELOAD => {
            no_params(name, params)?;
            api.reload().await.and_then(to_json)
        }
        method::METRICS => {
            no_params(name, params)?;
            api.metrics().await.and_then(to_json)
        }
        method::JOB_RUN => {
            let p: JobParam = parse_params(name, params)?;
            api.job_run(&p.job).await.and_then(to_json)
        }
        method::JOB_PAUSE => {
            let p: JobParam = parse_params(name, params)?;
            api.job_pause(&p.job).await.and_then(to_json)
        }
        method::JOB_RESUME => {
            let p: JobParam = parse_params(name, params)?;
            api.job_resume(&p.job).await.and_then(to_json)
        }
        method::RUNS_LIST => {
            let p: JobFilter = parse_params(name, params)?;
            api.runs(p.job.as_deref()).await.and_then(to_json)
        }
        method::DEAD_LIST => {
            let p: JobFilter = parse_params(name, params)?;
            api.dead(p.job.as_deref()).await.and_then(to_json)
        }
        method::RUN_GET => {
            let p: RunParam = parse_params(name, params)?;
            api.run_get(&p.run).await.and_then(to_json)
        }
        method::RUN_CANCEL => {
            let p: RunParam = parse_params(name, params)?;
            api.run_cancel(&p.run).await.and_then(to_json)
        }
        method::RUN_RETRY => {
            let p: RunParam = parse_params(name, params)?;
            api.run_retry(&p.run).await.and_then(to_json)
        }
        _ => Err(ApiError {
            code: code::METHOD_NOT_FOUND,
            message: format!("unknown method {name:?}; known: {}", METHODS.join(", ")),
        }),
    }
}

const METHODS: [&str; 12] = [
    method::STATUS,
    method::JOBS_LIST,
    method::JOB_RUN,
    method::JOB_PAUSE,
    method::JOB_RESUME,
    method::RUNS_LIST,
    method::RUN_GET,
    method::RUN_CANCEL,
    method::DEAD_LIST,
    method::RUN_RETRY,
    method::RELOAD,
    method::METRICS,
];

fn to_json<T: Serialize>(value: T) -> Result<Value, ApiError> {
    serde_json::to_value(value)
        .map_err(|e| ApiError::internal(format!("cannot encode the answer: {e}")))
}

fn invalid_params(message: String) -> ApiError {
    ApiError {
        code: code::INVALID_PARAMS,
        message,
    }
}

/// Methods without params accept none, `null`, `{}` or `[]`.
fn no_params(name: &str, params: Option<Value>) -> Result<(), ApiError> {
    match params {
        None => Ok(()),
        Some(Value::Object(o)) if o.is_empty() => Ok(()),
        Some(Value::Array(a)) if a.is_empty() => Ok(()),
        Some(_) => Err(invalid_params(format!(
            "invalid params for {name}: it takes none"
        ))),
    }
}

/// Params by name; absent params are read as `{}` so a missing field is named.
fn parse_params<T: DeserializeOwned>(name: &str, params: Option<Value>) -> Result<T, ApiError> {
    let object = match params {
        None => Value::Object(Map::new()),
        Some(v @ Value::Object(_)) => v,
        Some(_) => {
            return Err(invalid_params(format!(
                "invalid params for {name}: expected an object with named fields"
            )));
        }
    };
    serde_json::from_value(object)
        .map_err(|e| invalid_params(format!("invalid params for {name}: {e}")))
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
        let e = parse_params::<JobParam>("job.run", None).expect_err("job is required");
        assert_eq!(e.code, code::INVALID_PARAMS);
        assert!(e.message.contains("`job`"), "{}", e.message);
    }

    #[test]
    fn optional_filter_accepts_absent_params() {
        let p: JobFilter = parse_params("runs.list", None).expect("optional");
        assert_eq!(p.job, None);
    }

    #[test]
    fn methods_without_params_refuse_some() {
        assert!(no_params("status", Some(json!({}))).is_ok());
        let e = no_params("status", Some(json!({"x": 1}))).expect_err("has params");
        assert_eq!(e.code, code::INVALID_PARAMS);
    }
}
