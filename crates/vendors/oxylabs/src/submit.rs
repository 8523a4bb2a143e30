//! Executing a submit item: one value to `POST /v1/queries`, more to
//! `POST /v1/queries/batch`, the job's singular parameters passed through unchanged.
//! The answer's job ids become poll follow-ups, staged with the submit's completion.

use std::collections::HashMap;

use dredge_core::job::{OxylabsDelivery, OxylabsJob};
use dredge_core::{Completion, Continuation, FailureClass, ItemStart, Outcome, UnixMillis};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::answer::{Endpoint, failure_outcome};
use crate::payload::{Poll, Submit};
use crate::plan::{TargetKind, poll_item, resubmit_item};
use crate::{OxylabsExecutor, is_job_id};

/// The part of a job JSON a submission needs.
#[derive(Debug, Deserialize)]
struct SubmittedJob {
    /// A string: ids are 19 digits, beyond what a float keeps (a number fails here).
    id: String,
    #[serde(default)]
    query: Option<Value>,
    #[serde(default)]
    url: Option<Value>,
}

impl SubmittedJob {
    fn value(&self, kind: TargetKind) -> Option<&str> {
        match kind {
            TargetKind::Query => self.query.as_ref()?.as_str(),
            TargetKind::Url => self.url.as_ref()?.as_str(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct BatchAnswer {
    queries: Vec<SubmittedJob>,
    /// Values the batch refused (live: 202 with `errors`, the rest became jobs).
    #[serde(default)]
    errors: Vec<RefusedValue>,
}

#[derive(Debug, Deserialize)]
struct RefusedValue {
    #[serde(default)]
    message: String,
    #[serde(default)]
    query: Option<Value>,
    #[serde(default)]
    url: Option<Value>,
}

impl RefusedValue {
    fn value(&self, kind: TargetKind) -> Option<&str> {
        match kind {
            TargetKind::Query => self.query.as_ref()?.as_str(),
            TargetKind::Url => self.url.as_ref()?.as_str(),
        }
    }
}

impl OxylabsExecutor {
    pub(crate) async fn submit(&self, work: &OxylabsJob, submit: &Submit) -> Outcome {
        let kind = TargetKind::of(work);
        let single = submit.values.len() == 1;
        let body = match request_body(work, kind, &submit.values) {
            Ok(body) => body,
            Err(message) => return Outcome::fatal(message),
        };
        let path = if single {
            "/v1/queries"
        } else {
            "/v1/queries/batch"
        };
        let answer = match self.client.send(self.post(path).json(&body)).await {
            Ok(answer) => answer,
            // Ambiguous (the jobs may exist): submitting again is safe for the output,
            // since only the ids we receive are ever polled.
            Err(failure) => return Outcome::Retry(failure),
        };
        if !answer.is_success() {
            return failure_outcome(&answer, Endpoint::Submit);
        }
        let (jobs, refused) = match parse_jobs(&answer.body, single) {
            Ok(parsed) => parsed,
            Err(message) => return Outcome::retry(FailureClass::Vendor, message),
        };
        let refused: HashMap<String, String> = refused
            .into_iter()
            .filter_map(|r| Some((r.value(kind)?.to_string(), r.message)))
            .collect();
        let first_poll = UnixMillis::now().after(self.wait_for(work));
        let (polls, missing) = pair(kind, &submit.values, jobs);
        let mut completion = Completion::default();
        for poll in polls.into_iter().map(poll_item) {
            if submit.resubmit {
                // A resubmission's poll carries on the value's attempts.
                let carried = Continuation::carried(poll, Some(first_poll));
                completion.continuations.push(carried);
            } else {
                completion.follow_ups.push(poll.ready_at(first_poll));
            }
        }
        completion.follow_ups.extend(missing.iter().map(|value| {
            let reason = match refused.get(value) {
                Some(message) => format!("Oxylabs refused this value: {message}"),
                None => "Oxylabs answered the submission without a job for this value".into(),
            };
            resubmit_item(work, value).with_start(ItemStart::Dead { reason })
        }));
        Outcome::Done(completion)
    }
}

/// The JSON body: the job's parameters, `source`, the value(s) under `query` or `url`,
/// and `callback_url` when results are delivered by callback.
fn request_body(
    work: &OxylabsJob,
    kind: TargetKind,
    values: &[String],
) -> Result<Map<String, Value>, String> {
    let mut body: Map<String, Value> = serde_json::from_str(&work.params_json)
        .map_err(|e| format!("the job's [oxylabs] parameters are unreadable: {e}"))?;
    body.insert("source".into(), Value::String(work.source.clone()));
    let target = match values {
        [one] => Value::String(one.clone()),
        many => Value::Array(many.iter().cloned().map(Value::String).collect()),
    };
    body.insert(kind.key().into(), target);
    if work.delivery == OxylabsDelivery::Callback {
        let url = work
            .callback_url
            .clone()
            .ok_or("delivery = \"callback\" needs callback_url")?;
        body.insert("callback_url".into(), Value::String(url));
    }
    Ok(body)
}

type Parsed = (Vec<SubmittedJob>, Vec<RefusedValue>);

fn parse_jobs(body: &[u8], single: bool) -> Result<Parsed, String> {
    let parsed = if single {
        serde_json::from_slice::<SubmittedJob>(body).map(|j| (vec![j], Vec::new()))
    } else {
        serde_json::from_slice::<BatchAnswer>(body).map(|b| (b.queries, b.errors))
    };
    let (jobs, refused) = parsed.map_err(|e| format!("unreadable submission answer: {e}"))?;
    match jobs.iter().find(|j| !is_job_id(&j.id)) {
        Some(bad) => Err(format!(
            "unusable job id {:?} in the submission answer",
            bad.id
        )),
        None => Ok((jobs, refused)),
    }
}

/// Match returned jobs to submitted values: by the value each job echoes, then
/// positionally for jobs whose value we do not recognise (the vendor may normalise it).
/// Returns the polls and the values left without a job.
fn pair(kind: TargetKind, values: &[String], jobs: Vec<SubmittedJob>) -> (Vec<Poll>, Vec<String>) {
    let mut wanted: HashMap<&str, usize> = HashMap::new();
    for v in values {
        *wanted.entry(v.as_str()).or_default() += 1;
    }
    let mut polls = Vec::with_capacity(jobs.len());
    let mut strays = Vec::new();
    for job in jobs {
        match job.value(kind).and_then(|v| take(&mut wanted, v)) {
            Some(value) => polls.push(Poll {
                job_id: job.id,
                value,
            }),
            None => strays.push(job.id),
        }
    }
    let mut left: Vec<String> = values.iter().filter_map(|v| take(&mut wanted, v)).collect();
    let matched = strays.len().min(left.len());
    for (job_id, value) in strays.drain(..matched).zip(left.drain(..matched)) {
        polls.push(Poll { job_id, value });
    }
    if !strays.is_empty() {
        tracing::warn!(
            jobs = strays.len(),
            "Oxylabs returned more jobs than values submitted; the extra jobs are ignored"
        );
    }
    (polls, left)
}

/// Take one of `value` from the multiset, returning it owned.
fn take(wanted: &mut HashMap<&str, usize>, value: &str) -> Option<String> {
    let count = wanted.get_mut(value)?;
    if *count == 0 {
        return None;
    }
    *count -= 1;
    Some(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, query: Option<&str>) -> SubmittedJob {
        SubmittedJob {
            id: id.into(),
            query: query.map(|q| Value::String(q.into())),
            url: None,
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn jobs_pair_with_the_values_they_echo_in_any_order() {
        let values = strings(&["a", "b", "a"]);
        let jobs = vec![
            job("1", Some("b")),
            job("2", Some("a")),
            job("3", Some("a")),
        ];
        let (polls, missing) = pair(TargetKind::Query, &values, jobs);
        let got: Vec<(&str, &str)> = polls
            .iter()
            .map(|p| (p.job_id.as_str(), p.value.as_str()))
            .collect();
        assert_eq!(got, [("1", "b"), ("2", "a"), ("3", "a")]);
        assert!(missing.is_empty());
    }

    #[test]
    fn unrecognised_jobs_take_the_remaining_values_and_the_rest_are_missing() {
        let values = strings(&["a", "b", "c"]);
        let jobs = vec![job("1", Some("A ")), job("2", Some("b"))];
        let (polls, missing) = pair(TargetKind::Query, &values, jobs);
        assert_eq!(polls.len(), 2);
        assert_eq!(
            (polls[1].job_id.as_str(), polls[1].value.as_str()),
            ("1", "a")
        );
        assert_eq!(missing, strings(&["c"]));
    }

    #[test]
    fn a_numeric_job_id_is_refused_rather_than_rounded() {
        let body = br#"{"queries":[{"id":7173957294344910849,"query":"a"}]}"#;
        assert!(parse_jobs(body, false).is_err());
        let body = br#"{"queries":[{"id":"7173957294344910849","query":"a"}]}"#;
        assert_eq!(
            parse_jobs(body, false).unwrap().0[0].id,
            "7173957294344910849"
        );
    }
}
