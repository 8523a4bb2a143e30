//! Job files as written, before cross-field rules turn them into a `JobSpec`.
//! Field docs here are the reference users read (README "Job files").

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::oxylabs::InputKind;
use super::values::{Bounded, DurationIn, HttpUrl};
use super::vendors::{
    CrawlDelay, OctoparseMode, OxylabsDelivery, OxylabsResults, PageSize, PageType, Vendor,
    WdsField, WdsFollow, WdsRestart,
};
use super::zyte::{ZyteExtract, ZyteExtractFrom};
use super::{CatchUp, Overlap, Schedule};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJob {
    /// `octoparse | oxylabs | wds | autoextract | zyte`
    pub vendor: Spanned<Vendor>,
    /// Optional when exactly one account of that vendor exists.
    pub account: Option<Spanned<String>>,
    /// 5-field cron, 6-field with seconds, or @hourly/@daily/@weekly. Absent: one run
    /// when the file first appears or its content changes.
    pub schedule: Option<Schedule>,
    #[serde(default)]
    pub catch_up: CatchUp,
    #[serde(default)]
    pub overlap: Overlap,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Attempts per item for transient errors (1..=1000, default 8).
    pub max_attempts: Option<Bounded<1, 1000>>,
    /// Items unfinished this long after their run started are dead (default 6h).
    pub deadline: Option<DurationIn<1, { 10 * 365 * 86_400 }>>,
    /// How much of the job's history to keep (over the daemon's `[retention]`).
    #[serde(default)]
    pub retention: super::retention::RetentionTable,
    pub octoparse: Option<Spanned<RawOctoparse>>,
    pub oxylabs: Option<Spanned<RawOxylabs>>,
    pub wds: Option<Spanned<RawWds>>,
    pub autoextract: Option<Spanned<RawAutoextract>>,
    pub zyte: Option<Spanned<RawZyte>>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOctoparse {
    pub task_ids: Option<Spanned<Vec<String>>>,
    pub task_group_id: Option<Spanned<StringOrInt>>,
    pub mode: Option<OctoparseMode>,
    pub page_size: Option<PageSize>,
}

/// Octoparse task group ids are integers in its API; accept both forms in files.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum StringOrInt {
    String(String),
    Int(i64),
}

#[derive(Debug, Deserialize)]
pub(super) struct RawOxylabs {
    pub source: Option<String>,
    pub queries: Option<Vec<String>>,
    pub urls: Option<Vec<String>>,
    pub input_file: Option<String>,
    pub results: Option<OxylabsResults>,
    pub delivery: Option<OxylabsDelivery>,
    /// 1 s to 1 day: faster polling only hammers the vendor.
    pub poll_interval: Option<DurationIn<1, 86_400>>,
    pub callback_url: Option<HttpUrl>,
    /// `url` or `query`: what the values are sent as (default: what the source's
    /// documentation says).
    pub input_kind: Option<InputKind>,
    /// Everything else: singular parameters passed through to Oxylabs as given.
    #[serde(flatten)]
    pub params: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAutoextract {
    pub page_type: PageType,
    pub urls: Option<Spanned<Vec<String>>>,
    pub urls_file: Option<Spanned<String>>,
    #[serde(default)]
    pub article_body_raw: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawZyte {
    pub extract: ZyteExtract,
    pub extract_from: Option<ZyteExtractFrom>,
    pub geolocation: Option<Spanned<String>>,
    pub urls: Option<Spanned<Vec<String>>>,
    pub urls_file: Option<Spanned<String>>,
    /// Other documented request fields, passed through as JSON.
    pub params: Option<Spanned<BTreeMap<Spanned<String>, toml::Value>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWds {
    pub job_name: Option<String>,
    pub start_urls: Spanned<Vec<HttpUrl>>,
    pub crawl_delay: Option<CrawlDelay>,
    #[serde(default)]
    pub follow: Vec<WdsFollow>,
    pub max_depth: Option<Bounded<0, 1000>>,
    pub max_pages: Option<Bounded<1, 100_000_000>>,
    pub fields: Spanned<Vec<WdsField>>,
    /// `from_scratch` (default) or `continue`: the JobRestartMode of a run's first start.
    #[serde(default)]
    pub restart: WdsRestart,
}
