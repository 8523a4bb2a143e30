//! Reading a 200 answer: a JSON array of results in any order, each matched back to its
//! query by `query.userQuery.meta`. One odd result never spoils the others: it is
//! skipped, and its query counts as unanswered.
//!
//! This is the hottest parse in dredge (every record passes through it), so the answer
//! is read in one pass: each result's record is taken as the raw text serde_json
//! already checked, and kept as a slice of the answer's own buffer (`JsonText::within`)
//! rather than copied. Only the small `query` object is read twice.

use std::collections::HashMap;
use std::fmt;

use bytes::Bytes;
use bytestring::ByteString;
use dredge_core::JsonText;
use dredge_core::job::PageType;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// What the service said about one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum QueryResult {
    /// The `product` or `article` object, as the service sent it.
    Extracted(JsonText),
    /// The `error` text.
    Error(String),
}

/// The answer was not a JSON array at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the answer is not a JSON array of results")]
pub(crate) struct NotResults;

/// Results by query index (the `meta` we sent). Results without a usable `meta`, or
/// with neither a record nor an error, are left out (their queries are unanswered); the
/// first result for a `meta` wins.
pub(crate) fn parse(body: &Bytes) -> Result<HashMap<u32, QueryResult>, NotResults> {
    let answer = ByteString::try_from(body.clone()).map_err(|_| NotResults)?;
    let results: Vec<WireResult<'_>> = serde_json::from_str(&answer).map_err(|_| NotResults)?;
    let mut by_meta = HashMap::with_capacity(results.len());
    for result in results {
        let Some((meta, outcome)) = result.settle(&answer) else {
            continue;
        };
        by_meta.entry(meta).or_insert(outcome);
    }
    Ok(by_meta)
}

/// One element of the answer's array, with its parts still as raw JSON text. Anything
/// that is not an object is `Odd`.
#[derive(Default)]
struct WireResult<'a> {
    query: Option<&'a RawValue>,
    record: Option<&'a RawValue>,
    error: Option<&'a RawValue>,
}

impl<'a> WireResult<'a> {
    /// The query index and what happened to it; `None` for a result to skip.
    fn settle(self, answer: &ByteString) -> Option<(u32, QueryResult)> {
        let meta = meta_of(self.query?)?;
        let outcome = match (self.record, self.error) {
            (_, Some(error)) => QueryResult::Error(serde_json::from_str(error.get()).ok()?),
            (Some(record), None) if record.get() != "null" => {
                QueryResult::Extracted(JsonText::within(answer, record))
            }
            _ => return None,
        };
        Some((meta, outcome))
    }
}

/// `query.userQuery.meta` read as the query index.
fn meta_of(query: &RawValue) -> Option<u32> {
    #[derive(Deserialize)]
    struct Query<'a> {
        #[serde(rename = "userQuery", borrow)]
        user_query: Option<UserQuery<'a>>,
    }
    #[derive(Deserialize)]
    struct UserQuery<'a> {
        #[serde(borrow)]
        meta: Option<std::borrow::Cow<'a, str>>,
    }
    let query: Query<'_> = serde_json::from_str(query.get()).ok()?;
    query.user_query?.meta?.parse().ok()
}

impl<'de: 'a, 'a> Deserialize<'de> for WireResult<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ResultVisitor)
    }
}

/// Takes any JSON value: an object gives its parts, anything else an empty result.
struct ResultVisitor;

impl<'de> Visitor<'de> for ResultVisitor {
    type Value = WireResult<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut result = WireResult::default();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let slot = match &*key {
                "query" => &mut result.query,
                name if PageType::ALL.iter().any(|p| p.as_str() == name) => &mut result.record,
                "error" => &mut result.error,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            let value: &'de RawValue = map.next_value()?;
            // The first of repeated keys wins; `null` counts as absent.
            if slot.is_none() && value.get() != "null" {
                *slot = Some(value);
            }
        }
        Ok(result)
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(WireResult::default())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(WireResult::default())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(WireResult::default())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(WireResult::default())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(WireResult::default())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(WireResult::default())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(WireResult::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pretty_printed_record_becomes_one_output_line() {
        let body = b"[\n  {\n    \"query\": {\"id\": \"1\", \"userQuery\": {\"url\": \"https://a.com/\", \"meta\": \"0\"}},\n    \"article\": {\n      \"headline\": \"two\\nlines\",\n      \"url\": \"https://a.com/\"\n    }\n  }\n]\n";
        let results = parse(&Bytes::from_static(body)).unwrap();
        let QueryResult::Extracted(record) = &results[&0] else {
            panic!("a record expected");
        };
        assert_eq!(
            *record,
            r#"{"headline":"two\nlines","url":"https://a.com/"}"#
        );
    }

    #[test]
    fn results_are_matched_by_meta_whatever_their_order() {
        let body = br#"[
            {"query":{"id":"1","domain":"b.com","userQuery":{"url":"https://b.com/","pageType":"product","meta":"1","userAgent":"desktop"}},
             "product":{"name":"B","url":"https://b.com/","probability":0.9}},
            {"query":{"id":"2","domain":"a.com","userQuery":{"url":"https://a.com/","pageType":"product","meta":"0"}},
             "error":"query timed out"}
        ]"#;
        let results = parse(&Bytes::from_static(body)).unwrap();
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
        let body = br#"[5, -1.5, true, null, "text", [{"query":{"userQuery":{"meta":"9"}},"article":{}}],
            {"query":{}}, {"article":{"x":1}}, {"query":{"userQuery":{"meta":"3"}},"article":null},
            {"query":{"userQuery":{"meta":"not ours"}},"article":{"y":2}},
            {"query":{"userQuery":{"meta":"4"}},"error":7}, {"query":5,"article":{"z":3}},
            {"query":{"userQuery":{"meta":"6"}},"other":{"deep":[1,{"product":2}]},"article":{"ok":true}}]"#;
        let results = parse(&Bytes::from_static(body)).unwrap();
        let ok = JsonText::parse(r#"{"ok":true}"#.into()).unwrap();
        assert_eq!(results, HashMap::from([(6, QueryResult::Extracted(ok))]));
        for bad in [&b""[..], b"{}", b"[{", b"<html>", b"null", b"[\"\xff\"]"] {
            assert_eq!(parse(&Bytes::from_static(bad)), Err(NotResults));
        }
    }

    #[test]
    fn meta_with_escapes_is_unescaped() {
        let body = br#"[{"query":{"userQuery":{"meta":"\u0037"}},"article":{"a":1}}]"#;
        assert!(parse(&Bytes::from_static(body)).unwrap().contains_key(&7));
    }
}
