//! `mode = "all"`: a full snapshot of a task, one item per page. Pages start at an
//! opaque offset only the previous page knows, so each page plans the next (both the
//! OpenAPI and the legacy Data API offer offsets; numbered pages of `/api/alldata`
//! shift while a task is still extracting, so they are read only for items queued by
//! an earlier dredge).

use dredge_core::{Completion, Outcome};
use serde_json::Value;

use crate::api::{Api, Call};
use crate::rows::{count, list, records};
use crate::step::Step;

/// What every step of a task needs.
pub(crate) struct TaskCtx<'a> {
    pub api: &'a Api,
    pub task: &'a str,
    pub label: &'a str,
    pub size: u32,
}

/// Legacy `GET /api/alldata?taskid&pageindex&pagesize`.
pub(crate) async fn page(ctx: &TaskCtx<'_>, index: u32) -> Outcome {
    let query = vec![
        ("taskid", ctx.task.to_string()),
        ("pageindex", index.to_string()),
        ("pagesize", ctx.size.to_string()),
    ];
    let data = match ctx.api.call(Call::get("/api/alldata", query)).await {
        Ok(data) => data,
        Err(outcome) => return outcome,
    };
    let rows = match list(&data, "dataList") {
        Ok(rows) => rows,
        Err(outcome) => return outcome,
    };
    let follow_ups = if index == 1 {
        let pages = count(&data, "total").map_or(1, |total| pages(total, ctx.size));
        (2..=pages)
            .map(|index| {
                let task = ctx.task.to_string();
                Step::Page { task, index }.item()
            })
            .collect()
    } else {
        Vec::new()
    };
    Outcome::Done(Completion {
        records: records(ctx.task, ctx.label, rows),
        follow_ups,
        ..Completion::default()
    })
}

/// Pages of `size` rows that hold `total` rows.
fn pages(total: u64, size: u32) -> u32 {
    let size = u64::from(size.max(1));
    u32::try_from(total.div_ceil(size)).unwrap_or(u32::MAX)
}

/// Where an offset read starts.
pub(crate) struct At<'a> {
    pub offset: Option<&'a Value>,
    pub page: u32,
    /// The legacy Data API (`getDataOfTaskByOffset`, rows in `dataList`) rather than
    /// the OpenAPI (`/data/all`, rows in `data`).
    pub legacy: bool,
}

/// `GET /data/all?taskId&offset&size` (OpenAPI) or
/// `GET /api/allData/getDataOfTaskByOffset?taskId&offset&size` (legacy): stop when the
/// page is empty, `restTotal` is 0, or the offset does not advance.
pub(crate) async fn offset_page(ctx: &TaskCtx<'_>, from: At<'_>) -> Outcome {
    let at = from.offset.map_or_else(|| "0".to_string(), offset_text);
    let query = vec![
        ("taskId", ctx.task.to_string()),
        ("offset", at.clone()),
        ("size", ctx.size.to_string()),
    ];
    let (path, list_key) = if from.legacy {
        ("/api/allData/getDataOfTaskByOffset", "dataList")
    } else {
        ("/data/all", "data")
    };
    let data = match ctx.api.call(Call::get(path, query)).await {
        Ok(data) => data,
        Err(outcome) => return outcome,
    };
    let rows = match list(&data, list_key) {
        Ok(rows) => rows,
        Err(outcome) => return outcome,
    };
    let next = data.get("offset").filter(|o| !o.is_null());
    let more = !rows.is_empty()
        && count(&data, "restTotal").is_none_or(|rest| rest > 0)
        && next.is_some_and(|n| offset_text(n) != at);
    let follow_ups = match next {
        Some(next) if more => vec![
            Step::OffsetPage {
                task: ctx.task.to_string(),
                offset: Some(next.clone()),
                page: from.page.saturating_add(1),
                legacy: from.legacy,
            }
            .item(),
        ],
        _ => Vec::new(),
    };
    Outcome::Done(Completion {
        records: records(ctx.task, ctx.label, rows),
        follow_ups,
        ..Completion::default()
    })
}

/// An opaque offset as a query value, exactly as the vendor sent it.
fn offset_text(offset: &Value) -> String {
    match offset {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cover_the_total() {
        assert_eq!(pages(0, 100), 0);
        assert_eq!(pages(1, 100), 1);
        assert_eq!(pages(250, 100), 3);
        assert_eq!(pages(300, 100), 3);
    }
}
