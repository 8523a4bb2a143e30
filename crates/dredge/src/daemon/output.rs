//! A run's output file (README "Output"): records appended to `RUN.jsonl.partial`, fsynced,
//! then renamed to `RUN.jsonl` when the run ends. The queue's committed cursor says
//! how much of the file is real; recovery cuts anything past it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use dredge_core::{Record, UnixMillis};
use dredge_queue::{OutputCursor, RunId};
use serde::Serialize;

/// Where a run's files live.
#[derive(Debug, Clone)]
pub(super) struct RunPaths {
    pub partial: PathBuf,
    pub done: PathBuf,
    /// Directory for binary results (`RUN/NAME`).
    pub attachments: PathBuf,
}

impl RunPaths {
    pub(super) fn new(out_dir: &Path, job: &str, run: &RunId) -> Self {
        let dir = out_dir.join(job);
        RunPaths {
            partial: dir.join(format!("{run}.jsonl.partial")),
            done: dir.join(format!("{run}.jsonl")),
            attachments: dir.join(run.as_str()),
        }
    }

    /// The file a user should look at now: the final one once it exists.
    pub(super) fn current(&self) -> &Path {
        if self.done.exists() {
            &self.done
        } else {
            &self.partial
        }
    }
}

/// An open `.partial` file and how far it is written.
pub(super) struct RunFile {
    pub paths: RunPaths,
    file: File,
    written: OutputCursor,
    /// What the queue has committed (the rollback point after a failed write).
    committed: OutputCursor,
    job: String,
    run: RunId,
    vendor: String,
    /// The lines of one `append`, kept between calls: a fresh megabyte per write round
    /// was an allocation (and, past glibc's mmap threshold, a mapping) every 20 ms.
    lines: Vec<u8>,
}

/// Largest line buffer kept between appends.
const KEEP_LINES_BYTES: usize = 4 << 20;

/// What recovery found for a run's file.
pub(super) enum Reopened {
    /// The partial file, cut back to the committed cursor.
    Open(Box<RunFile>),
    /// Only the final file exists: the run was renamed before the crash.
    AlreadyRenamed,
}

/// An output line without its `data`, which is pasted after it as the JSON text it
/// already is (parsing it again would be the writer's largest cost).
#[derive(Serialize)]
struct LineHead<'a> {
    job: &'a str,
    run: &'a str,
    vendor: &'a str,
    source: &'a str,
    item: &'a str,
    seq: u64,
    fetched_at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
}

impl RunFile {
    /// Create the `.partial` file of a new run (empty).
    pub(super) fn create(
        paths: RunPaths,
        job: &str,
        run: &RunId,
        vendor: &str,
    ) -> io::Result<Self> {
        let dir = paths
            .partial
            .parent()
            .expect("run files live in a job directory");
        create_dir_synced(dir)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&paths.partial)?;
        file.sync_all()?;
        sync_dir(dir)?;
        Ok(Self::with(
            paths,
            file,
            OutputCursor::default(),
            job,
            run,
            vendor,
        ))
    }

    /// Reopen after a restart: truncate the `.partial` file to the committed cursor
    /// (cutting a torn or uncommitted tail), or report that it was already renamed.
    pub(super) fn reopen(
        paths: RunPaths,
        cursor: OutputCursor,
        job: &str,
        run: &RunId,
        vendor: &str,
    ) -> io::Result<Reopened> {
        if !paths.partial.exists() && paths.done.exists() {
            return Ok(Reopened::AlreadyRenamed);
        }
        let dir = paths
            .partial
            .parent()
            .expect("run files live in a job directory");
        create_dir_synced(dir)?;
        let existed = paths.partial.exists();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&paths.partial)?;
        if !existed {
            sync_dir(dir)?;
        }
        let len = file.metadata()?.len();
        if len < cursor.bytes {
            return Err(io::Error::other(format!(
                "{} is shorter ({len} bytes) than its committed length ({} bytes): it was modified outside dredge",
                paths.partial.display(),
                cursor.bytes
            )));
        }
        file.set_len(cursor.bytes)?;
        file.sync_all()?;
        Ok(Reopened::Open(Box::new(Self::with(
            paths, file, cursor, job, run, vendor,
        ))))
    }

    fn with(
        paths: RunPaths,
        file: File,
        cursor: OutputCursor,
        job: &str,
        run: &RunId,
        vendor: &str,
    ) -> Self {
        RunFile {
            paths,
            file,
            written: cursor,
            committed: cursor,
            job: job.to_string(),
            run: run.clone(),
            vendor: vendor.to_string(),
            lines: Vec::new(),
        }
    }

    /// Append records (not yet durable: call `sync`). Attachments are written and
    /// synced first, so a line never points at a missing file.
    pub(super) fn append(&mut self, records: &[Record]) -> io::Result<()> {
        let mut buf = std::mem::take(&mut self.lines);
        buf.clear();
        buf.reserve(records.iter().map(|r| r.data.len() + 256).sum());
        let mut stamps = Stamps::default();
        for record in records {
            let file = match &record.attachment {
                Some(a) => Some(self.write_attachment(&a.name, &a.bytes)?),
                None => None,
            };
            let head = LineHead {
                job: &self.job,
                run: self.run.as_str(),
                vendor: &self.vendor,
                source: &record.source,
                item: &record.item,
                seq: self.written.records + 1,
                fetched_at: stamps.rfc3339(record.fetched_at),
                file,
            };
            serde_json::to_writer(&mut buf, &head).map_err(io::Error::other)?;
            // `{...}` becomes `{...,"data":DATA}`.
            buf.pop();
            buf.extend_from_slice(b",\"data\":");
            buf.extend_from_slice(record.data.as_bytes());
            buf.extend_from_slice(b"}\n");
            self.written.records += 1;
        }
        let written = self.file.write_all(&buf);
        if written.is_ok() {
            self.written.bytes += buf.len() as u64;
        }
        buf.clear();
        buf.shrink_to(KEEP_LINES_BYTES);
        self.lines = buf;
        written
    }

    /// Make everything appended durable; returns the cursor to commit. Fails with
    /// [`OutputRemoved`] when the file was removed or replaced underneath: records
    /// synced into an unlinked file would be committed and lost.
    pub(super) fn sync(&mut self) -> io::Result<OutputCursor> {
        self.file.sync_data()?;
        self.check_still_linked()?;
        Ok(self.written)
    }

    /// Whether the open file is still the one at its path.
    fn check_still_linked(&self) -> io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let open = self.file.metadata()?;
        let same = match fs::metadata(&self.paths.partial) {
            Ok(at_path) => at_path.ino() == open.ino() && at_path.dev() == open.dev(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(e),
        };
        if open.nlink() == 0 || !same {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                OutputRemoved(self.paths.partial.clone()),
            ));
        }
        Ok(())
    }

    pub(super) fn cursor_committed(&self) -> OutputCursor {
        self.committed
    }

    /// Record that the queue committed `cursor`.
    pub(super) fn mark_committed(&mut self, cursor: OutputCursor) {
        self.committed = cursor;
    }

    pub(super) fn job(&self) -> &str {
        &self.job
    }

    /// Forget everything past `cursor` (after a write known not to be committed), so
    /// the file again ends at what the queue has committed.
    pub(super) fn rollback_to(&mut self, cursor: OutputCursor) -> io::Result<()> {
        self.file.set_len(cursor.bytes)?;
        self.written = cursor;
        Ok(())
    }

    /// Cut the file back to what the queue committed and make that durable (a
    /// cancelled run keeps exactly its committed records).
    pub(super) fn settle(mut self) -> io::Result<()> {
        self.rollback_to(self.committed)?;
        self.file.sync_all()
    }

    /// fsync and rename `.partial` → `.jsonl` (and fsync the directory), so a reader of
    /// `*.jsonl` never sees half a run.
    pub(super) fn finish(self) -> io::Result<PathBuf> {
        self.file.sync_all()?;
        self.check_still_linked()?;
        fs::rename(&self.paths.partial, &self.paths.done)?;
        if let Some(dir) = self.paths.done.parent() {
            sync_dir(dir)?;
        }
        Ok(self.paths.done)
    }

    fn write_attachment(&self, name: &str, bytes: &[u8]) -> io::Result<String> {
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        create_dir_synced(&self.paths.attachments)?;
        let path = self.paths.attachments.join(&safe);
        let mut f = File::create(&path)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        sync_dir(&self.paths.attachments)?;
        Ok(format!("{}/{safe}", self.run))
    }
}

/// The last timestamp text, reused: a batch's records mostly share their second.
#[derive(Default)]
struct Stamps {
    second: Option<u64>,
    text: String,
}

impl Stamps {
    fn rfc3339(&mut self, at: UnixMillis) -> &str {
        let second = at.0 / 1000;
        if self.second != Some(second) {
            self.second = Some(second);
            self.text = at.to_rfc3339();
        }
        &self.text
    }
}

/// The error of a sync that found the run's file removed or replaced underneath.
#[derive(Debug)]
pub(super) struct OutputRemoved(pub PathBuf);

impl std::fmt::Display for OutputRemoved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "output file removed or replaced underneath: {}",
            self.0.display()
        )
    }
}

impl std::error::Error for OutputRemoved {}

impl OutputRemoved {
    /// The removal behind an I/O error, if that is what it is.
    pub(super) fn of(error: &io::Error) -> Option<&OutputRemoved> {
        error
            .get_ref()
            .and_then(|e| e.downcast_ref::<OutputRemoved>())
    }
}

/// A finished run's file goes back to `.partial` (its dead items were requeued), the
/// rename made durable.
pub(super) fn restore_partial(paths: &RunPaths) -> io::Result<()> {
    if paths.done.exists() {
        fs::rename(&paths.done, &paths.partial)?;
        if let Some(dir) = paths.partial.parent() {
            sync_dir(dir)?;
        }
    }
    Ok(())
}

/// `create_dir_all`, with every new directory's entry made durable (a power cut must
/// not lose the directory that holds committed records).
fn create_dir_synced(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dir_synced(parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e),
    }
    sync_dir(dir)?;
    match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent),
        _ => Ok(()),
    }
}

/// Directory fsyncs made by this process (a seam for tests: a new entry that was not
/// synced can be lost to a power cut).
pub(super) static DIR_SYNCS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()?;
    DIR_SYNCS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dredge_core::JsonText;

    fn record(i: u32) -> Record {
        Record {
            source: format!("https://a.com/{i}"),
            item: "batch-1".into(),
            fetched_at: UnixMillis(0),
            data: JsonText::parse(format!("{{\"n\":{i}}}")).unwrap(),
            attachment: None,
        }
    }

    fn run() -> RunId {
        RunId("20261122T231000Z-0001".into())
    }

    /// The `seq` of each line of a run file's text.
    fn seqs_of(text: &str) -> Vec<u64> {
        text.lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn lines_carry_the_spec_fields_and_sequence() {
        let dir = tempfile::tempdir().unwrap();
        let paths = RunPaths::new(dir.path(), "news", &run());
        let mut f = RunFile::create(paths.clone(), "news", &run(), "autoextract").unwrap();
        f.append(&[record(1), record(2)]).unwrap();
        let cursor = f.sync().unwrap();
        assert_eq!(cursor.records, 2);
        let text = fs::read_to_string(&paths.partial).unwrap();
        assert_eq!(cursor.bytes, text.len() as u64);
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["job"], "news");
        assert_eq!(first["run"], "20261122T231000Z-0001");
        assert_eq!(first["vendor"], "autoextract");
        assert_eq!(first["source"], "https://a.com/1");
        assert_eq!(first["seq"], 1);
        assert_eq!(first["fetched_at"], "1970-01-01T00:00:00Z");
        assert_eq!(first["data"], serde_json::json!({"n": 1}));
        let done = f.finish().unwrap();
        assert!(done.ends_with("news/20261122T231000Z-0001.jsonl"));
        assert!(!paths.partial.exists());
    }

    #[test]
    fn each_append_writes_only_its_own_lines() {
        let dir = tempfile::tempdir().unwrap();
        let paths = RunPaths::new(dir.path(), "news", &run());
        let mut f = RunFile::create(paths.clone(), "news", &run(), "autoextract").unwrap();
        f.append(&[record(1), record(2)]).unwrap();
        f.append(&[record(3)]).unwrap();
        f.append(&[]).unwrap();
        let cursor = f.sync().unwrap();
        let text = fs::read_to_string(&paths.partial).unwrap();
        let seqs = seqs_of(&text);
        assert_eq!(seqs, [1, 2, 3]);
        assert_eq!((cursor.records, cursor.bytes), (3, text.len() as u64));
    }

    #[test]
    fn data_is_pasted_verbatim_and_each_line_has_its_own_second() {
        let dir = tempfile::tempdir().unwrap();
        let paths = RunPaths::new(dir.path(), "news", &run());
        let mut f = RunFile::create(paths.clone(), "news", &run(), "autoextract").unwrap();
        let at = |ms: u64, data: &str| Record {
            fetched_at: UnixMillis(ms),
            data: JsonText::parse(data.into()).unwrap(),
            ..record(0)
        };
        f.append(&[
            at(0, r#"{"spaced": [1, 2]}"#),
            at(999, "\"text\""),
            at(1_000, "null"),
            at(0, "7"),
        ])
        .unwrap();
        f.sync().unwrap();
        let text = fs::read_to_string(&paths.partial).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].ends_with(r#","data":{"spaced": [1, 2]}}"#),
            "{}",
            lines[0]
        );
        let stamps: Vec<String> = lines
            .iter()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .map(|v| v["fetched_at"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            stamps,
            [
                "1970-01-01T00:00:00Z",
                "1970-01-01T00:00:00Z",
                "1970-01-01T00:00:01Z",
                "1970-01-01T00:00:00Z"
            ]
        );
        let data: Vec<serde_json::Value> = lines
            .iter()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["data"].clone())
            .collect();
        assert_eq!(
            data,
            [
                serde_json::json!({"spaced": [1, 2]}),
                serde_json::json!("text"),
                serde_json::Value::Null,
                serde_json::json!(7)
            ]
        );
    }

    #[test]
    fn reopening_cuts_the_uncommitted_tail() {
        let dir = tempfile::tempdir().unwrap();
        let paths = RunPaths::new(dir.path(), "news", &run());
        let mut f = RunFile::create(paths.clone(), "news", &run(), "autoextract").unwrap();
        f.append(&[record(1)]).unwrap();
        let committed = f.sync().unwrap();
        f.append(&[record(2)]).unwrap();
        f.sync().unwrap();
        drop(f);
        // A torn half line past the commit, as a crash mid-write leaves it.
        let mut raw = OpenOptions::new()
            .append(true)
            .open(&paths.partial)
            .unwrap();
        raw.write_all(b"{\"job\":\"ne").unwrap();
        drop(raw);
        let Reopened::Open(mut f) =
            RunFile::reopen(paths.clone(), committed, "news", &run(), "autoextract").unwrap()
        else {
            panic!("the partial file exists")
        };
        f.append(&[record(3)]).unwrap();
        f.sync().unwrap();
        let text = fs::read_to_string(&paths.partial).unwrap();
        let seqs = seqs_of(&text);
        assert_eq!(
            seqs,
            vec![1, 2],
            "the uncommitted record and the torn line are gone"
        );
        assert!(text.contains("\"n\":3"));
    }

    #[test]
    fn a_renamed_run_is_recognised_on_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let paths = RunPaths::new(dir.path(), "news", &run());
        let f = RunFile::create(paths.clone(), "news", &run(), "autoextract").unwrap();
        f.finish().unwrap();
        assert!(matches!(
            RunFile::reopen(
                paths,
                OutputCursor::default(),
                "news",
                &run(),
                "autoextract"
            )
            .unwrap(),
            Reopened::AlreadyRenamed
        ));
    }

    #[test]
    fn attachments_are_written_beside_the_file_and_referenced() {
        let dir = tempfile::tempdir().unwrap();
        let paths = RunPaths::new(dir.path(), "shots", &run());
        let mut f = RunFile::create(paths.clone(), "shots", &run(), "oxylabs").unwrap();
        let mut r = record(1);
        r.attachment = Some(dredge_core::Attachment {
            name: "7301.png".into(),
            bytes: vec![1, 2, 3],
        });
        f.append(&[r]).unwrap();
        f.sync().unwrap();
        let line: serde_json::Value =
            serde_json::from_str(fs::read_to_string(&paths.partial).unwrap().trim()).unwrap();
        assert_eq!(line["file"], "20261122T231000Z-0001/7301.png");
        assert_eq!(
            fs::read(paths.attachments.join("7301.png")).unwrap(),
            vec![1, 2, 3]
        );
    }
}
