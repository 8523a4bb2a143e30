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
mod problem;
mod request;
mod target;

use async_trait::async_trait;
use dredge_core::job::{JobSpec, VendorJob, ZyteJob};
use dredge_core::{
    Executor, ItemContext, ItemStart, NewItem, Outcome, PlanError, RateGate, Secret, SetupError,
    VendorClient,
};
use reqwest::header::CONTENT_TYPE;

pub use account::{DEFAULT_BASE_URL, DEFAULT_TIMEOUT, MIN_TIMEOUT, ZyteAccount, ZyteAccountConfig};
pub use answer::{Extracted, Unreadable, parse as parse_answer};
pub use problem::{
    INTERNAL_DOWNLOAD_BUDGET, Problem, TEMPORARY_DOWNLOAD_BUDGET, outcome as problem_outcome,
    type_path,
};
pub use request::RequestShape;
pub use target::{MAX_URL_CHARS, UrlRefusal, url_scope};

/// Executes Zyte API requests for one account.
#[derive(Debug, Clone)]
pub struct ZyteExecutor {
    client: VendorClient,
    api_key: Secret,
}

impl ZyteExecutor {
    /// An executor for `account`, with its quota and concurrency applied to every
    /// request and its HTTP timeout (at least [`MIN_TIMEOUT`]).
    pub fn new(account: &ZyteAccount) -> Result<Self, SetupError> {
        let limits = &account.limits;
        let gate = RateGate::new(limits.requests_per_second, limits.max_concurrency);
        let client = VendorClient::with_gate(&account.base_url, limits.timeout, gate)?
            .max_body(limits.max_response_bytes);
        Ok(ZyteExecutor {
            client,
            api_key: account.api_key.clone(),
        })
    }

    /// An executor over a client built elsewhere (tests, shared gates).
    pub fn with_client(client: VendorClient, api_key: Secret) -> Self {
        ZyteExecutor { client, api_key }
    }

    async fn extract(&self, work: &ZyteJob, url: &str, item: &ItemContext) -> Outcome {
        let request = self
            .client
            .http()
            .post(self.client.url("/v1/extract"))
            .basic_auth(self.api_key.expose(), Some(""))
            .header(CONTENT_TYPE, "application/json")
            .body(RequestShape::of(work).body(url));
        match self.client.send(request).await {
            Ok(answer) => answer::outcome(&answer, work.extract.as_str(), url, &item.label),
            // A disconnect before any response, a reset mid-body or our own timeout.
            Err(failure) => Outcome::Retry(failure),
        }
    }
}

fn job_of(job: &JobSpec) -> Option<&ZyteJob> {
    match &job.work {
        VendorJob::Zyte(z) => Some(z),
        _ => None,
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
        if job_of(job).is_none() {
            return Err(PlanError::new(job, "not a zyte job"));
        }
        if inputs.is_empty() {
            return Err(PlanError::new(job, "the URL list is empty"));
        }
        Ok(plan_urls(inputs))
    }

    async fn execute(&self, job: &JobSpec, item: &ItemContext) -> Outcome {
        let Some(work) = job_of(job) else {
            return Outcome::fatal("not a zyte job");
        };
        match std::str::from_utf8(&item.payload) {
            Ok(url) => self.extract(work, url, item).await,
            Err(_) => Outcome::fatal("unreadable item payload: not UTF-8"),
        }
    }
}

#[cfg(test)]
mod tests;
