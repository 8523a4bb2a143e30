//! Telling systemd how we are (Type=notify): READY, STOPPING and watchdog pings.
//! Every call is harmless without systemd (no NOTIFY_SOCKET: nothing is sent).

use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;

use super::state::Shared;

pub fn ready() {
    let _ = sd_notify::notify(false, &[NotifyState::Ready]);
}

pub fn stopping() {
    let _ = sd_notify::notify(false, &[NotifyState::Stopping]);
}

/// Ping the watchdog at half its interval while the daemon runs, if systemd set one.
pub async fn watchdog(shared: Arc<Shared>) {
    let mut usec = 0u64;
    if !sd_notify::watchdog_enabled(false, &mut usec) || usec == 0 {
        return;
    }
    let every = Duration::from_micros(usec / 2);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {
                let _ = sd_notify::notify(false, &[NotifyState::Watchdog]);
            }
            _ = shared.shutdown.cancelled() => return,
        }
    }
}
