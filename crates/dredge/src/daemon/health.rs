//! Whether the daemon can write: a storage fault (a full or read-only disk, an I/O
//! error of the state database or an output file) stops all leasing until the
//! storage doctor (`storage.rs`) has seen writes succeed again and recovered.
//!
//! Why stop everything rather than retry item by item: a vendor answer that cannot be
//! recorded must not be fetched (an Octoparse read without ack is destructive), and
//! sled 0.34 fails every call after an I/O error until it is reopened, so nothing
//! short of a reopen and a recovery makes progress anyway.

use std::error::Error as StdError;
use std::io;
use std::sync::Mutex;

use dredge_core::UnixMillis;
use dredge_queue::QueueError;
use tokio::sync::Notify;

/// What went wrong with the storage, as status shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StorageFault {
    /// `disk_full`, `read_only` or `io_error`.
    pub kind: &'static str,
    /// What failed and the operating system's words.
    pub detail: String,
    pub since: UnixMillis,
}

#[derive(Default)]
pub(super) struct StorageHealth {
    fault: Mutex<Option<StorageFault>>,
    /// Notified when a fault is reported.
    pub faulted: Notify,
}

impl StorageHealth {
    /// Records a storage failure (the first one's time is kept while it lasts).
    /// Returns whether this started a fault.
    pub(super) fn report(&self, what: &str, error: &(dyn StdError + 'static)) -> bool {
        let kind = classify(error);
        let detail = format!("{what}: {}", chain(error));
        let mut fault = self.fault.lock().unwrap_or_else(|p| p.into_inner());
        let started = fault.is_none();
        let since = fault.as_ref().map_or_else(UnixMillis::now, |f| f.since);
        if started {
            tracing::error!(kind, %detail, "storage fault: no new items are leased until writes succeed again");
        }
        *fault = Some(StorageFault {
            kind,
            detail,
            since,
        });
        drop(fault);
        self.faulted.notify_one();
        started
    }

    pub(super) fn fault(&self) -> Option<StorageFault> {
        self.fault.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(super) fn is_faulted(&self) -> bool {
        self.fault().is_some()
    }

    pub(super) fn clear(&self) {
        *self.fault.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// Whether an error is the storage failing (as opposed to a refusal or a bug).
pub(super) fn is_storage_error(error: &(dyn StdError + 'static)) -> bool {
    sources(error).any(|e| {
        e.downcast_ref::<io::Error>().is_some()
            || e.downcast_ref::<QueueError>()
                .is_some_and(QueueError::outcome_unknown)
    })
}

/// `disk_full`, `read_only` or `io_error`, from the first OS error in the chain.
pub(super) fn classify(error: &(dyn StdError + 'static)) -> &'static str {
    let io = sources(error).find_map(|e| {
        e.downcast_ref::<io::Error>().or_else(|| {
            e.downcast_ref::<QueueError>()
                .and_then(QueueError::io_error)
        })
    });
    match io {
        Some(e) if e.kind() == io::ErrorKind::StorageFull || e.raw_os_error() == Some(28) => {
            "disk_full"
        }
        Some(e)
            if e.kind() == io::ErrorKind::ReadOnlyFilesystem || e.raw_os_error() == Some(30) =>
        {
            "read_only"
        }
        _ => "io_error",
    }
}

fn sources<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    let mut next = Some(error);
    std::iter::from_fn(move || {
        let current = next?;
        next = current.source();
        Some(current)
    })
}

fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    for e in sources(error).skip(1) {
        let more = e.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_and_a_read_only_one_are_told_apart_through_the_queue_error() {
        let full = QueueError::Storage(io::Error::from_raw_os_error(28).into());
        assert_eq!(classify(&full), "disk_full");
        let ro = io::Error::from_raw_os_error(30);
        assert_eq!(classify(&ro), "read_only");
        let other = io::Error::other("bad sector");
        assert_eq!(classify(&other), "io_error");
        assert!(is_storage_error(&full));
        let refused = QueueError::LeaseLost {
            id: dredge_queue::ItemId(1),
        };
        assert!(!is_storage_error(&refused));
    }

    #[test]
    fn a_fault_keeps_its_first_time_until_cleared() {
        let health = StorageHealth::default();
        let e = io::Error::from_raw_os_error(28);
        assert!(health.report("writing out/a", &e));
        let first = health.fault().unwrap();
        assert_eq!(first.kind, "disk_full");
        assert!(first.detail.starts_with("writing out/a: "));
        assert!(!health.report("queue commit", &e));
        assert_eq!(health.fault().unwrap().since, first.since);
        health.clear();
        assert!(!health.is_faulted());
    }
}
