//! The shared model of dredge: what a job is, what an executor promises, and how
//! every vendor answer is classified and retried.
//!
//! It owns: the typed job files (parsed, never merely validated), the `Executor` trait
//! that vendor crates implement, the `Outcome` of executing one item, the retry/snooze
//! policy of README "Retry rules", the one step every leased item goes through
//! (`step`: execute, decide, apply — shared by the daemon's lanes and the test driver),
//! and the mechanics every vendor shares (rate gates, token cache, registrable domains,
//! what every account has: limits and credentials). It does not own storage (that is `dredge-queue`),
//! scheduling (`dredge-scheduler`), or any vendor's HTTP, account keys or defaults (the
//! vendor crates). Its test driver (`testing`) exists only with the `testing` feature.

pub mod item;
pub mod record;
pub mod time;

pub use item::{ItemContext, ItemStart, NewItem};
pub use record::{Attachment, JsonText, Record};
pub use time::UnixMillis;
pub mod continuation;
pub mod outcome;
pub mod retry;

pub use continuation::{Carry, Continuation, Part};
pub use outcome::{
    Completion, Failure, FailureClass, Outcome, Snooze, SnoozeScope, Throttle, ThrottleCurve,
};
pub mod error;
pub mod job;

pub use error::FileError;
pub use job::{JobSpec, Vendor, VendorJob};
pub mod account;
pub mod domain;
pub mod executor;
pub mod files;
pub mod gate;
pub mod http;
pub mod secret;
pub mod step;
/// The in-memory driver for vendor-crate tests: only with the `testing` feature, which
/// crates enable in `[dev-dependencies]`, so no binary carries it.
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod token;

pub use account::{AccountSection, Limits, SetupError};
pub use executor::{Executor, PlanError};
pub use gate::RateGate;
pub use http::{Answer, VendorClient};
pub use secret::Secret;
