//! The request body: one URL, the job's extraction switch and its other fields.

use dredge_core::job::ZyteJob;
use serde_json::{Map, Value};

/// A job's fields without the URL, built once per execution from the job snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestShape {
    fields: Map<String, Value>,
}

impl RequestShape {
    /// The fields every request of `job` carries. `params_json` was checked when the
    /// job loaded; text that is not an object (never written by dredge) adds nothing.
    pub fn of(job: &ZyteJob) -> Self {
        let mut fields = match serde_json::from_str::<Value>(&job.params_json) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        fields.insert(job.extract.as_str().to_string(), Value::Bool(true));
        if let Some(from) = job.extract_from {
            fields.insert("extractFrom".into(), from.as_str().into());
        }
        if let Some(geo) = &job.geolocation {
            fields.insert("geolocation".into(), geo.as_str().into());
        }
        RequestShape { fields }
    }

    /// The JSON body for `url`.
    pub fn body(&self, url: &str) -> Vec<u8> {
        let mut fields = self.fields.clone();
        fields.insert("url".into(), url.into());
        serde_json::to_vec(&Value::Object(fields)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use dredge_core::job::{InputList, ZyteExtract, ZyteExtractFrom};

    use super::*;

    #[test]
    fn the_body_carries_the_url_the_switch_and_the_passed_through_fields() {
        let job = ZyteJob {
            extract: ZyteExtract::ProductList,
            extract_from: Some(ZyteExtractFrom::HttpResponseBody),
            geolocation: Some("DE".into()),
            urls: InputList::Inline(Vec::new()),
            params_json: r#"{"ipType":"residential","tags":{"k":"v"}}"#.into(),
        };
        let body: Value =
            serde_json::from_slice(&RequestShape::of(&job).body("https://a.com/x")).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "url": "https://a.com/x",
                "productList": true,
                "extractFrom": "httpResponseBody",
                "geolocation": "DE",
                "ipType": "residential",
                "tags": {"k": "v"},
            })
        );
    }
}
