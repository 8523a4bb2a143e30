//! Workers: one lane per account leases that account's ready items and runs them
//! through its executor, at most `max_concurrency` at once. Idle lanes sleep until the
//! next item's time or a wake-up — never a busy poll.
//!
//! Each leased item goes through `dredge_core::step` (execute under a panic guard,
//! `retry::decide`, apply), the step the test driver runs too; this module is its
//! plumbing: leasing, the queue, the writer, the lane's gates and the metrics.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use dredge_core::item::ItemContext;
use dredge_core::retry::{AccountStop, GateClosure, ItemBudget};
use dredge_core::step::{self, Plumbing, Requeue, StepItem};
use dredge_core::{
    Executor, JobSpec, NewItem, Outcome, PlanError, Record, Snooze, SnoozeScope, Throttle,
    UnixMillis,
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
pub(super) async fn run(shared: Arc<Shared>, lane: Arc<Lane>) {
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
        .map_or(Duration::ZERO, |a| a.limits().timeout);
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

/// Execute one leased item and apply what the retry rules decide: the step of
/// `dredge_core::step`, landing in the queue and the writer.
async fn execute(shared: &Shared, lane: &Arc<Lane>, item: LeasedItem) {
    let step = StepItem {
        context: context(&item),
        budget: ItemBudget {
            attempts: item.attempts,
            polls: item.polls,
            max_attempts: item.max_attempts,
            deadline: item.deadline,
        },
    };
    let plumbing = InLane {
        shared,
        lane,
        item: &item,
    };
    if let Err(e) = step::run(&plumbing, &step).await {
        // The lease is taken back by the reclaimer, or by the storage doctor's
        // recovery; the item is not lost.
        tracing::error!(item = %item.id, run = %item.run, error = %format!("{e:#}"), "cannot record an item's outcome");
        report_if_storage(shared, "recording an item's outcome", e.as_ref());
    }
}

/// Where one leased item's step lands: the queue, the writer, the lane's gates and the
/// metrics.
struct InLane<'a> {
    shared: &'a Shared,
    lane: &'a Arc<Lane>,
    item: &'a LeasedItem,
}

#[async_trait]
impl Plumbing for InLane<'_> {
    type Error = anyhow::Error;

    fn executor(&self) -> Option<Arc<dyn Executor>> {
        let executor = self.lane.executor()?;
        Some(Arc::new(WithFailpoint(executor)))
    }

    fn spec(&self) -> Result<Arc<JobSpec>, String> {
        self.shared
            .spec_of(&self.item.run)
            .map_err(|e| format!("{e:#}"))
    }

    fn last_words(&self) -> Option<String> {
        let info = self.shared.queue.item(self.item.id).ok().flatten()?;
        info.last_error.or(info.note)
    }

    fn executed(&self, outcome: &Outcome) {
        count_outcome(self.shared, self.lane, outcome);
    }

    fn panicked(&self, why: &str) {
        tracing::error!(%why, "the executor panicked; the item is retried (a bug in dredge: please report it)");
    }

    fn died(&self, reason: &str, items: u64) {
        let item = self.item;
        tracing::warn!(run = %item.run, item = %item.label, reason = %reason, "item dead");
        let label = format!("job=\"{}\"", super::metrics::escape(&item.job));
        (self.shared.metrics).add("dredge_dead_items_total", label, items);
    }

    fn requeued(&self) {
        self.lane.wake.notify_one();
    }

    /// Close the lane's in-memory gate before the item that caused it (or its
    /// follow-ups) becomes leasable again, so no lease slips in between.
    fn note_gate(&self, gate: &GateClosure) {
        let lane = self.lane;
        match &gate.scope {
            SnoozeScope::Domain(domain) => lane.close_scope(domain, gate.until),
            SnoozeScope::Account => {
                lane.close_until(gate.until, "vendor asked the account to wait".into())
            }
            SnoozeScope::Item => {}
        }
    }

    async fn close_gate(&self, gate: GateClosure) -> anyhow::Result<()> {
        let lane = self.lane;
        match gate.scope {
            SnoozeScope::Domain(domain) => {
                let q = self.shared.queue.clone();
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
        Ok(())
    }

    async fn finish(&self, records: Vec<Record>, follow_ups: Vec<NewItem>) -> anyhow::Result<()> {
        finish(self.shared, self.lane, self.item, records, follow_ups).await
    }

    async fn requeue(&self, requeue: Requeue) -> anyhow::Result<()> {
        let release = match requeue {
            Requeue::Wait {
                not_before,
                polls,
                note,
            } => Release::Snooze {
                until: not_before,
                polls,
                note,
            },
            Requeue::Retry {
                not_before,
                attempts,
                error,
            } => Release::Retry {
                not_before,
                attempts,
                error,
            },
        };
        let (q, lease) = (self.shared.queue.clone(), self.item.lease());
        tokio::task::spawn_blocking(move || q.release(lease, release)).await??;
        Ok(())
    }

    async fn kill(&self, reason: String) -> anyhow::Result<()> {
        let (q, lease) = (self.shared.queue.clone(), self.item.lease());
        tokio::task::spawn_blocking(move || q.kill(lease, &reason)).await??;
        (self.shared.writer()).send(WriterMsg::Check(self.item.run.clone()));
        Ok(())
    }

    fn stop_account(&self, kind: AccountStop, reason: &str) {
        tracing::error!(account = %self.lane.account, reason = %reason, state = kind.as_str(),
            "the account's items stop until its configuration changes (dredge reload)");
        self.lane.stop_auth(kind, reason.to_string());
    }
}

/// The lane's executor with the `executor_panic` failpoint checked inside its call,
/// where the step's panic guard catches it.
struct WithFailpoint(Arc<dyn Executor>);

#[async_trait]
impl Executor for WithFailpoint {
    fn plan(&self, job: &JobSpec, inputs: &[String]) -> Result<Vec<NewItem>, PlanError> {
        self.0.plan(job, inputs)
    }

    async fn execute(&self, job: &JobSpec, item: &ItemContext) -> Outcome {
        if failpoint::fires(failpoint::EXECUTOR_PANIC) {
            panic!("failpoint {}", failpoint::EXECUTOR_PANIC);
        }
        self.0.execute(job, item).await
    }

    fn split_for_death(&self, item: &ItemContext) -> Vec<NewItem> {
        self.0.split_for_death(item)
    }
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
    // Several daemons: the records go into the queue with the item's commit, for
    // whichever daemon writes the run (`writer/cluster.rs`).
    let (records, follow_ups) = if records.is_empty() || shared.queue.cluster().is_some() {
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

fn count_outcome(shared: &Shared, lane: &Lane, outcome: &Outcome) {
    let vendor = lane.vendor.key();
    match outcome {
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
        }
        Outcome::Retry(f) => {
            shared.metrics.add(
                "dredge_failures_total",
                format!("vendor=\"{vendor}\",class=\"{}\"", f.class.as_str()),
                1,
            );
        }
        Outcome::Reauth => {
            shared.metrics.add(
                "dredge_token_refreshes_total",
                format!("vendor=\"{vendor}\""),
                1,
            );
        }
        Outcome::Done(c) if !c.snoozes.is_empty() => {
            shared.metrics.add(
                "dredge_snoozes_total",
                format!("vendor=\"{vendor}\",scope=\"domain\""),
                c.snoozes.len() as u64,
            );
        }
        _ => {}
    }
    let kind = step::outcome_name(outcome);
    shared.metrics.add(
        "dredge_outcomes_total",
        format!("vendor=\"{vendor}\",outcome=\"{kind}\""),
        1,
    );
}

#[cfg(test)]
mod tests;
