//! Workers: one lane per account leases that account's ready items and runs them
//! through its executor, at most `max_concurrency` at once. Idle lanes sleep until the
//! next item's time or a wake-up — never a busy poll.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use dredge_core::item::ItemContext;
use dredge_core::retry::{self, Decision, GateClosure, ItemBudget};
use dredge_core::{
    Executor, Failure, FailureClass, ItemStart, JobSpec, NewItem, Outcome, Record, Snooze,
    SnoozeScope, Throttle, UnixMillis,
};
use dredge_queue::{LeasedItem, Release};

use super::failpoint;
use super::health::is_storage_error;
use super::state::{Lane, Shared};
use super::writer::{StagedItem, WriterMsg};

/// How long a lease lasts beyond the account's request timeout before the reclaimer
/// may take it back (`reclaim_leases` in `mod.rs`; leases never survive a restart).
const LEASE_MARGIN: Duration = Duration::from_secs(600);
/// Longest sleep of an idle lane, as a safety net against a missed wake-up.
const MAX_IDLE: Duration = Duration::from_secs(60);

/// Run a lane until shutdown.
pub async fn run(shared: Arc<Shared>, lane: Arc<Lane>) {
    loop {
        if shared.shutdown.is_cancelled() {
            return;
        }
        let now = UnixMillis::now();
        if let Some(wait) = blocked_for(&shared, &lane, now) {
            idle(&shared, &lane, wait).await;
            continue;
        }
        let permit = tokio::select! {
            p = lane.slots.clone().acquire_owned() => p.expect("lane semaphore is never closed"),
            _ = shared.shutdown.cancelled() => return,
        };
        // The item whose slot this was may have closed the account gate (a 429 with
        // Retry-After) while we waited for the slot: look again before leasing.
        let now = UnixMillis::now();
        if let Some(wait) = blocked_for(&shared, &lane, now) {
            drop(permit);
            idle(&shared, &lane, wait).await;
            continue;
        }
        let leased = {
            let q = shared.queue.clone();
            let account = lane.account.clone();
            let until = now.after(lease_time(&shared, &lane));
            tokio::task::spawn_blocking(move || q.lease_next(&account, now, until)).await
        };
        match leased {
            Ok(Ok(Some(item))) if scope_wait(&lane, &item).is_some() => {
                let until = scope_wait(&lane, &item).unwrap_or(now);
                hold_for_scope(&shared, item, until).await;
                drop(permit);
            }
            Ok(Ok(Some(item))) => {
                lane.in_flight.fetch_add(1, Ordering::Relaxed);
                let (shared, lane) = (shared.clone(), lane.clone());
                tokio::spawn(async move {
                    execute(&shared, &lane, item).await;
                    lane.in_flight.fetch_sub(1, Ordering::Relaxed);
                    drop(permit);
                });
            }
            Ok(Ok(None)) => {
                drop(permit);
                let next = shared.queue.next_ready_at(&lane.account).ok().flatten();
                let wait = next.map_or(MAX_IDLE, |t| now.until(t).min(MAX_IDLE));
                idle(&shared, &lane, wait.max(Duration::from_millis(1))).await;
            }
            Ok(Err(e)) => {
                drop(permit);
                tracing::error!(account = %lane.account, error = %e, "cannot lease from the queue");
                report_if_storage(&shared, "leasing", &e);
                idle(&shared, &lane, Duration::from_secs(1)).await;
            }
            Err(e) => {
                drop(permit);
                tracing::error!(account = %lane.account, error = %e, "lease task failed");
            }
        }
    }
}

/// How long a lease lasts: the account's request timeout and a margin.
fn lease_time(shared: &Shared, lane: &Lane) -> Duration {
    let timeout = shared
        .config()
        .accounts
        .get(&lane.account)
        .map_or(Duration::ZERO, |a| a.timeout);
    timeout.saturating_add(LEASE_MARGIN)
}

/// A failed queue call that is the storage failing stops all leasing (see `health`).
fn report_if_storage(shared: &Shared, what: &str, e: &(dyn std::error::Error + 'static)) {
    if is_storage_error(e) {
        shared.health.report(what, e);
    }
}

/// When the leased item's scope opens, if the vendor closed it for longer.
fn scope_wait(lane: &Lane, item: &LeasedItem) -> Option<UnixMillis> {
    let scope = item.scope.as_deref()?;
    lane.scope_closed(scope, UnixMillis::now())
}

/// Put an item whose scope is closed back, unexecuted and uncounted, until it opens.
async fn hold_for_scope(shared: &Shared, item: LeasedItem, until: UnixMillis) {
    let q = shared.queue.clone();
    let release = Release::Snooze {
        until,
        polls: item.polls,
        note: "its domain is snoozed until the vendor's time".into(),
    };
    let (id, lease) = (item.id, item.lease());
    match tokio::task::spawn_blocking(move || q.release(lease, release)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(item = %id, error = %e, "cannot hold an item for its domain"),
        Err(e) => tracing::error!(item = %id, error = %e, "hold task failed"),
    }
}

/// Why the lane may not lease now, as a wait.
fn blocked_for(shared: &Shared, lane: &Lane, now: UnixMillis) -> Option<Duration> {
    // No vendor read while its result could not be recorded (woken when it clears).
    if shared.health.is_faulted() {
        return Some(MAX_IDLE);
    }
    if lane.auth_failure().is_some() || lane.executor().is_none() {
        return Some(MAX_IDLE);
    }
    lane.closed_at(now).map(|(until, _)| now.until(until))
}

async fn idle(shared: &Shared, lane: &Lane, wait: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(wait) => {}
        _ = lane.wake.notified() => {}
        _ = shared.shutdown.cancelled() => {}
    }
}

/// Execute one leased item and apply what the retry policy decides.
async fn execute(shared: &Shared, lane: &Arc<Lane>, item: LeasedItem) {
    let budget = ItemBudget {
        attempts: item.attempts,
        polls: item.polls,
        max_attempts: item.max_attempts,
        deadline: item.deadline,
    };
    let decision = if retry::expired(budget, UnixMillis::now()) {
        Decision::Dead {
            reason: format!(
                "deadline passed before the item could finish ({})",
                last_words(shared, &item)
            ),
        }
    } else {
        match (shared.spec_of(&item.run), lane.executor()) {
            (Ok(spec), Some(executor)) => {
                let outcome = execute_guarded(executor, spec, context(&item)).await;
                count_outcome(shared, lane, &outcome);
                retry::decide(outcome, budget, UnixMillis::now(), &mut rand::rng())
            }
            (Err(e), _) => Decision::Dead {
                reason: format!("cannot read the run's job definition: {e:#}"),
            },
            (_, None) => Decision::Wait {
                not_before: UnixMillis::now(),
                polls: item.polls,
                note: "account not available".into(),
                gate: None,
            },
        }
    };
    if let Err(e) = apply(shared, lane, &item, decision).await {
        // The lease is taken back by the reclaimer, or by the storage doctor's
        // recovery; the item is not lost.
        tracing::error!(item = %item.id, run = %item.run, error = %format!("{e:#}"), "cannot record an item's outcome");
        report_if_storage(shared, "recording an item's outcome", e.as_ref());
    }
}

/// The executor's call in a task of its own, so that a panic (a bug) becomes a counted
/// retry of the item instead of a lease nobody ends and a lane slot never given back.
async fn execute_guarded(
    executor: Arc<dyn Executor>,
    spec: Arc<JobSpec>,
    context: ItemContext,
) -> Outcome {
    let call = tokio::spawn(async move {
        if failpoint::fires(failpoint::EXECUTOR_PANIC) {
            panic!("failpoint {}", failpoint::EXECUTOR_PANIC);
        }
        executor.execute(&spec, &context).await
    });
    match call.await {
        Ok(outcome) => outcome,
        Err(e) => {
            let why = match e.try_into_panic() {
                Ok(panic) => panic_text(panic.as_ref()),
                Err(e) => e.to_string(),
            };
            tracing::error!(%why, "the executor panicked; the item is retried (a bug in dredge: please report it)");
            Outcome::Retry(Failure {
                class: FailureClass::Vendor,
                message: format!("the executor panicked ({why}); a bug in dredge"),
                retry_after: None,
                budget: None,
            })
        }
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

fn context(item: &LeasedItem) -> ItemContext {
    ItemContext {
        label: item.label.clone(),
        payload: item.payload.clone(),
        attempts: item.attempts,
        polls: item.polls,
        run_started: item.run_started,
    }
}

fn last_words(shared: &Shared, item: &LeasedItem) -> String {
    match shared.queue.item(item.id) {
        Ok(Some(info)) => info
            .last_error
            .or(info.note)
            .unwrap_or_else(|| "no answer yet".into()),
        _ => "no answer yet".into(),
    }
}

/// Make a completed item's records durable: handed to the writer, which appends them to
/// the run's file and commits the item Done (it stays leased until then), or staged in
/// the queue for the writer to append later (ARCHITECTURE "stage, then commit").
/// Wakes the lane once the item's follow-ups exist.
async fn finish(
    shared: &Shared,
    lane: &Arc<Lane>,
    item: &LeasedItem,
    records: Vec<Record>,
    follow_ups: Vec<NewItem>,
) -> anyhow::Result<()> {
    let (run, lease) = (item.run.clone(), item.lease());
    let wakes = !follow_ups.is_empty();
    let (records, follow_ups) = if records.is_empty() {
        (records, follow_ups)
    } else {
        let wake = wakes.then(|| {
            let lane = lane.clone();
            Box::new(move || lane.wake.notify_one()) as Box<dyn FnOnce() + Send>
        });
        let writer = shared.writer();
        match writer
            .write_now(run.clone(), lease, records, follow_ups, wake)
            .await
        {
            Ok(()) => return Ok(()),
            Err(back) => (back.records, back.follow_ups),
        }
    };
    let q = shared.queue.clone();
    let result =
        tokio::task::spawn_blocking(move || q.stage(lease, &records, follow_ups)).await??;
    if result.deduplicated > 0 {
        tracing::debug!(item = %lease.id, deduplicated = result.deduplicated, "follow-ups already in the run");
    }
    shared.writer().send(WriterMsg::Staged(StagedItem {
        run,
        item: lease.id,
    }));
    if wakes {
        lane.wake.notify_one();
    }
    Ok(())
}

async fn apply(
    shared: &Shared,
    lane: &Arc<Lane>,
    item: &LeasedItem,
    decision: Decision,
) -> anyhow::Result<()> {
    let q = shared.queue.clone();
    let id = item.lease();
    match decision {
        Decision::Complete { completion, gates } => {
            let (records, follow_ups) = (completion.records, completion.follow_ups);
            note_gates(lane, &gates);
            finish(shared, lane, item, records, follow_ups).await?;
            close_gates(shared, lane, gates).await?;
        }
        Decision::Wait {
            not_before,
            polls,
            note,
            gate,
        } => {
            let release = Release::Snooze {
                until: not_before,
                polls,
                note,
            };
            let gates: Vec<GateClosure> = gate.into_iter().collect();
            note_gates(lane, &gates);
            tokio::task::spawn_blocking(move || q.release(id, release)).await??;
            close_gates(shared, lane, gates).await?;
            lane.wake.notify_one();
        }
        Decision::Retry {
            not_before,
            attempts,
            error,
        } => {
            let release = Release::Retry {
                not_before,
                attempts,
                error,
            };
            tokio::task::spawn_blocking(move || q.release(id, release)).await??;
            lane.wake.notify_one();
        }
        Decision::Dead { reason } => {
            tracing::warn!(run = %item.run, item = %item.label, reason = %reason, "item dead");
            let parts = lane
                .executor()
                .map(|e| e.split_for_death(&context(item)))
                .unwrap_or_default();
            let dead = parts.len().max(1) as u64;
            let label = format!("job=\"{}\"", super::metrics::escape(&item.job));
            shared.metrics.add("dredge_dead_items_total", label, dead);
            if parts.is_empty() {
                tokio::task::spawn_blocking(move || q.kill(id, &reason)).await??;
                shared.writer().send(WriterMsg::Check(item.run.clone()));
            } else {
                // One dead item per input instead of one for the whole batch: the
                // parent ends with no records, its parts are listed and retried alone.
                let parts: Vec<_> = parts
                    .into_iter()
                    .map(|p| {
                        p.with_start(ItemStart::Dead {
                            reason: reason.clone(),
                        })
                    })
                    .collect();
                finish(shared, lane, item, Vec::new(), parts).await?;
            }
        }
        Decision::StopAccount { reason, kind } => {
            tracing::error!(account = %lane.account, reason = %reason, state = kind.as_str(),
                "the account's items stop until its configuration changes (dredge reload)");
            lane.stop_auth(kind, reason.clone());
            let release = Release::Snooze {
                until: UnixMillis::now(),
                polls: item.polls,
                note: format!("{}: {reason}", kind.as_str()),
            };
            tokio::task::spawn_blocking(move || q.release(id, release)).await??;
        }
    }
    Ok(())
}

/// Close the lane's in-memory gates before the items that caused them (or their
/// follow-ups) become leasable again, so no lease slips in between.
fn note_gates(lane: &Lane, gates: &[GateClosure]) {
    for gate in gates {
        match &gate.scope {
            SnoozeScope::Domain(domain) => lane.close_scope(domain, gate.until),
            SnoozeScope::Account => {
                lane.close_until(gate.until, "vendor asked the account to wait".into())
            }
            SnoozeScope::Item => {}
        }
    }
}

async fn close_gates(shared: &Shared, lane: &Lane, gates: Vec<GateClosure>) -> anyhow::Result<()> {
    for gate in gates {
        match gate.scope {
            SnoozeScope::Domain(domain) => {
                let q = shared.queue.clone();
                let account = lane.account.clone();
                let n = tokio::task::spawn_blocking(move || {
                    q.defer_scope(&account, &domain, gate.until)
                })
                .await??;
                tracing::debug!(account = %lane.account, deferred = n, "domain snoozed");
            }
            SnoozeScope::Account => {
                lane.close_until(gate.until, "vendor asked the account to wait".into());
                tracing::info!(account = %lane.account, until = %gate.until.to_rfc3339(), "account snoozed");
            }
            SnoozeScope::Item => {}
        }
    }
    Ok(())
}

fn count_outcome(shared: &Shared, lane: &Lane, outcome: &Outcome) {
    let vendor = lane.vendor.key();
    let kind = match outcome {
        Outcome::Done(_) => "done",
        Outcome::NotReady { .. } => "not_ready",
        Outcome::Snooze(Snooze { scope, .. }) | Outcome::Throttled(Throttle { scope, .. }) => {
            let scope = match scope {
                SnoozeScope::Item => "item",
                SnoozeScope::Domain(_) => "domain",
                SnoozeScope::Account => "account",
            };
            shared.metrics.add(
                "dredge_snoozes_total",
                format!("vendor=\"{vendor}\",scope=\"{scope}\""),
                1,
            );
            "snooze"
        }
        Outcome::Retry(f) => {
            shared.metrics.add(
                "dredge_failures_total",
                format!("vendor=\"{vendor}\",class=\"{}\"", f.class.as_str()),
                1,
            );
            "retry"
        }
        Outcome::Reauth => {
            shared.metrics.add(
                "dredge_token_refreshes_total",
                format!("vendor=\"{vendor}\""),
                1,
            );
            "reauth"
        }
        Outcome::AuthFailed { .. } => "auth_failed",
        Outcome::AccountSuspended { .. } => "account_suspended",
        Outcome::Fatal { .. } => "fatal",
    };
    if let Outcome::Done(c) = outcome {
        let domains = c.snoozes.len() as u64;
        if domains > 0 {
            shared.metrics.add(
                "dredge_snoozes_total",
                format!("vendor=\"{vendor}\",scope=\"domain\""),
                domains,
            );
        }
    }
    shared.metrics.add(
        "dredge_outcomes_total",
        format!("vendor=\"{vendor}\",outcome=\"{kind}\""),
        1,
    );
}
