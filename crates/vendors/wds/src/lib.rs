//! dredge-wds: the `Executor` for a Web Data Source (WDS) server's tasks API.
//!
//! It owns how a `[wds]` job becomes items and what each WDS answer means:
//!
//! - `plan` makes one start item carrying the exact `JobConfig` body (`FromScratch`;
//!   a retried or revived start sends `Continue`, so it never clears the run's crawl).
//!   Its execution
//!   (`POST /api/v2/jobs/{jobName}/start`) returns one DownloadTask per start URL, and
//!   those become page items in the same `Done` — the start is staged atomically with
//!   its tasks, so a crash never starts the job twice for one run.
//! - A page item scrapes its page (scrape-multiple, POST body or GET query by account)
//!   into one record `{"url", "fields": {name: [values]}}`, then crawls each `follow`
//!   selector; the links become page items one level deeper, deduplicated per run by
//!   normalised URL, bounded by `max_depth` and capped at `max_pages` pages per run
//!   (start pages included) through [`dredge_core::NewItem::cap`], which the queue
//!   enforces across restarts. See [`page`] for how partly done pages continue.
//! - Answers map onto outcomes in `answer`: 202 → not ready (the policy's growing poll
//!   delay, no attempt), 400/403/404/422 → dead with the server's text (403/422 with the
//!   task's `TaskState` by name from `/info`), 5xx and timeouts → counted retry.
//!
//! Every request carries `X-Tenant-Id` from the account and `Authorization: Bearer`
//! when a token is configured. Delays, attempts and deadlines are `dredge-core`'s.
//!
//! Its account section (`account.rs`: keys, defaults, the `base_url` it needs, tenant
//! and token checked as headers) is parsed here too; the daemon only picks it by `vendor`.

pub mod account;
mod answer;
pub mod api;
mod encode;
mod job;
pub mod job_config;
pub mod page;
pub mod payload;
pub mod task_state;
pub mod urls;

use async_trait::async_trait;
use dredge_core::job::{JobSpec, WdsJob};
use dredge_core::{
    Completion, Executor, ItemContext, NewItem, Outcome, PlanError, SetupError, VendorClient,
};

pub use account::{ScrapeVia, WdsAccount, WdsAccountConfig};
pub use api::{Api, DownloadTask, ScrapeResult, TENANT_HEADER};
pub use job::RawWds;
pub use job_config::JobConfig;
pub use payload::{PageWork, Payload};

use page::PageRun;

/// Executes WDS items for one account.
#[derive(Debug, Clone)]
pub struct WdsExecutor {
    api: Api,
}

impl WdsExecutor {
    /// An executor for `account`, with its quota, concurrency and timeout applied to
    /// every request.
    pub fn new(account: &WdsAccount) -> Result<Self, SetupError> {
        let client = VendorClient::new(&account.base_url, &account.limits)?;
        let api = Api::new(
            client,
            account.tenant.clone(),
            account.token.clone(),
            account.scrape_via,
        );
        Ok(WdsExecutor { api })
    }

    async fn start(&self, job: &WdsJob, job_name: &str, config: &JobConfig) -> Outcome {
        let tasks = match self.api.start(job_name, config).await {
            Ok(tasks) => tasks,
            Err(stop) => return stop,
        };
        if tasks.is_empty() {
            return Outcome::fatal(format!(
                "WDS started job {job_name} but returned no download tasks for its {} start URLs",
                config.start_urls.len()
            ));
        }
        let follow_ups: Vec<NewItem> = tasks
            .into_iter()
            .filter_map(|task| page::page_item(task, 0, job.max_pages))
            .collect();
        Outcome::Done(Completion {
            follow_ups,
            ..Completion::default()
        })
    }
}

#[async_trait]
impl Executor for WdsExecutor {
    /// One start item; the job's own `start_urls` are the input (`inputs` is unused).
    fn plan(&self, job: &JobSpec, _inputs: &[String]) -> Result<Vec<NewItem>, PlanError> {
        let work = job.work_to_plan::<WdsJob>()?;
        if work.start_urls.is_empty() {
            return Err(PlanError::new(job, "start_urls is empty"));
        }
        if work.fields.is_empty() {
            return Err(PlanError::new(job, "fields is empty"));
        }
        let payload = Payload::Start {
            job_name: work.job_name.clone(),
            config: JobConfig::for_job(work),
        };
        let label = format!("start WDS job {}", work.job_name);
        Ok(vec![NewItem::ready(label, payload.encode())])
    }

    /// A start that dies is listed as a start that continues the crawl, so
    /// `dredge retry` never clears what the run already has (WDS `Continue`).
    fn split_for_death(&self, item: &ItemContext) -> Vec<NewItem> {
        match Payload::decode(&item.payload) {
            Ok(Payload::Start { job_name, config }) => {
                let payload = Payload::Start {
                    job_name,
                    config: config.continuing(),
                };
                vec![NewItem::ready(item.label.clone(), payload.encode())]
            }
            _ => Vec::new(),
        }
    }

    async fn execute(&self, job: &JobSpec, item: &ItemContext) -> Outcome {
        let work = match job.work_of::<WdsJob>() {
            Ok(work) => work,
            Err(wrong) => return Outcome::fatal(wrong.to_string()),
        };
        match Payload::decode(&item.payload) {
            Ok(Payload::Start { job_name, config }) => {
                let config = config.for_execution(item);
                self.start(work, &job_name, &config).await
            }
            Ok(Payload::Page(page)) => {
                let run = PageRun {
                    api: &self.api,
                    job: work,
                    item,
                };
                run.run(page).await
            }
            Err(e) => Outcome::fatal(format!("unreadable item payload: {e}")),
        }
    }
}

#[cfg(test)]
mod tests;
