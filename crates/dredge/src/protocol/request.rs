//! The methods: one [`Request`] variant per method, its params type, the type of its
//! answer, and the [`Api`] handler that answers it.
//!
//! The wire form is serde's adjacently tagged enum: `{"method": NAME, "params": {...}}`,
//! which the JSON-RPC envelope (`jsonrpc`, `id`) wraps. Params are named fields; a
//! method without params takes none, `null`, `{}` or `[]` (the server reads the absent
//! ones as `{}`, so a missing field is named in the error).

use async_trait::async_trait;
use serde::de::{self, DeserializeOwned, Deserializer, Unexpected, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use strum::{EnumIter, IntoEnumIterator};

use super::{
    Ack, ApiError, DeadItemInfo, JobInfo, MetricsText, RunStarted, RunSummary, StatusInfo,
};

/// One call to the daemon: the method and its params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, EnumIter)]
#[serde(tag = "method", content = "params")]
pub enum Request {
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
    pub fn is_read_only(&self) -> bool {
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
    pub fn method(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.get("method").and_then(Value::as_str).map(String::from))
            .unwrap_or_default()
    }

    /// The method called `name`, with default params; `None` when there is none.
    pub fn named(name: &str) -> Option<Request> {
        Request::iter().find(|r| r.method() == name)
    }

    /// Every method's wire name, in declaration order.
    pub fn methods() -> Vec<String> {
        Request::iter().map(|r| r.method()).collect()
    }

    /// The wire names of the methods the status group may call.
    pub fn read_only_methods() -> Vec<String> {
        Request::iter()
            .filter(Request::is_read_only)
            .map(|r| r.method())
            .collect()
    }

    /// Answers this request with its handler in `api`, encoded for the wire. The one
    /// place a method meets its handler: `encode::<M>` checks that the handler answers
    /// with `M::Answer`.
    pub async fn answer(self, api: &dyn Api) -> Result<Value, ApiError> {
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

/// What the daemon offers over the socket: one handler per method.
#[async_trait]
pub trait Api: Send + Sync + 'static {
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
pub trait Method: Into<Request> {
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
pub struct Status {}

/// `jobs.list`: the loaded jobs. No params.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsList {}

/// `job.run`: start a run of `job` now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobRun {
    pub job: String,
}

/// `job.pause`: stop leasing `job`'s items.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobPause {
    pub job: String,
}

/// `job.resume`: lease `job`'s items again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobResume {
    pub job: String,
}

/// `runs.list`: one page of runs, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunsList {
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
    pub fn limit(&self) -> usize {
        self.limit.unwrap_or_default().get()
    }
}

/// The size of a `runs.list` page: 1..=1000. Bigger pages would let one call hold the
/// daemon's answer (and the client's memory) hostage to the length of the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PageLimit(u16);

impl PageLimit {
    pub const MAX: u16 = 1000;
    pub const DEFAULT: PageLimit = PageLimit(50);

    /// `None` outside 1..=[`PageLimit::MAX`].
    pub fn new(n: u64) -> Option<PageLimit> {
        u16::try_from(n)
            .ok()
            .filter(|n| (1..=Self::MAX).contains(n))
            .map(PageLimit)
    }

    pub fn get(self) -> usize {
        usize::from(self.0)
    }
}

impl Default for PageLimit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl<'de> Deserialize<'de> for PageLimit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LimitVisitor;
        impl Visitor<'_> for LimitVisitor {
            type Value = PageLimit;
            // Serde's messages name the expectation, not the field: say the field here.
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "`limit` as a whole number in 1..={}", PageLimit::MAX)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<PageLimit, E> {
                PageLimit::new(n).ok_or_else(|| E::invalid_value(Unexpected::Unsigned(n), &self))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<PageLimit, E> {
                u64::try_from(n)
                    .ok()
                    .and_then(PageLimit::new)
                    .ok_or_else(|| E::invalid_value(Unexpected::Signed(n), &self))
            }
        }
        deserializer.deserialize_u64(LimitVisitor)
    }
}

/// `run.get`: one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunGet {
    pub run: String,
}

/// `run.cancel`: stop a run; its partial output stays.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunCancel {
    pub run: String,
}

/// `dead.list`: dead items, of one job or all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadList {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
}

/// `run.retry`: requeue a run's dead items.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRetry {
    pub run: String,
}

/// `reload`: read the config and the job files again. No params.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reload {}

/// `metrics`: Prometheus text. No params.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {}

#[cfg(test)]
mod tests;
