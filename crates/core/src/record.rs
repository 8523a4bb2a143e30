//! What an executor hands back for the output file.

use std::fmt;
use std::ops::Deref;

use bytestring::ByteString;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::time::UnixMillis;

/// One output record, before the writer gives it its place (`seq`) in the run's file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// What the record came from, e.g. the URL or `task 7a1b`.
    pub source: String,
    /// The work item that produced it (its label), e.g. `page-3`.
    pub item: String,
    pub fetched_at: UnixMillis,
    /// The vendor's record (an object, array or value), written out byte for byte.
    pub data: JsonText,
    /// A binary result (Oxylabs png) written next to the run's file; the record's data
    /// then refers to it by relative path.
    pub attachment: Option<Attachment>,
}

/// A binary file that belongs to a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// File name inside the run's attachment directory, e.g. `7301.png`.
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Text that is one complete JSON value, so the output writer can paste it into a
/// line as it is, without parsing it again.
///
/// It is kept as text rather than a `serde_json::Value` so a record can be stored with
/// bincode (which cannot encode self-describing values) and written out as the vendor
/// sent it. The text is a shared, reference-counted string: records cut out of one
/// answer (`JsonText::within`) share that answer's buffer, so a hundred records cost
/// no allocation of their own, and the buffer is freed with the last of them.
///
/// Every constructor guarantees the JSON, on one line: a value sent pretty-printed
/// (legal JSON) has the whitespace between its tokens dropped, so it cannot break the
/// output's one-record-per-line format; compact text is kept as it is. Deserializing trusts the text, because the
/// only stored `JsonText` is one dredge built (the queue's values carry a format version
/// and sled checksums its log).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JsonText(ByteString);

impl JsonText {
    /// The text of a value already parsed by serde_json, copied.
    pub fn from_raw(raw: &RawValue) -> Self {
        let text = raw.get();
        JsonText(ByteString::from(
            one_line(text).unwrap_or_else(|| text.to_string()),
        ))
    }

    /// The text of `raw`, a value serde_json parsed out of `answer`, sharing `answer`'s
    /// buffer (copied instead when `raw` does not point into `answer`).
    pub fn within(answer: &ByteString, raw: &RawValue) -> Self {
        let text = raw.get();
        let whole = answer.as_bytes().as_ptr_range();
        let part = text.as_bytes().as_ptr_range();
        if let Some(compact) = one_line(text) {
            JsonText(ByteString::from(compact))
        } else if whole.start <= part.start && part.end <= whole.end {
            JsonText(answer.slice_ref(text))
        } else {
            JsonText::from_raw(raw)
        }
    }

    /// The serialized form of `value`.
    pub fn from_value(value: &serde_json::Value) -> Self {
        JsonText(ByteString::from(value.to_string()))
    }

    /// `text`, when it is one JSON value.
    pub fn parse(text: String) -> Result<Self, serde_json::Error> {
        serde_json::from_str::<serde::de::IgnoredAny>(&text)?;
        Ok(JsonText(ByteString::from(one_line(&text).unwrap_or(text))))
    }
}

/// Valid JSON `text` without its raw line breaks, or `None` when it has none (the
/// usual case: a scan, no copy). JSON strings cannot hold a raw newline, so every
/// newline is whitespace between tokens; all such whitespace is dropped, and the
/// tokens (strings, numbers as written, key order) are kept byte for byte.
fn one_line(text: &str) -> Option<String> {
    if !text.bytes().any(|b| b == b'\n' || b == b'\r') {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            in_string = c == '"';
            out.push(c);
        }
    }
    Some(out)
}

impl Deref for JsonText {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<&str> for JsonText {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_complete_json_value_parses() {
        assert_eq!(JsonText::parse(r#"{"a":1}"#.into()).unwrap(), r#"{"a":1}"#);
        for bad in ["<html>", "1 2", "", "{", "\"open"] {
            assert!(JsonText::parse(bad.into()).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_value_within_an_answer_shares_its_buffer_and_any_other_is_copied() {
        let answer = ByteString::from(r#"[{"x": 1}, "two"]"#);
        let values: Vec<&RawValue> = serde_json::from_str(&answer).unwrap();
        let first = JsonText::within(&answer, values[0]);
        assert_eq!(first, r#"{"x": 1}"#);
        let shared = answer.as_bytes().as_ptr_range();
        assert!(shared.contains(&first.as_ptr()), "not shared");
        let elsewhere: Box<RawValue> = serde_json::from_str("[3]").unwrap();
        let copied = JsonText::within(&answer, &elsewhere);
        assert_eq!(copied, "[3]");
        assert!(!shared.contains(&copied.as_ptr()));
    }

    const PRETTY: &str = "{\n  \"b\": \"x \\\" y\\n\",\r\n  \"a\": [1.50, 2e3],\n\t\"c\": {}\n}";
    const COMPACT: &str = "{\"b\":\"x \\\" y\\n\",\"a\":[1.50,2e3],\"c\":{}}";

    #[test]
    fn pretty_printed_json_becomes_one_line_by_every_constructor() {
        assert_eq!(JsonText::parse(PRETTY.into()).unwrap(), COMPACT);
        let answer = ByteString::from(format!("[{PRETTY}]"));
        let values: Vec<&RawValue> = serde_json::from_str(&answer).unwrap();
        assert_eq!(JsonText::within(&answer, values[0]), COMPACT);
        assert_eq!(JsonText::from_raw(values[0]), COMPACT);
        let value: serde_json::Value = serde_json::from_str(PRETTY).unwrap();
        assert!(!JsonText::from_value(&value).contains('\n'));
        let back: serde_json::Value = serde_json::from_str(COMPACT).unwrap();
        assert_eq!(back, value, "the same value");
    }

    #[test]
    fn compact_text_is_kept_as_written() {
        let text = r#"{"k": "spaces stay", "n": 1.0}"#;
        assert_eq!(JsonText::parse(text.into()).unwrap(), text);
    }

    #[test]
    fn raw_values_and_values_keep_their_text() {
        let raw: Box<RawValue> = serde_json::from_str(r#"{"b": [1, 2]}"#).unwrap();
        assert_eq!(JsonText::from_raw(&raw), r#"{"b": [1, 2]}"#);
        let value = serde_json::json!({"c": "d"});
        assert_eq!(JsonText::from_value(&value), r#"{"c":"d"}"#);
    }
}
