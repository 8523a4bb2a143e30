//! `[zyte]`: a Zyte API automatic-extraction job (the table as written and its checks
//! are the zyte crate's `job.rs`).

use serde::{Deserialize, Serialize};

use super::vendors::InputList;
use super::work::JobInputs;

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
    /// storable with bincode). Checked against the documented field list at load.
    pub params_json: String,
}

impl JobInputs for ZyteJob {
    fn inputs(&self) -> Option<&InputList> {
        Some(&self.urls)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extract_names_match_the_serde_names_used_in_job_files() {
        for e in ZyteExtract::ALL {
            let text = serde_json::to_string(&e).unwrap();
            assert_eq!(text, format!("\"{}\"", e.as_str()));
        }
    }
}
