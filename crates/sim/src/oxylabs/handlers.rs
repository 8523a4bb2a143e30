//! The HTTP endpoints: submit (one and batch), status, results, result content and
//! callbacker IPs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Shared;
use super::content::{self, Kind};
use super::gate::{Admission, Caller, message, with_headers};
use super::jobs::{Ending, Job, Phase};
use super::submission::{
    Submission, batch_submission, one_submission, parse_params, target_domain,
};

type Sim = State<Arc<Shared>>;

pub(crate) async fn submit_one(
    State(s): Sim,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let caller = match s.admit(&method, &uri, &headers).await {
        Ok(caller) => caller,
        Err(answer) => return answer,
    };
    let submission = parse_params(&body).and_then(|p| one_submission(p, &s.config()));
    match submission {
        Ok(sub) => s.create_jobs(&caller, &headers, sub, false),
        Err(refusal) => s.answer(&caller, Vec::new(), refusal.outcome, refusal.response()),
    }
}

pub(crate) async fn submit_batch(
    State(s): Sim,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let caller = match s.admit(&method, &uri, &headers).await {
        Ok(caller) => caller,
        Err(answer) => return answer,
    };
    let submission = parse_params(&body).and_then(|p| batch_submission(p, &s.config()));
    match submission {
        Ok(sub) => s.create_jobs(&caller, &headers, sub, true),
        Err(refusal) => s.answer(&caller, Vec::new(), refusal.outcome, refusal.response()),
    }
}

pub(crate) async fn job_status(
    State(s): Sim,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let caller = match s.admit(&method, &uri, &headers).await {
        Ok(caller) => caller,
        Err(answer) => return answer,
    };
    match s.lookup(&id) {
        // Live: the status of a job stays readable for days after its results expired.
        Some((job, Phase::Gone)) => {
            let answer = Json(job.to_json(Phase::Finished(job.ending))).into_response();
            s.answer(&caller, vec![job.domain.clone()], "ok", answer)
        }
        Some((job, phase)) => {
            let answer = Json(job.to_json(phase)).into_response();
            s.answer(&caller, vec![job.domain.clone()], "ok", answer)
        }
        None => s.answer(&caller, Vec::new(), "not_found", job_not_found()),
    }
}

pub(crate) async fn results(
    State(s): Sim,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let caller = match s.admit(&method, &uri, &headers).await {
        Ok(caller) => caller,
        Err(answer) => return answer,
    };
    let Some((job, phase)) = s.lookup(&id) else {
        return s.answer(&caller, Vec::new(), "not_found", job_not_found());
    };
    let domains = vec![job.domain.clone()];
    if phase == Phase::Gone {
        // docs/vendors/oxylabs.md §"Answers by endpoint".
        // Live (78–97 h after completion): 204 with the job status `done`, not 404.
        let answer = job_status_204("done");
        return s.answer(&caller, domains, "expired", answer);
    }
    let Some(kind) = Kind::requested(query.get("type"), &job) else {
        // An unknown `type`: 400 (the text is the simulator's own; docs/vendors/oxylabs.md
        // §"Result types" lists the known ones).
        let answer = message(StatusCode::BAD_REQUEST, "Invalid result type");
        return s.answer(&caller, domains, "bad_request", answer);
    };
    let Phase::Finished(ending) = phase else {
        // docs/vendors/oxylabs.md §"Answers by endpoint": results while pending.
        return s.answer(&caller, domains, "not_ready", job_status_204("pending"));
    };
    let items = content::result_items(&job, ending, kind, s.seed);
    let document = json!({ "results": items, "job": job.to_json(phase) });
    let answer = if s.config().pretty_results {
        let text = serde_json::to_string_pretty(&document).unwrap_or_default();
        ([(header::CONTENT_TYPE, "application/json")], text).into_response()
    } else {
        Json(document).into_response()
    };
    s.answer(&caller, domains, "ok", answer)
}

// docs/vendors/oxylabs.md §"Answers by endpoint", §"Result types": 204 while pending,
// png as base64 text under text/html.
/// `GET /v1/queries/{id}/results/{n}/content`: one page's content alone (the
/// `href_list` of the `results-content*` links).
pub(crate) async fn result_content(
    State(s): Sim,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path((id, page)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let caller = match s.admit(&method, &uri, &headers).await {
        Ok(caller) => caller,
        Err(answer) => return answer,
    };
    let found = s
        .lookup(&id)
        .filter(|(_, p)| *p != Phase::Gone && page == "1");
    let Some((job, phase)) = found else {
        return s.answer(&caller, Vec::new(), "not_found", job_not_found());
    };
    let domains = vec![job.domain.clone()];
    let Phase::Finished(ending) = phase else {
        return s.answer(
            &caller,
            domains,
            "not_ready",
            StatusCode::NO_CONTENT.into_response(),
        );
    };
    let kind = Kind::requested(query.get("type"), &job).unwrap_or(Kind::Raw);
    let item = content::result_item(&job, ending, kind, s.seed);
    let answer = match (kind, item.get("content")) {
        (Kind::Parsed, Some(parsed)) => Json(parsed.clone()).into_response(),
        (_, Some(Value::String(text))) => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            text.clone(),
        )
            .into_response(),
        _ => StatusCode::NO_CONTENT.into_response(),
    };
    s.answer(&caller, domains, "ok", answer)
}

// docs/vendors/oxylabs.md §"Callbacks": `{"ips": [...]}`.
pub(crate) async fn callbacker_ips(
    State(s): Sim,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let caller = match s.admit(&method, &uri, &headers).await {
        Ok(caller) => caller,
        Err(answer) => return answer,
    };
    let answer = Json(json!({ "ips": s.config().callbacker_ips })).into_response();
    s.answer(&caller, Vec::new(), "ok", answer)
}

pub(crate) async fn not_found(State(s): Sim, method: Method, uri: Uri) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    s.log
        .record(method.as_str(), path, None, Vec::new(), 404, "no_route");
    message(StatusCode::NOT_FOUND, "Not found")
}

/// 204 No Content with `x-oxylabs-job-status`, the only thing that tells a pending
/// job from an expired one.
fn job_status_204(status: &'static str) -> Response {
    let mut answer = StatusCode::NO_CONTENT.into_response();
    answer.headers_mut().insert(
        "x-oxylabs-job-status",
        axum::http::HeaderValue::from_static(status),
    );
    answer
}

// docs/vendors/oxylabs.md §"Answers by endpoint": an unknown job id is a 404.
fn job_not_found() -> Response {
    message(StatusCode::NOT_FOUND, "Job not found")
}

impl Shared {
    fn lookup(&self, id: &str) -> Option<(Job, Phase)> {
        let ttl = Duration::from_secs(self.config().results_ttl_secs);
        let jobs = self.lock_jobs();
        let job = jobs.get(id)?.clone();
        let phase = job.phase(Instant::now(), ttl);
        Some((job, phase))
    }

    fn create_jobs(
        self: &Arc<Self>,
        caller: &Caller,
        headers: &HeaderMap,
        sub: Submission,
        batch: bool,
    ) -> Response {
        let config = self.config();
        let account = caller.account.clone().unwrap_or_default();
        let domains: Vec<String> = sub
            .targets
            .iter()
            .map(|t| target_domain(sub.target_key, t, &sub.params))
            .collect();
        let mut logged = domains.clone();
        logged.sort();
        logged.dedup();
        let admission = self
            .limits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .admit(&account, &domains, &config);
        let rate_headers = match admission {
            Admission::Accepted(h) => h,
            Admission::Limited(answer) => {
                return self.answer(caller, logged, "rate_limited", answer);
            }
        };
        let base = base_of(headers);
        let mut answers = Vec::with_capacity(sub.targets.len());
        let mut errors = Vec::new();
        for (target, domain) in sub.targets.iter().zip(domains) {
            // docs/vendors/oxylabs.md §"Answers by endpoint".
            // Live: a batch with some invalid values still answers 202; they are
            // listed under `errors` and create no job.
            if let Some(why) = super::submission::invalid_value(sub.target_key, target) {
                errors.push(json!({"message": why, sub.target_key: target}));
                continue;
            }
            let job = self.new_job(&config, &account, &base, &sub, target, domain);
            answers.push(job.to_json(Phase::Pending));
            self.start_callback(&job);
            self.lock_jobs().insert(job);
        }
        let body = if batch && errors.is_empty() {
            json!({ "queries": answers })
        } else if batch {
            json!({ "queries": answers, "errors": errors })
        } else if let Some(job) = answers.pop() {
            job
        } else {
            let text = errors
                .first()
                .and_then(|e| e["message"].as_str())
                .unwrap_or("invalid");
            return self.answer(
                caller,
                logged,
                "bad_request",
                message(StatusCode::BAD_REQUEST, text),
            );
        };
        // docs/vendors/oxylabs.md §"Answers by endpoint".
        // Live: a submission is 202 Accepted.
        let answer = (StatusCode::ACCEPTED, Json(body)).into_response();
        let answer = with_headers(answer, &rate_headers);
        self.answer(caller, logged, "ok", answer)
    }

    fn new_job(
        &self,
        config: &super::Config,
        account: &str,
        base: &str,
        sub: &Submission,
        target: &str,
        domain: String,
    ) -> Job {
        let [low, high] = config.finish_delay_ms;
        let delay = low + self.dice.below((high.saturating_sub(low) + 1) as usize) as u64;
        let source = sub
            .params
            .get("source")
            .and_then(Value::as_str)
            .unwrap_or("universal");
        let ending = self.choose_ending(config, &format!("{source}|{target}"));
        let mut params = sub.params.clone();
        params.insert(sub.target_key.into(), json!(target));
        let created_at = chrono::Utc::now();
        let user_index = config.users.iter().position(|u| u.username == account);
        self.counters
            .jobs_submitted
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Job {
            id: self.fresh_id(),
            account: account.to_string(),
            client_id: user_index.map_or(0, |i| i as u64 + 5),
            params,
            target: target.to_string(),
            domain,
            created_at,
            finish_at: Instant::now() + Duration::from_millis(delay),
            finished_at: created_at + chrono::Duration::milliseconds(delay as i64),
            ending,
            base: base.to_string(),
            expired: false,
        }
    }

    fn choose_ending(&self, config: &super::Config, key: &str) -> Ending {
        let mut jobs = self.lock_jobs();
        if jobs.may_fault(key) && self.dice.chance(config.faulted_share) {
            jobs.note_fault(key.to_string());
            self.counters
                .jobs_faulted
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            // docs/vendors/oxylabs.md §"Answers by endpoint": 612 and 613, free to resubmit.
            let code = if self.dice.below(2) == 0 { 612 } else { 613 };
            return Ending::Faulted { code };
        }
        Ending::Done {
            parse_failed: self.dice.chance(config.parse_failure_share),
        }
    }

    // docs/vendors/oxylabs.md §"Job JSON".
    /// A 19-digit numeric id (beyond 2^53, so clients must keep it a string).
    fn fresh_id(&self) -> String {
        loop {
            let id = 7_000_000_000_000_000_000 + self.dice.next_u64() % 1_000_000_000_000_000_000;
            let id = id.to_string();
            if !self.lock_jobs().contains(&id) {
                return id;
            }
        }
    }
}

/// `http://host:port` as the client addressed us, for `_links`.
fn base_of(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}
