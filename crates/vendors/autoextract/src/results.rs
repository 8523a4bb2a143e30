//! Reading a 200 answer: a JSON array of results in any order, each matched back to its
//! query by `query.userQuery.meta`. One odd result never spoils the others: it is
//! skipped, and its query counts as unanswered.
//!
//! This runs once per 100 records, so it borrows what it can: the record is taken as the
//! raw text serde_json already checked, and `meta` is read as the query's index.

use std::collections::HashMap;

use dredge_core::JsonText;
use serde::Deserialize;
use serde_json::value::RawValue;

/// What the service said about one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryResult {
    /// The `product` or `article` object, as the service sent it.
    Extracted(JsonText),
    /// The `error` text.
    Error(String),
}

#[derive(Deserialize)]
struct WireResult<'a> {
    #[serde(default, borrow)]
    query: Option<WireQuery<'a>>,
    #[serde(default, borrow)]
    product: Option<&'a RawValue>,
    #[serde(default, borrow)]
    article: Option<&'a RawValue>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct WireQuery<'a> {
    #[serde(rename = "userQuery", default, borrow)]
    user_query: Option<WireUserQuery<'a>>,
}

#[derive(Deserialize)]
struct WireUserQuery<'a> {
    #[serde(default, borrow)]
    meta: Option<std::borrow::Cow<'a, str>>,
}

/// The answer was not a JSON array at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the answer is not a JSON array of results")]
pub struct NotResults;

/// Results by query index (the `meta` we sent). Results without a usable `meta`, or
/// with neither a record nor an error, are left out (their queries are unanswered); the
/// first result for a `meta` wins.
pub fn parse(body: &[u8]) -> Result<HashMap<u32, QueryResult>, NotResults> {
    let items: Vec<&RawValue> = serde_json::from_slice(body).map_err(|_| NotResults)?;
    let mut by_meta = HashMap::new();
    for item in items {
        let Ok(result) = serde_json::from_str::<WireResult<'_>>(item.get()) else {
            tracing::debug!("skipping a result that is not an object");
            continue;
        };
        let meta = result
            .query
            .and_then(|q| q.user_query)
            .and_then(|u| u.meta)
            .and_then(|m| m.parse::<u32>().ok());
        let outcome = match (result.product.or(result.article), result.error) {
            (_, Some(error)) => QueryResult::Error(error),
            (Some(record), None) if record.get() != "null" => {
                QueryResult::Extracted(JsonText::from_raw(record))
            }
            _ => continue,
        };
        if let Some(meta) = meta {
            by_meta.entry(meta).or_insert(outcome);
        }
    }
    Ok(by_meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_matched_by_meta_whatever_their_order() {
        let body = br#"[
            {"query":{"id":"1","domain":"b.com","userQuery":{"url":"https://b.com/","pageType":"product","meta":"1","userAgent":"desktop"}},
             "product":{"name":"B","url":"https://b.com/","probability":0.9}},
            {"query":{"id":"2","domain":"a.com","userQuery":{"url":"https://a.com/","pageType":"product","meta":"0"}},
             "error":"query timed out"}
        ]"#;
        let results = parse(body).unwrap();
        assert_eq!(
            results.get(&1),
            Some(&QueryResult::Extracted(
                JsonText::parse(r#"{"name":"B","url":"https://b.com/","probability":0.9}"#.into())
                    .unwrap()
            ))
        );
        assert_eq!(
            results.get(&0),
            Some(&QueryResult::Error("query timed out".into()))
        );
    }

    #[test]
    fn odd_results_are_skipped_and_odd_bodies_are_refused_without_panic() {
        let body = br#"[5, {"query":{}}, {"article":{"x":1}}, {"query":{"userQuery":{"meta":"3"}},"article":null},
            {"query":{"userQuery":{"meta":"not ours"}},"article":{"y":2}}]"#;
        assert!(parse(body).unwrap().is_empty());
        for bad in [&b""[..], b"{}", b"[{", b"<html>", b"null"] {
            assert_eq!(parse(bad), Err(NotResults));
        }
    }

    #[test]
    fn meta_with_escapes_is_unescaped() {
        let body = br#"[{"query":{"userQuery":{"meta":"\u0037"}},"article":{"a":1}}]"#;
        assert!(parse(body).unwrap().contains_key(&7));
    }
}
