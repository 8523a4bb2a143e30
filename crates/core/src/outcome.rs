//! What executing one item came to: the executor's verdict, before the retry policy
//! turns it into a queue transition.

use std::time::Duration;

use crate::continuation::Continuation;
use crate::item::NewItem;
use crate::record::Record;

/// The result of executing one item. Executors map every vendor answer onto one of
/// these; the retry policy (`crate::retry`) alone decides what happens next.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Finished: these records go to the output and these items are created, in one
    /// atomic step. `snoozes` lets a batch that partly hit "domain occupied" defer the
    /// gates of the queries it regrouped into `follow_ups`.
    Done(Completion),
    /// The vendor is still working (WDS `202 Accepted`, Oxylabs `pending`): come back
    /// later. Not an attempt. `after` is the executor's preferred delay (a job's
    /// `poll_interval`); without it the policy's growing poll delay applies.
    NotReady { after: Option<Duration> },
    /// The vendor asked us to wait ("domain occupied, retry in N s", `Retry-After`,
    /// 429 with a delay). Not an attempt. The scope says who else waits.
    Snooze(Snooze),
    /// The vendor throttled us (a 429 and its kin), with or without naming a delay.
    /// Not an attempt. Without a delay the policy's curve for this vendor decides the
    /// wait from the item's earlier waits.
    Throttled(Throttle),
    /// A transient failure (network, timeout, 5xx, `server_error`, 429 without a delay):
    /// counted against the job's `max_attempts`, retried with backoff.
    Retry(Failure),
    /// The access token was refreshed because the vendor said it expired; execute the
    /// item again at once. Not an attempt.
    Reauth,
    /// The vendor rejected the account's credentials right after a fresh login (or
    /// disabled the account): stop all of that account's items, no hammering.
    AuthFailed { message: String },
    /// The vendor suspended the account (Zyte API's spending limit, an AutoExtract
    /// limit reached): like `AuthFailed`, every item of the account waits untouched —
    /// none is dead — until its configuration changes; status shows
    /// `account_suspended`.
    AccountSuspended { message: String },
    /// A permanent failure (bad request, unknown task, 404): the item is dead with the
    /// vendor's message.
    Fatal { message: String },
}

impl Outcome {
    /// `Done` with just records.
    pub fn records(records: Vec<Record>) -> Self {
        Outcome::Done(Completion {
            records,
            ..Completion::default()
        })
    }

    pub fn fatal(message: impl Into<String>) -> Self {
        Outcome::Fatal {
            message: message.into(),
        }
    }

    pub fn retry(class: FailureClass, message: impl Into<String>) -> Self {
        Outcome::Retry(Failure::new(class, message))
    }
}

/// Everything a finished item produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Completion {
    pub records: Vec<Record>,
    /// New items that start as they say (fresh work, or dead).
    pub follow_ups: Vec<NewItem>,
    /// Follow-ups carrying on this item's own work, whose start the policy decides
    /// (`retry::decide` turns them into `follow_ups`: the daemon never sees them).
    pub continuations: Vec<Continuation>,
    /// Gates to close as a side effect (the follow-ups should carry matching
    /// `not_before` times themselves).
    pub snoozes: Vec<Snooze>,
}

/// A request to wait, and who waits.
#[derive(Debug, Clone, PartialEq)]
pub struct Snooze {
    /// How long the vendor asked for (jitter is added by the policy).
    pub delay: Duration,
    pub scope: SnoozeScope,
    /// The vendor's words, kept as the item's last note (e.g. the "occupied" message).
    pub reason: String,
}

/// A throttling answer, and who waits.
#[derive(Debug, Clone, PartialEq)]
pub struct Throttle {
    /// The wait the vendor named (`Retry-After`); `None`: `curve` decides.
    pub delay: Option<Duration>,
    /// The vendor's curve for a throttle that named no delay.
    pub curve: ThrottleCurve,
    pub scope: SnoozeScope,
    /// The vendor's words, kept as the item's last note.
    pub reason: String,
}

/// How long a throttled item waits when the vendor named no delay, by the item's
/// earlier uncounted waits (`retry::ThrottleCurve::delay` computes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleCurve {
    /// Zyte's official clients (Zyte API, AutoExtract): 20–40 s twice, then 30 s plus
    /// up to 2^(n-1) s (at most 600).
    ZyteClient,
    /// 1 s, doubling with each earlier wait, at most `cap` (Oxylabs: 60 s; Octoparse:
    /// the retry cap, 5 min).
    Doubling { cap: Duration },
}

/// Who a snooze holds back.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SnoozeScope {
    /// Only this item.
    Item,
    /// Every queued item of this account for one target domain.
    Domain(String),
    /// Every item of this account.
    Account,
}

/// A transient failure with its class, so each class keeps its own budget and reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub class: FailureClass,
    pub message: String,
    /// The vendor's `Retry-After`, honoured instead of the backoff curve when present.
    pub retry_after: Option<Duration>,
    /// A smaller attempt budget for this kind of failure than the job's `max_attempts`
    /// (Zyte API download errors: each retry may cost the vendor a ban, and the
    /// official client stops after 4). The item is dead once its counted attempts
    /// reach the smaller of the two. `None`: the job's budget alone.
    pub budget: Option<u32>,
}

impl Failure {
    /// A failure of `class` with no `Retry-After` and the job's own budget.
    pub fn new(class: FailureClass, message: impl Into<String>) -> Self {
        Failure {
            class,
            message: message.into(),
            retry_after: None,
            budget: None,
        }
    }

    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// See [`Failure::budget`].
    pub fn with_budget(mut self, budget: u32) -> Self {
        self.budget = Some(budget);
        self
    }
}

/// Why a transient failure happened. Used for metrics and for the item's last error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureClass {
    /// Connection refused/reset, disconnect before any response.
    Network,
    /// The request timed out on our side.
    Timeout,
    /// HTTP 5xx, or a vendor's `server_error`.
    Server,
    /// 429 without a delay we could honour.
    Throttled,
    /// A vendor-side transient error inside a 200 answer (AutoExtract `query timed out`,
    /// `Downloader error: http50x`, Oxylabs `faulted`).
    Vendor,
}

impl FailureClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Network => "network",
            FailureClass::Timeout => "timeout",
            FailureClass::Server => "server",
            FailureClass::Throttled => "throttled",
            FailureClass::Vendor => "vendor",
        }
    }
}
