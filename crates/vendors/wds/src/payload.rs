//! What a WDS item carries between executions. Payloads are JSON so a stored run stays
//! readable; an item never depends on executor memory (nothing outlives a crash
//! except what the queue holds: ARCHITECTURE.md, "The flow of one record").

use serde::{Deserialize, Serialize};

use crate::job_config::JobConfig;

/// One item's work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Payload {
    /// Start the WDS job with this exact body (fixed when the run was planned). Its
    /// `Done` carries the start pages, so the start and its tasks are staged together.
    Start { job_name: String, config: JobConfig },
    /// Scrape one page and follow its links.
    Page(PageWork),
}

/// One page of the crawl and how far its work has come.
///
/// A page needs up to `1 + follow.len()` calls (scrape-multiple, then one crawl per
/// follow selector), all made in one execution when the server answers them. When a
/// call after the first cannot finish (202, a transient error, a dead end), the calls
/// already answered are staged at once (the record, the links found) and the rest
/// continues as a new item whose payload says which steps are done: `scraped` and
/// `next_follow`. So an answered call is never repeated, and a page's record is
/// written once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageWork {
    /// The WDS DownloadTask id.
    pub task: String,
    pub url: String,
    /// Start pages are at depth 0; links found on a page at depth d are at d + 1.
    pub depth: u32,
    /// The page's record was already produced.
    #[serde(default)]
    pub scraped: bool,
    /// Index of the first follow selector still to crawl.
    #[serde(default)]
    pub next_follow: usize,
}

impl Payload {
    pub fn encode(&self) -> Vec<u8> {
        // A payload is plain strings and numbers: serialising it cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}
