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
        "state database at {path} was closed by a failed checkpoint; restart dredge to reopen it"
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

    #[error("item {id} belongs to run {actual}, not to run {expected}")]
    WrongRun {
        id: ItemId,
        expected: RunId,
        actual: RunId,
    },
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
