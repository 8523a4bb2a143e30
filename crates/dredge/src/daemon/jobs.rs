//! The job directory as the daemon knows it: the valid jobs, and the files it rejected
//! with why. A bad file never replaces a valid earlier version of the same job.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dredge_core::job::{
    AccountIndex, FileRules, is_ignored_file_name, job_name_of, parse_job, read_job_file,
};
use dredge_core::{FileError, JobSpec};

use crate::vendors::JOB_SECTIONS;

/// A valid job and where it came from.
#[derive(Debug, Clone)]
pub(super) struct LoadedJob {
    pub spec: Arc<JobSpec>,
    pub path: PathBuf,
    /// Stable hash of the file's bytes: a job without a schedule runs once per content.
    pub hash: u64,
}

#[derive(Debug, Default)]
pub(super) struct JobTable {
    pub valid: BTreeMap<String, LoadedJob>,
    pub invalid: BTreeMap<PathBuf, FileError>,
}

/// What a rescan changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum JobChange {
    /// New, or its content or resolved definition changed.
    Updated(String),
    /// Its file is gone.
    Removed(String),
}

/// Every job file of a directory read and parsed, without any lock held: the slow,
/// blocking half of a rescan (run it off the async threads).
#[derive(Debug)]
pub(super) struct Scan {
    files: Result<Vec<(PathBuf, Parsed)>, FileError>,
}

/// One job file: its spec and content hash, or why it was rejected.
type Parsed = Result<(JobSpec, u64), FileError>;

/// Read and parse every job file in `dir`.
pub(super) fn scan(dir: &Path, accounts: &AccountIndex, rules: &FileRules) -> Scan {
    let files = list_job_files(dir)
        .map_err(|e| FileError::whole(dir, format!("cannot read the jobs directory: {e}")))
        .map(|files| {
            files
                .into_iter()
                .map(|path| {
                    let parsed = read(&path, rules).and_then(|(text, hash)| {
                        Ok((
                            parse_job(&path, &text, Some(accounts), rules, &JOB_SECTIONS)?,
                            hash,
                        ))
                    });
                    (path, parsed)
                })
                .collect()
        });
    Scan { files }
}

impl JobTable {
    /// Re-read every job file in `dir` (tests; the daemon scans off its lock).
    #[cfg(test)]
    pub(super) fn rescan(
        &mut self,
        dir: &Path,
        accounts: &AccountIndex,
        unsupported: impl Fn(&JobSpec) -> Option<String>,
    ) -> Vec<JobChange> {
        self.apply(dir, scan(dir, accounts, &FileRules::default()), unsupported)
    }

    /// Take in what a scan of `dir` found. `unsupported` says why a job cannot run (its
    /// account is broken, or its vendor has no usable account): such jobs are rejected
    /// like invalid files, with that reason.
    pub(super) fn apply(
        &mut self,
        dir: &Path,
        scan: Scan,
        unsupported: impl Fn(&JobSpec) -> Option<String>,
    ) -> Vec<JobChange> {
        let mut changes = Vec::new();
        let files = match scan.files {
            Ok(f) => f,
            Err(err) => {
                tracing::error!("{err}");
                self.invalid.insert(dir.to_path_buf(), err);
                return changes;
            }
        };
        self.invalid.remove(dir);
        let paths: Vec<PathBuf> = files.iter().map(|(p, _)| p.clone()).collect();
        for (path, parsed) in files {
            if let Some(change) = self.load_one(&path, parsed, &unsupported) {
                changes.push(change);
            }
        }
        let gone: Vec<String> = self
            .valid
            .iter()
            .filter(|(_, j)| !paths.contains(&j.path))
            .map(|(n, _)| n.clone())
            .collect();
        for name in gone {
            self.valid.remove(&name);
            tracing::info!(job = %name, "job file removed: job unscheduled");
            changes.push(JobChange::Removed(name));
        }
        self.invalid.retain(|p, _| paths.contains(p));
        changes
    }

    fn load_one(
        &mut self,
        path: &Path,
        parsed: Parsed,
        unsupported: &impl Fn(&JobSpec) -> Option<String>,
    ) -> Option<JobChange> {
        let parsed = parsed.and_then(|(spec, hash)| {
            if let Some(why) = unsupported(&spec) {
                return Err(FileError::whole(path, why));
            }
            Ok((spec, hash))
        });
        match parsed {
            Ok((spec, hash)) => {
                self.invalid.remove(path);
                let name = spec.name.to_string();
                let unchanged = self
                    .valid
                    .get(&name)
                    .is_some_and(|old| old.hash == hash && *old.spec == spec);
                if unchanged {
                    return None;
                }
                tracing::info!(job = %name, file = %path.display(), "job loaded");
                for w in spec.warnings() {
                    tracing::warn!(job = %name, "{}: {w}", path.display());
                }
                let job = LoadedJob {
                    spec: Arc::new(spec),
                    path: path.to_path_buf(),
                    hash,
                };
                self.valid.insert(name.clone(), job);
                Some(JobChange::Updated(name))
            }
            Err(err) => {
                if self.invalid.get(path) != Some(&err) {
                    tracing::error!("rejected job file: {err}");
                }
                self.invalid.insert(path.to_path_buf(), err);
                None
            }
        }
    }
}

/// `*.toml` files of the directory, editor temp files left out. Names that are not
/// valid job names are kept so they are reported, not silently skipped.
fn list_job_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        // Directories are skipped; anything else (even a dangling link, a FIFO or a
        // device) is read, so a file that cannot be read is reported rather than
        // silently ignored. Reading never blocks (see `read_job_file`).
        if is_ignored_file_name(name) || entry.path().is_dir() {
            continue;
        }
        files.push(entry.path());
    }
    files.sort();
    Ok(files)
}

fn read(path: &Path, rules: &FileRules) -> Result<(String, u64), FileError> {
    job_name_of(path)?;
    let text = read_job_file(path, rules)?;
    let hash = fnv1a(text.as_bytes());
    Ok((text, hash))
}

/// FNV-1a: a hash that stays the same across Rust versions (stored in the queue).
pub(super) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use dredge_core::Vendor;

    use super::*;

    fn accounts() -> AccountIndex {
        AccountIndex(
            [("zyte".to_string(), Vendor::Autoextract)]
                .into_iter()
                .collect(),
        )
    }

    const GOOD: &str = "vendor = \"autoextract\"\n[autoextract]\npage_type = \"article\"\nurls = [\"https://a.com/1\"]\n";

    #[test]
    fn a_bad_edit_keeps_the_previous_valid_version_and_reports_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("news.toml");
        std::fs::write(&file, GOOD).unwrap();
        let mut t = JobTable::default();
        assert_eq!(
            t.rescan(dir.path(), &accounts(), |_| None),
            vec![JobChange::Updated("news".into())]
        );
        std::fs::write(&file, "vendor = \"autoextract\"\n[autoextract\n").unwrap();
        assert!(t.rescan(dir.path(), &accounts(), |_| None).is_empty());
        assert!(t.valid.contains_key("news"), "the good version stays");
        assert!(t.invalid[&file].to_string().contains("news.toml:2:"));
        std::fs::write(&file, GOOD.replace("a.com/1", "a.com/2")).unwrap();
        assert_eq!(
            t.rescan(dir.path(), &accounts(), |_| None),
            vec![JobChange::Updated("news".into())]
        );
        assert!(t.invalid.is_empty(), "the fixed file clears its error");
    }

    #[test]
    fn removing_a_file_unschedules_its_job_and_temp_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("news.toml"), GOOD).unwrap();
        std::fs::write(dir.path().join(".news.toml.swp"), "garbage").unwrap();
        std::fs::write(dir.path().join("news.toml~"), "garbage").unwrap();
        let mut t = JobTable::default();
        t.rescan(dir.path(), &accounts(), |_| None);
        assert!(t.invalid.is_empty());
        std::fs::remove_file(dir.path().join("news.toml")).unwrap();
        assert_eq!(
            t.rescan(dir.path(), &accounts(), |_| None),
            vec![JobChange::Removed("news".into())]
        );
    }

    #[test]
    fn an_unchanged_file_is_not_a_change() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("news.toml"), GOOD).unwrap();
        let mut t = JobTable::default();
        t.rescan(dir.path(), &accounts(), |_| None);
        assert!(t.rescan(dir.path(), &accounts(), |_| None).is_empty());
    }

    #[test]
    fn a_bad_file_name_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("My Job.toml"), GOOD).unwrap();
        let mut t = JobTable::default();
        t.rescan(dir.path(), &accounts(), |_| None);
        let err = t.invalid.values().next().expect("reported").to_string();
        assert!(err.contains("[a-z0-9][a-z0-9_-]*"), "{err}");
    }
}
