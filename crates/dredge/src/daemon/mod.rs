//! `dredge daemon`: the long-running service. This module starts the parts in order —
//! config, queue (with recovery), writer, lanes, jobs, socket, scheduler, watcher — and
//! stops them in reverse on SIGTERM/SIGINT.

mod accounts;
mod api;
mod backend;
mod callbacks;
mod cluster;
mod cluster_upkeep;
mod control;
pub(crate) mod executors;
pub(crate) mod export;
mod failpoint;
mod health;
mod http_listen;
mod inputs;
mod jobs;
mod lanes;
mod metrics;
mod metrics_http;
mod output;
mod planner;
mod recovery;
mod retention;
mod runs;
mod snapshot;
mod state;
mod storage;
mod systemd;
#[cfg(test)]
mod test_support;
mod watch;
mod writer;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use dredge_core::UnixMillis;
use dredge_queue::Recovery;
use tokio::signal::unix::{SignalKind, signal};

use crate::config::{DaemonConfig, LogFormat};
use state::Shared;
use writer::{StagedItem, WriterMsg};

/// How long in-flight calls may take to finish after SIGTERM.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) fn run(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = DaemonConfig::load(config_path)?;
    init_logging(config.log_format);
    accounts::log_broken(None, &config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("dredge")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(config))
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

async fn serve(config: DaemonConfig) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&config.state_dir).with_context(|| {
        format!(
            "cannot create the state directory {}",
            config.state_dir.display()
        )
    })?;
    std::fs::create_dir_all(&config.output_dir).with_context(|| {
        format!(
            "cannot create the output directory {}",
            config.output_dir.display()
        )
    })?;
    let backend::Opened {
        queue,
        recovery,
        holder: _node_held_until_exit,
        warnings: queue_warnings,
    } = backend::open(&config).await?;
    let socket_path = config.socket.clone();
    let shared = Arc::new(Shared::new(config.clone(), queue, queue_warnings));
    let (writer, writer_thread) = writer::spawn(shared.clone());
    let _ = shared.writer.set(writer);
    // Recovery first: lanes must not stage anything before the runs' files are cut
    // back to their committed cursors. On a shared queue, the heartbeat before
    // leasing: the other daemons take back the leases of nodes without one.
    recover(&shared, recovery);
    // Beat once before the lanes start: their gates then start at this daemon's share,
    // and the others do not take back the leases it is about to take. Then listen, so
    // no commit of another daemon is missed once the lanes run.
    cluster::join(&shared).await;
    cluster_upkeep::listen(&shared).context("cannot listen for the queue's wake-ups")?;
    control::apply_config(&shared, config);
    let watch = watch::start(&shared);
    control::rescan_jobs(&shared).await;

    let listener = crate::rpc::bind(&socket_path, None)?;
    let api = Arc::new(api::DaemonApi(shared.clone()));
    let rpc_shutdown = shared.shutdown.clone();
    let limits = shared.config().socket_limits;
    let options = crate::rpc::Options {
        groups: shared.config().socket_groups,
        max_connections: limits.max_connections,
        line_timeout: limits.line_timeout,
    };
    tokio::spawn(crate::rpc::serve(
        listener,
        api.clone(),
        options,
        async move { rpc_shutdown.cancelled().await },
    ));
    if let Some(addr) = shared.config().callback_listen {
        tokio::spawn(callbacks::serve(shared.clone(), addr));
    }
    if let Some(addr) = shared.config().metrics_listen {
        tokio::spawn(metrics_http::serve(addr, api));
    }
    tokio::spawn(control::scheduler(shared.clone()));
    tokio::spawn(watch::run(shared.clone(), watch));
    tokio::spawn(systemd::watchdog(shared.clone()));
    tokio::spawn(signals(shared.clone()));
    tokio::spawn(checkpoints(shared.clone()));
    tokio::spawn(reclaim_leases(shared.clone()));
    tokio::spawn(storage::doctor(shared.clone()));
    tokio::spawn(planner::run(shared.clone()));
    let heartbeat = tokio::spawn(cluster::run(shared.clone()));
    tokio::spawn(retention::run(shared.clone()));
    systemd::ready();
    tracing::info!(socket = %socket_path.display(), "dredge daemon ready");

    shared.shutdown.cancelled().await;
    systemd::stopping();
    drain(&shared).await;
    // The heartbeat loop leaves the cluster once it sees the shutdown.
    let _ = heartbeat.await;
    let (done, wait) = tokio::sync::oneshot::channel();
    shared.writer().send(WriterMsg::Barrier(done));
    let _ = wait.await;
    let _ = std::fs::remove_file(&socket_path);
    drop(writer_thread);
    tracing::info!("dredge daemon stopped");
    Ok(ExitCode::SUCCESS)
}

async fn signals(shared: Arc<Shared>) {
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading config and job files");
                shared.reload_wake.notify_one();
            }
        }
    }
    tracing::info!("shutting down: no new items are leased, in-flight calls finish");
    shared.shutdown.cancel();
}

/// Item writes after which the queue is checkpointed (closed and reopened). sled
/// replays its whole log since the last open on the next open, and holds memory for
/// what it wrote since then: without this, a restart after a large run can take many
/// seconds. Each checkpoint holds writers off while sled reopens (a few hundred ms,
/// longer the more it replays), so they must come often enough to stay short and
/// rarely enough not to add up; see BENCHMARKS.md.
const CHECKPOINT_AFTER_WRITES: u64 = 100_000;
/// How often the write count is looked at: often enough that a fast writer (planning
/// adds ~15,000 items/s) does not run far past `CHECKPOINT_AFTER_WRITES`.
const CHECKPOINT_CHECK_EVERY: Duration = Duration::from_secs(2);

async fn checkpoints(shared: Arc<Shared>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(CHECKPOINT_CHECK_EVERY) => {}
            _ = shared.shutdown.cancelled() => return,
        }
        if shared.health.is_faulted()
            || shared.queue.item_writes_since_checkpoint() < CHECKPOINT_AFTER_WRITES
        {
            continue;
        }
        let q = shared.queue.clone();
        // The queue logs what each part of the checkpoint took.
        match tokio::task::spawn_blocking(move || q.checkpoint()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "queue checkpoint failed"),
            Err(e) => tracing::error!(error = %e, "queue checkpoint task failed"),
        }
    }
}

/// How often leases that outlived their worker are looked for.
const RECLAIM_EVERY: Duration = Duration::from_secs(30);

/// Takes back leases whose time ran out while the daemon runs (a worker that never
/// ended its item), so their items run again without a restart. Their late results are
/// refused by the lease epochs. Not during a storage fault: recovery handles leases then.
async fn reclaim_leases(shared: Arc<Shared>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(RECLAIM_EVERY) => {}
            _ = shared.shutdown.cancelled() => return,
        }
        if shared.health.is_faulted() {
            continue;
        }
        let q = shared.queue.clone();
        match tokio::task::spawn_blocking(move || q.reclaim_expired_leases(UnixMillis::now())).await
        {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => {
                tracing::warn!(
                    reclaimed = n,
                    "leases that outlived their worker were taken back; their items run again"
                );
                shared.wake_lanes();
            }
            Ok(Err(e)) => tracing::error!(error = %e, "cannot reclaim expired leases"),
            Err(e) => tracing::error!(error = %e, "lease reclaim task failed"),
        }
    }
}

/// Wait (bounded) for in-flight items to finish.
async fn drain(shared: &Shared) {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    loop {
        let busy: usize = shared
            .lanes
            .lock()
            .expect("lanes poisoned")
            .values()
            .map(|l| l.in_flight())
            .sum();
        if busy == 0 {
            return;
        }
        if Instant::now() >= deadline {
            tracing::warn!(
                in_flight = busy,
                "calls still in flight after 30 s; their items are retried after restart"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Undo a crash: cut each unfinished run's `.partial` back to its committed cursor
/// (a run whose file cannot be recovered ends failed; the daemon starts anyway),
/// replay staged-but-uncommitted items to the writer, then finish runs that are done.
fn recover(shared: &Shared, recovery: Recovery) {
    if shared.queue.cluster().is_some() {
        // Several daemons: each run's writer recovers its file when it takes the run
        // (`writer/cluster.rs`); this daemon's first round takes its share.
        shared.writer().send(WriterMsg::Tick);
        sweep_inputs(shared);
        return;
    }
    for (run, file) in recovery::reopen_files(shared, &recovery) {
        shared.writer().send(WriterMsg::Open(run, file));
    }
    for (run, item) in recovery.staged {
        shared
            .writer()
            .send(WriterMsg::Staged(StagedItem { run, item }));
    }
    for (run, _) in recovery.cursors {
        shared.writer().send(WriterMsg::Check(run));
    }
    sweep_inputs(shared);
}

/// Removes input copies no run still plans from.
fn sweep_inputs(shared: &Shared) {
    match shared.queue.planning_runs() {
        Ok(runs) => {
            let keep = runs.into_iter().map(|(_, cursor)| cursor.input).collect();
            inputs::sweep(&inputs::dir_of(&shared.config().state_dir), &keep);
        }
        Err(e) => tracing::error!(error = %e, "cannot list the runs being planned"),
    }
}
