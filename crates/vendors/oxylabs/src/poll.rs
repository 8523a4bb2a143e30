//! Executing a poll item: `GET /v1/queries/{id}` until the job is `done` (skipped when
//! a callback already said so), then `GET /v1/queries/{id}/results?type=…` into one
//! record per result page. A faulted job becomes a resubmission of its one value.

use dredge_core::job::{OxylabsJob, OxylabsResults};
use dredge_core::{
    Completion, Continuation, Failure, FailureClass, ItemContext, Outcome, UnixMillis,
};
use serde::Deserialize;

use crate::OxylabsExecutor;
use crate::answer::{Endpoint, failure_outcome};
use crate::payload::Poll;
use crate::plan::resubmit_item;
use crate::results::{Collected, Origin, ResultsError, collect};

/// Where a job stands, or what stopped us from finding out.
enum Status {
    Pending,
    Done,
    Faulted,
    Failed(Outcome),
}

#[derive(Deserialize)]
struct JobStatus {
    status: String,
}

impl OxylabsExecutor {
    pub(crate) async fn poll(&self, work: &OxylabsJob, poll: &Poll, item: &ItemContext) -> Outcome {
        if !self.was_called_back(&poll.job_id) {
            match self.status(poll).await {
                Status::Pending => return self.not_ready(work),
                Status::Faulted => {
                    return resubmission(work, poll, "the Oxylabs job faulted");
                }
                Status::Failed(outcome) => return outcome,
                Status::Done => {}
            }
        }
        let outcome = self.results(work, poll, item).await;
        // Keep a callback's mark only while a transient failure may repeat the fetch;
        // a 204 after a callback falls back to polling the status.
        if matches!(
            outcome,
            Outcome::Done(_) | Outcome::Fatal { .. } | Outcome::NotReady { .. }
        ) {
            self.forget_callback(&poll.job_id);
        }
        outcome
    }

    fn not_ready(&self, work: &OxylabsJob) -> Outcome {
        Outcome::NotReady {
            after: Some(self.wait_for(work)),
        }
    }

    async fn status(&self, poll: &Poll) -> Status {
        let path = format!("/v1/queries/{}", poll.job_id);
        let answer = match self.client.send(self.get(&path)).await {
            Ok(answer) => answer,
            Err(failure) => return Status::Failed(Outcome::Retry(failure)),
        };
        if !answer.is_success() {
            return Status::Failed(failure_outcome(&answer, Endpoint::Job));
        }
        match answer.json::<JobStatus>().map(|j| j.status) {
            Some(s) if s == "pending" => Status::Pending,
            Some(s) if s == "done" => Status::Done,
            Some(s) if s == "faulted" => Status::Faulted,
            Some(other) => Status::Failed(Outcome::retry(
                FailureClass::Vendor,
                format!("unknown Oxylabs job status {other:?}"),
            )),
            None => Status::Failed(Outcome::retry(
                FailureClass::Vendor,
                format!("unreadable job status answer: {}", answer.text(200)),
            )),
        }
    }

    async fn results(&self, work: &OxylabsJob, poll: &Poll, item: &ItemContext) -> Outcome {
        let path = format!(
            "/v1/queries/{}/results?type={}",
            poll.job_id,
            type_word(work.results)
        );
        let answer = match self.client.send(self.get(&path)).await {
            Ok(answer) => answer,
            Err(failure) => return Outcome::Retry(failure),
        };
        if answer.status == 204 && job_status(&answer) == Some("done") {
            // Results that expired answer 204 with the job `done` (live): polling would
            // never end; submit the value again (counted).
            let why = "the job's results expired before they were fetched";
            return resubmission(work, poll, why);
        }
        if answer.status == 204 {
            return self.not_ready(work);
        }
        if !answer.is_success() {
            return failure_outcome(&answer, Endpoint::Job);
        }
        let origin = Origin {
            job_id: &poll.job_id,
            value: &poll.value,
            label: &item.label,
            fetched_at: UnixMillis::now(),
        };
        match collect(&answer.body, work.results, origin) {
            Ok(Collected::Records(records)) => Outcome::records(records),
            Ok(Collected::Faulted { code }) => {
                let why = format!("the Oxylabs job faulted (result status {code})");
                resubmission(work, poll, &why)
            }
            Err(e @ ResultsError::BadPng { .. }) => Outcome::fatal(e.to_string()),
            Err(e) => Outcome::retry(FailureClass::Vendor, e.to_string()),
        }
    }
}

/// The `x-oxylabs-job-status` header: what tells a pending 204 from an expired one.
fn job_status(answer: &dredge_core::Answer) -> Option<&str> {
    answer
        .headers
        .get("x-oxylabs-job-status")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn type_word(results: OxylabsResults) -> &'static str {
    match results {
        OxylabsResults::Parsed => "parsed",
        OxylabsResults::Raw => "raw",
        OxylabsResults::Png => "png",
        OxylabsResults::Markdown => "markdown",
    }
}

/// Resubmit the value of a faulted job as a follow-up: a counted retry of the fault, so
/// `max_attempts` bounds the faults of one value over its whole chain.
fn resubmission(work: &OxylabsJob, poll: &Poll, why: &str) -> Outcome {
    tracing::info!(job_id = %poll.job_id, value = %poll.value, "{why}; resubmitting");
    let follow_up = resubmit_item(work, &poll.value)
        .with_dedupe_key(format!("oxylabs-resubmit:{}", poll.job_id));
    let failure = Failure::new(FailureClass::Vendor, why);
    Outcome::Done(Completion {
        continuations: vec![Continuation::retry_of(follow_up, failure)],
        ..Completion::default()
    })
}
