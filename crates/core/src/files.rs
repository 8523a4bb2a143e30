//! Reading files that users name (job files, input lists, secrets, the config): regular
//! files only, opened without blocking, never more than a cap. A FIFO, a device or a
//! socket is an error at once — never a read that waits for a writer or never ends.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

/// Job files larger than this are refused unless the config raises the cap.
pub const DEFAULT_MAX_JOB_FILE_BYTES: u64 = 1 << 20;
/// Input lists (`urls_file`, `input_file`) larger than this are refused unless the
/// config raises the cap (1 GiB is about ten million URLs). They are streamed, never
/// held in memory whole, so the cap guards the state directory's disk (each run keeps a
/// copy until its inputs are planned), not the daemon's memory.
pub const DEFAULT_MAX_INPUT_FILE_BYTES: u64 = 1 << 30;
/// Secrets and the daemon config are small; anything larger is a mistake.
pub const MAX_SMALL_FILE_BYTES: u64 = 1 << 20;

/// Why a file was not read. The message never holds the file's content.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("it is a {0}, not a regular file: point it at a regular file")]
    NotRegular(&'static str),
    #[error("it is larger than {limit} bytes: make it smaller{}", raise(key))]
    TooLarge { limit: u64, key: &'static str },
    #[error("it is a symbolic link: name the file itself")]
    Symlink,
}

/// How to lift a cap, when a setting can (`key` is empty for fixed caps).
fn raise(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!(", or raise {key} in the daemon config")
    }
}

/// How to open: follow a symlink in the last component or refuse it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    Follow,
    Refuse,
}

/// Read a regular file of at most `limit` bytes (`key` names the setting that raises
/// the cap; empty for a fixed cap). The file is opened with `O_NONBLOCK`, so opening a FIFO returns at once,
/// and its type is checked on the open descriptor, so a swap after the check cannot
/// slip a device in.
pub fn read_regular(
    path: &Path,
    limit: u64,
    key: &'static str,
    links: Links,
) -> Result<Vec<u8>, ReadError> {
    let file = open_regular(path, links)?;
    let len = file.metadata()?.len();
    if len > limit {
        return Err(ReadError::TooLarge { limit, key });
    }
    let mut bytes = Vec::with_capacity(len as usize);
    // The file may grow between the check and the read: never read past the cap.
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit, key });
    }
    Ok(bytes)
}

/// `read_regular` as a stream: the file opened as `read_regular` opens it, checked
/// against the cap, and a reader that fails rather than read past the cap (the file may
/// grow after the check).
pub fn open_capped(
    path: &Path,
    limit: u64,
    key: &'static str,
    links: Links,
) -> Result<CappedReader, ReadError> {
    let file = open_regular(path, links)?;
    if file.metadata()?.len() > limit {
        return Err(ReadError::TooLarge { limit, key });
    }
    Ok(CappedReader {
        inner: file.take(limit.saturating_add(1)),
        left: limit,
        key,
        limit,
    })
}

/// See [`open_capped`].
pub struct CappedReader {
    inner: std::io::Take<File>,
    left: u64,
    limit: u64,
    key: &'static str,
}

impl Read for CappedReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        match self.left.checked_sub(n as u64) {
            Some(left) => {
                self.left = left;
                Ok(n)
            }
            None => Err(std::io::Error::other(ReadError::TooLarge {
                limit: self.limit,
                key: self.key,
            })),
        }
    }
}

fn open_regular(path: &Path, links: Links) -> Result<File, ReadError> {
    let mut flags = libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY;
    if links == Links::Refuse {
        flags |= libc::O_NOFOLLOW;
    }
    let file = match OpenOptions::new().read(true).custom_flags(flags).open(path) {
        Ok(f) => f,
        Err(e) if links == Links::Refuse && e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(ReadError::Symlink);
        }
        Err(e) => return Err(e.into()),
    };
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Err(ReadError::NotRegular(kind_name(kind)));
    }
    Ok(file)
}

fn kind_name(kind: std::fs::FileType) -> &'static str {
    if kind.is_dir() {
        "directory"
    } else if kind.is_fifo() {
        "FIFO (named pipe)"
    } else if kind.is_char_device() {
        "character device"
    } else if kind.is_block_device() {
        "block device"
    } else if kind.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

/// Where a file named in a job file may be: `name` relative to `base` (or absolute),
/// without `..`, and once every symlink is resolved, inside one of `roots`. Returns the
/// resolved path, which is what must be opened (with [`Links::Refuse`]).
pub fn confine(base: &Path, name: &str, roots: &[PathBuf]) -> Result<PathBuf, String> {
    let given = Path::new(name);
    if given.components().any(|c| c == Component::ParentDir) {
        return Err(format!(
            "{name:?} contains \"..\": name a file inside {}",
            allowed(roots)
        ));
    }
    let path = base.join(given);
    let resolved = path
        .canonicalize()
        .map_err(|e| format!("cannot read input file {}: {e}", path.display()))?;
    let inside = roots
        .iter()
        .filter_map(|r| r.canonicalize().ok())
        .any(|root| resolved.starts_with(root));
    if inside {
        Ok(resolved)
    } else {
        Err(format!(
            "input file {} is outside {}: input files must live there (a symlink that leads out counts as outside)",
            path.display(),
            allowed(roots)
        ))
    }
}

fn allowed(roots: &[PathBuf]) -> String {
    let names: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
    match names.as_slice() {
        [one] => format!("the jobs directory {one}"),
        _ => format!("the jobs directory or inputs_dir ({})", names.join(", ")),
    }
}

#[cfg(test)]
mod tests;
