//! Job files (`jobs_dir/NAME.toml`, README "Job files"): parsed into a [`JobSpec`] that
//! can only hold valid jobs. Every error names the file, line and column and says what
//! to do.

mod parse;
mod raw;
pub mod retention;
pub mod schedule;
mod section;
pub mod values;
pub mod vendors;
#[macro_use]
mod work;
pub mod zyte;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use parse::{is_ignored_file_name, load_job_file, parse_job, read_job_file};
pub use retention::{Retention, RetentionOverride, RetentionTable};
pub use schedule::Schedule;
pub use section::{JobSection, JobSections, SectionCtx, SectionParser};
pub use values::{HttpUrl, HumanDuration, JobName, Selector, toml_to_json};
pub use vendors::{
    AutoextractJob, CrawlDelay, InputList, OctoparseJob, OctoparseMode, OctoparseTasks,
    OxylabsDelivery, OxylabsInputs, OxylabsJob, OxylabsResults, PageType, Vendor, WdsField,
    WdsFollow, WdsJob, WdsRestart,
};
pub use work::{JobInputs, VendorWork, WrongVendor};
pub use zyte::{ZyteExtract, ZyteExtractFrom, ZyteJob};

use crate::error::FileError;
use crate::files;

/// A valid job, exactly as a run will use it (runs keep a snapshot of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    pub name: JobName,
    /// The account the job runs under (resolved: always set).
    pub account: String,
    pub schedule: Option<Schedule>,
    pub catch_up: CatchUp,
    pub overlap: Overlap,
    pub enabled: bool,
    /// Attempts per item for transient errors.
    pub max_attempts: u32,
    /// An item still unfinished this long after its run started is dead.
    pub deadline: Duration,
    pub work: VendorJob,
    /// The job's `[retention]` over the daemon's. Not part of a run's snapshot: it
    /// governs the job's history, so the current job file's word counts.
    #[serde(skip)]
    pub retention: RetentionOverride,
}

impl JobSpec {
    /// What is legal but probably a mistake: shown by `dredge validate` and logged when
    /// the daemon loads the job.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(s) = &self.schedule
            && s.fires_every_second()
        {
            out.push(format!(
                "schedule: {:?} fires every second: a new run each second (or a skipped fire, with overlap = \"skip\"); use 5 fields for once a minute",
                s.as_str()
            ));
        }
        out
    }

    pub fn vendor(&self) -> Vendor {
        self.work.vendor()
    }
}

vendor_jobs! {
    // Appended last only: run snapshots name variants by position.
    Octoparse(OctoparseJob),
    Oxylabs(OxylabsJob),
    Wds(WdsJob),
    Autoextract(AutoextractJob),
    Zyte(ZyteJob),
}

/// After downtime: one run for all missed fires, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CatchUp {
    #[default]
    Once,
    Skip,
}

/// A fire while a run of the job is still active: skip it, or queue one run for later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Overlap {
    #[default]
    Skip,
    Queue,
}

/// The accounts a job may name: account name → vendor (from the daemon config).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountIndex(pub BTreeMap<String, Vendor>);

impl AccountIndex {
    pub fn vendor_of(&self, name: &str) -> Option<Vendor> {
        self.0.get(name).copied()
    }

    pub fn names_for(&self, vendor: Vendor) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(_, v)| **v == vendor)
            .map(|(n, _)| n.as_str())
            .collect()
    }
}

/// What a job file may read: input files in its own directory or `inputs_dir`, each at
/// most `max_input_bytes`; the job file itself at most `max_job_bytes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRules {
    pub inputs_dir: Option<PathBuf>,
    pub max_input_bytes: u64,
    pub max_job_bytes: u64,
}

impl Default for FileRules {
    fn default() -> Self {
        FileRules {
            inputs_dir: None,
            max_input_bytes: files::DEFAULT_MAX_INPUT_FILE_BYTES,
            max_job_bytes: files::DEFAULT_MAX_JOB_FILE_BYTES,
        }
    }
}

/// Calls `f` with each value of the list in order (a file's lines trimmed, its blank
/// lines and `#` comments skipped) until it returns false. A file's path was resolved
/// and confined when the job loaded; it is refused now if a symlink has since been put
/// anywhere on it. A file is streamed: however large,
/// it is never held in memory whole. Returns how many values `f` saw.
pub fn for_each_input(
    list: &InputList,
    rules: &FileRules,
    mut f: impl FnMut(&str) -> Result<bool, String>,
) -> Result<u64, String> {
    let path = match list {
        InputList::Inline(values) => {
            let mut seen = 0;
            // Inline values go to the planner as written (it trims and judges them).
            for value in values {
                seen += 1;
                if !f(value)? {
                    break;
                }
            }
            return Ok(seen);
        }
        InputList::File(path) => path,
    };
    let fail = |m: String| format!("input file {}: {m}", path.display());
    match path.canonicalize() {
        Ok(now) if now == *path => {}
        Ok(_) => {
            return Err(fail(
                "a symbolic link now leads elsewhere: name the file itself".into(),
            ));
        }
        Err(e) => return Err(fail(e.to_string())),
    }
    let file = files::open_capped(
        path,
        rules.max_input_bytes,
        "max_input_file_bytes",
        files::Links::Refuse,
    )
    .map_err(|e| fail(e.to_string()))?;
    let mut reader = std::io::BufReader::with_capacity(64 * 1024, file);
    let mut line = Vec::new();
    let mut seen = 0;
    for number in 1u64.. {
        line.clear();
        let n = std::io::BufRead::read_until(&mut reader, b'\n', &mut line)
            .map_err(|e| fail(e.to_string()))?;
        if n == 0 {
            break;
        }
        let text = std::str::from_utf8(&line)
            .map_err(|_| fail(format!("line {number} is not UTF-8 text")))?;
        let value = text.trim();
        if value.is_empty() || value.starts_with('#') {
            continue;
        }
        seen += 1;
        if !f(value)? {
            break;
        }
    }
    Ok(seen)
}

/// Derive the job name from a job file's path.
pub fn job_name_of(path: &Path) -> Result<JobName, FileError> {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    JobName::try_from(stem).map_err(|m| FileError::whole(path, m))
}
