//! Follow-ups that carry on the executing item's own work: a regrouped or split batch,
//! a resubmission, the rest of a page whose calls stopped halfway.
//!
//! How such a follow-up starts depends on the item's budget (attempts spent, deadline),
//! which only the retry policy knows. So an executor says what happened to the work
//! (`Continuation::retry_of(item, failure)`: "this is a counted retry of that failure")
//! and [`crate::retry::decide`] decides: ready with one more attempt and the backoff,
//! waiting, or dead with the reason worded once, in core. The queue never sees a
//! continuation: `decide` turns each into an ordinary follow-up ([`NewItem`] with an
//! [`ItemStart`](crate::ItemStart) of `Ready` or `Dead`).

use crate::item::NewItem;
use crate::outcome::{Failure, Outcome};
use crate::time::UnixMillis;

/// A follow-up carrying on the executing item's work, whose start the policy decides.
#[derive(Debug, Clone, PartialEq)]
pub struct Continuation {
    /// What runs on. Its `start` is replaced by the policy's.
    pub item: NewItem,
    /// What happened to this part of the work.
    pub carry: Carry,
    /// What the item got done before the stop ("page scraped, links not followed"):
    /// put before the reason when the continuation is dead.
    pub done: Option<String>,
    /// Listed dead instead of `item` when the continuation is dead, one per input, each
    /// with its own words in place of the stop's message (the URLs of a regrouped
    /// AutoExtract batch, each with its query's error). Empty: `item` itself is dead.
    pub parts: Vec<Part>,
}

/// What happened to the work a continuation carries on.
#[derive(Debug, Clone, PartialEq)]
pub enum Carry {
    /// Nothing stopped it: the item's attempts carry over unchanged, and it is ready at
    /// `not_before` (now when `None`). A rejected batch's halves, the polls of a
    /// resubmitted value.
    Attempts { not_before: Option<UnixMillis> },
    /// It stopped with this outcome, and starts as the policy would leave the item
    /// after it: a counted [`Outcome::Retry`] → one more attempt and the backoff, or
    /// dead once the attempts are spent; [`Outcome::NotReady`], [`Outcome::Snooze`],
    /// [`Outcome::Throttled`] → the wait, attempts unchanged; [`Outcome::Fatal`] →
    /// dead; a wait past the deadline → dead.
    After(Box<Outcome>),
}

/// One input of a continuation, listed dead on its own when the continuation dies.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub item: NewItem,
    /// This input's own words, in place of the stop's message in the reason.
    pub message: String,
}

impl Continuation {
    /// `item` carries on with the executing item's attempts, ready at `not_before`.
    pub fn carried(item: NewItem, not_before: Option<UnixMillis>) -> Self {
        Self::new(item, Carry::Attempts { not_before })
    }

    /// `item` is a counted retry of `failure`.
    pub fn retry_of(item: NewItem, failure: Failure) -> Self {
        Self::after(item, Outcome::Retry(failure))
    }

    /// `item` is the rest of the work, stopped by `stop`.
    pub fn after(item: NewItem, stop: Outcome) -> Self {
        Self::new(item, Carry::After(Box::new(stop)))
    }

    /// See [`Continuation::done`].
    pub fn with_done(mut self, done: impl Into<String>) -> Self {
        self.done = Some(done.into());
        self
    }

    /// See [`Continuation::parts`].
    pub fn listed_as(mut self, parts: Vec<Part>) -> Self {
        self.parts = parts;
        self
    }

    fn new(item: NewItem, carry: Carry) -> Self {
        Continuation {
            item,
            carry,
            done: None,
            parts: Vec::new(),
        }
    }
}
