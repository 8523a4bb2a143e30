//! A run's inputs, copied into `STATE_DIR/inputs/` when the run starts, then planned
//! from that copy a chunk at a time (`planner.rs`).
//!
//! Why a copy: a run of a million URLs is planned over seconds or minutes, across
//! restarts, and its cursor is a byte offset. The job's own file may be edited or
//! replaced meanwhile; the copy is what the run started with, and nothing else writes
//! it. Each line holds one value as a JSON string, so an inline value may hold any
//! character (a newline too) and still be one line. The copy is synced before the run
//! that points into it is created, and removed once its last chunk is planned (or its
//! run ended); copies no run points into are removed at start.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use dredge_core::UnixMillis;
use dredge_core::job::{FileRules, InputList, for_each_input};

use super::output::sync_dir;

/// Inputs planned at once: AutoExtract packs the URLs of one domain within a chunk
/// into batches and Oxylabs submits a chunk's queries together, so a chunk must be
/// large; its items then go to the queue `ITEMS_PER_BATCH` at a time.
pub(super) const CHUNK_INPUTS: usize = if cfg!(test) { 1_000 } else { 100_000 };
/// Items added to the queue per batch. sled 0.34's memory grows with the square of a
/// batch's size (node versions of one leaf pile up until the batch is applied):
/// measured for 100,000 items, 2,000 per batch held ~300 MiB, 250 per batch ~120 MiB,
/// at the same speed.
pub(super) const ITEMS_PER_BATCH: usize = 256;

/// A copy of a run's inputs.
#[derive(Debug)]
pub(super) struct InputCopy {
    /// File name inside the inputs directory.
    pub name: String,
    /// Values in it.
    pub total: u64,
}

/// Where copies live.
pub(super) fn dir_of(state_dir: &Path) -> PathBuf {
    state_dir.join("inputs")
}

/// Streams `list` into a new copy in `dir` and syncs it. Nothing of it is held in
/// memory beyond one line.
pub(super) fn copy(list: &InputList, rules: &FileRules, dir: &Path) -> Result<InputCopy, String> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let name = format!(
        "{}-{}-{}.inputs",
        UnixMillis::now().0,
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let path = dir.join(&name);
    let written = write_copy(list, rules, &path);
    if written.is_err() {
        let _ = std::fs::remove_file(&path);
    }
    let total = written?;
    sync_dir(dir).map_err(|e| format!("cannot sync {}: {e}", dir.display()))?;
    Ok(InputCopy { name, total })
}

fn write_copy(list: &InputList, rules: &FileRules, path: &Path) -> Result<u64, String> {
    let io =
        |e: std::io::Error| format!("cannot write the run's input copy {}: {e}", path.display());
    let file = File::create(path).map_err(io)?;
    let mut out = BufWriter::with_capacity(64 * 1024, file);
    let mut failed = None;
    let total = for_each_input(list, rules, |value| {
        let line = serde_json::to_string(value).map_err(|e| e.to_string())?;
        match writeln!(out, "{line}") {
            Ok(()) => Ok(true),
            Err(e) => {
                failed = Some(io(e));
                Ok(false)
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    Ok(total)
}

/// At most `max` values from byte `offset` of the copy, and the offset after them.
pub(super) fn read_chunk(
    dir: &Path,
    name: &str,
    offset: u64,
    max: usize,
) -> Result<(Vec<String>, u64), String> {
    let path = dir.join(name);
    let fail = |m: String| format!("the run's input copy {}: {m}", path.display());
    let mut file = File::open(&path).map_err(|e| fail(e.to_string()))?;
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| fail(e.to_string()))?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let (mut values, mut next, mut line) = (Vec::with_capacity(max), offset, String::new());
    while values.len() < max {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| fail(e.to_string()))?;
        if n == 0 {
            break;
        }
        next += n as u64;
        let value: String = serde_json::from_str(line.trim_end())
            .map_err(|e| fail(format!("byte {}: {e}", next - n as u64)))?;
        values.push(value);
    }
    Ok((values, next))
}

/// Removes a copy (its run is planned or over). A copy already gone is fine.
pub(super) fn remove(dir: &Path, name: &str) {
    match std::fs::remove_file(dir.join(name)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(file = %dir.join(name).display(), error = %e, "cannot remove a planned input copy")
        }
    }
}

/// Removes every copy in `dir` that `keep` does not name: left by a crash between a
/// copy and its run's creation, or between a run's last chunk and the removal.
pub(super) fn sweep(dir: &Path, keep: &HashSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".inputs") && !keep.contains(&name) {
            remove(dir, &name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_reads_back_in_chunks_with_odd_values_intact() {
        let dir = tempfile::tempdir().unwrap();
        let values: Vec<String> = (0..5)
            .map(|i| format!("value {i}"))
            .chain(["line\nbreak \"quoted\" ü".to_string()])
            .collect();
        let copy = copy(
            &InputList::Inline(values.clone()),
            &FileRules::default(),
            dir.path(),
        )
        .unwrap();
        assert_eq!(copy.total, 6);
        let (first, offset) = read_chunk(dir.path(), &copy.name, 0, 4).unwrap();
        let (rest, end) = read_chunk(dir.path(), &copy.name, offset, 4).unwrap();
        assert_eq!([first, rest].concat(), values);
        let (none, at_end) = read_chunk(dir.path(), &copy.name, end, 4).unwrap();
        assert!(none.is_empty());
        assert_eq!(at_end, end);
    }

    #[test]
    fn a_file_is_copied_without_comments_and_blank_lines_and_sweep_keeps_named_copies() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("urls.txt");
        std::fs::write(&input, "# list\nhttps://a.com/1\n\n  https://a.com/2  \n").unwrap();
        let copies = dir.path().join("inputs");
        let list = InputList::File(input.canonicalize().unwrap());
        let kept = copy(&list, &FileRules::default(), &copies).unwrap();
        let dropped = copy(&list, &FileRules::default(), &copies).unwrap();
        let (values, _) = read_chunk(&copies, &kept.name, 0, 10).unwrap();
        assert_eq!(values, ["https://a.com/1", "https://a.com/2"]);
        sweep(&copies, &HashSet::from([kept.name.clone()]));
        assert!(copies.join(&kept.name).exists());
        assert!(!copies.join(&dropped.name).exists());
    }
}
