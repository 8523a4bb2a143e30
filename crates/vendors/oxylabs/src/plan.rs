//! How a job's values become items: submit items of at most [`MAX_BATCH`] values,
//! single-value resubmissions, and one poll item per submitted job; and the target
//! domain each item belongs to, so a per-domain 429 defers that domain's submissions.

use dredge_core::NewItem;
use dredge_core::job::{OxylabsInputs, OxylabsJob};

use crate::payload::{Poll, Submit, Work};

/// The most `query` or `url` values one batch request may carry.
pub const MAX_BATCH: usize = 5_000;

/// Whether the job's values are search queries or URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TargetKind {
    Query,
    Url,
}

impl TargetKind {
    pub(crate) fn of(job: &OxylabsJob) -> TargetKind {
        match job.inputs {
            OxylabsInputs::Queries(_) => TargetKind::Query,
            OxylabsInputs::Urls(_) => TargetKind::Url,
        }
    }

    /// The parameter name Oxylabs takes the value under.
    pub(crate) fn key(self) -> &'static str {
        match self {
            TargetKind::Query => "query",
            TargetKind::Url => "url",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            TargetKind::Query => "queries",
            TargetKind::Url => "urls",
        }
    }
}

/// The first items of a run: the values in submit items of at most [`MAX_BATCH`].
pub(crate) fn submit_items(job: &OxylabsJob, values: &[String]) -> Vec<NewItem> {
    let kind = TargetKind::of(job);
    let chunks: Vec<&[String]> = values.chunks(MAX_BATCH).collect();
    let total = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let label = format!(
                "batch {}/{total} ({} {})",
                i + 1,
                chunk.len(),
                kind.plural()
            );
            let work = Work::Submit(Submit {
                values: chunk.to_vec(),
                resubmit: false,
            });
            with_scope(
                NewItem::ready(label, work.encode()),
                shared_domain(job, chunk),
            )
        })
        .collect()
}

/// A resubmission of one value (after its job faulted, or when a batch answer left it
/// without a job).
pub(crate) fn resubmit_item(job: &OxylabsJob, value: &str) -> NewItem {
    let work = Work::Submit(Submit {
        values: vec![value.to_string()],
        resubmit: true,
    });
    let item = NewItem::ready(value, work.encode());
    with_scope(item, target_domain(job, value))
}

/// The poll of a job just submitted, deduplicated by job id so a replayed submission
/// never polls one job twice.
pub(crate) fn poll_item(poll: Poll) -> NewItem {
    let key = poll_dedupe_key(&poll.job_id);
    let label = poll.value.clone();
    NewItem::ready(label, Work::Poll(poll).encode()).with_dedupe_key(key)
}

/// The dedupe key of the poll item of job `job_id`: how the daemon finds the item a
/// callback names (`oxylabs-job:<id>`).
pub fn poll_dedupe_key(job_id: &str) -> String {
    format!("oxylabs-job:{job_id}")
}

fn with_scope(item: NewItem, scope: Option<String>) -> NewItem {
    match scope {
        Some(domain) => item.with_scope(domain),
        None => item,
    }
}

/// The domain every value of a batch targets, when they share one.
fn shared_domain(job: &OxylabsJob, values: &[String]) -> Option<String> {
    let first = target_domain(job, values.first()?)?;
    if TargetKind::of(job) == TargetKind::Query {
        // A query's domain does not depend on the query.
        return Some(first);
    }
    values
        .iter()
        .all(|v| target_domain(job, v).as_ref() == Some(&first))
        .then_some(first)
}

/// The site a value targets, as a per-domain 429 names it: a URL's host, or for a
/// query the engine behind the source and the `domain` parameter (`google_search` with
/// `domain = "co.uk"` → `google.co.uk`). The query form is an inference from how the
/// vendor describes per-domain limits; a mismatch only means the gate covers fewer
/// items (each still snoozes itself on its own 429).
pub fn target_domain(job: &OxylabsJob, value: &str) -> Option<String> {
    match TargetKind::of(job) {
        TargetKind::Url => url::Url::parse(value.trim())
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase)),
        TargetKind::Query => {
            let site = job.source.split('_').next().unwrap_or(&job.source);
            let tld = serde_json::from_str::<serde_json::Value>(&job.params_json)
                .ok()
                .and_then(|p| p.get("domain")?.as_str().map(str::to_string))
                .unwrap_or_else(|| "com".into());
            Some(format!("{site}.{tld}"))
        }
    }
}
