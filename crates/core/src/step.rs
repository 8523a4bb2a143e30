//! One leased item's step — execute it under a panic guard, let [`retry::decide`] judge
//! the outcome, apply the decision — written once for the daemon's lanes and the test
//! driver (`testing`), so that a rule changed here changes for both.
//!
//! What differs between the two is plumbing: where the job spec and the executor come
//! from, and where a decision lands (the daemon's queue and writer, the driver's
//! in-memory board). That is the [`Plumbing`] trait. Every rule lives in [`run`]: the
//! deadline check before executing, a panic becoming a counted failure with its text,
//! `decide`, gates closed before the item (or its follow-ups) can be leased again, a dead
//! item split through [`Executor::split_for_death`] into dead parts, and a stopped
//! account putting its item back untouched.

use std::sync::Arc;

use async_trait::async_trait;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::executor::Executor;
use crate::item::{ItemContext, ItemStart, NewItem};
use crate::job::JobSpec;
use crate::outcome::{Failure, FailureClass, Outcome, SnoozeScope};
use crate::record::Record;
use crate::retry::{self, AccountStop, Decision, GateClosure, ItemBudget};
use crate::time::UnixMillis;

/// A leased item as the step sees it.
#[derive(Debug, Clone)]
pub struct StepItem {
    /// What the executor is told.
    pub context: ItemContext,
    /// Where the item stands for the retry rules.
    pub budget: ItemBudget,
}

/// An item going back to wait, with its new counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requeue {
    /// Uncounted: `polls` is the new number of waits (unchanged when the item goes back
    /// untouched).
    Wait {
        not_before: UnixMillis,
        polls: u32,
        note: String,
    },
    /// One more counted attempt: `attempts` is the new total.
    Retry {
        not_before: UnixMillis,
        attempts: u32,
        error: String,
    },
}

/// Where one item's decisions land, and where its executor and job come from. One value
/// per leased item: the methods act on that item.
#[async_trait]
pub trait Plumbing: Send + Sync {
    type Error: Send;

    /// The executor to run the item with; `None` when the account has none now.
    fn executor(&self) -> Option<Arc<dyn Executor>>;
    /// The job definition the item's run started with.
    fn spec(&self) -> Result<Arc<JobSpec>, String>;
    /// The item's last error or note, quoted when it dies at its deadline.
    fn last_words(&self) -> Option<String> {
        None
    }
    /// Randomness for the policy's jitter.
    fn rng(&self) -> StdRng {
        StdRng::from_rng(&mut rand::rng())
    }
    /// The executor answered (counted before the policy judges it).
    fn executed(&self, _outcome: &Outcome) {}
    /// The executor panicked; `why` is the panic's text. The item is retried.
    fn panicked(&self, _why: &str) {}
    /// The item dies, standing for `items` dead items (its parts, or itself).
    fn died(&self, _reason: &str, _items: u64) {}
    /// The item is back in the queue, its gates closed: it (or another) may be leased.
    fn requeued(&self) {}

    /// Close a gate in memory, before the item or its follow-ups can be leased again.
    fn note_gate(&self, gate: &GateClosure);
    /// Hold back what is queued in the gate's scope (after the item is settled).
    async fn close_gate(&self, gate: GateClosure) -> Result<(), Self::Error>;
    /// The item is done: its records go to the output, its follow-ups are created.
    async fn finish(
        &self,
        records: Vec<Record>,
        follow_ups: Vec<NewItem>,
    ) -> Result<(), Self::Error>;
    /// The item goes back to wait.
    async fn requeue(&self, requeue: Requeue) -> Result<(), Self::Error>;
    /// The item is dead, as itself.
    async fn kill(&self, reason: String) -> Result<(), Self::Error>;
    /// Stop the item's whole account until its configuration changes.
    fn stop_account(&self, kind: AccountStop, reason: &str);
}

/// What one step did, for callers that trace it (the test driver).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stepped {
    /// The outcome's name when the executor ran (see [`outcome_name`]); `None` when the
    /// item was decided without executing (deadline passed, no executor, no job).
    pub outcome: Option<&'static str>,
    /// The step spent an attempt: a counted retry, or a ready follow-up that carries
    /// more attempts than the item had (a regrouped retry).
    pub spent_attempt: bool,
}

/// Execute `item` and apply what the retry rules decide.
pub async fn run<P: Plumbing>(plumbing: &P, item: &StepItem) -> Result<Stepped, P::Error> {
    let (outcome, decision) = judge(plumbing, item).await;
    let stepped = Stepped {
        outcome,
        spent_attempt: spends_attempt(&decision, item.budget.attempts),
    };
    apply(plumbing, item, decision).await?;
    Ok(stepped)
}

/// The decision for `item`, and the outcome's name when its executor ran.
async fn judge<P: Plumbing>(plumbing: &P, item: &StepItem) -> (Option<&'static str>, Decision) {
    if retry::expired(item.budget, UnixMillis::now()) {
        let last = plumbing
            .last_words()
            .unwrap_or_else(|| "no answer yet".into());
        let reason = format!("deadline passed before the item could finish ({last})");
        return (None, Decision::Dead { reason });
    }
    match (plumbing.spec(), plumbing.executor()) {
        (Ok(spec), Some(executor)) => {
            let outcome = execute_guarded(plumbing, executor, spec, item.context.clone()).await;
            plumbing.executed(&outcome);
            let name = outcome_name(&outcome);
            let mut rng = plumbing.rng();
            let decision = retry::decide(outcome, item.budget, UnixMillis::now(), &mut rng);
            (Some(name), decision)
        }
        (Err(e), _) => (
            None,
            Decision::Dead {
                reason: format!("cannot read the run's job definition: {e}"),
            },
        ),
        // Back untouched: no attempt, no wait counted.
        (_, None) => (
            None,
            Decision::Wait {
                not_before: UnixMillis::now(),
                polls: item.budget.polls,
                note: "account not available".into(),
                gate: None,
            },
        ),
    }
}

/// The executor's call in a task of its own, so that a panic (a bug) becomes a counted
/// retry of the item instead of a lease nobody ends and a worker that is gone.
async fn execute_guarded<P: Plumbing>(
    plumbing: &P,
    executor: Arc<dyn Executor>,
    spec: Arc<JobSpec>,
    context: ItemContext,
) -> Outcome {
    let call = tokio::spawn(async move { executor.execute(&spec, &context).await });
    match call.await {
        Ok(outcome) => outcome,
        Err(e) => {
            let why = match e.try_into_panic() {
                Ok(panic) => panic_text(panic.as_ref()),
                Err(e) => e.to_string(),
            };
            plumbing.panicked(&why);
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

/// Make `decision` happen through `plumbing`.
async fn apply<P: Plumbing>(
    plumbing: &P,
    item: &StepItem,
    decision: Decision,
) -> Result<(), P::Error> {
    match decision {
        Decision::Complete { completion, gates } => {
            let gates = closing(gates);
            gates.iter().for_each(|g| plumbing.note_gate(g));
            plumbing
                .finish(completion.records, completion.follow_ups)
                .await?;
            close_all(plumbing, gates).await?;
        }
        Decision::Wait {
            not_before,
            polls,
            note,
            gate,
        } => {
            let gates = closing(gate.into_iter().collect());
            gates.iter().for_each(|g| plumbing.note_gate(g));
            let requeue = Requeue::Wait {
                not_before,
                polls,
                note,
            };
            plumbing.requeue(requeue).await?;
            close_all(plumbing, gates).await?;
            plumbing.requeued();
        }
        Decision::Retry {
            not_before,
            attempts,
            error,
        } => {
            let requeue = Requeue::Retry {
                not_before,
                attempts,
                error,
            };
            plumbing.requeue(requeue).await?;
            plumbing.requeued();
        }
        Decision::Dead { reason } => {
            let parts = plumbing
                .executor()
                .map(|e| e.split_for_death(&item.context))
                .unwrap_or_default();
            plumbing.died(&reason, parts.len().max(1) as u64);
            if parts.is_empty() {
                plumbing.kill(reason).await?;
            } else {
                // One dead item per input instead of one for the whole batch: the
                // parent ends with no records, its parts are listed and retried alone.
                let parts = parts
                    .into_iter()
                    .map(|p| {
                        p.with_start(ItemStart::Dead {
                            reason: reason.clone(),
                        })
                    })
                    .collect();
                plumbing.finish(Vec::new(), parts).await?;
            }
        }
        Decision::StopAccount { reason, kind } => {
            plumbing.stop_account(kind, &reason);
            // The item goes back untouched, to run once the account works again.
            let requeue = Requeue::Wait {
                not_before: UnixMillis::now(),
                polls: item.budget.polls,
                note: format!("{}: {reason}", kind.as_str()),
            };
            plumbing.requeue(requeue).await?;
        }
    }
    Ok(())
}

/// The gates that hold anything back: an item-scoped one only delays its own item.
fn closing(gates: Vec<GateClosure>) -> Vec<GateClosure> {
    gates
        .into_iter()
        .filter(|g| g.scope != SnoozeScope::Item)
        .collect()
}

async fn close_all<P: Plumbing>(plumbing: &P, gates: Vec<GateClosure>) -> Result<(), P::Error> {
    for gate in gates {
        plumbing.close_gate(gate).await?;
    }
    Ok(())
}

fn spends_attempt(decision: &Decision, attempts: u32) -> bool {
    match decision {
        Decision::Retry { .. } => true,
        Decision::Complete { completion, .. } => completion
            .follow_ups
            .iter()
            .any(|f| matches!(f.start, ItemStart::Ready { attempts: a, .. } if a > attempts)),
        _ => false,
    }
}

/// An outcome's name in metrics and traces: `done`, `not_ready`, `snooze`, `retry`,
/// `reauth`, `auth_failed`, `account_suspended`, `fatal`.
pub fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Done(_) => "done",
        Outcome::NotReady { .. } => "not_ready",
        Outcome::Snooze(_) | Outcome::Throttled(_) => "snooze",
        Outcome::Retry(_) => "retry",
        Outcome::Reauth => "reauth",
        Outcome::AuthFailed { .. } => "auth_failed",
        Outcome::AccountSuspended { .. } => "account_suspended",
        Outcome::Fatal { .. } => "fatal",
    }
}

#[cfg(test)]
mod tests;
