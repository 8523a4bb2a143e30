//! The seam between the daemon and the vendors: one `Executor` per configured account.

use async_trait::async_trait;

use crate::item::{ItemContext, NewItem};
use crate::job::JobSpec;
use crate::outcome::Outcome;

/// Talks to one vendor account. Implemented by each vendor crate; the daemon owns
/// everything around it (queue, retries, output), so an executor never stores state
/// that must survive a crash — anything it needs later goes into item payloads.
#[async_trait]
pub trait Executor: Send + Sync {
    /// Split a new run into its first items. `inputs` is the job's input list (URLs,
    /// queries) read when the run starts, or for a long list one chunk of it at a time
    /// (the daemon plans 100,000 inputs per call); empty for jobs without one. Must be
    /// deterministic: after a restart a chunk is planned again and the items added
    /// before are skipped by position. No I/O here: work that needs the vendor
    /// (expanding a task group, starting a crawl) is an item.
    fn plan(&self, job: &JobSpec, inputs: &[String]) -> Result<Vec<NewItem>, PlanError>;

    /// Execute one item against the vendor and classify the answer. Must not panic on
    /// any answer; every failure becomes an `Outcome`.
    async fn execute(&self, job: &JobSpec, item: &ItemContext) -> Outcome;

    /// An item that dies as a whole (deadline passed, attempts spent on a batch-level
    /// error) but stands for several inputs: the items to list instead, one per input,
    /// each executable again by `dredge retry`. Empty (the default) keeps the item as
    /// one dead item. The daemon creates them dead, with the whole item's reason.
    fn split_for_death(&self, _item: &ItemContext) -> Vec<NewItem> {
        Vec::new()
    }
}

/// A run that cannot be planned (the job does not belong to this executor's vendor,
/// or its inputs are unusable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot plan job {job}: {reason}")]
pub struct PlanError {
    pub job: String,
    pub reason: String,
}

impl PlanError {
    pub fn new(job: &JobSpec, reason: impl Into<String>) -> Self {
        PlanError {
            job: job.name.to_string(),
            reason: reason.into(),
        }
    }
}
