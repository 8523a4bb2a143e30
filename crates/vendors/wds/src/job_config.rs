//! The `JobConfig` body of `POST /api/v2/jobs/{jobName}/start`, PascalCase as WDS binds
//! it (docs/vendors/wds.md §"API versions and paths"): the start URLs, `Type`,
//! `Restart.JobRestartMode` and the job's `crawl_delay` as one
//! `CrawlersProtectionBypass.CrawlDelays` entry per start host.

use dredge_core::job::{WdsJob, WdsRestart};
use serde::{Deserialize, Serialize};

/// The subset of WDS's `JobConfig` that dredge sets; the server defaults the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobConfig {
    pub start_urls: Vec<String>,
    /// `Internet` (the public web through WDS's request gates) or `Intranet`.
    #[serde(rename = "Type")]
    pub kind: String,
    pub restart: Restart,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crawlers_protection_bypass: Option<ProtectionBypass>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Restart {
    /// On a run's first start, what the job's `restart` says: `FromScratch` by default
    /// (every dredge run is a fresh crawl, pages downloaded anew rather than answered
    /// from the tasks of an earlier run), or `Continue`. `Continue` on every later start
    /// within the same run (a retried or revived start), so starting again never clears
    /// the crawl the run already has (docs/vendors/wds.md §"Restart modes").
    pub job_restart_mode: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProtectionBypass {
    pub crawl_delays: Vec<CrawlDelay>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CrawlDelay {
    pub host: String,
    /// `"0"`, `"1-5"` (seconds, random in range) or `"robots"`.
    pub delay: String,
}

impl JobConfig {
    /// The body for `job`.
    pub fn for_job(job: &WdsJob) -> Self {
        let start_urls: Vec<String> = job
            .start_urls
            .iter()
            .map(|u| u.as_str().to_string())
            .collect();
        let crawlers_protection_bypass = job.crawl_delay.as_ref().map(|delay| ProtectionBypass {
            crawl_delays: hosts(&start_urls)
                .into_iter()
                .map(|host| CrawlDelay {
                    host,
                    delay: delay.as_str().to_string(),
                })
                .collect(),
        });
        JobConfig {
            start_urls,
            kind: "Internet".into(),
            restart: Restart {
                job_restart_mode: mode_name(job.restart).into(),
            },
            crawlers_protection_bypass,
        }
    }
}

impl JobConfig {
    /// The same body for a later start within the run: `Continue`.
    pub fn continuing(&self) -> JobConfig {
        JobConfig {
            restart: Restart {
                job_restart_mode: mode_name(WdsRestart::Continue).into(),
            },
            ..self.clone()
        }
    }

    /// The body for a start item's execution: as planned on its first try, `Continue`
    /// once the item has been tried before (a counted retry, a 202 wait).
    pub fn for_execution(&self, item: &dredge_core::ItemContext) -> JobConfig {
        if item.attempts > 0 || item.polls > 0 {
            self.continuing()
        } else {
            self.clone()
        }
    }
}

/// `JobRestartMode` as WDS names it.
fn mode_name(restart: WdsRestart) -> &'static str {
    match restart {
        WdsRestart::FromScratch => "FromScratch",
        WdsRestart::Continue => "Continue",
    }
}

/// The distinct hosts of `urls`, in first-seen order.
fn hosts(urls: &[String]) -> Vec<String> {
    let mut seen = Vec::new();
    for url in urls {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string));
        if let Some(host) = host.filter(|h| !seen.contains(h)) {
            seen.push(host);
        }
    }
    seen
}
