//! `[octoparse]` of a job file as written, and its checks: which tasks (ids or a task
//! group, exactly one), how to read them, rows per request. Field docs are the user
//! reference (README "Job files").

use std::ops::Range;

use dredge_core::FileError;
use dredge_core::job::values::Bounded;
use dredge_core::job::{
    JobSection, OctoparseJob, OctoparseMode, OctoparseTasks, SectionCtx, Vendor, VendorJob,
};
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOctoparse {
    task_ids: Option<Spanned<Vec<String>>>,
    task_group_id: Option<Spanned<StringOrInt>>,
    mode: Option<OctoparseMode>,
    /// Rows per request, 1..=1000 (default 1000).
    page_size: Option<Bounded<1, 1000>>,
}

/// Octoparse task group ids are integers in its API; accept both forms in files.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StringOrInt {
    String(String),
    Int(i64),
}

impl JobSection for RawOctoparse {
    const VENDOR: Vendor = Vendor::Octoparse;

    fn check(self, span: Range<usize>, ctx: &SectionCtx<'_>) -> Result<VendorJob, FileError> {
        let tasks = match (self.task_ids, self.task_group_id) {
            (Some(ids), None) if ids.get_ref().is_empty() => {
                return Err(ctx.err(ids.span(), "task_ids is empty: list at least one task id"));
            }
            (Some(ids), None) => OctoparseTasks::Ids(ids.into_inner()),
            (None, Some(group)) => OctoparseTasks::Group(match group.into_inner() {
                StringOrInt::String(s) => s,
                StringOrInt::Int(i) => i.to_string(),
            }),
            (Some(_), Some(group)) => {
                return Err(ctx.err(
                    group.span(),
                    "give either task_ids or task_group_id, not both",
                ));
            }
            (None, None) => {
                return Err(ctx.err(
                    span,
                    "[octoparse] needs task_ids = [...] or task_group_id = \"...\"",
                ));
            }
        };
        Ok(VendorJob::Octoparse(OctoparseJob {
            tasks,
            mode: self.mode.unwrap_or(OctoparseMode::Unexported),
            page_size: self.page_size.map_or(1000, |p| p.get() as u32),
        }))
    }
}
