//! dredge-zyte: the `Executor` for Zyte API automatic extraction
//! (`POST {base}/v1/extract`), the successor of AutoExtract.
//!
//! It owns how a job's URLs become items (one URL per item and per request — the API
//! has no batching — scoped by registrable domain so a domain limit defers that
//! domain's items), the
//! request body, and what every answer means (`answer`, with `problem` for error
//! bodies): a record, a dead URL, a domain or account throttle, a counted retry with
//! its own budget (520/521), or a suspended account. It does not count attempts or
//! compute backoff: that is `dredge_core::retry`. It knows nothing of storage.
//!
//! Its account section (`account.rs`: keys, defaults — the 320 s timeout — and the API
//! key it needs) is parsed here too; the daemon only picks it by `vendor`.

mod account;
mod answer;
mod job;
mod problem;
mod request;
mod target;

use async_trait::async_trait;
use dredge_core::account::ApiKeyClient;
use dredge_core::job::{JobSpec, ZyteJob};
use dredge_core::{Executor, ItemContext, ItemStart, NewItem, Outcome, PlanError, SetupError};
use reqwest::header::CONTENT_TYPE;

pub use account::{ZyteAccount, ZyteAccountConfig, ZyteDefaults};
pub use answer::{Extracted, Unreadable, parse as parse_answer};
pub use job::{PASS_THROUGH_FIELDS, RawZyte};
pub use problem::{
    INTERNAL_DOWNLOAD_BUDGET, Problem, TEMPORARY_DOWNLOAD_BUDGET, outcome as problem_outcome,
    type_path,
};
pub use request::RequestShape;
pub use target::{MAX_URL_CHARS, UrlRefusal, url_scope};

/// Executes Zyte API requests for one account.
#[derive(Debug, Clone)]
pub struct ZyteExecutor {
    api: ApiKeyClient,
}

impl ZyteExecutor {
    /// An executor for `account`, with its quota and concurrency applied to every
    /// request and its HTTP timeout (at least the vendor's own limit on one request).
    pub fn new(account: &ZyteAccount) -> Result<Self, SetupError> {
        ApiKeyClient::new(account).map(Self::with_client)
    }

    /// An executor over a client built elsewhere (tests, shared gates).
    pub fn with_client(api: ApiKeyClient) -> Self {
        ZyteExecutor { api }
    }

    async fn extract(&self, work: &ZyteJob, url: &str, item: &ItemContext) -> Outcome {
        let request = self
            .api
            .post("/v1/extract")
            .header(CONTENT_TYPE, "application/json")
            .body(RequestShape::of(work).body(url));
        match self.api.send(request).await {
            Ok(answer) => answer::outcome(&answer, work.extract.as_str(), url, &item.label),
            // A disconnect before any response, a reset mid-body or our own timeout.
            Err(failure) => Outcome::Retry(failure),
        }
    }
}

/// One item per URL, scoped by registrable domain; URLs the service would refuse are
/// dead at once.
pub fn plan_urls(urls: &[String]) -> Vec<NewItem> {
    urls.iter()
        .map(|url| {
            let url = url.trim();
            let item = NewItem::ready(url, url.as_bytes().to_vec());
            match url_scope(url) {
                Ok(scope) => item.with_scope(scope),
                Err(refusal) => item.with_start(ItemStart::Dead {
                    reason: refusal.to_string(),
                }),
            }
        })
        .collect()
}

#[async_trait]
impl Executor for ZyteExecutor {
    fn plan(&self, job: &JobSpec, inputs: &[String]) -> Result<Vec<NewItem>, PlanError> {
        job.work_to_plan::<ZyteJob>()?;
        if inputs.is_empty() {
            return Err(PlanError::new(job, "the URL list is empty"));
        }
        Ok(plan_urls(inputs))
    }

    async fn execute(&self, job: &JobSpec, item: &ItemContext) -> Outcome {
        let work = match job.work_of::<ZyteJob>() {
            Ok(work) => work,
            Err(wrong) => return Outcome::fatal(wrong.to_string()),
        };
        match std::str::from_utf8(&item.payload) {
            Ok(url) => self.extract(work, url, item).await,
            Err(_) => Outcome::fatal("unreadable item payload: not UTF-8"),
        }
    }
}

#[cfg(test)]
mod tests;
