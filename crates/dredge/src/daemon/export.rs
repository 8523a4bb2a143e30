//! `dredge export RUN [PATH]`: writes a run's file again, anywhere, from the records a
//! shared queue keeps (PostgreSQL keeps every record it committed written, numbered).
//!
//! Why this exists: with several daemons, a run's file lands in the `output_dir` of
//! whichever daemon finished writing it. A user who wants every file in one place
//! either shares one `output_dir` between the daemons or exports the runs they want.
//! The file is written the way the daemon writes one (`.partial`, fsync, rename), line
//! for line the same bytes, so the export of a finished run is identical to its file.

use std::path::{Path, PathBuf};

use anyhow::Context;
use dredge_queue::{Cluster, OutputCursor, QueueBackend, RunId, RunState};

use super::output::{Reopened, RunFile, RunPaths};

/// How many written chunks one query reads.
const CHUNKS: usize = 1024;

/// What an export wrote.
pub(crate) struct Exported {
    pub path: PathBuf,
    pub records: u64,
    /// The run was still running: the file holds what was committed so far.
    pub running: bool,
}

/// Writes `run`'s committed records to `path` (default: `RUN.jsonl` in the current
/// directory); binary results go beside it, in `RUN/`.
pub(crate) fn export(
    queue: &dyn QueueBackend,
    run: &RunId,
    path: Option<&Path>,
) -> anyhow::Result<Exported> {
    let cluster = queue.cluster().context(
        "the queue is sled: it does not keep records after writing them; the run's file in output_dir is its output",
    )?;
    let info = queue
        .run(run)?
        .with_context(|| format!("no run {run} in the queue (see `dredge runs`)"))?;
    let vendor = super::snapshot::decode(&info.spec_snapshot)?.vendor();
    let path = path.map_or_else(|| PathBuf::from(format!("{run}.jsonl")), Path::to_path_buf);
    let paths = paths_at(&path, run)?;
    let Reopened::Open(file) =
        RunFile::reopen(paths, OutputCursor::default(), &info.job, run, vendor.key())
            .with_context(|| format!("cannot create {}", path.display()))?
    else {
        anyhow::bail!(
            "{} exists already: remove it or name another path",
            path.display()
        );
    };
    let mut file = *file;
    append_written(cluster, run, &mut file)
        .with_context(|| format!("cannot write {}", path.display()))?;
    let written = file.sync()?;
    // What the queue committed when this export started, or later (a running run).
    if written.records < info.cursor.records {
        let _ = std::fs::remove_file(&file.paths.partial);
        anyhow::bail!(
            "the queue keeps {} of run {run}'s {} records (a run written before the queue kept its records cannot be exported): its file in output_dir is its output",
            written.records,
            info.cursor.records
        );
    }
    let records = written.records;
    let path = file.finish()?;
    Ok(Exported {
        path,
        records,
        running: info.state == RunState::Running,
    })
}

/// Appends every record of `run` the queue kept written, in order, to `file` (an
/// export, or a writer rebuilding a file it cannot see); the caller syncs.
pub(super) fn append_written(
    cluster: &dyn Cluster,
    run: &RunId,
    file: &mut RunFile,
) -> anyhow::Result<()> {
    let mut next = 1;
    loop {
        let chunks = cluster.written_records(run, next, CHUNKS)?;
        let Some(last) = chunks.last() else {
            return Ok(());
        };
        next = last.first_seq + last.records.len() as u64;
        for chunk in &chunks {
            file.append(&chunk.records)?;
        }
    }
}

/// The export's own paths: `PATH.partial` while writing, `PATH` at the end.
fn paths_at(path: &Path, run: &RunId) -> anyhow::Result<RunPaths> {
    if path.exists() {
        anyhow::bail!(
            "{} exists already: remove it or name another path",
            path.display()
        );
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file name", path.display()))?;
    let mut partial = name.to_os_string();
    partial.push(".partial");
    Ok(RunPaths {
        partial: dir.join(partial),
        done: path.to_path_buf(),
        attachments: dir.join(run.as_str()),
    })
}
