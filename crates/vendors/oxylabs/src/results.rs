//! Reading `GET /v1/queries/{id}/results`: one record per result page, the page's JSON
//! kept as the vendor sent it (with the target's `status_code` and, for parsed
//! results, `content.parse_status_code`), png pages decoded into attachments; or the
//! verdict that the job faulted (612/613 in a result), which means resubmit.

use base64::Engine;
use dredge_core::job::OxylabsResults;
use dredge_core::{Attachment, JsonText, Record, UnixMillis};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Result `status_code`s that mean the vendor failed the job (resubmitting is free).
pub const FAULT_CODES: [i64; 2] = [612, 613];

/// What a results document came to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Collected {
    Records(Vec<Record>),
    Faulted { code: i64 },
}

/// A results document we cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ResultsError {
    #[error("the results answer is not the documented JSON: {0}")]
    NotJson(String),
    #[error("the results answer lists no result")]
    Empty,
    #[error("png result page {page} has no base64 content")]
    BadPng { page: u64 },
}

/// Where the records come from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin<'a> {
    pub job_id: &'a str,
    /// The query or URL: each record's `source`.
    pub value: &'a str,
    /// The item's label: each record's `item`.
    pub label: &'a str,
    pub fetched_at: UnixMillis,
}

#[derive(Deserialize)]
struct Document {
    results: Vec<Box<RawValue>>,
}

#[derive(Deserialize)]
struct PageMeta {
    status_code: Option<i64>,
    page: Option<u64>,
}

/// Turn a results body into records, or say the job faulted.
pub(crate) fn collect(
    body: &[u8],
    kind: OxylabsResults,
    origin: Origin<'_>,
) -> Result<Collected, ResultsError> {
    let doc: Document =
        serde_json::from_slice(body).map_err(|e| ResultsError::NotJson(e.to_string()))?;
    if doc.results.is_empty() {
        return Err(ResultsError::Empty);
    }
    let mut records = Vec::with_capacity(doc.results.len());
    for (index, raw) in doc.results.iter().enumerate() {
        let meta: PageMeta =
            serde_json::from_str(raw.get()).map_err(|e| ResultsError::NotJson(e.to_string()))?;
        if let Some(code) = meta.status_code.filter(|c| FAULT_CODES.contains(c)) {
            return Ok(Collected::Faulted { code });
        }
        let page = meta.page.unwrap_or(index as u64 + 1);
        records.push(match kind {
            OxylabsResults::Png => png_record(raw.get(), page, origin)?,
            _ => record(JsonText::from_raw(raw), None, origin),
        });
    }
    Ok(Collected::Records(records))
}

fn record(data: JsonText, attachment: Option<Attachment>, origin: Origin<'_>) -> Record {
    Record {
        source: origin.value.to_string(),
        item: origin.label.to_string(),
        fetched_at: origin.fetched_at,
        data,
        attachment,
    }
}

/// A png page: the decoded image becomes `<job id>-<page>.png` next to the output,
/// the rest of the page (url, status_code, page...) stays the record's data.
fn png_record(raw: &str, page: u64, origin: Origin<'_>) -> Result<Record, ResultsError> {
    let bad = || ResultsError::BadPng { page };
    let mut fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(raw).map_err(|e| ResultsError::NotJson(e.to_string()))?;
    let content = match fields.remove("content") {
        Some(serde_json::Value::String(text)) => text,
        _ => return Err(bad()),
    };
    let compact: String = content.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| bad())?;
    let attachment = Attachment {
        name: format!("{}-{page}.png", origin.job_id),
        bytes,
    };
    let data = JsonText::from_value(&serde_json::Value::Object(fields));
    Ok(record(data, Some(attachment), origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin<'static> {
        Origin {
            job_id: "7173957294344910849",
            value: "adidas",
            label: "adidas",
            fetched_at: UnixMillis(1),
        }
    }

    #[test]
    fn each_result_page_becomes_one_record_kept_verbatim() {
        let body =
            br#"{"results":[{"content":{"parse_status_code":12004},"status_code":200,"page":1},
            {"content":{"parse_status_code":12000},"status_code":200,"page":2}],"job":{}}"#;
        let Ok(Collected::Records(records)) = collect(body, OxylabsResults::Parsed, origin())
        else {
            panic!("records expected");
        };
        assert_eq!(records.len(), 2);
        assert_eq!(
            records[0].data,
            r#"{"content":{"parse_status_code":12004},"status_code":200,"page":1}"#
        );
        assert!(records.iter().all(|r| r.source == "adidas"));
    }

    #[test]
    fn a_pretty_printed_result_becomes_one_output_line() {
        let body = b"{\n  \"results\": [\n    {\n      \"content\": {\"title\": \"a\\nb\"},\n      \"status_code\": 200,\n      \"page\": 1\n    }\n  ]\n}";
        let Ok(Collected::Records(records)) = collect(body, OxylabsResults::Parsed, origin())
        else {
            panic!("records expected");
        };
        assert_eq!(
            records[0].data,
            r#"{"content":{"title":"a\nb"},"status_code":200,"page":1}"#
        );
    }

    #[test]
    fn a_612_in_any_result_means_the_job_faulted() {
        let body = br#"{"results":[{"content":"","status_code":612,"page":1}]}"#;
        assert_eq!(
            collect(body, OxylabsResults::Raw, origin()),
            Ok(Collected::Faulted { code: 612 })
        );
    }

    #[test]
    fn a_png_page_becomes_an_attachment_and_leaves_the_data() {
        let body =
            br#"{"results":[{"content":"iVBO\nRw==","status_code":200,"page":3,"url":"u"}]}"#;
        let Ok(Collected::Records(records)) = collect(body, OxylabsResults::Png, origin()) else {
            panic!("records expected");
        };
        let attachment = records[0].attachment.as_ref().expect("an attachment");
        assert_eq!(attachment.name, "7173957294344910849-3.png");
        assert_eq!(attachment.bytes, vec![0x89, b'P', b'N', b'G']);
        let data: serde_json::Value = serde_json::from_str(&records[0].data).unwrap();
        assert_eq!(
            data,
            serde_json::json!({"page": 3, "status_code": 200, "url": "u"})
        );
    }

    #[test]
    fn an_empty_or_garbled_document_is_an_error() {
        assert_eq!(
            collect(br#"{"results":[]}"#, OxylabsResults::Raw, origin()),
            Err(ResultsError::Empty)
        );
        assert!(matches!(
            collect(b"<html>", OxylabsResults::Raw, origin()),
            Err(ResultsError::NotJson(_))
        ));
    }
}
