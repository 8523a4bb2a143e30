//! What one item does, carried in its payload: everything needed to execute it after a
//! restart, because the executor keeps no state of its own (only the token cache).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::account::OctoparseFlavor;
use dredge_core::NewItem;
use dredge_core::job::OctoparseMode;

/// One item's work. Encoded as JSON in the item's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// List the tasks of a task group; one follow-up per task.
    Group { group: String },
    /// `mode = "all"` by page index (1-based) of legacy `/api/alldata`. Page 1 plans
    /// the remaining pages from the `total` it reports. No longer planned (page
    /// numbers shift while a task is still extracting); kept so items queued by an
    /// earlier dredge still run.
    Page { task: String, index: u32 },
    /// `mode = "all"`: the page at an opaque `offset` (none = the start), from the
    /// OpenAPI's `/data/all` or, with `legacy`, the Data API's
    /// `getDataOfTaskByOffset`. Each page plans the next, because offsets cannot be
    /// computed ahead; offsets do not shift while the task is still extracting.
    OffsetPage {
        task: String,
        offset: Option<Value>,
        page: u32,
        #[serde(default)]
        legacy: bool,
    },
    /// `mode = "unexported"`, legacy destructive read: one batch; its completion
    /// carries the rows and the next batch together.
    Drain { task: String, batch: u32 },
    /// `mode = "unexported"`, acknowledged read (`getTop` / `/data/notexported`):
    /// one batch; its completion carries the rows and the [`Step::Ack`] together.
    Fetch { task: String, batch: u32 },
    /// Acknowledge the batch fetched before (`update` / `/data/markexported`), only
    /// once its rows are staged; its completion carries the next fetch when `more`.
    Ack {
        task: String,
        batch: u32,
        more: bool,
    },
}

/// How a run reads each task, from the job and the account. It only chooses a task's
/// first step; every later step follows from the payload before it, so a batch fetched
/// with an acknowledged read is acknowledged even if the configuration changed since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub mode: OctoparseMode,
    pub flavor: OctoparseFlavor,
    /// Read unexported rows with an explicit acknowledgement: the legacy API with
    /// `unexported_ack = true`, and always on the OpenAPI (whose read stages rows until
    /// `/data/markexported`).
    pub acknowledged: bool,
}

impl Plan {
    /// The first step of reading task `task`.
    pub fn first_step(&self, task: String) -> Step {
        match (self.mode, self.flavor) {
            (OctoparseMode::All, flavor) => Step::OffsetPage {
                task,
                offset: None,
                page: 1,
                legacy: flavor == OctoparseFlavor::Legacy,
            },
            (OctoparseMode::Unexported, _) if self.acknowledged => Step::Fetch { task, batch: 1 },
            (OctoparseMode::Unexported, _) => Step::Drain { task, batch: 1 },
        }
    }
}

impl Step {
    /// The label shown in `dredge dead` and written as each record's `item`.
    pub fn label(&self) -> String {
        match self {
            Step::Group { group } => format!("task group {group}"),
            Step::Page { task, index } => format!("task {task} page {index}"),
            Step::OffsetPage { task, page, .. } => format!("task {task} page {page}"),
            Step::Drain { task, batch } | Step::Fetch { task, batch } => {
                format!("task {task} drain {batch}")
            }
            Step::Ack { task, batch, .. } => format!("task {task} ack {batch}"),
        }
    }

    /// Unique per run, so a step planned twice (a task listed twice, a group naming a
    /// task twice) runs once.
    fn dedupe_key(&self) -> String {
        match self {
            Step::Group { group } => format!("group:{group}"),
            Step::Page { task, index } => format!("task:{task}:page:{index}"),
            Step::OffsetPage { task, page, .. } => format!("task:{task}:page:{page}"),
            Step::Drain { task, batch } | Step::Fetch { task, batch } => {
                format!("task:{task}:drain:{batch}")
            }
            Step::Ack { task, batch, .. } => format!("task:{task}:ack:{batch}"),
        }
    }

    /// The step as a ready item.
    pub fn item(&self) -> NewItem {
        let payload = serde_json::to_vec(self).unwrap_or_default();
        NewItem::ready(self.label(), payload).with_dedupe_key(self.dedupe_key())
    }

    pub fn decode(payload: &[u8]) -> Result<Step, serde_json::Error> {
        serde_json::from_slice(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_survives_its_payload() {
        let steps = [
            Step::Group { group: "84".into() },
            Step::Page {
                task: "t".into(),
                index: 3,
            },
            Step::OffsetPage {
                task: "t".into(),
                offset: Some(Value::from(4711)),
                page: 2,
                legacy: true,
            },
            Step::Drain {
                task: "t".into(),
                batch: 0,
            },
            Step::Fetch {
                task: "t".into(),
                batch: 1,
            },
            Step::Ack {
                task: "t".into(),
                batch: 1,
                more: true,
            },
        ];
        for step in steps {
            let item = step.item();
            assert_eq!(Step::decode(&item.payload).expect("decodes"), step);
            assert_eq!(item.label, step.label());
        }
    }

    #[test]
    fn an_offset_page_queued_before_the_legacy_flag_reads_as_the_openapi() {
        let old = br#"{"step":"offset_page","task":"t","offset":"4","page":2}"#;
        match Step::decode(old).expect("decodes") {
            Step::OffsetPage { legacy, .. } => assert!(!legacy),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn mode_all_reads_by_offset_in_both_flavors() {
        for flavor in [OctoparseFlavor::Legacy, OctoparseFlavor::Openapi] {
            let plan = Plan {
                mode: OctoparseMode::All,
                flavor,
                acknowledged: false,
            };
            match plan.first_step("t".into()) {
                Step::OffsetPage { legacy, offset, .. } => {
                    assert_eq!(legacy, flavor == OctoparseFlavor::Legacy);
                    assert_eq!(offset, None);
                }
                other => panic!("{flavor:?}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn labels_name_the_task_and_the_page() {
        let page = Step::Page {
            task: "7a1b".into(),
            index: 3,
        };
        assert_eq!(page.label(), "task 7a1b page 3");
    }
}
