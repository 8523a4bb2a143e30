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
    Open { path: PathBuf, source: sled::Error },

    #[error("state database I/O failed: {0}; check disk space and permissions of the state_dir")]
    Storage(#[from] sled::Error),

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

    #[error(
        "run {run}'s committed output cursor is at {committed_bytes} bytes; a commit may not move it back to {offered_bytes}"
    )]
    CursorBackwards {
        run: RunId,
        committed_bytes: u64,
        offered_bytes: u64,
    },

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
            QueueError::Storage(_) | QueueError::GroupLost { .. } | QueueError::Closed { .. }
        )
    }

    /// The operating-system error behind a storage failure, if any (to tell a full or
    /// read-only disk from other faults).
    pub fn io_error(&self) -> Option<&std::io::Error> {
        match self {
            QueueError::Storage(sled::Error::Io(e))
            | QueueError::Open {
                source: sled::Error::Io(e),
                ..
            } => Some(e),
            _ => None,
        }
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
