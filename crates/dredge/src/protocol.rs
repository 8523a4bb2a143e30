//! The status socket's protocol, shared by the daemon's server, the CLI client and the
//! tests' fake server: JSON-RPC 2.0, one JSON object per line each way. The wire format
//! is the contract of README "Commands and the status socket".
//!
//! Every method is one variant of [`Request`] (its wire name is the variant's serde
//! name, written nowhere else), holding its own params type, and each params type names
//! the type of its answer ([`Method::Answer`]). [`Api`] is what the daemon implements,
//! one handler per method; [`Request::answer`] is the one place a request meets its
//! handler. So the server, the client and the fake server cannot disagree on a method's
//! name, params or answer, and adding a method is one variant and one handler
//! (ARCHITECTURE.md, "How to add an RPC method").

mod page_limit;

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use strum::{EnumIter, IntoEnumIterator};

pub(crate) use page_limit::PageLimit;

/// Lines longer than this get a JSON-RPC error instead of being parsed.
pub(crate) const MAX_LINE_BYTES: usize = 1024 * 1024;

/// JSON-RPC error codes used by the daemon.
pub(crate) mod code {
    pub(crate) const PARSE_ERROR: i64 = -32700;
    pub(crate) const INVALID_REQUEST: i64 = -32600;
    pub(crate) const METHOD_NOT_FOUND: i64 = -32601;
    pub(crate) const INVALID_PARAMS: i64 = -32602;
    pub(crate) const INTERNAL: i64 = -32603;
    /// The job or run named does not exist.
    pub(crate) const NOT_FOUND: i64 = -32004;
    /// The request is valid but cannot be done now (e.g. a run of the job is active).
    pub(crate) const CONFLICT: i64 = -32009;
    /// The peer is not root, the daemon's user, or in the control group (or, for a
    /// method that changes something, it is only in the status group).
    pub(crate) const PERMISSION_DENIED: i64 = -32003;
    /// Every connection slot is busy answering; try again.
    pub(crate) const BUSY: i64 = -32005;
}

/// An error the API answers with; `message` is shown to the user as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub(crate) struct ApiError {
    pub code: i64,
    pub message: String,
}

impl ApiError {
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            code: code::NOT_FOUND,
            message: message.into(),
        }
    }
    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        ApiError {
            code: code::CONFLICT,
            message: message.into(),
        }
    }
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        ApiError {
            code: code::INTERNAL,
            message: message.into(),
        }
    }
}

// The methods: one `Request` variant per method, its params type, the type of its
// answer, and the `Api` handler that answers it. The wire form is serde's adjacently
// tagged enum, `{"method": NAME, "params": {...}}`, inside the JSON-RPC envelope
// (`jsonrpc`, `id`). Params are named fields; a method without params takes none,
// `null`, `{}` or `[]` (the server reads the absent ones as `{}`, so a missing field is
// named in the error).

/// One call to the daemon: the method and its params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, EnumIter)]
#[serde(tag = "method", content = "params")]
pub(crate) enum Request {
    #[serde(rename = "status")]
    Status(Status),
    #[serde(rename = "jobs.list")]
    JobsList(JobsList),
    #[serde(rename = "job.run")]
    JobRun(JobRun),
    #[serde(rename = "job.pause")]
    JobPause(JobPause),
    #[serde(rename = "job.resume")]
    JobResume(JobResume),
    #[serde(rename = "runs.list")]
    RunsList(RunsList),
    #[serde(rename = "run.get")]
    RunGet(RunGet),
    #[serde(rename = "run.cancel")]
    RunCancel(RunCancel),
    #[serde(rename = "dead.list")]
    DeadList(DeadList),
    #[serde(rename = "run.retry")]
    RunRetry(RunRetry),
    #[serde(rename = "reload")]
    Reload(Reload),
    #[serde(rename = "metrics")]
    Metrics(Metrics),
}

impl Request {
    /// Whether a member of the status group may call it: it changes nothing.
    pub(crate) fn is_read_only(&self) -> bool {
        matches!(
            self,
            Request::Status(_)
                | Request::JobsList(_)
                | Request::RunsList(_)
                | Request::RunGet(_)
                | Request::DeadList(_)
                | Request::Metrics(_)
        )
    }

    /// Its wire name (`runs.list`), as serde spells it.
    pub(crate) fn method(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.get("method").and_then(Value::as_str).map(String::from))
            .unwrap_or_default()
    }

    /// The method called `name`, with default params; `None` when there is none.
    pub(crate) fn named(name: &str) -> Option<Request> {
        METHODS
            .iter()
            .find(|(method, _)| method == name)
            .map(|(_, request)| request.clone())
    }

    /// Every method's wire name, in declaration order.
    pub(crate) fn methods() -> Vec<String> {
        METHODS.iter().map(|(method, _)| method.clone()).collect()
    }

    /// The wire names of the methods the status group may call.
    pub(crate) fn read_only_methods() -> Vec<String> {
        METHODS
            .iter()
            .filter(|(_, request)| request.is_read_only())
            .map(|(method, _)| method.clone())
            .collect()
    }

    /// Answers this request with its handler in `api`, encoded for the wire. The one
    /// place a method meets its handler: `encode::<M>` checks that the handler answers
    /// with `M::Answer`.
    pub(crate) async fn answer(self, api: &dyn Api) -> Result<Value, ApiError> {
        match self {
            Request::Status(p) => encode::<Status>(api.status(p).await),
            Request::JobsList(p) => encode::<JobsList>(api.jobs_list(p).await),
            Request::JobRun(p) => encode::<JobRun>(api.job_run(p).await),
            Request::JobPause(p) => encode::<JobPause>(api.job_pause(p).await),
            Request::JobResume(p) => encode::<JobResume>(api.job_resume(p).await),
            Request::RunsList(p) => encode::<RunsList>(api.runs_list(p).await),
            Request::RunGet(p) => encode::<RunGet>(api.run_get(p).await),
            Request::RunCancel(p) => encode::<RunCancel>(api.run_cancel(p).await),
            Request::DeadList(p) => encode::<DeadList>(api.dead_list(p).await),
            Request::RunRetry(p) => encode::<RunRetry>(api.run_retry(p).await),
            Request::Reload(p) => encode::<Reload>(api.reload(p).await),
            Request::Metrics(p) => encode::<Metrics>(api.metrics(p).await),
        }
    }
}

/// Every method's wire name with a request of it (default params), listed from the enum
/// once: every request line looks its method up here.
static METHODS: LazyLock<Vec<(String, Request)>> =
    LazyLock::new(|| Request::iter().map(|r| (r.method(), r)).collect());

/// What the daemon offers over the socket: one handler per method.
#[async_trait]
pub(crate) trait Api: Send + Sync + 'static {
    async fn status(&self, params: Status) -> Result<StatusInfo, ApiError>;
    async fn jobs_list(&self, params: JobsList) -> Result<Vec<JobInfo>, ApiError>;
    async fn job_run(&self, params: JobRun) -> Result<RunStarted, ApiError>;
    async fn job_pause(&self, params: JobPause) -> Result<Ack, ApiError>;
    async fn job_resume(&self, params: JobResume) -> Result<Ack, ApiError>;
    async fn runs_list(&self, params: RunsList) -> Result<Vec<RunSummary>, ApiError>;
    async fn run_get(&self, params: RunGet) -> Result<RunSummary, ApiError>;
    async fn run_cancel(&self, params: RunCancel) -> Result<Ack, ApiError>;
    async fn dead_list(&self, params: DeadList) -> Result<Vec<DeadItemInfo>, ApiError>;
    async fn run_retry(&self, params: RunRetry) -> Result<Ack, ApiError>;
    async fn reload(&self, params: Reload) -> Result<Ack, ApiError>;
    async fn metrics(&self, params: Metrics) -> Result<MetricsText, ApiError>;
}

/// The params of one method, and the type of its answer.
pub(crate) trait Method: Into<Request> {
    type Answer: Serialize + DeserializeOwned;
}

fn encode<M: Method>(answer: Result<M::Answer, ApiError>) -> Result<Value, ApiError> {
    serde_json::to_value(answer?)
        .map_err(|e| ApiError::internal(format!("cannot encode the answer: {e}")))
}

/// `impl Method` (the answer's type) and `From<Params> for Request` for each method.
macro_rules! answers {
    ($($params:ident => $answer:ty,)*) => {$(
        impl Method for $params {
            type Answer = $answer;
        }
        impl From<$params> for Request {
            fn from(params: $params) -> Request {
                Request::$params(params)
            }
        }
    )*};
}

answers! {
    Status => StatusInfo,
    JobsList => Vec<JobInfo>,
    JobRun => RunStarted,
    JobPause => Ack,
    JobResume => Ack,
    RunsList => Vec<RunSummary>,
    RunGet => RunSummary,
    RunCancel => Ack,
    DeadList => Vec<DeadItemInfo>,
    RunRetry => Ack,
    Reload => Ack,
    Metrics => MetricsText,
}

/// `status`: daemon health. No params.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Status {}

/// `jobs.list`: the loaded jobs. No params.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobsList {}

/// `job.run`: start a run of `job` now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobRun {
    pub job: String,
}

/// `job.pause`: stop leasing `job`'s items.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobPause {
    pub job: String,
}

/// `job.resume`: lease `job`'s items again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobResume {
    pub job: String,
}

/// `runs.list`: one page of runs, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunsList {
    /// Only this job's runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// At most this many runs (absent: [`PageLimit::DEFAULT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<PageLimit>,
    /// Only runs started before this run (its id); the next page starts before the
    /// last run of this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
}

impl RunsList {
    /// How many runs the page holds at most.
    pub(crate) fn limit(&self) -> usize {
        self.limit.unwrap_or_default().get()
    }
}

/// `run.get`: one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunGet {
    pub run: String,
}

/// `run.cancel`: stop a run; its partial output stays.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunCancel {
    pub run: String,
}

/// `dead.list`: dead items, of one job or all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeadList {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
}

/// `run.retry`: requeue a run's dead items.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunRetry {
    pub run: String,
}

/// `reload`: read the config and the job files again. No params.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Reload {}

/// `metrics`: Prometheus text. No params.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Metrics {}

/// `status`: daemon health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StatusInfo {
    pub version: String,
    pub pid: u32,
    pub uptime_secs: u64,
    pub state_dir: String,
    pub jobs_dir: String,
    /// Items by state over all unfinished runs.
    pub queue: ItemCounts,
    pub runs_active: usize,
    pub jobs: usize,
    pub accounts: Vec<AccountStatus>,
    /// Job files that were rejected, with file:line:col and why.
    pub invalid_job_files: Vec<InvalidJobFile>,
    /// What is legal but probably a mistake or unsafe: a secret file every user may
    /// read, a schedule firing every second. `PATH: key: why`.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Set while the state or output storage cannot be written (nothing is leased
    /// meanwhile; the daemon resumes by itself once writes succeed).
    #[serde(default)]
    pub storage: Option<StorageStatus>,
    /// Where the queue is kept (absent from daemons older than the `[queue]` section:
    /// sled).
    #[serde(default)]
    pub queue_backend: Option<QueueBackendStatus>,
    /// The daemons sharing this queue (PostgreSQL only; absent on sled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterStatus>,
}

/// The daemons sharing one PostgreSQL queue, as this one last saw them (its heartbeat
/// round, about every second).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ClusterStatus {
    /// This daemon's part of each account's `requests_per_second` and
    /// `max_concurrency`: `1/N` of N live daemons.
    pub share: String,
    /// The live daemons, by node name.
    pub nodes: Vec<NodeStatus>,
}

/// One live daemon of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NodeStatus {
    pub node: String,
    pub host: String,
    pub pid: u32,
    /// RFC 3339: when this daemon started beating.
    pub started_at: String,
    /// RFC 3339: its last heartbeat.
    pub heartbeat_at: String,
    /// Whether this is the daemon that answered.
    pub this: bool,
    /// The runs whose output file this daemon writes now.
    pub writes: Vec<String>,
}

/// The queue's backend, as `status` shows it: `sled`, or `postgres` with the schema and
/// this daemon's node name (never the URL: it may carry a password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct QueueBackendStatus {
    pub backend: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// A storage fault, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StorageStatus {
    /// `disk_full`, `read_only` or `io_error`.
    pub state: String,
    /// What failed, with the operating system's words.
    pub detail: String,
    /// RFC 3339: since when.
    pub since: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AccountStatus {
    pub name: String,
    pub vendor: String,
    /// `ok`, `snoozed` (vendor asked us to wait), `auth_failed` (credentials rejected),
    /// `account_suspended` (the vendor suspended the account) or `broken` (its config
    /// entry does not resolve, e.g. a missing secret file; `detail` says why).
    pub state: String,
    /// Why, when not `ok` (never a secret).
    pub detail: Option<String>,
    /// RFC 3339, when `snoozed`.
    pub until: Option<String>,
    pub in_flight: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct InvalidJobFile {
    pub path: String,
    /// `PATH:LINE:COL: message`.
    pub error: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ItemCounts {
    pub ready: u64,
    pub leased: u64,
    pub snoozed: u64,
    pub staged: u64,
    pub done: u64,
    pub dead: u64,
}

/// `jobs.list` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct JobInfo {
    pub name: String,
    pub vendor: String,
    pub account: String,
    pub schedule: Option<String>,
    /// RFC 3339.
    pub next_fire: Option<String>,
    pub last_run: Option<String>,
    /// `idle`, `running`, `paused` or `disabled`.
    pub state: String,
    pub file: String,
}

/// `runs.list` / `run.get` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RunSummary {
    pub id: String,
    pub job: String,
    /// `running`, `succeeded`, `failed` or `cancelled`.
    pub state: String,
    pub items: ItemCounts,
    /// Lines written to the run's file.
    pub records: u64,
    /// Path of the run's file (`.jsonl.partial` while running).
    pub output: String,
    /// RFC 3339.
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Why dredge itself stopped the run (its output file was removed, its recovery
    /// failed), when it did.
    #[serde(default)]
    pub reason: Option<String>,
}

/// `dead.list` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DeadItemInfo {
    pub run: String,
    pub job: String,
    /// What failed: the URL, query, task or page URL.
    pub what: String,
    /// The last error text.
    pub error: String,
    pub attempts: u32,
}

/// `job.run` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RunStarted {
    pub run: String,
}

/// Result of commands that change something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Ack {
    pub message: String,
}

/// `metrics` result: Prometheus text exposition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MetricsText {
    pub text: String,
}

#[cfg(test)]
mod tests;
