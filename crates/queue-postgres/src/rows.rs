//! Rows read back as the queue's types: one SELECT list per type, and its reader.

use dredge_queue::{
    ItemCounts, ItemInfo, ItemState, OutputCursor, PlanCursor, RunId, RunInfo, RunState,
};
use tokio_postgres::Row;

use crate::sql::{item_id, time};

/// The columns `run_info` reads, from `runs r` joined with its planning cursor `p`.
pub(crate) const RUN_COLUMNS: &str = "SELECT r.id, r.job, r.lane, r.spec, r.state, \
     r.started_at, r.finished_at, r.deadline, r.max_attempts, r.ready, r.leased, r.snoozed, \
     r.staged, r.done, r.dead, r.cursor_bytes, r.cursor_records, r.reason, p.input, \
     p.input_offset, p.planned, p.items_done, p.total \
     FROM runs r LEFT JOIN plan_cursors p ON p.run = r.id";

pub(crate) fn run_info(row: &Row) -> RunInfo {
    let n = |i: usize| row.get::<_, i64>(i) as u64;
    let planning = row.get::<_, Option<String>>(18).map(|input| PlanCursor {
        input,
        offset: n(19),
        planned: n(20),
        items_done: n(21),
        total: n(22),
    });
    RunInfo {
        id: RunId(row.get(0)),
        job: row.get(1),
        lane: row.get(2),
        spec_snapshot: row.get(3),
        state: run_state(row.get(4)),
        started_at: time(row.get(5)),
        finished_at: row.get::<_, Option<i64>>(6).map(time),
        deadline: row.get::<_, Option<i64>>(7).map(time),
        max_attempts: row.get::<_, i32>(8) as u32,
        counts: ItemCounts {
            ready: n(9),
            leased: n(10),
            snoozed: n(11),
            staged: n(12),
            done: n(13),
            dead: n(14),
        },
        cursor: OutputCursor {
            bytes: n(15),
            records: n(16),
        },
        reason: row.get(17),
        planning,
    }
}

pub(crate) fn run_state(stored: &str) -> RunState {
    match stored {
        "succeeded" => RunState::Succeeded,
        "failed" => RunState::Failed,
        "cancelled" => RunState::Cancelled,
        _ => RunState::Running,
    }
}

/// The columns `item_info` reads, from `items`.
pub(crate) const ITEM_COLUMNS: &str = "SELECT id, run, label, payload, scope, attempts, polls, \
     state, not_before, lease_until, dead_reason, last_error, note FROM items";

pub(crate) fn item_info(row: &Row) -> ItemInfo {
    let not_before = time(row.get(8));
    let state = match row.get::<_, &str>(7) {
        "ready" => ItemState::Ready { not_before },
        "snoozed" => ItemState::Snoozed { until: not_before },
        "leased" => ItemState::Leased {
            until: time(row.get::<_, Option<i64>>(9).unwrap_or(0)),
        },
        "staged" => ItemState::Staged,
        "done" => ItemState::Done,
        _ => ItemState::Dead {
            reason: row.get::<_, Option<String>>(10).unwrap_or_default(),
        },
    };
    ItemInfo {
        id: item_id(row.get(0)),
        run: RunId(row.get(1)),
        label: row.get(2),
        payload: row.get(3),
        scope: row.get(4),
        attempts: row.get::<_, i32>(5) as u32,
        polls: row.get::<_, i32>(6) as u32,
        state,
        last_error: row.get(11),
        note: row.get(12),
    }
}
