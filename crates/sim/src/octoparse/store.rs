//! Reads of the account's data as both API flavors need them: pages, opaque-offset
//! pages, destructive unexported reads, and staged reads with an acknowledgement — all
//! recording what they hand out in the ledger.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

use super::data::{ExportState, LedgerEntry, Task, TaskGroup, row_key};
use super::lock;

/// The generated data plus its export state and ledger.
#[derive(Debug)]
pub(super) struct Store {
    pub groups: Vec<TaskGroup>,
    exports: Mutex<HashMap<String, ExportState>>,
    ledger: Mutex<Vec<LedgerEntry>>,
}

/// Rows for an unexported read and how many were unexported before it.
pub(super) struct Unexported {
    pub left_before: usize,
    pub rows: Vec<Value>,
}

/// One opaque-offset page.
pub(super) struct OffsetPage {
    /// The offset to ask for next (unchanged when nothing was returned).
    pub next_offset: u64,
    pub total: usize,
    pub rest_total: usize,
    pub rows: Vec<Value>,
}

impl Store {
    pub(super) fn new(groups: Vec<TaskGroup>) -> Self {
        Store {
            groups,
            exports: Mutex::default(),
            ledger: Mutex::default(),
        }
    }

    pub(super) fn task(&self, id: &str) -> Option<&Task> {
        self.groups
            .iter()
            .flat_map(|g| &g.tasks)
            .find(|t| t.id.eq_ignore_ascii_case(id.trim()))
    }

    pub(super) fn ledger(&self) -> Vec<LedgerEntry> {
        lock(&self.ledger).clone()
    }

    /// Rows not yet exported (staged rows count as not exported).
    pub(super) fn unexported(&self, task: &Task) -> usize {
        let exported = lock(&self.exports).get(&task.id).map_or(0, |s| s.exported);
        task.rows.len() - exported
    }

    /// Page `index` (1-based) of `size` rows.
    pub(super) fn page(task: &Task, index: usize, size: usize) -> Vec<Value> {
        let start = index.saturating_sub(1).saturating_mul(size);
        let end = start.saturating_add(size).min(task.rows.len());
        task.rows.get(start..end).unwrap_or_default().to_vec()
    }

    // docs/vendors/octoparse.md §"Reading all data (legacy)": the offset returned is opaque
    // (not offset + size); a client must use it as given.
    /// Up to `size` rows from the opaque `offset`.
    pub(super) fn by_offset(task: &Task, offset: u64, size: usize) -> OffsetPage {
        let start = task.index_of(offset);
        let end = start.saturating_add(size).min(task.rows.len());
        let next_offset = if end > start {
            task.offset_of(end)
        } else {
            offset
        };
        OffsetPage {
            next_offset,
            total: task.rows.len(),
            rest_total: task.rows.len() - end,
            rows: task.rows[start..end].to_vec(),
        }
    }

    // docs/vendors/octoparse.md §"Unexported data (legacy)".
    /// The legacy destructive read: the oldest `size` unexported rows, exported at once.
    pub(super) fn take(&self, task: &Task, size: usize) -> Unexported {
        let mut exports = lock(&self.exports);
        let state = exports.entry(task.id.clone()).or_default();
        let start = state.exported;
        let end = start.saturating_add(size).min(task.rows.len());
        state.exported = end;
        state.staged_end = None;
        drop(exports);
        self.record(task, start..end, "notexportdata");
        Unexported {
            left_before: task.rows.len() - start,
            rows: task.rows[start..end].to_vec(),
        }
    }

    /// The acknowledged read: stage the oldest `size` unexported rows; asking again
    /// before [`Store::ack`] returns the same rows.
    pub(super) fn stage(&self, task: &Task, size: usize) -> Unexported {
        let mut exports = lock(&self.exports);
        let state = exports.entry(task.id.clone()).or_default();
        let start = state.exported;
        let end = start.saturating_add(size).min(task.rows.len());
        state.staged_end = Some(end);
        Unexported {
            left_before: task.rows.len() - start,
            rows: task.rows[start..end].to_vec(),
        }
    }

    /// Mark the staged rows exported; returns how many there were.
    pub(super) fn ack(&self, task: &Task, via: &'static str) -> usize {
        let mut exports = lock(&self.exports);
        let state = exports.entry(task.id.clone()).or_default();
        let Some(end) = state.staged_end.take() else {
            return 0;
        };
        let start = state.exported;
        state.exported = end.max(start);
        drop(exports);
        self.record(task, start..end, via);
        end.saturating_sub(start)
    }

    fn record(&self, task: &Task, range: std::ops::Range<usize>, via: &'static str) {
        let rows = task.rows.get(range).unwrap_or_default();
        let mut ledger = lock(&self.ledger);
        ledger.extend(rows.iter().map(|row| LedgerEntry {
            task_id: task.id.clone(),
            row_key: row_key(row),
            via,
        }));
    }
}
