//! `mode = "unexported"`: draining rows the vendor has not exported yet.
//!
//! The read is destructive on the vendor side, so every batch's completion carries
//! its rows *and* the continuation together; the daemon stages both in one atomic step
//! before anything else happens. With an acknowledged read (legacy `getTop` +
//! `update`, OpenAPI `/data/notexported` + `/data/markexported`) the fetch's completion
//! carries the rows and an ack item, and only the ack item — run after the rows are
//! staged — tells the vendor they are exported: a crash anywhere neither loses nor
//! duplicates a row (a fetch repeated before the ack returns the same rows).

use crate::account::OctoparseFlavor;
use dredge_core::{Completion, Outcome};
use serde_json::{Value, json};

use crate::api::Call;
use crate::paging::TaskCtx;
use crate::rows::{count, list, records};
use crate::step::Step;

/// Legacy destructive read, `GET /api/notexportdata?taskid&size`.
pub(crate) async fn drain(ctx: &TaskCtx<'_>, batch: u32) -> Outcome {
    let call = Call::get("/api/notexportdata", task_and_size(ctx, "taskid"));
    let data = match ctx.api.call(call).await {
        Ok(data) => data,
        Err(outcome) => return outcome,
    };
    let rows = match list(&data, "dataList") {
        Ok(rows) => rows,
        Err(outcome) => return outcome,
    };
    let follow_ups = if more_left(&data, rows, ctx.size) {
        let task = ctx.task.to_string();
        vec![
            Step::Drain {
                task,
                batch: batch.saturating_add(1),
            }
            .item(),
        ]
    } else {
        Vec::new()
    };
    Outcome::Done(Completion {
        records: records(ctx.task, ctx.label, rows),
        follow_ups,
        ..Completion::default()
    })
}

/// Acknowledged read: legacy `GET /api/notExportData/getTop?taskId&size`, OpenAPI
/// `GET /data/notexported?taskId&size`.
pub(crate) async fn fetch(ctx: &TaskCtx<'_>, batch: u32) -> Outcome {
    let (call, key) = match ctx.api.flavor {
        OctoparseFlavor::Legacy => (
            Call::get("/api/notExportData/getTop", task_and_size(ctx, "taskId")),
            "dataList",
        ),
        OctoparseFlavor::Openapi => (
            Call::get("/data/notexported", task_and_size(ctx, "taskId")),
            "data",
        ),
    };
    let data = match ctx.api.call(call).await {
        Ok(data) => data,
        Err(outcome) => return outcome,
    };
    let rows = match list(&data, key) {
        Ok(rows) => rows,
        Err(outcome) => return outcome,
    };
    if rows.is_empty() {
        return Outcome::records(Vec::new());
    }
    let ack = Step::Ack {
        task: ctx.task.to_string(),
        batch,
        more: more_left(&data, rows, ctx.size),
    };
    Outcome::Done(Completion {
        records: records(ctx.task, ctx.label, rows),
        follow_ups: vec![ack.item()],
        ..Completion::default()
    })
}

/// Acknowledge the fetched batch: legacy `POST /api/notExportData/update?taskId`,
/// OpenAPI `POST /data/markexported {"taskId"}`. Repeating it after a crash is
/// harmless: with nothing fetched since, there is nothing to mark.
pub(crate) async fn ack(ctx: &TaskCtx<'_>, batch: u32, more: bool) -> Outcome {
    let task = ctx.task.to_string();
    let call = match ctx.api.flavor {
        OctoparseFlavor::Legacy => Call::post(
            "/api/notExportData/update",
            vec![("taskId", task.clone())],
            None,
        ),
        OctoparseFlavor::Openapi => Call::post(
            "/data/markexported",
            Vec::new(),
            Some(json!({ "taskId": task })),
        ),
    };
    if let Err(outcome) = ctx.api.call(call).await {
        return outcome;
    }
    let next = Step::Fetch {
        task,
        batch: batch.saturating_add(1),
    };
    Outcome::Done(Completion {
        follow_ups: if more { vec![next.item()] } else { Vec::new() },
        ..Completion::default()
    })
}

fn task_and_size(ctx: &TaskCtx<'_>, task_param: &'static str) -> Vec<(&'static str, String)> {
    vec![
        (task_param, ctx.task.to_string()),
        ("size", ctx.size.to_string()),
    ]
}

/// Whether another batch may hold rows. `total` counts the unexported rows before this
/// read (the simulator and the docs' example), but a full batch is read as "maybe more"
/// whatever `total` says, so a server counting after the read still drains fully; the
/// price is one empty read at the end.
fn more_left(data: &Value, rows: &[Value], size: u32) -> bool {
    let taken = rows.len() as u64;
    taken > 0 && (taken >= u64::from(size) || count(data, "total").is_some_and(|t| t > taken))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_batch_ends_the_drain() {
        assert!(!more_left(&json!({"total": 5}), &[], 10));
    }

    #[test]
    fn a_short_batch_with_nothing_left_ends_the_drain() {
        let rows = vec![json!({}); 3];
        assert!(!more_left(&json!({"total": 3}), &rows, 10));
        assert!(more_left(&json!({"total": 4}), &rows, 10));
    }

    #[test]
    fn a_full_batch_always_asks_again() {
        let rows = vec![json!({}); 10];
        assert!(more_left(&json!({"total": 10}), &rows, 10));
    }
}
