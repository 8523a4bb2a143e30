//! dredge-octoparse: the `Executor` for Octoparse, in both API flavors — the legacy
//! Data Export API (`flavor = "legacy"`, the vendor's documented seed) and the current
//! OpenAPI (`flavor = "openapi"`).
//!
//! It owns how a job's tasks become items (a task group expands into one item per
//! task; `mode = "all"` pages, `mode = "unexported"` drains), what each answer means
//! (`answer`), and logging in (`auth`). The token itself lives in
//! `dredge_core::token::TokenCache` (single flight, renewal before expiry, no hammering
//! of rejected credentials); the retry policy is `dredge-core`'s.
//!
//! Items carry everything they need in their payload (`step::Step`): after a crash the
//! daemon re-executes them with nothing but the account's configuration. The one thing
//! an executor remembers besides its token is when it was built: its first
//! acknowledged read waits out the account's timeout, so that an acknowledgement sent
//! before a restart or reload cannot land late and mark rows read since (`fence`).
//!
//! Its account section (`account.rs`: keys, the flavor's base URL, the username and
//! password it needs) is parsed here too; the daemon only picks it by `vendor`.

mod account;
mod answer;
mod api;
mod auth;
mod fence;
mod group;
mod job;
mod paging;
mod rows;
mod step;
mod unexported;

use std::time::Instant;

use async_trait::async_trait;
use dredge_core::job::{JobSpec, OctoparseJob, OctoparseTasks};
use dredge_core::token::TokenCache;
use dredge_core::{
    Executor, ItemContext, NewItem, Outcome, PlanError, RateGate, SetupError, VendorClient,
};

pub use account::{
    LEGACY_BASE_URL, OPENAPI_BASE_URL, OctoparseAccount, OctoparseAccountConfig, OctoparseFlavor,
};
pub use answer::Problem;
pub use auth::{Credentials, read_grant};
pub use job::RawOctoparse;
pub use step::{Plan, Step};

use api::Api;
use fence::AckFence;
use paging::TaskCtx;

/// The OpenAPI's own limit; an account that sets no `requests_per_second` gets it.
pub const OPENAPI_REQUESTS_PER_SECOND: f64 = 20.0;

/// Executes Octoparse items for one account.
#[derive(Debug)]
pub struct OctoparseExecutor {
    api: Api,
    unexported_ack: bool,
    fence: AckFence,
}

impl OctoparseExecutor {
    /// An executor for `account`: its flavor, its credentials, and its quota and
    /// concurrency applied to every request (token requests included).
    pub fn new(account: &OctoparseAccount) -> Result<Self, SetupError> {
        let limits = &account.limits;
        let rate = match account.flavor {
            OctoparseFlavor::Openapi => limits
                .requests_per_second
                .or(Some(OPENAPI_REQUESTS_PER_SECOND)),
            OctoparseFlavor::Legacy => limits.requests_per_second,
        };
        let gate = RateGate::new(rate, limits.max_concurrency);
        let client = VendorClient::with_gate(&account.base_url, limits.timeout, gate)?
            .max_body(limits.max_response_bytes);
        Ok(Self::with_client(account, client))
    }

    /// An executor over a client built elsewhere (tests, shared gates).
    pub fn with_client(account: &OctoparseAccount, client: VendorClient) -> Self {
        let credentials = Credentials {
            client: client.clone(),
            flavor: account.flavor,
            username: account.login.username.clone(),
            password: account.login.password.clone(),
        };
        OctoparseExecutor {
            api: Api {
                client,
                flavor: account.flavor,
                credentials,
                tokens: TokenCache::new(),
            },
            unexported_ack: account.unexported_ack,
            fence: AckFence::starting_now(account.limits.timeout),
        }
    }

    /// Token requests made so far (logins and refreshes).
    pub fn token_stats(&self) -> dredge_core::token::TokenStats {
        self.api.tokens.stats()
    }

    fn plan_of(&self, job: &OctoparseJob) -> Plan {
        Plan {
            mode: job.mode,
            flavor: self.api.flavor,
            acknowledged: self.unexported_ack || self.api.flavor == OctoparseFlavor::Openapi,
        }
    }

    async fn run(&self, work: &OctoparseJob, step: Step, item: &ItemContext) -> Outcome {
        let task_ctx = |task| TaskCtx {
            api: &self.api,
            task,
            label: &item.label,
            size: work.page_size,
        };
        match &step {
            Step::Group { group } => group::expand(&self.api, self.plan_of(work), group).await,
            Step::Page { task, index } => paging::page(&task_ctx(task), *index).await,
            Step::OffsetPage {
                task,
                offset,
                page,
                legacy,
            } => {
                let at = paging::At {
                    offset: offset.as_ref(),
                    page: *page,
                    legacy: *legacy,
                };
                paging::offset_page(&task_ctx(task), at).await
            }
            Step::Drain { task, batch } => unexported::drain(&task_ctx(task), *batch).await,
            Step::Fetch { task, batch } => match self.fence.snooze_at(Instant::now()) {
                Some(snooze) => Outcome::Snooze(snooze),
                None => unexported::fetch(&task_ctx(task), *batch).await,
            },
            Step::Ack { task, batch, more } => {
                unexported::ack(&task_ctx(task), *batch, *more).await
            }
        }
    }
}

#[async_trait]
impl Executor for OctoparseExecutor {
    fn plan(&self, job: &JobSpec, _inputs: &[String]) -> Result<Vec<NewItem>, PlanError> {
        let work = job.work_to_plan::<OctoparseJob>()?;
        if !(1..=1000).contains(&work.page_size) {
            return Err(PlanError::new(job, "page_size must be 1..=1000"));
        }
        let plan = self.plan_of(work);
        let steps: Vec<Step> = match &work.tasks {
            OctoparseTasks::Group(group) if group.trim().is_empty() => {
                return Err(PlanError::new(job, "task_group_id is empty"));
            }
            OctoparseTasks::Group(group) => vec![Step::Group {
                group: group.trim().to_string(),
            }],
            OctoparseTasks::Ids(ids) => ids
                .iter()
                .map(|id| id.trim())
                .filter(|id| !id.is_empty())
                .map(|id| plan.first_step(id.to_string()))
                .collect(),
        };
        if steps.is_empty() {
            return Err(PlanError::new(job, "task_ids is empty"));
        }
        Ok(steps.iter().map(Step::item).collect())
    }

    async fn execute(&self, job: &JobSpec, item: &ItemContext) -> Outcome {
        let work = match job.work_of::<OctoparseJob>() {
            Ok(work) => work,
            Err(wrong) => return Outcome::fatal(wrong.to_string()),
        };
        match Step::decode(&item.payload) {
            Ok(step) => self.run(work, step, item).await,
            Err(e) => Outcome::fatal(format!("unreadable item payload: {e}")),
        }
    }
}
