//! `[wds]` of a job file as written, and its checks: a crawl's start URLs, what to
//! follow and what to scrape on every page. Field docs are the user reference (README
//! "Job files").

use std::ops::Range;

use dredge_core::FileError;
use dredge_core::job::values::Bounded;
use dredge_core::job::{
    CrawlDelay, HttpUrl, JobSection, SectionCtx, Vendor, VendorJob, WdsField, WdsFollow, WdsJob,
    WdsRestart,
};
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWds {
    job_name: Option<String>,
    start_urls: Spanned<Vec<HttpUrl>>,
    crawl_delay: Option<CrawlDelay>,
    #[serde(default)]
    follow: Vec<WdsFollow>,
    max_depth: Option<Bounded<0, 1000>>,
    max_pages: Option<Bounded<1, 100_000_000>>,
    fields: Spanned<Vec<WdsField>>,
    /// `from_scratch` (default) or `continue`: the JobRestartMode of a run's first start.
    #[serde(default)]
    restart: WdsRestart,
}

impl JobSection for RawWds {
    const VENDOR: Vendor = Vendor::Wds;

    fn check(self, _span: Range<usize>, ctx: &SectionCtx<'_>) -> Result<VendorJob, FileError> {
        if self.start_urls.get_ref().is_empty() {
            return Err(ctx.err(
                self.start_urls.span(),
                "start_urls is empty: give at least one URL",
            ));
        }
        if self.fields.get_ref().is_empty() {
            return Err(ctx.err(
                self.fields.span(),
                "fields is empty: name at least one field to scrape",
            ));
        }
        Ok(VendorJob::Wds(WdsJob {
            job_name: self.job_name.unwrap_or_else(|| ctx.job_name().to_string()),
            start_urls: self.start_urls.into_inner(),
            crawl_delay: self.crawl_delay,
            follow: self.follow,
            max_depth: self.max_depth.map_or(3, |d| d.get() as u32),
            max_pages: self.max_pages.map_or(10_000, |p| p.get() as u64),
            fields: self.fields.into_inner(),
            restart: self.restart,
        }))
    }
}
