//! Reading a submission: the JSON parameters, the `query` or `url` target(s) — one for
//! `/v1/queries`, a list of at most 5,000 for `/batch` with every other parameter
//! singular — and the target domain each job concerns.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value};

use super::gate::message;

/// The most `query` or `url` values one batch may carry.
pub(crate) const BATCH_LIMIT: usize = 5000;

/// A validated submission: the shared parameters and one target per job.
pub(crate) struct Submission {
    pub params: Map<String, Value>,
    /// `"query"` or `"url"`.
    pub target_key: &'static str,
    pub targets: Vec<String>,
}

/// A refused submission: the log's outcome word and the `{"message"}` answer.
pub(crate) struct Refusal {
    pub outcome: &'static str,
    pub status: StatusCode,
    pub message: String,
}

impl Refusal {
    fn new(outcome: &'static str, status: StatusCode, message: impl Into<String>) -> Self {
        Refusal {
            outcome,
            status,
            message: message.into(),
        }
    }

    pub(crate) fn response(&self) -> Response {
        message(self.status, &self.message)
    }
}

pub(crate) fn parse_params(body: &[u8]) -> Result<Map<String, Value>, Refusal> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        // docs/vendors/oxylabs.md §"Answers by endpoint".
        // Live: malformed JSON is a 400 (the docs say 422).
        _ => Err(Refusal::new(
            "invalid_json",
            StatusCode::BAD_REQUEST,
            "Json error: Unexpected value.",
        )),
    }
}

pub(crate) fn bad_request(text: &str) -> Refusal {
    Refusal::new("bad_request", StatusCode::BAD_REQUEST, text)
}

pub(crate) fn check_source(
    params: &Map<String, Value>,
    config: &super::Config,
) -> Result<(), Refusal> {
    let source = params
        .get("source")
        .and_then(Value::as_str)
        .unwrap_or("universal");
    if config.denied_sources.iter().any(|d| d == source) {
        // docs/vendors/oxylabs.md §"Answers by endpoint": 403, no access to the source (the
        // text is the simulator's own).
        let text = format!("Access to source {source} is not allowed for this account");
        return Err(Refusal::new("forbidden", StatusCode::FORBIDDEN, text));
    }
    Ok(())
}

pub(crate) fn one_submission(
    mut params: Map<String, Value>,
    config: &super::Config,
) -> Result<Submission, Refusal> {
    check_source(&params, config)?;
    let target_key = if params.contains_key("url") {
        "url"
    } else {
        "query"
    };
    let target = match params.remove(target_key) {
        Some(Value::String(text)) if !text.is_empty() => text,
        Some(_) => {
            return Err(bad_request(&format!(
                "{target_key} must be a non-empty string"
            )));
        }
        None => return Err(bad_request("Either query or url must be provided")),
    };
    if let Some(key) = list_param(&params) {
        let text = format!("{key} must be a single value; use /v1/queries/batch for lists");
        return Err(bad_request(&text));
    }
    Ok(Submission {
        params,
        target_key,
        targets: vec![target],
    })
}

// docs/vendors/oxylabs.md §"Endpoints and authentication": a list in `query` or `url`,
// at most 5,000 values, every other parameter singular (§"List and object parameters"
// keep their JSON types).
pub(crate) fn batch_submission(
    mut params: Map<String, Value>,
    config: &super::Config,
) -> Result<Submission, Refusal> {
    check_source(&params, config)?;
    let target_key = match (params.contains_key("query"), params.contains_key("url")) {
        (true, true) => {
            return Err(bad_request(
                "Batch must contain either a query or a url list, not both",
            ));
        }
        (false, true) => "url",
        (true, false) => "query",
        (false, false) => return Err(bad_request("Either query or url must be provided")),
    };
    let targets = match params.remove(target_key) {
        Some(Value::Array(values)) => strings(values, target_key)?,
        Some(Value::String(text)) => vec![text],
        _ => {
            return Err(bad_request(&format!(
                "{target_key} must be a list of strings"
            )));
        }
    };
    if targets.is_empty() {
        return Err(bad_request(&format!("{target_key} list must not be empty")));
    }
    if targets.len() > BATCH_LIMIT {
        let text = format!(
            "Batch size {} exceeds the limit of {BATCH_LIMIT}",
            targets.len()
        );
        return Err(bad_request(&text));
    }
    if let Some(key) = list_param(&params) {
        let text = format!("Only query or url may be a list; {key} must be a single value");
        return Err(bad_request(&text));
    }
    Ok(Submission {
        params,
        target_key,
        targets,
    })
}

/// A list-valued parameter other than those documented as lists (`context`,
/// `browser_instructions`: arrays of objects).
fn list_param(params: &Map<String, Value>) -> Option<&String> {
    params
        .iter()
        .find(|(k, v)| v.is_array() && !matches!(k.as_str(), "context" | "browser_instructions"))
        .map(|(k, _)| k)
}

// docs/vendors/oxylabs.md §"Answers by endpoint": the live `errors[]` text.
/// Why Oxylabs refuses one batch value (listed under `errors`, the rest proceed).
pub(crate) fn invalid_value(target_key: &str, value: &str) -> Option<String> {
    let url_ok = value.starts_with("http://") || value.starts_with("https://");
    (target_key == "url" && !url_ok).then(|| "Parameter `url` is invalid.".to_string())
}

pub(crate) fn strings(values: Vec<Value>, key: &str) -> Result<Vec<String>, Refusal> {
    values
        .into_iter()
        .map(|v| match v {
            Value::String(text) if !text.is_empty() => Ok(text),
            _ => Err(bad_request(&format!(
                "Every {key} value must be a non-empty string"
            ))),
        })
        .collect()
}

/// The site a job targets: the host of its `url`, or for a search `query` the engine's
/// domain made from the source name and the `domain` parameter (`google_search` + `com`
/// → `google.com`).
pub(crate) fn target_domain(key: &str, target: &str, params: &Map<String, Value>) -> String {
    if key == "url" {
        return host_of(target);
    }
    let source = params
        .get("source")
        .and_then(Value::as_str)
        .unwrap_or("universal");
    let site = source.split('_').next().unwrap_or(source);
    let tld = params
        .get("domain")
        .and_then(Value::as_str)
        .unwrap_or("com");
    format!("{site}.{tld}")
}

/// The host of a URL without scheme, credentials, port, path or query.
pub(crate) fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.split(':').next().unwrap_or(host);
    host.to_ascii_lowercase()
}
