//! Reading and checking one request body as Zyte API does: a JSON object, `url`
//! required, no unknown field (`additionalProperties: false`, answered 400
//! `Unrecognized field "foo"`), one automatic-extraction field at most and no
//! incompatible pair (422). Zyte API reference, "ExtractRequest" and `/extract`.

use serde_json::{Map, Value};

use super::problem::Problem;
use super::records::EXTRACTION_FIELDS;

/// Every other documented `ExtractRequest` field.
const OTHER_FIELDS: &[&str] = &[
    "url",
    "extractFrom",
    "geolocation",
    "productOptions",
    "productListOptions",
    "productNavigationOptions",
    "articleOptions",
    "articleListOptions",
    "articleNavigationOptions",
    "jobPostingOptions",
    "jobPostingNavigationOptions",
    "forumThreadOptions",
    "pageContentOptions",
    "serpOptions",
    "customAttributes",
    "customAttributesOptions",
    "httpResponseBody",
    "httpResponseHeaders",
    "browserHtml",
    "screenshot",
    "screenshotOptions",
    "ipType",
    "echoData",
    "jobId",
    "tags",
    "actions",
    "javascript",
    "viewport",
    "requestHeaders",
    "includeIframes",
    "networkCapture",
    "httpRequestMethod",
    "httpRequestBody",
    "httpRequestText",
    "customHttpRequestHeaders",
    "device",
    "followRedirect",
    "verifyCertificate",
    "session",
    "sessionContext",
    "sessionContextParameters",
    "requestCookies",
    "responseCookies",
    "cookieManagement",
];

/// A request that passed the checks.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Request {
    pub url: String,
    /// The host, lower-cased: the scope of domain limits.
    pub host: String,
    /// The one automatic-extraction field set to true, if any.
    pub extract: Option<String>,
    pub echo_data: Option<Value>,
}

/// Check `body`; a refusal is the problem and its detail.
pub(super) fn parse(body: &[u8]) -> Result<Request, (Problem, String)> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| (Problem::InvalidJson, format!("Invalid JSON: {e}")))?;
    let Value::Object(fields) = value else {
        return Err((
            Problem::Invalid,
            "The request body must be an object".into(),
        ));
    };
    if let Some(unknown) = fields
        .keys()
        .find(|k| !OTHER_FIELDS.contains(&k.as_str()) && !EXTRACTION_FIELDS.contains(&k.as_str()))
    {
        return Err((
            Problem::Invalid,
            format!("Unrecognized field \"{unknown}\""),
        ));
    }
    let url = match fields.get("url") {
        Some(Value::String(u)) => u.clone(),
        _ => return Err((Problem::Invalid, "Field \"url\" is required".into())),
    };
    let host = host_of(&url).ok_or_else(|| {
        (
            Problem::Invalid,
            format!("Invalid URL \"{url}\": the host name must be a domain name"),
        )
    })?;
    let extract = one_extraction(&fields)?;
    if truthy(&fields, "httpResponseBody") && truthy(&fields, "browserHtml") {
        return Err((
            Problem::Unprocessable,
            "Incompatible parameters were found in the request.".into(),
        ));
    }
    Ok(Request {
        url,
        host,
        extract,
        echo_data: fields.get("echoData").cloned(),
    })
}

fn truthy(fields: &Map<String, Value>, key: &str) -> bool {
    fields.get(key) == Some(&Value::Bool(true))
}

fn one_extraction(fields: &Map<String, Value>) -> Result<Option<String>, (Problem, String)> {
    let set: Vec<&str> = EXTRACTION_FIELDS
        .iter()
        .copied()
        .filter(|f| truthy(fields, f))
        .collect();
    match set.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.to_string())),
        _ => Err((
            Problem::Unprocessable,
            "Incompatible parameters were found in the request.".into(),
        )),
    }
}

/// The lower-cased host of an http(s) URL whose host is a domain name.
pub fn host_of(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?.split(':').next()?;
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let is_ip = host.parse::<std::net::Ipv4Addr>().is_ok() || host.starts_with('[');
    (!host.is_empty() && !is_ip && host.contains('.')).then_some(host)
}

/// The `url` of a body that may be refused, for the book.
pub(super) fn peek_url(body: &[u8]) -> Option<String> {
    match serde_json::from_slice::<Value>(body).ok()?.get("url")? {
        Value::String(u) => Some(u.clone()),
        _ => None,
    }
}
