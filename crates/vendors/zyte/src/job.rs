//! `[zyte]` of a job file as written, and its checks: the extraction, its source and
//! country, the URLs, and the request fields a job may pass through in `params`.
//!
//! Zyte API answers 400 `/request/invalid` to any field it does not know
//! (`ExtractRequest` has `additionalProperties: false`), and one unknown field would
//! fail every URL of the run, each request billed nothing but wasted. So `params` is
//! checked against the documented field list when the job loads, not by the vendor.

use std::collections::BTreeMap;
use std::ops::Range;

use dredge_core::FileError;
use dredge_core::job::{
    JobSection, SectionCtx, Vendor, VendorJob, ZyteExtract, ZyteExtractFrom, ZyteJob, toml_to_json,
};
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawZyte {
    extract: ZyteExtract,
    extract_from: Option<ZyteExtractFrom>,
    geolocation: Option<Spanned<String>>,
    urls: Option<Spanned<Vec<String>>>,
    urls_file: Option<Spanned<String>>,
    /// Other documented request fields, passed through as JSON.
    params: Option<Spanned<BTreeMap<Spanned<String>, toml::Value>>>,
}

impl JobSection for RawZyte {
    const VENDOR: Vendor = Vendor::Zyte;

    fn check(self, span: Range<usize>, ctx: &SectionCtx<'_>) -> Result<VendorJob, FileError> {
        let urls = ctx.url_list(self.urls, self.urls_file, span, "[zyte]")?;
        if let Some(geo) = &self.geolocation
            && let Some(why) = geolocation_refusal(geo.get_ref())
        {
            return Err(ctx.err(geo.span(), why));
        }
        let mut params = serde_json::Map::new();
        for (key, value) in self.params.map(Spanned::into_inner).unwrap_or_default() {
            if let Some(why) = param_refusal(key.get_ref()) {
                return Err(ctx.err(key.span(), why));
            }
            params.insert(key.into_inner(), toml_to_json(value));
        }
        Ok(VendorJob::Zyte(ZyteJob {
            extract: self.extract,
            extract_from: self.extract_from,
            geolocation: self.geolocation.map(Spanned::into_inner),
            urls,
            params_json: serde_json::Value::Object(params).to_string(),
        }))
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
fn param_refusal(key: &str) -> Option<String> {
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
fn geolocation_refusal(code: &str) -> Option<String> {
    let ok = code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase());
    (!ok).then(|| {
        format!("geolocation {code:?} is not an ISO 3166-1 alpha-2 country code: use two upper-case letters such as \"US\" or \"DE\"")
    })
}

#[cfg(test)]
mod tests {
    use dredge_core::JobSpec;
    use dredge_core::job::{AccountIndex, FileRules, JobSections, SectionParser, parse_job};

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

    fn parse(text: &str) -> Result<JobSpec, FileError> {
        let accounts = AccountIndex([("z".to_string(), Vendor::Zyte)].into_iter().collect());
        parse_job(
            std::path::Path::new("/jobs/shop.toml"),
            text,
            Some(&accounts),
            &FileRules::default(),
            &JobSections::new(vec![SectionParser::of::<RawZyte>()]),
        )
    }

    #[test]
    fn a_zyte_job_parses_with_its_extraction_source_country_and_params() {
        let job = parse(
            "vendor = \"zyte\"\n[zyte]\nextract = \"productList\"\nextract_from = \"httpResponseBody\"\ngeolocation = \"DE\"\nurls = [\"https://a.com/1\"]\nparams = { ipType = \"residential\", actions = [{ action = \"scrollBottom\" }] }\n",
        )
        .unwrap();
        assert_eq!(job.account, "z");
        let VendorJob::Zyte(z) = job.work else {
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
