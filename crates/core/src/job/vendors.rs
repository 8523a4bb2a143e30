//! The vendor section of a job file (`[octoparse]`, `[oxylabs]`, `[wds]`,
//! `[autoextract]`; `[zyte]` lives in `zyte.rs`): what to collect. Each field's doc is what users read.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::values::{HttpUrl, HumanDuration, Selector};
use super::work::JobInputs;

/// Which vendor a job or account talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Vendor {
    Octoparse,
    Oxylabs,
    Wds,
    Autoextract,
    Zyte,
}

impl Vendor {
    pub const ALL: [Vendor; 5] = [
        Vendor::Octoparse,
        Vendor::Oxylabs,
        Vendor::Wds,
        Vendor::Autoextract,
        Vendor::Zyte,
    ];

    /// The key used in files: `octoparse`, `oxylabs`, `wds`, `autoextract`, `zyte`.
    pub fn key(self) -> &'static str {
        match self {
            Vendor::Octoparse => "octoparse",
            Vendor::Oxylabs => "oxylabs",
            Vendor::Wds => "wds",
            Vendor::Autoextract => "autoextract",
            Vendor::Zyte => "zyte",
        }
    }
}

impl std::fmt::Display for Vendor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

/// A list of inputs given inline or as a file of one value per line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InputList {
    Inline(Vec<String>),
    /// Path as resolved against the jobs directory; read when a run starts.
    File(PathBuf),
}

/// `[octoparse]`: which tasks and how to read them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OctoparseJob {
    pub tasks: OctoparseTasks,
    pub mode: OctoparseMode,
    /// Rows per request, 1..=1000.
    pub page_size: u32,
}

impl JobInputs for OctoparseJob {
    /// None: the tasks are named in the job.
    fn inputs(&self) -> Option<&InputList> {
        None
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OctoparseTasks {
    /// These task ids, as given.
    Ids(Vec<String>),
    /// Every task of this task group (expanded at run time).
    Group(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OctoparseMode {
    /// Drain new records (a destructive read on the vendor side).
    Unexported,
    /// A full paged snapshot.
    All,
}

/// `[oxylabs]`: what to submit and how to collect it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OxylabsJob {
    pub source: String,
    pub inputs: OxylabsInputs,
    /// Parameters passed through as given (domain, parse, render, geo_location,
    /// context, parsing_instructions, browser_instructions...), with the result type's
    /// flag set (`parse`, `render`, `markdown`).
    /// JSON text of an object, so the spec stays storable with bincode.
    pub params_json: String,
    pub results: OxylabsResults,
    pub delivery: OxylabsDelivery,
    pub poll_interval: HumanDuration,
    /// Public URL Oxylabs posts to when `delivery = "callback"`.
    pub callback_url: Option<String>,
}

impl JobInputs for OxylabsJob {
    fn inputs(&self) -> Option<&InputList> {
        Some(self.inputs.list())
    }
}

/// Oxylabs values are either search queries or URLs (sent as `query` or `url`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OxylabsInputs {
    Queries(InputList),
    Urls(InputList),
}

impl OxylabsInputs {
    /// The values, whichever way they are sent.
    pub fn list(&self) -> &InputList {
        match self {
            OxylabsInputs::Queries(l) | OxylabsInputs::Urls(l) => l,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OxylabsResults {
    Parsed,
    Raw,
    Png,
    /// Kept after the others: stored run snapshots name variants by index.
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OxylabsDelivery {
    Poll,
    Callback,
}

/// `[autoextract]`: URLs to extract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoextractJob {
    pub page_type: PageType,
    pub urls: InputList,
    /// Sent as `articleBodyRaw`.
    pub article_body_raw: bool,
}

impl JobInputs for AutoextractJob {
    fn inputs(&self) -> Option<&InputList> {
        Some(&self.urls)
    }
}

/// AutoExtract's `pageType`: the ten values of its final documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PageType {
    // Stored job snapshots (bincode) name variants by position: `Article` and
    // `Product` keep theirs, new values only ever go at the end.
    Article,
    Product,
    ArticleList,
    Comments,
    ForumPosts,
    JobPosting,
    ProductList,
    RealEstate,
    /// Called `productReviews` in earlier documentation; both names are accepted.
    #[serde(alias = "productReviews")]
    Reviews,
    Vehicle,
}

impl PageType {
    pub const ALL: [PageType; 10] = [
        PageType::Article,
        PageType::ArticleList,
        PageType::Comments,
        PageType::ForumPosts,
        PageType::JobPosting,
        PageType::Product,
        PageType::ProductList,
        PageType::RealEstate,
        PageType::Reviews,
        PageType::Vehicle,
    ];

    /// The value sent as `pageType`, and the key of the record in each result.
    pub fn as_str(self) -> &'static str {
        match self {
            PageType::Article => "article",
            PageType::ArticleList => "articleList",
            PageType::Comments => "comments",
            PageType::ForumPosts => "forumPosts",
            PageType::JobPosting => "jobPosting",
            PageType::Product => "product",
            PageType::ProductList => "productList",
            PageType::RealEstate => "realEstate",
            PageType::Reviews => "reviews",
            PageType::Vehicle => "vehicle",
        }
    }
}

/// `[wds]`: a crawl and what to scrape on every page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WdsJob {
    pub job_name: String,
    pub start_urls: Vec<HttpUrl>,
    pub crawl_delay: Option<CrawlDelay>,
    pub follow: Vec<WdsFollow>,
    pub max_depth: u32,
    pub max_pages: u64,
    pub fields: Vec<WdsField>,
    /// How the run's first start treats what WDS already has for `job_name`. Kept the
    /// last field: a run snapshot of format 1 (without it) is decoded by appending it
    /// (`crates/dredge/src/daemon/snapshot.rs`).
    pub restart: WdsRestart,
}

impl JobInputs for WdsJob {
    /// None: a crawl starts from the job's `start_urls`.
    fn inputs(&self) -> Option<&InputList> {
        None
    }
}

/// `restart` of `[wds]`: what the first start of a run sends as `JobRestartMode`
/// (docs/vendors/wds.md §"Restart modes"). Every later start within the same run
/// sends `Continue` whatever this says, so starting again never clears the crawl the
/// run already has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WdsRestart {
    /// `FromScratch`: WDS clears its cached pages of the job; every run is a fresh crawl.
    #[default]
    FromScratch,
    /// `Continue`: WDS reuses its cached pages of the job and crawls on from there.
    Continue,
}

/// Politeness per start host: `"0"`, `"1-5"` (seconds, random in range) or `"robots"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CrawlDelay(String);

impl CrawlDelay {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CrawlDelay {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let ok = s == "robots"
            || s.parse::<u32>().is_ok()
            || s.split_once('-').is_some_and(
                |(a, b)| matches!((a.parse::<u32>(), b.parse::<u32>()), (Ok(a), Ok(b)) if a <= b),
            );
        if ok {
            Ok(CrawlDelay(s))
        } else {
            Err(format!(
                "crawl_delay {s:?} is not valid: use \"0\", a range of seconds like \"1-5\", or \"robots\""
            ))
        }
    }
}

impl From<CrawlDelay> for String {
    fn from(c: CrawlDelay) -> String {
        c.0
    }
}

/// A crawl selector applied on every page; links found become new pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WdsFollow {
    pub selector: Selector,
    pub attribute: Option<String>,
}

/// A named field scraped on every page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WdsField {
    pub name: String,
    pub selector: Selector,
    pub attribute: Option<String>,
}
