//! Watching the job directory. File events are only hints: after a quiet moment the
//! whole directory is re-read, so a file written in several chunks ends up loaded with
//! its last content, and a missed event is caught by the periodic rescan.

use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, new_debouncer};
use tokio::sync::mpsc;

use super::control;
use super::state::Shared;

/// Quiet time after the last event before the directory is re-read.
const DEBOUNCE: Duration = Duration::from_millis(500);
/// Rescan this often even without events (network filesystems, missed events).
const RESCAN_EVERY: Duration = Duration::from_secs(30);

/// The jobs directory's watcher, set up but not yet serving.
pub(super) struct Watch {
    events: mpsc::UnboundedReceiver<()>,
    /// Kept alive for as long as events are wanted (`None`: periodic rescans only).
    _debouncer: Option<Box<dyn Send>>,
}

/// Starts watching the jobs directory. Call it before the first scan: a file written
/// between that scan and the watch would otherwise wait for the periodic rescan.
pub(super) fn start(shared: &Shared) -> Watch {
    let (tx, events) = mpsc::unbounded_channel::<()>();
    let dir = shared.config().jobs_dir.clone();
    let debouncer = new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| {
        if result.is_ok_and(|events| events.iter().any(|e| changes_files(&e.kind))) {
            let _ = tx.send(());
        }
    });
    let debouncer: Option<Box<dyn Send>> = match debouncer {
        Ok(mut d) => match d.watch(&dir, RecursiveMode::NonRecursive) {
            Ok(()) => Some(Box::new(d)),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot watch the jobs directory; rescanning every {}s", RESCAN_EVERY.as_secs());
                None
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, "no file watcher available; rescanning periodically");
            None
        }
    };
    Watch {
        events,
        _debouncer: debouncer,
    }
}

/// Whether an event can change what the directory holds. Reads are not: a rescan
/// opens every job file, and counting those opens as changes made an idle daemon
/// rescan every half second, forever.
fn changes_files(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// Rescans the jobs directory after each burst of events, every `RESCAN_EVERY`, and on
/// reload, until shutdown.
pub(super) async fn run(shared: Arc<Shared>, watch: Watch) {
    let Watch {
        events: mut rx,
        _debouncer,
    } = watch;
    loop {
        tokio::select! {
            event = rx.recv() => {
                if event.is_none() {
                    // The watcher is gone; keep the periodic rescan.
                    tokio::time::sleep(RESCAN_EVERY).await;
                }
                while rx.try_recv().is_ok() {}
            }
            _ = tokio::time::sleep(RESCAN_EVERY) => {}
            _ = shared.reload_wake.notified() => {
                control::reload(&shared).await;
                continue;
            }
            _ = shared.shutdown.cancelled() => return,
        }
        control::rescan_jobs(&shared).await;
    }
}

#[cfg(test)]
mod tests {
    use notify::event::{CreateKind, ModifyKind, RemoveKind, RenameMode};

    use super::*;

    #[test]
    fn reading_a_file_is_not_a_change_but_writing_renaming_and_removing_are() {
        for read in [
            AccessKind::Open(AccessMode::Read),
            AccessKind::Open(AccessMode::Any),
            AccessKind::Close(AccessMode::Read),
            AccessKind::Read,
            AccessKind::Any,
        ] {
            assert!(!changes_files(&EventKind::Access(read)), "{read:?}");
        }
        for change in [
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            EventKind::Create(CreateKind::File),
            EventKind::Modify(ModifyKind::Name(RenameMode::To)),
            EventKind::Modify(ModifyKind::Any),
            EventKind::Remove(RemoveKind::File),
            EventKind::Any,
        ] {
            assert!(changes_files(&change), "{change:?}");
        }
    }
}
