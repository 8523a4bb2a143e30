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
/// Every constructor guarantees the JSON; deserializing trusts the text, because the
/// only stored `JsonText` is one dredge built (the queue's values carry a format version
/// and sled checksums its log).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JsonText(ByteString);

impl JsonText {
    /// The text of a value already parsed by serde_json, copied.
    pub fn from_raw(raw: &RawValue) -> Self {
        JsonText(ByteString::from(raw.get()))
    }

    /// The text of `raw`, a value serde_json parsed out of `answer`, sharing `answer`'s
    /// buffer (copied instead when `raw` does not point into `answer`).
    pub fn within(answer: &ByteString, raw: &RawValue) -> Self {
        let text = raw.get();
        let whole = answer.as_bytes().as_ptr_range();
        let part = text.as_bytes().as_ptr_range();
        if whole.start <= part.start && part.end <= whole.end {
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
        Ok(JsonText(ByteString::from(text)))
    }
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

    #[test]
    fn raw_values_and_values_keep_their_text() {
        let raw: Box<RawValue> = serde_json::from_str(r#"{"b": [1, 2]}"#).unwrap();
        assert_eq!(JsonText::from_raw(&raw), r#"{"b": [1, 2]}"#);
        let value = serde_json::json!({"c": "d"});
        assert_eq!(JsonText::from_value(&value), r#"{"c":"d"}"#);
    }
}
