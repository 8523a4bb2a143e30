//! The parts of a data answer we read: the row list, counters, and the rows as output
//! records that keep the vendor's field names.

use dredge_core::{FailureClass, JsonText, Outcome, Record, UnixMillis};
use serde_json::Value;

/// The rows under `key` of a data object (`dataList` legacy, `data` OpenAPI).
pub(crate) fn list<'a>(data: &'a Value, key: &str) -> Result<&'a [Value], Outcome> {
    match data.get(key) {
        Some(Value::Array(rows)) => Ok(rows),
        // Some answers leave an empty list out, or send null for it.
        None | Some(Value::Null) => Ok(&[]),
        Some(_) => Err(shape(&format!("`{key}` is not a list"))),
    }
}

/// A counter (`total`, `restTotal`...) as a number or a numeric string.
pub(crate) fn count(data: &Value, key: &str) -> Option<u64> {
    match data.get(key)? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An answer whose `data` is not what the endpoint documents: counted retry, so a
/// vendor hiccup heals and a lasting change ends the item after `max_attempts`.
pub(crate) fn shape(what: &str) -> Outcome {
    Outcome::retry(FailureClass::Vendor, format!("unexpected answer: {what}"))
}

/// Output records for `rows` of task `task`, fetched by item `label`.
pub(crate) fn records(task: &str, label: &str, rows: &[Value]) -> Vec<Record> {
    let fetched_at = UnixMillis::now();
    rows.iter()
        .map(|row| Record {
            source: format!("task {task}"),
            item: label.to_string(),
            fetched_at,
            data: JsonText::from_value(row),
            attachment: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn records_keep_the_vendors_field_names() {
        let rows = [json!({"High Temperatures": "72.8F", "City": "Plano"})];
        let out = records("7a1b", "task 7a1b page 1", &rows);
        assert_eq!(out[0].source, "task 7a1b");
        let data: Value = serde_json::from_str(&out[0].data).expect("JSON");
        assert_eq!(data, rows[0]);
    }

    #[test]
    fn a_pretty_printed_row_becomes_one_output_line() {
        let answer = "{\n  \"rows\": [\n    {\n      \"City\": \"Plano\\nTX\"\n    }\n  ]\n}";
        let data: Value = serde_json::from_str(answer).unwrap();
        let out = records("7a1b", "task 7a1b page 1", list(&data, "rows").unwrap());
        assert_eq!(out[0].data, r#"{"City":"Plano\nTX"}"#);
    }

    #[test]
    fn counters_may_be_numbers_or_strings() {
        let data = json!({"total": 12, "restTotal": "3"});
        assert_eq!(count(&data, "total"), Some(12));
        assert_eq!(count(&data, "restTotal"), Some(3));
        assert_eq!(count(&data, "missing"), None);
    }
}
