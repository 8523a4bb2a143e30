//! The retry rules of README "Retry rules": turning an [`Outcome`] into what happens to
//! the item.
//!
//! Only transient failures count as attempts; waiting on the vendor (202, `pending`,
//! "domain occupied", `Retry-After`, token refresh) never does, but nothing outlives
//! the job's `deadline`. Delays come from one place so every vendor behaves alike.
//!
//! This is also the one place that counts attempts, draws jitter and words dead
//! reasons: executors only say what happened (`Outcome::Retry`, `Outcome::Throttled`
//! with the vendor's delay or curve, a `Continuation` for follow-ups carrying on the
//! item's work), so a new vendor cannot get retry accounting wrong.

use std::time::Duration;

use backoff::backoff::Backoff;
use rand::Rng;

use crate::outcome::{
    Completion, Failure, FailureClass, Outcome, Snooze, SnoozeScope, ThrottleCurve,
};
use crate::time::UnixMillis;

/// First delay of the transient-failure curve.
pub const RETRY_INITIAL: Duration = Duration::from_secs(1);
/// Largest delay of the transient-failure curve.
pub const RETRY_CAP: Duration = Duration::from_secs(300);
/// Largest delay between two polls of a vendor that is still working.
pub const POLL_CAP: Duration = Duration::from_secs(30);

/// Where an item stands when its outcome arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemBudget {
    /// Counted attempts spent before this execution.
    pub attempts: u32,
    /// Uncounted waits before this execution.
    pub polls: u32,
    pub max_attempts: u32,
    /// The item is dead once this passes (run start + job `deadline`).
    pub deadline: Option<UnixMillis>,
}

/// What the queue should do with the item.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Stage its records and follow-ups; close these gates until the given times.
    Complete {
        completion: Completion,
        gates: Vec<GateClosure>,
    },
    /// Back to ready at `not_before` without counting an attempt. `gate` closes the
    /// scope (domain or account) too.
    Wait {
        not_before: UnixMillis,
        polls: u32,
        note: String,
        gate: Option<GateClosure>,
    },
    /// Back to ready at `not_before`, one more attempt counted.
    Retry {
        not_before: UnixMillis,
        attempts: u32,
        error: String,
    },
    /// Dead, with a reason for `dredge dead`.
    Dead { reason: String },
    /// The account's credentials are rejected, or the vendor suspended it: the item
    /// goes back to ready untouched, and the whole account stops until its
    /// configuration changes.
    StopAccount { reason: String, kind: AccountStop },
}

/// Why an account stopped, as `dredge status` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountStop {
    /// The vendor rejected the credentials.
    AuthFailed,
    /// The vendor suspended the account (spending or usage limit reached).
    Suspended,
}

impl AccountStop {
    /// `auth_failed` or `account_suspended`.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStop::AuthFailed => "auth_failed",
            AccountStop::Suspended => "account_suspended",
        }
    }

    /// The stop `as_str` names; `None` for any other word.
    pub fn parse(word: &str) -> Option<Self> {
        [AccountStop::AuthFailed, AccountStop::Suspended]
            .into_iter()
            .find(|stop| stop.as_str() == word)
    }
}

/// A scope (domain or whole account) closed until a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateClosure {
    pub scope: SnoozeScope,
    pub until: UnixMillis,
}

/// Decide what happens after `outcome`, at wall-clock `now`. A completion's
/// continuations become ordinary follow-ups here (see [`crate::continuation`]).
pub fn decide(
    outcome: Outcome,
    budget: ItemBudget,
    now: UnixMillis,
    rng: &mut impl Rng,
) -> Decision {
    settle(outcome, budget, now, rng).unwrap_or_else(|(death, words)| Decision::Dead {
        reason: death.reason(&words),
    })
}

/// True when the item may no longer run (checked when it is leased, so an item that
/// waited through a daemon downtime still ends at its deadline).
pub fn expired(budget: ItemBudget, now: UnixMillis) -> bool {
    budget.deadline.is_some_and(|d| now >= d)
}

/// Why something is dead, before it is worded: every dead reason of the policy is
/// worded here, once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Death {
    /// The vendor said it is final: the reason is its own words.
    Final,
    /// The counted attempts are spent.
    Spent { attempts: u32 },
    /// The next try would start at or after the deadline.
    Deadline,
}

impl Death {
    fn reason(self, words: &str) -> String {
        match self {
            Death::Final => words.to_string(),
            Death::Spent { attempts } => format!("gave up after {attempts} attempts: {words}"),
            Death::Deadline => {
                format!("deadline passed before the item could finish (last: {words})")
            }
        }
    }
}

/// A decision, or death with the words that go into its reason.
type Settled = Result<Decision, (Death, String)>;

fn settle(outcome: Outcome, budget: ItemBudget, now: UnixMillis, rng: &mut impl Rng) -> Settled {
    match outcome {
        Outcome::Done(completion) => Ok(complete(completion, budget, now, rng)),
        Outcome::NotReady { after } => {
            let delay = match after {
                Some(d) => d + jitter_up_to(d / 10, rng),
                None => poll_delay(budget.polls, rng),
            };
            wait(budget, now.after(delay), "not ready yet".into(), None)
        }
        Outcome::Snooze(snooze) => snooze_decision(snooze, budget, now, rng),
        Outcome::Throttled(throttle) => {
            let snooze = Snooze {
                delay: throttle
                    .delay
                    .unwrap_or_else(|| throttle.curve.delay(budget.polls, rng)),
                scope: throttle.scope,
                reason: throttle.reason,
            };
            snooze_decision(snooze, budget, now, rng)
        }
        Outcome::Reauth => wait(budget, now, "access token refreshed".into(), None),
        Outcome::Retry(failure) => retry_decision(failure, budget, now, rng),
        Outcome::AuthFailed { message } => Ok(Decision::StopAccount {
            reason: message,
            kind: AccountStop::AuthFailed,
        }),
        Outcome::AccountSuspended { message } => Ok(Decision::StopAccount {
            reason: message,
            kind: AccountStop::Suspended,
        }),
        Outcome::Fatal { message } => Err((Death::Final, message)),
    }
}

fn complete(
    mut completion: Completion,
    budget: ItemBudget,
    now: UnixMillis,
    rng: &mut impl Rng,
) -> Decision {
    for continuation in std::mem::take(&mut completion.continuations) {
        let items = follow_up::resolve(continuation, budget, now, rng);
        completion.follow_ups.extend(items);
    }
    let gates = completion
        .snoozes
        .iter()
        .map(|s| GateClosure {
            scope: s.scope.clone(),
            until: now.after(snooze_delay(s.delay, rng)),
        })
        .collect();
    Decision::Complete { completion, gates }
}

fn snooze_decision(
    snooze: Snooze,
    budget: ItemBudget,
    now: UnixMillis,
    rng: &mut impl Rng,
) -> Settled {
    let until = now.after(snooze_delay(snooze.delay, rng));
    let gate = match snooze.scope {
        SnoozeScope::Item => None,
        scope => Some(GateClosure { scope, until }),
    };
    wait(budget, until, snooze.reason, gate)
}

/// The words a counted failure is reported with: `class: message`.
fn error_words(class: FailureClass, message: &str) -> String {
    format!("{}: {message}", class.as_str())
}

fn retry_decision(
    failure: Failure,
    budget: ItemBudget,
    now: UnixMillis,
    rng: &mut impl Rng,
) -> Settled {
    let attempts = budget.attempts.saturating_add(1);
    let error = error_words(failure.class, &failure.message);
    let max_attempts = failure
        .budget
        .map_or(budget.max_attempts, |b| b.min(budget.max_attempts));
    if attempts >= max_attempts {
        return Err((Death::Spent { attempts }, error));
    }
    let delay = failure
        .retry_after
        .map(|d| d + jitter_up_to(Duration::from_secs(1), rng))
        .unwrap_or_else(|| retry_delay(attempts, rng));
    let not_before = now.after(delay);
    if past_deadline(budget, not_before) {
        return Err((Death::Deadline, error));
    }
    Ok(Decision::Retry {
        not_before,
        attempts,
        error,
    })
}

fn wait(
    budget: ItemBudget,
    not_before: UnixMillis,
    note: String,
    gate: Option<GateClosure>,
) -> Settled {
    if past_deadline(budget, not_before) {
        return Err((Death::Deadline, note));
    }
    Ok(Decision::Wait {
        not_before,
        polls: budget.polls.saturating_add(1),
        note,
        gate,
    })
}

fn past_deadline(budget: ItemBudget, at: UnixMillis) -> bool {
    budget.deadline.is_some_and(|d| at >= d)
}

/// The ceiling of the transient-failure curve before attempt `n` (1-based):
/// 1 s, 2 s, 4 s … capped at 5 min. Built with `backoff` so the curve's parameters are
/// the crate's, not ours; jitter is applied separately (full jitter).
pub fn retry_ceiling(attempt: u32) -> Duration {
    curve_ceiling(attempt, RETRY_INITIAL, RETRY_CAP)
}

/// Full jitter: uniformly random between zero and the curve's ceiling.
pub fn retry_delay(attempt: u32, rng: &mut impl Rng) -> Duration {
    let ceiling = retry_ceiling(attempt);
    Duration::from_millis(rng.random_range(0..=ceiling.as_millis() as u64))
}

/// Delay before poll `n` (0-based) of a vendor that is still working: grows from 1 s to
/// 30 s, half fixed and half random so it does grow but polls never line up.
pub fn poll_delay(polls: u32, rng: &mut impl Rng) -> Duration {
    let ceiling = curve_ceiling(polls.saturating_add(1), RETRY_INITIAL, POLL_CAP);
    ceiling / 2 + jitter_up_to(ceiling / 2, rng)
}

/// The wait after a rate-limit answer that named no delay, as Zyte's official clients
/// do it: 20–40 s twice, then 30 s plus up to 2^(n-1) s (at most 600). `polls` counts
/// the item's earlier uncounted waits.
pub fn throttle_backoff(polls: u32, rng: &mut impl Rng) -> Duration {
    let n = polls.saturating_add(1);
    let secs = if n <= 2 {
        rng.random_range(20.0..=40.0)
    } else {
        let spread = 2f64.powi(n.saturating_sub(1).min(30) as i32).min(600.0);
        30.0 + rng.random_range(0.0..=spread)
    };
    Duration::from_secs_f64(secs)
}

impl ThrottleCurve {
    /// The wait after a throttle that named no delay, for an item that waited `polls`
    /// times before.
    pub fn delay(self, polls: u32, rng: &mut impl Rng) -> Duration {
        match self {
            ThrottleCurve::ZyteClient => throttle_backoff(polls, rng),
            ThrottleCurve::Doubling { cap } => {
                curve_ceiling(polls.saturating_add(1), RETRY_INITIAL, cap)
            }
        }
    }
}

/// A vendor-requested wait plus a little jitter so snoozed items do not all return in
/// the same millisecond.
pub fn snooze_delay(requested: Duration, rng: &mut impl Rng) -> Duration {
    requested + jitter_up_to(Duration::from_millis(250) + requested / 20, rng)
}

fn jitter_up_to(max: Duration, rng: &mut impl Rng) -> Duration {
    Duration::from_millis(rng.random_range(0..=max.as_millis() as u64))
}

fn curve_ceiling(step: u32, initial: Duration, cap: Duration) -> Duration {
    let mut curve = backoff::ExponentialBackoffBuilder::new()
        .with_initial_interval(initial)
        .with_multiplier(2.0)
        .with_randomization_factor(0.0)
        .with_max_interval(cap)
        .with_max_elapsed_time(None)
        .build();
    let mut delay = initial;
    // The curve saturates at the cap after a few dozen steps; stop there.
    for _ in 0..step.clamp(1, 64) {
        delay = curve.next_backoff().unwrap_or(cap);
    }
    delay.min(cap)
}

mod follow_up;
#[cfg(test)]
mod tests;
