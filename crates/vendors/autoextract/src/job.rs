//! `[autoextract]` of a job file as written, and its checks: the page type and the
//! URLs to extract. Field docs are the user reference (README "Job files").

use std::ops::Range;

use dredge_core::FileError;
use dredge_core::job::{AutoextractJob, JobSection, PageType, SectionCtx, Vendor, VendorJob};
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAutoextract {
    page_type: PageType,
    urls: Option<Spanned<Vec<String>>>,
    urls_file: Option<Spanned<String>>,
    /// Sent as `articleBodyRaw` (default false).
    article_body_raw: Option<bool>,
}

impl JobSection for RawAutoextract {
    const VENDOR: Vendor = Vendor::Autoextract;

    fn check(self, span: Range<usize>, ctx: &SectionCtx<'_>) -> Result<VendorJob, FileError> {
        let urls = ctx.url_list(self.urls, self.urls_file, span, "[autoextract]")?;
        Ok(VendorJob::Autoextract(AutoextractJob {
            page_type: self.page_type,
            urls,
            article_body_raw: self.article_body_raw.unwrap_or(false),
        }))
    }
}
