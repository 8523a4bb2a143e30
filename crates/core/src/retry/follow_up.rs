//! Continuations (`crate::continuation`) turned into follow-ups: the start the policy
//! gives the executing item's own work carried on in a new item.

use rand::Rng;

use super::{Death, Decision, ItemBudget, error_words, settle};
use crate::continuation::{Carry, Continuation};
use crate::item::{ItemStart, NewItem};
use crate::outcome::Outcome;
use crate::time::UnixMillis;

/// The follow-ups a continuation becomes: its item, ready or dead, or its parts dead.
pub(super) fn resolve(
    continuation: Continuation,
    budget: ItemBudget,
    now: UnixMillis,
    rng: &mut impl Rng,
) -> Vec<NewItem> {
    let Continuation {
        item,
        carry,
        done,
        parts,
    } = continuation;
    let stop = match carry {
        Carry::Attempts { not_before } => {
            return vec![item.with_start(ready(not_before, budget.attempts))];
        }
        Carry::After(stop) => *stop,
    };
    // Each part's words, with its own message where the stop's would be.
    let part_words: Vec<String> = parts
        .iter()
        .map(|p| words_with(&stop, &p.message))
        .collect();
    let (death, words) = match settle(stop, budget, now, rng) {
        Ok(Decision::Wait { not_before, .. }) => {
            return vec![item.with_start(ready(Some(not_before), budget.attempts))];
        }
        Ok(Decision::Retry {
            not_before,
            attempts,
            ..
        }) => return vec![item.with_start(ready(Some(not_before), attempts))],
        // Not a stop: nothing to wait for, run the rest at once.
        Ok(Decision::Complete { .. } | Decision::StopAccount { .. }) => {
            return vec![item.with_start(ready(None, budget.attempts))];
        }
        Ok(Decision::Dead { reason }) => (Death::Final, reason),
        Err(dead) => dead,
    };
    let reason = |words: &str| match &done {
        Some(done) => format!("{done}: {}", death.reason(words)),
        None => death.reason(words),
    };
    if parts.is_empty() {
        return vec![item.with_start(ItemStart::Dead {
            reason: reason(&words),
        })];
    }
    parts
        .into_iter()
        .zip(part_words)
        .map(|(part, words)| {
            part.item.with_start(ItemStart::Dead {
                reason: reason(&words),
            })
        })
        .collect()
}

fn ready(not_before: Option<UnixMillis>, attempts: u32) -> ItemStart {
    ItemStart::Ready {
        not_before,
        attempts,
    }
}

/// The words `stop` is reported with, with `message` in place of the vendor's own.
fn words_with(stop: &Outcome, message: &str) -> String {
    match stop {
        Outcome::Retry(failure) => error_words(failure.class, message),
        _ => message.to_string(),
    }
}
