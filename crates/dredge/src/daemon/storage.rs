//! The storage doctor: after a storage fault (see `health`), it waits until the lanes
//! have stopped, checks that the state and output directories take writes again, and
//! has the writer reopen the queue and recover every run — the recovery of a restart,
//! without one. Then leasing resumes. No item is lost or killed because of the fault.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::state::Shared;
use super::writer::WriterMsg;

const FIRST_WAIT: Duration = Duration::from_millis(500);
const LONGEST_WAIT: Duration = Duration::from_secs(10);

/// Run until shutdown, healing each fault as it is reported.
pub(super) async fn doctor(shared: Arc<Shared>) {
    loop {
        if !shared.health.is_faulted() {
            tokio::select! {
                _ = shared.health.faulted.notified() => {}
                _ = shared.shutdown.cancelled() => return,
            }
        }
        if let Some(fault) = shared.health.fault() {
            let label = format!("state=\"{}\"", fault.kind);
            shared.metrics.add("dredge_storage_faults_total", label, 1);
            heal(&shared).await;
        }
    }
}

/// Retry, with a growing pause, until the storage is writable and recovery worked.
async fn heal(shared: &Arc<Shared>) {
    let mut wait = FIRST_WAIT;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shared.shutdown.cancelled() => return,
        }
        wait = (wait * 2).min(LONGEST_WAIT);
        // Lanes lease nothing during a fault; calls in flight end within their
        // account's timeout, and what they return is held or reverted by recovery.
        // Lanes whose records wait for room in the writer's budget wait for recovery
        // (held records fill it), which keeps their leases.
        if shared.in_flight() > shared.writer().waiting_for_room() {
            continue;
        }
        let dirs = [
            shared.config().state_dir.clone(),
            shared.config().output_dir.clone(),
        ];
        let probed = tokio::task::spawn_blocking(move || dirs.iter().try_for_each(|d| probe(d)))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        if let Err(e) = probed {
            shared.health.report("checking the state directory", &e);
            continue;
        }
        let (done, answer) = tokio::sync::oneshot::channel();
        shared.writer().send(WriterMsg::Recover(done));
        match answer.await {
            Ok(Ok(())) => {
                shared.health.clear();
                shared.wake_lanes();
                shared.sched_wake.notify_one();
                tracing::info!("storage takes writes again: recovered, leasing resumes");
                return;
            }
            Ok(Err(why)) => tracing::warn!(%why, "storage not recovered yet; trying again"),
            Err(_) => return, // the writer stopped: shutdown
        }
    }
}

/// Writes, syncs and removes a small file in `dir`: does the disk take writes?
fn probe(dir: &Path) -> std::io::Result<()> {
    let path = dir.join(".dredge-probe");
    let result = (|| {
        let mut file = std::fs::File::create(&path)?;
        file.write_all(&[0u8; 64 * 1024])?;
        file.sync_all()
    })();
    let _ = std::fs::remove_file(&path);
    result
}
