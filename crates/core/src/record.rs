//! What an executor hands back for the output file.

use std::fmt;
use std::ops::Deref;

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
/// sent it. Every constructor guarantees the JSON; deserializing trusts the bytes,
/// because the only stored `JsonText` is one dredge built (the queue's values carry a
/// format version and sled checksums its log).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JsonText(String);

impl JsonText {
    /// The text of a value already parsed by serde_json (borrowed from an answer).
    pub fn from_raw(raw: &RawValue) -> Self {
        JsonText(raw.get().to_string())
    }

    /// The serialized form of `value`.
    pub fn from_value(value: &serde_json::Value) -> Self {
        JsonText(value.to_string())
    }

    /// `text`, when it is one JSON value.
    pub fn parse(text: String) -> Result<Self, serde_json::Error> {
        serde_json::from_str::<serde::de::IgnoredAny>(&text)?;
        Ok(JsonText(text))
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
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<&str> for JsonText {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
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
    fn raw_values_and_values_keep_their_text() {
        let raw: Box<RawValue> = serde_json::from_str(r#"{"b": [1, 2]}"#).unwrap();
        assert_eq!(JsonText::from_raw(&raw), r#"{"b": [1, 2]}"#);
        let value = serde_json::json!({"c": "d"});
        assert_eq!(JsonText::from_value(&value), r#"{"c":"d"}"#);
    }
}
