//! The HTTP endpoints: `/ready`, job start (v2 and v1), and per task crawl, scrape,
//! scrape-multiple (GET and POST) and info.

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::Shared;
use super::gate::{Caller, text};
use super::params::{
    Refusal, ScrapeParam, check_enums, field, from_scratch, job_config, param, params_from_body,
    params_from_query, required_selector, start_urls, validate_params,
};
use super::selector::Invalid;
use super::site::not_found_html;
use super::tasks::{Task, TaskState, TaskStore};
use super::urls;

type Sim = State<Arc<Shared>>;
type Params = Query<Vec<(String, String)>>;

/// Scrape results: `(name, values)` per ScrapeParam, in request order.
type Scraped = Vec<(String, Vec<String>)>;

// docs/vendors/wds.md §"API versions and paths": `GET /ready`.
pub(crate) async fn ready(State(s): Sim) -> Response {
    s.log.record("GET", "/ready", None, Vec::new(), 200, "ok");
    "Healthy".into_response()
}

pub(crate) async fn not_found(State(s): Sim, method: Method, uri: Uri) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    s.log
        .record(method.as_str(), path, None, Vec::new(), 404, "no_route");
    text(StatusCode::NOT_FOUND, "Not Found")
}

// docs/vendors/wds.md §"API versions and paths": v2 start, one DownloadTask per start URL.
pub(crate) async fn start_job(
    State(s): Sim,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(job): Path<String>,
    body: Bytes,
) -> Response {
    let caller = match s.admit(&method, &uri, &headers).await {
        Ok(caller) => caller,
        Err(answer) => return answer,
    };
    match job_config(&body) {
        Ok(config) => s.start(&caller, &job, &config),
        Err(refusal) => s.refuse(&caller, refusal),
    }
}

/// The v1 form: `POST /api/v1/jobs/start` with `JobName` inside the JobConfig.
// docs/vendors/wds.md §"API versions and paths": the v1 start, `JobName` in the body.
pub(crate) async fn start_job_v1(
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
    let config = match job_config(&body) {
        Ok(config) => config,
        Err(refusal) => return s.refuse(&caller, refusal),
    };
    match field(&config, "JobName")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
    {
        Some(job) => s.start(&caller, job, &config),
        None => {
            let answer = text(StatusCode::BAD_REQUEST, "The JobName field is required.");
            s.answer(&caller, Vec::new(), "bad_request", answer)
        }
    }
}

pub(crate) async fn crawl(
    State(s): Sim,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(task): Path<String>,
    Query(query): Params,
) -> Response {
    let caller = match s.admit(&method, &uri, &headers).await {
        Ok(caller) => caller,
        Err(answer) => return answer,
    };
    match s.crawl(&caller, &task, &query) {
        Ok((domains, answer)) => s.answer(&caller, domains, "ok", answer),
        Err(refusal) => s.refuse(&caller, refusal),
    }
}

pub(crate) async fn scrape(
    State(s): Sim,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(task): Path<String>,
    Query(query): Params,
) -> Response {
    let caller = match s.admit(&method, &uri, &headers).await {
        Ok(caller) => caller,
        Err(answer) => return answer,
    };
    let attribute = param(&query, "attributeName").map(str::to_string);
    let wanted = required_selector(&query).map(|selector| {
        vec![ScrapeParam {
            name: String::new(),
            selector,
            attribute,
        }]
    });
    let scraped = wanted.and_then(|params| s.scrape(&caller, &task, &params));
    match scraped {
        Ok((domains, mut results)) => {
            let values = results.pop().map(|(_, v)| v).unwrap_or_default();
            s.answer(&caller, domains, "ok", s.json(&values))
        }
        Err(refusal) => s.refuse(&caller, refusal),
    }
}

/// `GET …/scrape-multiple?scrapeParams[0].Name=…&scrapeParams[0].Selector=…`.
// docs/vendors/wds.md §"API versions and paths": scrape-multiple, GET with
// `scrapeParams[i].*` or POST with the list as JSON.
pub(crate) async fn scrape_multiple_query(
    State(s): Sim,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(task): Path<String>,
    Query(query): Params,
) -> Response {
    let caller = match s.admit(&method, &uri, &headers).await {
        Ok(caller) => caller,
        Err(answer) => return answer,
    };
    let params = params_from_query(&query).and_then(validate_params);
    s.scrape_multiple(&caller, &task, params)
}

/// `POST …/scrape-multiple` with the ScrapeParams list as a JSON body.
pub(crate) async fn scrape_multiple_body(
    State(s): Sim,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(task): Path<String>,
    body: Bytes,
) -> Response {
    let caller = match s.admit(&method, &uri, &headers).await {
        Ok(caller) => caller,
        Err(answer) => return answer,
    };
    let params = params_from_body(&body).and_then(validate_params);
    s.scrape_multiple(&caller, &task, params)
}

pub(crate) async fn info(
    State(s): Sim,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(task): Path<String>,
) -> Response {
    let caller = match s.admit(&method, &uri, &headers).await {
        Ok(caller) => caller,
        Err(answer) => return answer,
    };
    let as_number = s.config().task_state_as_number;
    let found = s.store().get(&caller.tenant, &task).cloned();
    match found {
        Some(task) => {
            let body = task.info(&s.site, as_number);
            s.answer(&caller, vec![urls::host(&task.url)], "ok", s.json(&body))
        }
        None => s.answer(&caller, Vec::new(), "not_found", task_not_found()),
    }
}

// docs/vendors/wds.md §"Answers": 404 task not found.
fn task_not_found() -> Response {
    text(StatusCode::NOT_FOUND, "Task not found")
}

impl Shared {
    /// A JSON answer: compact, or indented over many lines with `pretty`.
    fn json(&self, value: &impl serde::Serialize) -> Response {
        let text = if self.config().pretty {
            serde_json::to_string_pretty(value)
        } else {
            serde_json::to_string(value)
        };
        (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            text.unwrap_or_default(),
        )
            .into_response()
    }

    /// Log a refusal and answer it.
    fn refuse(&self, caller: &Caller, refusal: Refusal) -> Response {
        let answer = refusal.response();
        self.answer(caller, refusal.domains, refusal.outcome, answer)
    }

    fn start(&self, caller: &Caller, job: &str, config: &Map<String, Value>) -> Response {
        let urls = match start_urls(config).and_then(|u| check_enums(config).map(|()| u)) {
            Ok(urls) => urls,
            Err(message) => {
                return self.refuse(caller, Refusal::bad("bad_request", message));
            }
        };
        let mut domains: Vec<String> = urls.iter().map(|u| urls::host(u)).collect();
        domains.sort();
        domains.dedup();
        let mut store = self.store();
        // docs/vendors/wds.md §"Restart modes": `FromScratch` clears the job's tasks, `Continue`
        // answers from the ones it has (`task_for_url` below).
        if from_scratch(config) {
            store.restart(&caller.tenant, job);
        }
        let tasks: Vec<Value> = urls
            .iter()
            .map(|url| {
                self.task_for_url(&mut store, &caller.tenant, job, url)
                    .download_task()
            })
            .collect();
        drop(store);
        self.answer(caller, domains, "ok", self.json(&tasks))
    }

    /// The job's live task for `url`, created when there is none.
    fn task_for_url(&self, store: &mut TaskStore, tenant: &str, job: &str, url: &str) -> Task {
        if let Some(task) = store.task_for(tenant, job, url).filter(|t| !t.deleted) {
            return task.clone();
        }
        let [low, high] = self.config().accepted_polls;
        let spread = high.saturating_sub(low) as usize + 1;
        let task = Task {
            id: self.fresh_id(store),
            tenant: tenant.to_string(),
            job: job.to_string(),
            url: url.to_string(),
            page: urls::split(url).and_then(|(_, path)| self.site.page_for_path(path)),
            queued_polls: low + self.dice.below(spread) as u32,
            polls: 0,
            deleted: false,
            created_at: chrono::Utc::now(),
        };
        store.insert(task.clone());
        task
    }

    /// A GUID-shaped task id.
    fn fresh_id(&self, store: &TaskStore) -> String {
        loop {
            let (a, b) = (self.dice.next_u64(), self.dice.next_u64());
            let id = format!(
                "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
                a >> 32,
                (a >> 16) & 0xffff,
                a & 0xfff,
                0x8000 | ((b >> 48) & 0x3fff),
                b & 0xffff_ffff_ffff
            );
            if !store.contains(&id) {
                return id;
            }
        }
    }

    /// One poll of a task: 202 while it is queued, then its page or the error its
    /// download ended with.
    fn poll(&self, tenant: &str, id: &str) -> Result<(Task, String), Refusal> {
        let mut store = self.store();
        let Some(task) = store.get_mut(tenant, id).filter(|t| !t.deleted) else {
            return Err(Refusal::new(
                "not_found",
                StatusCode::NOT_FOUND,
                "Task not found",
            ));
        };
        let domains = vec![urls::host(&task.url)];
        if task.polls < task.queued_polls {
            task.polls += 1;
            // docs/vendors/wds.md §"Answers": 202 until the task has run.
            return Err(Refusal::new("accepted", StatusCode::ACCEPTED, "").on(domains));
        }
        task.polls = task.polls.saturating_add(1);
        let task = task.clone();
        drop(store);
        match task.state(&self.site) {
            TaskState::AccessDeniedForRobots => {
                // docs/vendors/wds.md §"Answers": 422 for a page WDS could not process, 403 for one
                // it could not reach (§"Task states": AccessDeniedForRobots, AllRequestGatesExhausted).
                let message = format!("Access to {} is denied by robots.txt", task.url);
                let status = StatusCode::UNPROCESSABLE_ENTITY;
                Err(Refusal::new("robots_denied", status, message).on(domains))
            }
            TaskState::AllRequestGatesExhausted => {
                let message = format!(
                    "Unable to access the page content of {}: all request gates were exhausted",
                    task.url
                );
                let status = StatusCode::FORBIDDEN;
                Err(Refusal::new("gates_exhausted", status, message).on(domains))
            }
            _ => {
                let html = task
                    .page
                    .map_or_else(not_found_html, |id| self.site.html(id));
                Ok((task, html))
            }
        }
    }

    fn crawl(
        &self,
        caller: &Caller,
        id: &str,
        query: &[(String, String)],
    ) -> Result<(Vec<String>, Response), Refusal> {
        let selector = required_selector(query)?;
        let attribute = param(query, "attributeName").unwrap_or("href");
        let (task, html) = self.poll(&caller.tenant, id)?;
        let domains = vec![urls::host(&task.url)];
        let links = selector
            .values(&html, Some(attribute))
            .map_err(|Invalid(m)| Refusal::bad("bad_selector", m).on(domains.clone()))?;
        let mut seen = HashSet::new();
        let mut store = self.store();
        let found: Vec<Value> = links
            .iter()
            .filter_map(|href| urls::resolve(&task.url, href))
            .filter(|url| seen.insert(url.clone()))
            .map(|url| {
                self.task_for_url(&mut store, &task.tenant, &task.job, &url)
                    .download_task()
            })
            .collect();
        Ok((domains, self.json(&found)))
    }

    /// Evaluate every param on the task's page: `(name, values)` in request order.
    fn scrape(
        &self,
        caller: &Caller,
        id: &str,
        params: &[ScrapeParam],
    ) -> Result<(Vec<String>, Scraped), Refusal> {
        let (task, html) = self.poll(&caller.tenant, id)?;
        let domains = vec![urls::host(&task.url)];
        let results = params
            .iter()
            .map(|p| {
                let values = p.selector.values(&html, p.attribute.as_deref());
                values
                    .map(|v| (p.name.clone(), v))
                    .map_err(|Invalid(m)| Refusal::bad("bad_selector", m).on(domains.clone()))
            })
            .collect::<Result<_, _>>()?;
        Ok((domains, results))
    }

    fn scrape_multiple(
        &self,
        caller: &Caller,
        id: &str,
        params: Result<Vec<ScrapeParam>, Refusal>,
    ) -> Response {
        match params.and_then(|p| self.scrape(caller, id, &p)) {
            Ok((domains, results)) => {
                let body: Vec<Value> = results
                    .into_iter()
                    .map(|(name, values)| json!({ "Name": name, "Values": values }))
                    .collect();
                self.answer(caller, domains, "ok", self.json(&body))
            }
            Err(refusal) => self.refuse(caller, refusal),
        }
    }
}
