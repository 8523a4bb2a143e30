//! dredge-oxylabs: the `Executor` for the Oxylabs Scraper API, Push-Pull integration
//! (`{base}/v1/queries`), and the vendor side of its callbacks ([`callback`]).
//!
//! It owns how a job's queries or URLs are submitted (batches of ≤ 5,000, singular
//! parameters passed through), how each submitted job is polled and its results turned
//! into records, and what every Oxylabs answer means. The retry policy (delays, attempt
//! counting, gates) is `dredge-core`'s; this crate only says what each answer means.
//!
//! Crash safety comes from the item chain, not from state here: a submit item finishes
//! with one poll follow-up per returned job id, and the daemon stages the submit's
//! completion and the polls in one step — a crash either forgets the submission (it
//! runs again; the orphaned jobs are never read, so no record is doubled) or keeps
//! every job id. The only memory this executor has is which jobs a callback reported
//! done, and losing it merely costs one status request.
//!
//! Choices worth knowing:
//! - Poll delivery: a job is first polled `poll_interval` after submission, then every
//!   `poll_interval` (plus the policy's jitter) while `pending`, uncounted.
//! - Callback delivery: polling continues as a safety net every
//!   `max(poll_interval, safety_poll)` (default [`DEFAULT_SAFETY_POLL`]); a callback
//!   marks the job done ([`OxylabsExecutor::callback_received`]) so its next execution
//!   fetches results without asking for the status first.
//! - A faulted job (status `faulted`, or 612/613 in a result) becomes a resubmission of
//!   its one value as a follow-up that is a counted retry of the fault
//!   (`dredge_core::Continuation::retry_of`), so `max_attempts` bounds the faults of a
//!   value over its whole chain; at the limit the policy creates it dead with the
//!   reason (and `dredge retry` resubmits it).
//!
//! Its account section (`account.rs`: keys, defaults, the username and password it
//! needs) is parsed here too; the daemon only picks it by `vendor`.

pub mod callback;

mod account;
mod answer;
mod job;
mod payload;
mod plan;
mod poll;
mod results;
mod submit;

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use dredge_core::job::{JobSpec, OxylabsDelivery, OxylabsJob};
use dredge_core::{
    Executor, ItemContext, NewItem, Outcome, PlanError, Secret, SetupError, VendorClient,
};

pub use account::{DEFAULT_BASE_URL, OxylabsAccount, OxylabsAccountConfig};
pub use answer::{EXPIRED, limited_domain};
pub use job::{RawOxylabs, params};
pub use plan::{MAX_BATCH, poll_dedupe_key, target_domain};
pub use results::FAULT_CODES;

use payload::Work;

/// The safety-net poll interval under callback delivery, unless `poll_interval` is longer.
pub const DEFAULT_SAFETY_POLL: Duration = Duration::from_secs(60);

/// At most this many callback marks are remembered; beyond it new marks are dropped
/// (the safety poll still collects those jobs) so a flood cannot grow memory.
const MAX_CALLBACK_MARKS: usize = 200_000;

/// Submits and collects Oxylabs Push-Pull jobs for one account.
#[derive(Debug)]
pub struct OxylabsExecutor {
    client: VendorClient,
    username: String,
    password: Secret,
    safety_poll: Duration,
    /// Jobs a callback reported done whose results were not fetched yet.
    called_back: Mutex<HashSet<String>>,
}

impl OxylabsExecutor {
    /// An executor for `account`, with its quota, concurrency and timeout applied to
    /// every request.
    pub fn new(account: &OxylabsAccount) -> Result<Self, SetupError> {
        let client = VendorClient::new(&account.base_url, &account.limits)?;
        Ok(Self::with_client(
            client,
            &account.login.username,
            account.login.password.clone(),
        ))
    }

    /// An executor over a client built elsewhere (tests, shared gates).
    pub fn with_client(client: VendorClient, username: &str, password: Secret) -> Self {
        OxylabsExecutor {
            client,
            username: username.to_string(),
            password,
            safety_poll: DEFAULT_SAFETY_POLL,
            called_back: Mutex::default(),
        }
    }

    /// Change the safety-net poll interval of callback delivery.
    pub fn with_safety_poll(mut self, interval: Duration) -> Self {
        self.safety_poll = interval;
        self
    }

    /// A callback said job `job_id` is done: its next execution fetches the results
    /// without polling the status. The daemon calls this for jobs it knows, then wakes
    /// the job's poll item.
    pub fn callback_received(&self, job_id: &str) {
        let mut marks = self.marks();
        if marks.len() >= MAX_CALLBACK_MARKS {
            tracing::warn!(
                job_id,
                "too many unfetched callbacks remembered; this job waits for its safety poll"
            );
            return;
        }
        marks.insert(job_id.to_string());
    }

    /// The addresses Oxylabs sends callbacks from, fetched through this account's
    /// client (and so its rate gate).
    pub async fn callbacker_ips(&self) -> Result<Vec<std::net::IpAddr>, callback::CallbackError> {
        callback::fetch_with(&self.client, &self.username, &self.password).await
    }

    fn marks(&self) -> MutexGuard<'_, HashSet<String>> {
        self.called_back.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn was_called_back(&self, job_id: &str) -> bool {
        self.marks().contains(job_id)
    }

    fn forget_callback(&self, job_id: &str) {
        self.marks().remove(job_id);
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .http()
            .get(self.client.url(path))
            .basic_auth(&self.username, Some(self.password.expose()))
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .http()
            .post(self.client.url(path))
            .basic_auth(&self.username, Some(self.password.expose()))
    }

    /// How long until a job is looked at again while it is not done.
    fn wait_for(&self, work: &OxylabsJob) -> Duration {
        match work.delivery {
            OxylabsDelivery::Poll => work.poll_interval.0,
            OxylabsDelivery::Callback => work.poll_interval.0.max(self.safety_poll),
        }
    }
}

/// A job id we are willing to put into a URL path: Oxylabs ids are digits; allow the
/// usual id characters so a format change does not break us, but nothing that could
/// leave the path segment.
pub fn is_job_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[async_trait]
impl Executor for OxylabsExecutor {
    /// A submit batch that dies whole is listed value by value (each a resubmission
    /// that `dredge retry` can send on its own).
    fn split_for_death(&self, item: &ItemContext) -> Vec<NewItem> {
        match Work::decode(&item.payload) {
            Ok(Work::Submit(submit)) if submit.values.len() > 1 => submit
                .values
                .into_iter()
                .map(|value| {
                    let work = Work::Submit(payload::Submit {
                        values: vec![value.clone()],
                        resubmit: true,
                    });
                    NewItem::ready(value, work.encode())
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    fn plan(&self, job: &JobSpec, inputs: &[String]) -> Result<Vec<NewItem>, PlanError> {
        let work = job.work_to_plan::<OxylabsJob>()?;
        let values: Vec<String> = inputs
            .iter()
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(String::from)
            .collect();
        if values.is_empty() {
            return Err(PlanError::new(job, "the query/url list is empty"));
        }
        if work.delivery == OxylabsDelivery::Callback && work.callback_url.is_none() {
            return Err(PlanError::new(
                job,
                "delivery = \"callback\" needs callback_url",
            ));
        }
        Ok(plan::submit_items(work, &values))
    }

    async fn execute(&self, job: &JobSpec, item: &ItemContext) -> Outcome {
        let work = match job.work_of::<OxylabsJob>() {
            Ok(work) => work,
            Err(wrong) => return Outcome::fatal(wrong.to_string()),
        };
        match Work::decode(&item.payload) {
            Ok(Work::Submit(submit)) if submit.values.is_empty() => Outcome::records(Vec::new()),
            Ok(Work::Submit(submit)) => self.submit(work, &submit).await,
            Ok(Work::Poll(poll)) if !is_job_id(&poll.job_id) => {
                Outcome::fatal(format!("unusable Oxylabs job id {:?}", poll.job_id))
            }
            Ok(Work::Poll(poll)) => self.poll(work, &poll, item).await,
            Err(e) => Outcome::fatal(format!("unreadable item payload: {e}")),
        }
    }
}

#[cfg(test)]
mod tests;
