//! dredge-autoextract: the `Executor` for Scrapinghub/Zyte AutoExtract
//! (`POST {base}/v1/extract`).
//!
//! It owns how a job's URLs become batches (≤ 100 queries, ≤ 128 KB of measured body,
//! one domain each so "domain occupied" can defer a domain's items through their scope),
//! how one batch's answer is settled query by query (records, dead queries, per-domain
//! snoozes, counted retries regrouped into follow-ups), and how request-level problems
//! map onto outcomes (`answer`). The retry policy itself (delays, attempt counting,
//! dead reasons, gates) is `dredge-core`'s; this crate only says what each answer means.
//!
//! Its account section (`account.rs`: keys, defaults — the 660 s timeout — and the API
//! key it needs) is parsed here too; the daemon only picks it by `vendor`.

mod account;
mod answer;
mod batch;
mod domain;
mod job;
mod problem;
mod query_error;
mod results;

use std::collections::BTreeMap;

use async_trait::async_trait;
use dredge_core::account::ApiKeyClient;
use dredge_core::job::{AutoextractJob, JobSpec};
use dredge_core::{Executor, ItemContext, NewItem, Outcome, PlanError, SetupError, UnixMillis};
use reqwest::header::CONTENT_TYPE;

pub use account::{AutoextractAccount, AutoextractAccountConfig, AutoextractDefaults};
pub use batch::{Batch, MAX_BODY_BYTES, MAX_QUERIES, Query, QueryShape};
pub use domain::url_domain;
pub use job::RawAutoextract;
pub use problem::{RequestError, type_name};
pub use query_error::{OCCUPIED_FALLBACK, QueryError, parse_occupied};

use answer::Context;

/// Executes AutoExtract batches for one account.
#[derive(Debug, Clone)]
pub struct AutoextractExecutor {
    api: ApiKeyClient,
}

impl AutoextractExecutor {
    /// An executor for `account`, with its quota and concurrency applied to every
    /// request and its HTTP timeout (at least the vendor's own limit on one request).
    pub fn new(account: &AutoextractAccount) -> Result<Self, SetupError> {
        ApiKeyClient::new(account).map(Self::with_client)
    }

    /// An executor over a client built elsewhere (tests, shared gates).
    pub fn with_client(api: ApiKeyClient) -> Self {
        AutoextractExecutor { api }
    }

    async fn run_batch(&self, shape: QueryShape, batch: &Batch, item: &ItemContext) -> Outcome {
        let request = self
            .api
            .post("/v1/extract")
            .header(CONTENT_TYPE, "application/json")
            .body(shape.body(&batch.queries));
        let sent = self.api.send(request).await;
        // Follow-up times and record stamps count from when the answer arrived.
        let ctx = &Context {
            item,
            now: UnixMillis::now(),
        };
        let answer = match sent {
            Ok(answer) => answer,
            // A disconnect before any response, a reset mid-body or our own timeout.
            Err(failure) => return Outcome::Retry(failure),
        };
        if !answer.is_success() {
            return answer::request_error(problem::classify(&answer), batch, ctx);
        }
        match results::parse(&answer.body) {
            Ok(found) => answer::settle(batch, answer::sort(batch, found), ctx),
            Err(e) => {
                let message = format!("{e}: {}", answer.text(200));
                Outcome::retry(dredge_core::FailureClass::Server, message)
            }
        }
    }
}

fn shape_of(job: &AutoextractJob) -> QueryShape {
    QueryShape {
        page_type: job.page_type,
        article_body_raw: job.article_body_raw,
    }
}

/// Plan `urls` into batches per domain; URLs the service would refuse are dead at once.
pub fn plan_batches(shape: &QueryShape, urls: &[String]) -> Vec<NewItem> {
    let mut items = Vec::new();
    let mut by_domain: BTreeMap<String, Vec<Query>> = BTreeMap::new();
    for (index, url) in urls.iter().enumerate() {
        let query = Query {
            url: url.trim().to_string(),
            index: index as u32,
        };
        match url_domain(&query.url) {
            Ok(domain) => by_domain.entry(domain).or_default().push(query),
            Err(refusal) => items.push(answer::dead_item(query, refusal.to_string())),
        }
    }
    for (domain, queries) in by_domain {
        let (batches, oversized) = batch::pack(shape, queries);
        for batch in batches {
            items.push(NewItem::ready(batch.label(), batch.encode()).with_scope(domain.clone()));
        }
        for batch::Oversized(query) in oversized {
            let reason =
                format!("URL cannot be longer than the {MAX_BODY_BYTES}-byte request limit");
            items.push(answer::dead_item(query, reason));
        }
    }
    items
}

#[async_trait]
impl Executor for AutoextractExecutor {
    fn plan(&self, job: &JobSpec, inputs: &[String]) -> Result<Vec<NewItem>, PlanError> {
        let work = job.work_to_plan::<AutoextractJob>()?;
        if inputs.is_empty() {
            return Err(PlanError::new(job, "the URL list is empty"));
        }
        if inputs.len() > u32::MAX as usize {
            return Err(PlanError::new(job, "too many URLs for one run"));
        }
        Ok(plan_batches(&shape_of(work), inputs))
    }

    /// A batch that dies whole is listed URL by URL, so `dredge dead` names every URL
    /// and each can be retried on its own.
    fn split_for_death(&self, item: &ItemContext) -> Vec<NewItem> {
        match Batch::decode(&item.payload) {
            Ok(batch) if batch.queries.len() > 1 => {
                batch.queries.into_iter().map(answer::query_item).collect()
            }
            _ => Vec::new(),
        }
    }

    async fn execute(&self, job: &JobSpec, item: &ItemContext) -> Outcome {
        let work = match job.work_of::<AutoextractJob>() {
            Ok(work) => work,
            Err(wrong) => return Outcome::fatal(wrong.to_string()),
        };
        let batch = match Batch::decode(&item.payload) {
            Ok(batch) if !batch.queries.is_empty() => batch,
            Ok(_) => return Outcome::records(Vec::new()),
            Err(e) => return Outcome::fatal(format!("unreadable item payload: {e}")),
        };
        self.run_batch(shape_of(work), &batch, item).await
    }
}

#[cfg(test)]
mod tests;
