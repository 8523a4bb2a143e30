//! What each WDS answer means (README "Retry rules"): 202 → not ready (no attempt), 400
//! → dead with the server's text, 401 → credentials rejected, 403/422 → dead with the
//! task's `TaskState` and `Error` from `/info`, 404 → dead (task gone), 5xx/timeouts →
//! counted retry; a 2xx body that does not parse is transient.

use dredge_core::http::classify_status;
use dredge_core::{Answer, Failure, FailureClass, Outcome};
use serde::Deserialize;
use serde_json::Value;

use crate::api::Stop;
use crate::task_state;

/// Longest piece of a server's text kept in a dead reason.
pub(crate) const TEXT_MAX: usize = 500;

/// The parts of `DownloadTaskStatus` a dead reason needs.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TaskInfo {
    #[serde(rename = "Error", alias = "error", default)]
    error: Option<String>,
    #[serde(rename = "TaskState", alias = "taskState", default)]
    task_state: Option<Value>,
}

/// What a non-success answer means; `Ok` for a 2xx other than 202. `about_task`: the
/// call names a task, so a 404 means the task is gone.
pub(crate) fn classify(answer: Answer, about_task: bool, what: &str) -> Result<Answer, Stop> {
    match answer.status {
        202 => Err(Outcome::NotReady { after: None }),
        200..=299 => Ok(answer),
        400 => Err(Outcome::fatal(format!(
            "{what}: HTTP 400: {}",
            answer.text(TEXT_MAX)
        ))),
        401 => Err(Outcome::AuthFailed {
            message: format!(
                "WDS refused the credentials: HTTP 401: {}",
                answer.text(200)
            ),
        }),
        404 if about_task => Err(Outcome::fatal(format!(
            "task gone: HTTP 404: {}",
            answer.text(TEXT_MAX)
        ))),
        _ => Err(classify_status(&answer)
            .unwrap_or_else(|| Outcome::fatal(format!("HTTP {}", answer.status)))),
    }
}

/// `TaskState AccessDeniedForRobots: Access to … is denied by robots.txt (HTTP 422: …)`.
pub(crate) fn describe(info: Option<TaskInfo>, page_error: &str) -> String {
    let Some(info) = info else {
        return format!("{page_error} (task info unavailable)");
    };
    let state = info.task_state.as_ref().and_then(task_state::name);
    let error = info
        .error
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty());
    match (state, error) {
        (Some(state), Some(error)) => format!("TaskState {state}: {error} ({page_error})"),
        (Some(state), None) => format!("TaskState {state} ({page_error})"),
        (None, Some(error)) => format!("{error} ({page_error})"),
        (None, None) => page_error.to_string(),
    }
}

/// A 2xx body as `T`; anything else (a proxy's HTML page, a cut-off body) is transient.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    answer: &Answer,
    what: &str,
) -> Result<T, Stop> {
    answer.json().ok_or_else(|| {
        Outcome::Retry(Failure {
            class: FailureClass::Server,
            message: format!("unreadable answer to {what}: {}", answer.text(200)),
            retry_after: None,
            budget: None,
        })
    })
}
