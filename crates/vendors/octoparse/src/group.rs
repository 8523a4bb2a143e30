//! A task group expands into one item per task (`GET /api/task?taskgroupid=` legacy,
//! `GET /task/search?taskGroupId=` OpenAPI).

use crate::account::OctoparseFlavor;
use dredge_core::{Completion, Outcome};
use serde_json::Value;

use crate::api::{Api, Call};
use crate::rows::shape;
use crate::step::Plan;

pub(crate) async fn expand(api: &Api, plan: Plan, group: &str) -> Outcome {
    let call = match api.flavor {
        OctoparseFlavor::Legacy => Call::get("/api/task", vec![("taskgroupid", group.into())]),
        OctoparseFlavor::Openapi => Call::get("/task/search", vec![("taskGroupId", group.into())]),
    };
    let data = match api.call(call).await {
        Ok(data) => data,
        Err(outcome) => return outcome,
    };
    let Some(tasks) = data.as_array() else {
        return shape("the task list is not a list");
    };
    let ids: Vec<String> = tasks.iter().filter_map(task_id).collect();
    if ids.len() != tasks.len() {
        return shape("a task without a taskId");
    }
    if ids.is_empty() {
        tracing::warn!(group, "task group has no tasks (or is not this account's)");
    }
    Outcome::Done(Completion {
        follow_ups: ids
            .into_iter()
            .map(|id| plan.first_step(id).item())
            .collect(),
        ..Completion::default()
    })
}

/// `taskId` as the string it is documented to be (or a number, tolerated).
fn task_id(task: &Value) -> Option<String> {
    match task.get("taskId")? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
