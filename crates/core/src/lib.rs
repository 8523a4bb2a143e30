//! The shared model of dredge: what a job is, what an executor promises, and how
//! every vendor answer is classified and retried.
//!
//! It owns: the typed job files (parsed, never merely validated), the `Executor` trait
//! that vendor crates implement, the `Outcome` of executing one item, the retry/snooze
//! policy of README "Retry rules", and the mechanics every vendor shares (rate gates,
//! token cache). It does not own storage (that is `dredge-queue`), scheduling
//! (`dredge-scheduler`) or any vendor's HTTP (the vendor crates).

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
pub mod executor;
pub mod files;
pub mod gate;
pub mod http;
pub mod secret;
pub mod testing;
pub mod token;

pub use account::{Account, AccountConfig};
pub use executor::{Executor, PlanError};
pub use gate::RateGate;
pub use http::{Answer, VendorClient};
pub use secret::Secret;
