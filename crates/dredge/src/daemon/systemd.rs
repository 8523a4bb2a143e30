//! Telling systemd how we are (Type=notify): READY, STOPPING and watchdog pings.
//! Every call is harmless without systemd (no NOTIFY_SOCKET: nothing is sent).

use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;

use super::state::Shared;
use super::writer::WriterMsg;

pub(super) fn ready() {
    let _ = sd_notify::notify(false, &[NotifyState::Ready]);
}

pub(super) fn stopping() {
    let _ = sd_notify::notify(false, &[NotifyState::Stopping]);
}

/// Ping the watchdog at half its interval, if systemd set one, while the daemon can
/// make progress: the writer and the queue each answer within a quarter of it. A
/// daemon waiting for disk space is idle for a good reason and keeps pinging (a
/// restart would not help); a wedged writer or queue stops the pings, and systemd
/// restarts the service.
pub(super) async fn watchdog(shared: Arc<Shared>) {
    let mut usec = 0u64;
    if !sd_notify::watchdog_enabled(false, &mut usec) || usec == 0 {
        return;
    }
    let every = Duration::from_micros(usec / 2);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shared.shutdown.cancelled() => return,
        }
        if responsive(&shared, every / 2).await {
            let _ = sd_notify::notify(false, &[NotifyState::Watchdog]);
        } else {
            tracing::error!(
                "the writer or the queue did not answer in time: not pinging the watchdog"
            );
        }
    }
}

async fn responsive(shared: &Shared, within: Duration) -> bool {
    let (done, answered) = tokio::sync::oneshot::channel();
    shared.writer().send(WriterMsg::Barrier(done));
    let writer = matches!(tokio::time::timeout(within, answered).await, Ok(Ok(())));
    let q = shared.queue.clone();
    let queue = tokio::time::timeout(within, tokio::task::spawn_blocking(move || q.ping()))
        .await
        .is_ok();
    writer && queue
}
