//! What an answer means for its URL. A non-200 is a problem body (`crate::problem`). A
//! 200's extracted object becomes the record, byte for byte. A target page that
//! answered with an error status still comes back as a (billed) 200 with that status
//! in `statusCode`: the URL is dead naming it, and not retried, since the same page
//! would be billed again for the same answer.

use std::collections::HashMap;

use bytestring::ByteString;
use dredge_core::{Answer, Failure, FailureClass, JsonText, Outcome, Record, UnixMillis};
use serde_json::value::RawValue;

use crate::{problem, url_scope};

/// The outcome of `answer` to the request for `url` (field `extract`), for the item
/// labelled `label`.
pub(crate) fn outcome(answer: &Answer, extract: &str, url: &str, label: &str) -> Outcome {
    if answer.status != 200 {
        let scope = url_scope(url).unwrap_or_default();
        return problem::outcome(answer, &scope);
    }
    let body = match ByteString::try_from(answer.body.clone()) {
        Ok(body) => body,
        Err(_) => return unreadable(answer),
    };
    match parse(&body, extract) {
        Ok(Extracted::Record(data)) => Outcome::records(vec![Record {
            source: url.to_string(),
            item: label.to_string(),
            fetched_at: UnixMillis::now(),
            data,
            attachment: None,
        }]),
        Ok(Extracted::TargetError(why) | Extracted::Missing(why)) => Outcome::fatal(why),
        Err(Unreadable) => unreadable(answer),
    }
}

/// A 200 whose body is cut off or not JSON: a transport-like failure, counted.
fn unreadable(answer: &Answer) -> Outcome {
    Outcome::Retry(Failure::new(
        FailureClass::Server,
        format!("{Unreadable}: {}", answer.text(200)),
    ))
}

/// What a 200 answer held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extracted {
    /// The requested object (`product`, `articleList`, …), as the service sent it.
    Record(JsonText),
    /// The target answered with an error status; the reason names it.
    TargetError(String),
    /// A complete JSON object without the requested field: nothing to retry cheaply.
    Missing(String),
}

/// The body was not a complete JSON object (a cut-off or garbled answer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the answer is not a JSON object")]
pub struct Unreadable;

/// Read `body` for the field `extract`. Top-level values stay raw text, so the record
/// is a slice of the answer's buffer, not a copy.
pub fn parse(body: &ByteString, extract: &str) -> Result<Extracted, Unreadable> {
    let fields: HashMap<String, &RawValue> = serde_json::from_str(body).map_err(|_| Unreadable)?;
    let status = fields
        .get("statusCode")
        .and_then(|raw| raw.get().parse::<u16>().ok());
    if let Some(code) = status.filter(|c| *c >= 400) {
        return Ok(Extracted::TargetError(format!(
            "the target site answered HTTP {code} (Zyte API billed the request; not retried)"
        )));
    }
    match fields.get(extract) {
        Some(raw) if raw.get() != "null" => Ok(Extracted::Record(JsonText::within(body, raw))),
        _ => Ok(Extracted::Missing(format!(
            "Zyte API answered 200 without `{extract}` (billed; not retried)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> ByteString {
        ByteString::from(s.to_string())
    }

    #[test]
    fn the_record_is_the_extracted_object_as_sent() {
        let body = text(
            r#"{"url":"https://a.com/p","statusCode":200,"product":{"name":"X", "price":"1.0"}}"#,
        );
        match parse(&body, "product").unwrap() {
            Extracted::Record(data) => assert_eq!(&*data, r#"{"name":"X", "price":"1.0"}"#),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_pretty_printed_answer_becomes_a_one_line_record() {
        let body = text(
            "{\n  \"url\": \"https://a.com/p\",\n  \"product\": {\n    \"name\": \"X\\nY\",\n    \"price\": \"1.0\"\n  }\n}\n",
        );
        match parse(&body, "product").unwrap() {
            Extracted::Record(data) => {
                assert_eq!(&*data, r#"{"name":"X\nY","price":"1.0"}"#);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_target_error_status_is_named_and_not_extracted() {
        let body = text(r#"{"url":"https://a.com/p","statusCode":404,"product":{"name":"X"}}"#);
        match parse(&body, "product").unwrap() {
            Extracted::TargetError(why) => assert!(why.contains("HTTP 404"), "{why}"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_missing_field_and_a_cut_answer_are_told_apart() {
        assert!(matches!(
            parse(&text(r#"{"url":"u","statusCode":200}"#), "article").unwrap(),
            Extracted::Missing(_)
        ));
        assert_eq!(
            parse(&text(r#"{"url":"u","prod"#), "product"),
            Err(Unreadable)
        );
        assert_eq!(parse(&text("[]"), "product"), Err(Unreadable));
    }
}
