//! `[zyte]`: a Zyte API automatic-extraction job, and the request fields a job may pass
//! through in `params`.
//!
//! Zyte API answers 400 `/request/invalid` to any field it does not know
//! (`ExtractRequest` has `additionalProperties: false`), and one unknown field would
//! fail every URL of the run, each request billed nothing but wasted. So `params` is
//! checked against the documented field list when the job loads, not by the vendor.

use serde::{Deserialize, Serialize};

use super::vendors::InputList;

/// `[zyte]`: URLs to extract with Zyte API (`POST /v1/extract`, one URL per request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZyteJob {
    /// The automatic-extraction field set to `true` on every request.
    pub extract: ZyteExtract,
    /// Sent as `extractFrom`; absent: the service's default (browser HTML for AI
    /// extraction, the HTTP response body for `serp`).
    pub extract_from: Option<ZyteExtractFrom>,
    /// Sent as `geolocation` (ISO 3166-1 alpha-2, upper case).
    pub geolocation: Option<String>,
    pub urls: InputList,
    /// Other documented request fields, as a JSON object's text (so the spec stays
    /// storable with bincode). Checked against [`PASS_THROUGH_FIELDS`] at load.
    pub params_json: String,
}

/// Zyte API's automatic-extraction request fields: exactly one per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ZyteExtract {
    Product,
    ProductList,
    ProductNavigation,
    Article,
    ArticleList,
    ArticleNavigation,
    JobPosting,
    JobPostingNavigation,
    ForumThread,
    PageContent,
    Serp,
}

impl ZyteExtract {
    pub const ALL: [ZyteExtract; 11] = [
        ZyteExtract::Product,
        ZyteExtract::ProductList,
        ZyteExtract::ProductNavigation,
        ZyteExtract::Article,
        ZyteExtract::ArticleList,
        ZyteExtract::ArticleNavigation,
        ZyteExtract::JobPosting,
        ZyteExtract::JobPostingNavigation,
        ZyteExtract::ForumThread,
        ZyteExtract::PageContent,
        ZyteExtract::Serp,
    ];

    /// The request and response field name (`product`, `productList`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ZyteExtract::Product => "product",
            ZyteExtract::ProductList => "productList",
            ZyteExtract::ProductNavigation => "productNavigation",
            ZyteExtract::Article => "article",
            ZyteExtract::ArticleList => "articleList",
            ZyteExtract::ArticleNavigation => "articleNavigation",
            ZyteExtract::JobPosting => "jobPosting",
            ZyteExtract::JobPostingNavigation => "jobPostingNavigation",
            ZyteExtract::ForumThread => "forumThread",
            ZyteExtract::PageContent => "pageContent",
            ZyteExtract::Serp => "serp",
        }
    }
}

/// Where Zyte API extracts from (`extractFrom`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ZyteExtractFrom {
    HttpResponseBody,
    BrowserHtml,
}

impl ZyteExtractFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            ZyteExtractFrom::HttpResponseBody => "httpResponseBody",
            ZyteExtractFrom::BrowserHtml => "browserHtml",
        }
    }
}

/// Documented `ExtractRequest` fields (Zyte API reference, OpenAPI as published
/// 2026-12) that `params` may set. Left out on purpose: `url` (from the URL list),
/// the eleven extraction switches (`extract`), `extractFrom` (`extract_from`) and
/// `geolocation` (its own key), so each has one place to be written.
pub const PASS_THROUGH_FIELDS: &[&str] = &[
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

/// Why a `params` key cannot be sent, in words for the job file's author; `None` when
/// it is a documented pass-through field.
pub fn param_refusal(key: &str) -> Option<String> {
    if PASS_THROUGH_FIELDS.contains(&key) {
        return None;
    }
    let own_key = match key {
        "url" => Some("the URLs come from `urls` or `urls_file`"),
        "extractFrom" => Some("use `extract_from = \"...\"`"),
        "geolocation" => Some("use `geolocation = \"...\"`"),
        _ if ZyteExtract::ALL.iter().any(|e| e.as_str() == key) => {
            Some("use `extract = \"...\"`: Zyte API takes one extraction field per request")
        }
        _ => None,
    };
    Some(match own_key {
        Some(how) => format!("params.{key} is set by dredge: {how}"),
        None => format!(
            "params.{key} is not a Zyte API request field (the API answers 400 to unknown fields); documented fields are: {}",
            PASS_THROUGH_FIELDS.join(", ")
        ),
    })
}

/// Why a `geolocation` value cannot be sent, if it cannot.
pub fn geolocation_refusal(code: &str) -> Option<String> {
    let ok = code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase());
    (!ok).then(|| {
        format!("geolocation {code:?} is not an ISO 3166-1 alpha-2 country code: use two upper-case letters such as \"US\" or \"DE\"")
    })
}

/// A TOML value as the JSON Zyte API receives (lists and tables pass through).
pub fn toml_to_json(value: toml::Value) -> serde_json::Value {
    match value {
        toml::Value::String(s) => serde_json::Value::String(s),
        toml::Value::Integer(i) => serde_json::Value::from(i),
        toml::Value::Float(f) => serde_json::Value::from(f),
        toml::Value::Boolean(b) => serde_json::Value::Bool(b),
        toml::Value::Datetime(d) => serde_json::Value::String(d.to_string()),
        toml::Value::Array(a) => a.into_iter().map(toml_to_json).collect(),
        toml::Value::Table(t) => {
            serde_json::Value::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_fields_pass_and_unknown_or_owned_ones_are_refused_with_the_way_out() {
        assert_eq!(param_refusal("ipType"), None);
        assert_eq!(param_refusal("productOptions"), None);
        let unknown = param_refusal("pageType").expect("AutoExtract's field is unknown");
        assert!(
            unknown.contains("not a Zyte API request field"),
            "{unknown}"
        );
        assert!(unknown.contains("ipType"), "lists the fields: {unknown}");
        let owned = param_refusal("productList").expect("extraction switches are owned");
        assert!(owned.contains("extract = "), "{owned}");
        assert!(param_refusal("url").unwrap().contains("urls_file"));
        assert!(param_refusal("geolocation").is_some());
    }

    #[test]
    fn geolocation_must_be_two_upper_case_letters() {
        assert_eq!(geolocation_refusal("US"), None);
        for bad in ["us", "USA", "", "U1"] {
            assert!(geolocation_refusal(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn nested_params_become_json_unchanged() {
        let value: toml::Value =
            toml::from_str::<toml::Table>("v = { a = [1, \"x\"], b = { c = true } }").unwrap()["v"]
                .clone();
        assert_eq!(
            toml_to_json(value),
            serde_json::json!({"a": [1, "x"], "b": {"c": true}})
        );
    }

    #[test]
    fn extract_names_match_the_serde_names_used_in_job_files() {
        for e in ZyteExtract::ALL {
            let text = serde_json::to_string(&e).unwrap();
            assert_eq!(text, format!("\"{}\"", e.as_str()));
        }
    }

    fn parse(text: &str) -> Result<crate::job::JobSpec, crate::FileError> {
        let accounts = crate::job::AccountIndex(
            [("z".to_string(), crate::job::Vendor::Zyte)]
                .into_iter()
                .collect(),
        );
        crate::job::parse_job(
            std::path::Path::new("/jobs/shop.toml"),
            text,
            Some(&accounts),
            &crate::job::FileRules::default(),
        )
    }

    #[test]
    fn a_zyte_job_parses_with_its_extraction_source_country_and_params() {
        let job = parse(
            "vendor = \"zyte\"\n[zyte]\nextract = \"productList\"\nextract_from = \"httpResponseBody\"\ngeolocation = \"DE\"\nurls = [\"https://a.com/1\"]\nparams = { ipType = \"residential\", actions = [{ action = \"scrollBottom\" }] }\n",
        )
        .unwrap();
        assert_eq!(job.account, "z");
        let crate::job::VendorJob::Zyte(z) = job.work else {
            panic!("not a zyte job")
        };
        assert_eq!(z.extract, ZyteExtract::ProductList);
        assert_eq!(z.extract_from, Some(ZyteExtractFrom::HttpResponseBody));
        assert_eq!(z.geolocation.as_deref(), Some("DE"));
        let params: serde_json::Value = serde_json::from_str(&z.params_json).unwrap();
        assert_eq!(
            params,
            serde_json::json!({"ipType": "residential", "actions": [{"action": "scrollBottom"}]})
        );
    }

    #[test]
    fn an_unknown_param_is_refused_at_its_line_and_column() {
        let err = parse(
            "vendor = \"zyte\"\n[zyte]\nextract = \"article\"\nurls = [\"https://a.com/1\"]\nparams = { articleBodyRaw = true }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("shop.toml:5:12"), "{err}");
        assert!(
            err.contains("params.articleBodyRaw is not a Zyte API request field"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_extraction_type_or_bad_country_is_refused() {
        let err = parse(
            "vendor = \"zyte\"\n[zyte]\nextract = \"realEstate\"\nurls = [\"https://a.com/1\"]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("shop.toml:3:"), "{err}");
        assert!(
            err.contains("productList"),
            "names the accepted values: {err}"
        );
        let err = parse("vendor = \"zyte\"\n[zyte]\nextract = \"article\"\ngeolocation = \"usa\"\nurls = [\"https://a.com/1\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("shop.toml:4:"), "{err}");
        assert!(err.contains("ISO 3166-1"), "{err}");
    }
}
