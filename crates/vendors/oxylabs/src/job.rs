//! `[oxylabs]` of a job file as written, and its checks: the source, its values (sent
//! as `query` or `url`), the result type, how results come back. The rules taken from
//! Oxylabs' documentation are `params.rs`. Field docs are the user reference (README
//! "Job files").

mod params;

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use dredge_core::FileError;
use dredge_core::job::values::DurationIn;
use dredge_core::job::{
    HttpUrl, HumanDuration, JobSection, OxylabsDelivery, OxylabsInputs, OxylabsJob, OxylabsResults,
    SectionCtx, Vendor, VendorJob,
};
use serde::Deserialize;

pub use params::params;
use params::{InputKind, documented_kind};

const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug, Deserialize)]
pub struct RawOxylabs {
    source: Option<String>,
    queries: Option<Vec<String>>,
    urls: Option<Vec<String>>,
    input_file: Option<String>,
    results: Option<OxylabsResults>,
    delivery: Option<OxylabsDelivery>,
    /// 1 s to 1 day: faster polling only hammers the vendor.
    poll_interval: Option<DurationIn<1, 86_400>>,
    callback_url: Option<HttpUrl>,
    /// `url` or `query`: what the values are sent as (default: what the source's
    /// documentation says).
    input_kind: Option<InputKind>,
    /// Everything else: singular parameters passed through to Oxylabs as given.
    #[serde(flatten)]
    params: BTreeMap<String, toml::Value>,
}

impl JobSection for RawOxylabs {
    const VENDOR: Vendor = Vendor::Oxylabs;

    fn check(self, span: Range<usize>, ctx: &SectionCtx<'_>) -> Result<VendorJob, FileError> {
        let Some(source) = &self.source else {
            return Err(ctx.err(
                span,
                "[oxylabs] needs `source` (e.g. \"google_search\" or \"universal\")",
            ));
        };
        let inputs = self.inputs(source, span.clone(), ctx)?;
        let delivery = self.delivery.unwrap_or(OxylabsDelivery::Poll);
        if delivery == OxylabsDelivery::Callback && self.callback_url.is_none() {
            return Err(ctx.err(
                span,
                "delivery = \"callback\" needs callback_url = \"https://...\": the public URL Oxylabs posts to",
            ));
        }
        let results = self.results.unwrap_or(OxylabsResults::Parsed);
        let params = params(self.params, results).map_err(|m| ctx.err(span.clone(), m))?;
        Ok(VendorJob::Oxylabs(OxylabsJob {
            source: source.clone(),
            inputs,
            params_json: serde_json::Value::Object(params).to_string(),
            results,
            delivery,
            poll_interval: self
                .poll_interval
                .map_or(HumanDuration(DEFAULT_POLL_INTERVAL), |d| d.0),
            callback_url: self.callback_url.map(String::from),
        }))
    }
}

impl RawOxylabs {
    /// The values, from exactly one of `queries`, `urls` and `input_file`, under the
    /// key the source documents unless `input_kind` says otherwise.
    fn inputs(
        &self,
        source: &str,
        span: Range<usize>,
        ctx: &SectionCtx<'_>,
    ) -> Result<OxylabsInputs, FileError> {
        let kind = self.input_kind.unwrap_or_else(|| documented_kind(source));
        let wrong_key = |list: &str, kind: &str| {
            ctx.err(
                span.clone(),
                format!("source \"{source}\" takes a {kind} per job in Oxylabs' documentation: use {list} = [...] (or say input_kind = \"...\" if your source differs)"),
            )
        };
        Ok(match (&self.queries, &self.urls, &self.input_file) {
            (Some(_), None, None) if kind == InputKind::Url => {
                return Err(wrong_key("urls", "url"));
            }
            (None, Some(_), None) if kind == InputKind::Query => {
                return Err(wrong_key("queries", "query"));
            }
            (Some(q), None, None) => {
                OxylabsInputs::Queries(ctx.inline(q.clone(), span.clone(), "queries")?)
            }
            (None, Some(u), None) => OxylabsInputs::Urls(ctx.inline(u.clone(), span, "urls")?),
            (None, None, Some(f)) => {
                let list = ctx.file_list("input_file", f, span)?;
                match kind {
                    InputKind::Url => OxylabsInputs::Urls(list),
                    InputKind::Query => OxylabsInputs::Queries(list),
                }
            }
            (None, None, None) => {
                return Err(ctx.err(
                    span,
                    "[oxylabs] needs one of queries = [...], urls = [...] or input_file = \"...\"",
                ));
            }
            _ => {
                return Err(ctx.err(
                    span,
                    "[oxylabs] takes only one of queries, urls and input_file",
                ));
            }
        })
    }
}
