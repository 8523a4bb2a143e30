//! Watching the job directory. File events are only hints: after a quiet moment the
//! whole directory is re-read, so a file written in several chunks ends up loaded with
//! its last content, and a missed event is caught by the periodic rescan.

use std::sync::Arc;
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, new_debouncer};
use tokio::sync::mpsc;

use super::control;
use super::state::Shared;

/// Quiet time after the last event before the directory is re-read.
const DEBOUNCE: Duration = Duration::from_millis(500);
/// Rescan this often even without events (network filesystems, missed events).
const RESCAN_EVERY: Duration = Duration::from_secs(30);

pub async fn run(shared: Arc<Shared>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let dir = shared.config().jobs_dir.clone();
    let debouncer = new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| {
        if result.is_ok() {
            let _ = tx.send(());
        }
    });
    let _debouncer = match debouncer {
        Ok(mut d) => match d.watch(&dir, RecursiveMode::NonRecursive) {
            Ok(()) => Some(d),
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
