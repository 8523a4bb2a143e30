//! Reading what a WDS client sends: query parameters and JSON fields (matched
//! case-insensitively, as ASP.NET binds them), ScrapeParams in their query and body
//! forms, and the JobConfig of a job start.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::gate::text;
use super::selector::{Invalid, Selector};
use super::urls;

/// A refused request: the log's outcome word, the plain-text answer, the domains
/// concerned.
pub(crate) struct Refusal {
    pub outcome: &'static str,
    pub status: StatusCode,
    pub text: String,
    pub domains: Vec<String>,
}

impl Refusal {
    pub(crate) fn new(outcome: &'static str, status: StatusCode, text: impl Into<String>) -> Self {
        Refusal {
            outcome,
            status,
            text: text.into(),
            domains: Vec::new(),
        }
    }

    /// A 400 with `text` as its body.
    pub(crate) fn bad(outcome: &'static str, text: impl Into<String>) -> Self {
        Refusal::new(outcome, StatusCode::BAD_REQUEST, text)
    }

    /// The same refusal, logged as concerning `domains`.
    pub(crate) fn on(mut self, domains: Vec<String>) -> Self {
        self.domains = domains;
        self
    }

    /// The answer: plain text, except the empty body of a 202.
    pub(crate) fn response(&self) -> Response {
        if self.text.is_empty() {
            return self.status.into_response();
        }
        text(self.status, self.text.clone())
    }
}

/// A query parameter, matched case-insensitively as ASP.NET binds them.
pub(crate) fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// A JSON object field, matched case-insensitively.
// docs/vendors/wds.md §"API versions and paths": JSON fields bound case-insensitively.
pub(crate) fn field<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

pub(crate) fn required_selector(query: &[(String, String)]) -> Result<Selector, Refusal> {
    let selector = param(query, "selector").filter(|s| !s.trim().is_empty());
    let Some(selector) = selector else {
        return Err(Refusal::bad(
            "bad_request",
            "The selector field is required.",
        ));
    };
    Selector::parse(selector).map_err(|Invalid(m)| Refusal::bad("bad_selector", m))
}

/// One entry of ScrapeParams, its selector already parsed.
pub(crate) struct ScrapeParam {
    pub name: String,
    pub selector: Selector,
    pub attribute: Option<String>,
}

/// Name, selector text and attribute as the client sent them.
pub(crate) type RawParam = (Option<String>, Option<String>, Option<String>);

pub(crate) fn params_from_query(query: &[(String, String)]) -> Result<Vec<RawParam>, Refusal> {
    let mut found: BTreeMap<usize, RawParam> = BTreeMap::new();
    for (key, value) in query {
        let lower = key.to_ascii_lowercase();
        let Some(rest) = lower.strip_prefix("scrapeparams[") else {
            continue;
        };
        let parsed = rest
            .split_once("].")
            .and_then(|(index, name)| Some((index.parse::<usize>().ok()?, name)));
        let Some((index, name)) = parsed else {
            return Err(Refusal::bad(
                "bad_request",
                format!("The query parameter '{key}' is not valid."),
            ));
        };
        let entry = found.entry(index).or_default();
        match name {
            "name" => entry.0 = Some(value.clone()),
            "selector" => entry.1 = Some(value.clone()),
            "attributename" => entry.2 = Some(value.clone()),
            _ => {}
        }
    }
    Ok(found.into_values().collect())
}

pub(crate) fn params_from_body(body: &[u8]) -> Result<Vec<RawParam>, Refusal> {
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(body) else {
        return Err(Refusal::bad(
            "bad_request",
            "The request body must be a JSON array of ScrapeParams.",
        ));
    };
    let text_of = |item: &Map<String, Value>, name: &str| {
        field(item, name)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Ok(items
        .iter()
        .map(|item| match item {
            Value::Object(item) => (
                text_of(item, "Name"),
                text_of(item, "Selector"),
                text_of(item, "AttributeName"),
            ),
            _ => (None, None, None),
        })
        .collect())
}

pub(crate) fn validate_params(raw: Vec<RawParam>) -> Result<Vec<ScrapeParam>, Refusal> {
    let refuse = |m: String| Refusal::bad("bad_request", m);
    if raw.is_empty() {
        return Err(refuse("The scrapeParams field is required.".into()));
    }
    raw.into_iter()
        .enumerate()
        .map(|(i, (name, selector, attribute))| {
            let name = name
                .filter(|n| !n.is_empty())
                .ok_or_else(|| refuse(format!("The scrapeParams[{i}].Name field is required.")))?;
            let selector = selector.filter(|s| !s.trim().is_empty()).ok_or_else(|| {
                refuse(format!("The scrapeParams[{i}].Selector field is required."))
            })?;
            let selector =
                Selector::parse(&selector).map_err(|Invalid(m)| Refusal::bad("bad_selector", m))?;
            Ok(ScrapeParam {
                name,
                selector,
                attribute,
            })
        })
        .collect()
}

pub(crate) fn job_config(body: &[u8]) -> Result<Map<String, Value>, Refusal> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(config)) => Ok(config),
        Ok(_) => Err(Refusal::bad(
            "bad_request",
            "Invalid JobConfig: expected a JSON object.",
        )),
        Err(e) => Err(Refusal::bad(
            "bad_request",
            format!("Invalid JobConfig: {e}"),
        )),
    }
}

/// `StartUrls`: required, absolute http(s) URLs.
pub(crate) fn start_urls(config: &Map<String, Value>) -> Result<Vec<String>, String> {
    let urls: Vec<String> = match field(config, "StartUrls") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|u| {
                u.as_str()
                    .map(str::to_string)
                    .ok_or("StartUrls must be strings")
            })
            .collect::<Result<_, _>>()?,
        _ => return Err("The StartUrls field is required.".into()),
    };
    if urls.is_empty() {
        return Err("The StartUrls field is required.".into());
    }
    match urls.iter().find(|u| urls::split(u).is_none()) {
        Some(bad) => Err(format!(
            "Invalid start URL '{bad}': an absolute http(s) URL is required."
        )),
        None => Ok(urls),
    }
}

// docs/vendors/wds.md §"API versions and paths", §"Restart modes": enum fields by name.
/// The enum-valued JobConfig fields must hold one of their names.
pub(crate) fn check_enums(config: &Map<String, Value>) -> Result<(), String> {
    let nested = |outer: &str, inner: &str| {
        field(config, outer)
            .and_then(Value::as_object)
            .and_then(|o| field(o, inner))
    };
    let checks = [
        ("Type", field(config, "Type"), &["Internet", "Intranet"][..]),
        (
            "Restart.JobRestartMode",
            nested("Restart", "JobRestartMode"),
            &["Continue", "FromScratch"],
        ),
        (
            "DownloadErrorHandling.Policy",
            nested("DownloadErrorHandling", "Policy"),
            &["Skip", "Retry"],
        ),
    ];
    for (name, value, allowed) in checks {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            continue;
        };
        let known = value
            .as_str()
            .is_some_and(|v| allowed.iter().any(|a| a.eq_ignore_ascii_case(v)));
        if !known {
            return Err(format!(
                "Invalid value {value} for {name}; expected one of {allowed:?}."
            ));
        }
    }
    Ok(())
}

pub(crate) fn from_scratch(config: &Map<String, Value>) -> bool {
    field(config, "Restart")
        .and_then(Value::as_object)
        .and_then(|r| field(r, "JobRestartMode"))
        .and_then(Value::as_str)
        .is_some_and(|m| m.eq_ignore_ascii_case("FromScratch"))
}
