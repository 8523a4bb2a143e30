//! The one error type of the queue. Messages say what went wrong and what to do.

use std::path::PathBuf;

use crate::types::{ItemId, RunId};

/// Everything a queue call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    #[error(
        "state database at {path} is locked by another dredge process; stop that process or point this one at another state_dir"
    )]
    Locked { path: PathBuf },

    #[error(
        "cannot open state database at {path}: {source}; check the directory exists and is writable"
    )]
    Open { path: PathBuf, source: StorageError },

    #[error("state database I/O failed: {0}; check disk space and permissions of the state_dir")]
    Storage(#[source] StorageError),

    /// A database server behind the queue (PostgreSQL) failed or went away mid-call.
    #[error(
        "the PostgreSQL queue failed or cannot be reached: {0}; check that the server runs and answers at the [queue] url (dredge tries again by itself)"
    )]
    Database(#[source] StorageError),

    #[error("{}", version_message(what, *found, *expected))]
    UnknownVersion {
        what: &'static str,
        found: u8,
        expected: u8,
    },

    #[error(
        "stored {what} is corrupt ({detail}); restore the state_dir from a backup or remove it to start empty"
    )]
    Corrupt { what: &'static str, detail: String },

    #[error("cannot encode {what}: {detail}")]
    Encode { what: &'static str, detail: String },

    #[error(
        "state database at {path} could not be reopened after a checkpoint or a storage fault; check disk space and permissions of the state_dir (dredge tries again on the next call)"
    )]
    Closed { path: PathBuf },

    #[error(
        "this change was written together with others in write group {group}, and applying that group failed (the cause is in the log); nothing of it was saved: check disk space and permissions of the state_dir"
    )]
    GroupLost { group: u64 },

    #[error("no run {0} in the state database")]
    UnknownRun(RunId),

    #[error("no item {0} in the state database")]
    UnknownItem(ItemId),

    #[error("item {id} is {actual}, but this call needs it {expected}")]
    WrongState {
        id: ItemId,
        expected: &'static str,
        actual: &'static str,
    },

    #[error(
        "item {id}'s lease was taken back (it ran out, or the daemon recovered from a storage fault); this result is dropped and the item runs again"
    )]
    LeaseLost { id: ItemId },

    /// Several daemons: another daemon writes this run's file now (it took the run's
    /// writer lock over, or this daemon never held it).
    #[error(
        "another dredge daemon writes run {run}'s file now (it took the run over); these records stay in the queue for it"
    )]
    NotRunWriter { run: RunId },

    /// Several daemons: the schedule fire or job content a new run was to record is
    /// recorded already (`ScheduleState::already_started`): another daemon started
    /// that run. Nothing was created.
    #[error(
        "job {job}'s run for this schedule fire or file content was already started by another dredge daemon; no second run"
    )]
    AlreadyStarted { job: String },

    #[error(
        "run {run}'s committed output cursor is at {committed_bytes} bytes; a commit may not move it back to {offered_bytes}"
    )]
    CursorBackwards {
        run: RunId,
        committed_bytes: u64,
        offered_bytes: u64,
    },

    #[error(
        "cannot reach the PostgreSQL queue at {url}: {source}; check that the server runs and that [queue] url is right"
    )]
    Connect { url: String, source: StorageError },

    #[error(
        "the PostgreSQL queue was written by a newer dredge (schema version {database}, this dredge knows version {binary}); upgrade dredge to the version that wrote it, or newer"
    )]
    SchemaNewer { database: u32, binary: u32 },

    #[error(
        "node {node:?} of the PostgreSQL queue in schema {schema} is already running: {holder}; every daemon on a schema needs its own [queue] node name: stop that daemon, or give this one another node"
    )]
    NodeInUse {
        schema: String,
        node: String,
        holder: String,
    },

    #[error(
        "[queue] schema {schema:?} is not a plain PostgreSQL name; use lowercase letters, digits and _, not starting with a digit (at most 63)"
    )]
    BadSchemaName { schema: String },

    #[error("item {id} belongs to run {actual}, not to run {expected}")]
    WrongRun {
        id: ItemId,
        expected: RunId,
        actual: RunId,
    },
}

impl QueueError {
    /// Whether the call may have changed the database even though it failed: the
    /// storage failed while (or after) its changes were handed to sled, so only a
    /// reopen can tell what is on disk. Every other error is a refusal: nothing of
    /// the call was applied.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            QueueError::Storage(_)
                | QueueError::Database(_)
                | QueueError::GroupLost { .. }
                | QueueError::Closed { .. }
        )
    }

    /// The operating-system error behind a storage failure, if any (to tell a full or
    /// read-only disk from other faults).
    pub fn io_error(&self) -> Option<&std::io::Error> {
        match self {
            QueueError::Storage(e)
            | QueueError::Database(e)
            | QueueError::Open { source: e, .. } => e.io_error(),
            _ => None,
        }
    }
}

impl From<sled::Error> for QueueError {
    fn from(error: sled::Error) -> Self {
        QueueError::Storage(error.into())
    }
}

/// The storage under a backend failed (sled's I/O, a lost database connection), as that
/// storage said it. Each backend wraps its own errors in it, so that `QueueError`, the
/// error of every backend, names none of their types.
#[derive(Debug)]
pub struct StorageError(Box<dyn std::error::Error + Send + Sync>);

impl StorageError {
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StorageError(error.into())
    }

    /// The operating-system error behind it, if any.
    pub fn io_error(&self) -> Option<&std::io::Error> {
        match self.0.downcast_ref::<sled::Error>() {
            Some(sled::Error::Io(e)) => Some(e),
            Some(_) => None,
            None => self.0.downcast_ref::<std::io::Error>(),
        }
    }
}

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Transparent: the chain goes on with what the storage's own error was caused by.
impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl From<sled::Error> for StorageError {
    fn from(error: sled::Error) -> Self {
        StorageError::new(error)
    }
}

impl From<std::io::Error> for StorageError {
    fn from(error: std::io::Error) -> Self {
        StorageError::new(error)
    }
}

pub type Result<T, E = QueueError> = std::result::Result<T, E>;

/// What to do about a value of another format version depends on which side is newer.
fn version_message(what: &str, found: u8, expected: u8) -> String {
    let advice = if found > expected {
        "a newer dredge wrote the state_dir: run that version (or a newer one)"
    } else {
        "an older dredge wrote the state_dir: let that version finish its runs, or move the \
         state_dir aside to start empty (its output files stay where they are)"
    };
    format!(
        "stored {what} has format version {found}, this dredge reads version {expected}; {advice}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A full disk is told apart from other faults whichever backend's error carries it.
    #[test]
    fn the_os_error_behind_a_storage_failure_is_found_for_sled_and_for_a_plain_io_error() {
        let full = || std::io::Error::from_raw_os_error(28);
        let of_sled = QueueError::from(sled::Error::Io(full()));
        let plain = QueueError::Storage(full().into());
        for error in [&of_sled, &plain] {
            let io = error.io_error().expect("an OS error");
            assert_eq!(io.raw_os_error(), Some(28), "{error}");
            assert!(error.outcome_unknown());
        }
        let corrupt = QueueError::from(sled::Error::Unsupported("x".into()));
        assert!(corrupt.io_error().is_none());
        assert!(
            of_sled
                .to_string()
                .starts_with("state database I/O failed: IO error: "),
            "sled's own words are kept: {of_sled}"
        );
    }
}
