//! Failpoints for crash and fault tests: named places where a test makes the daemon
//! die or misbehave on purpose, chosen with `DREDGE_FAILPOINTS=name,name`. Each fires
//! once per process. Unset (as in production), a check is one load of a cached empty set.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// The process dies right after a run is created, before anything else about it.
pub(super) const AFTER_CREATE_RUN: &str = "after_create_run";
/// The process dies right after the planner committed a chunk of a run's inputs.
pub(super) const AFTER_PLAN_CHUNK: &str = "after_plan_chunk";
/// An executor call panics once.
pub(super) const EXECUTOR_PANIC: &str = "executor_panic";

fn armed() -> &'static HashMap<String, AtomicBool> {
    static ARMED: OnceLock<HashMap<String, AtomicBool>> = OnceLock::new();
    ARMED.get_or_init(|| {
        std::env::var("DREDGE_FAILPOINTS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(|name| (name.to_string(), AtomicBool::new(true)))
            .collect()
    })
}

/// Whether the failpoint `name` fires now (the first time it is reached, if armed).
pub(super) fn fires(name: &str) -> bool {
    armed()
        .get(name)
        .is_some_and(|armed| armed.swap(false, Ordering::Relaxed))
}

/// Dies like a power cut or SIGKILL would leave things: no destructors, no flushes.
pub(super) fn crash_if(name: &str) {
    if fires(name) {
        eprintln!("failpoint {name}: aborting");
        std::process::abort();
    }
}
