//! When jobs fire: a timetable of scheduled jobs that says which fires are due and
//! when to wake next, including the one catch-up run after downtime.
//!
//! It owns the timing rules of README "Job files" (`schedule`, `catch_up`) and nothing
//! else: the daemon persists last fires in the queue, sleeps until `next_wakeup`, and
//! decides about overlap. Pure and clock-free (time is passed in), so every rule is
//! tested without waiting.
//!
//! Why not drive tokio-cron-scheduler: it keeps its own job registry (to be kept in
//! sync on every reload), ticks on a fixed interval even when idle, and has no
//! catch-up; croner (the cron engine it uses) behind one timer does all we need.

use std::collections::BTreeMap;

use dredge_core::UnixMillis;
use dredge_core::job::{CatchUp, Schedule};

/// A fire that is due: run `job` for the scheduled time `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fire {
    pub job: String,
    pub at: UnixMillis,
    /// True when this fire stands for fires missed while the daemon was down.
    pub catch_up: bool,
}

#[derive(Debug, Clone)]
struct Entry {
    schedule: Schedule,
    next: Option<UnixMillis>,
    catch_up: bool,
}

/// The scheduled jobs and their next fires.
#[derive(Debug, Clone, Default)]
pub struct Timetable {
    entries: BTreeMap<String, Entry>,
}

impl Timetable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add or replace a job's schedule. `last_fire` is the last fire persisted for the
    /// job (or when it was first scheduled); with `CatchUp::Once`, if a fire fell
    /// between it and `now`, one catch-up fire is due at once.
    pub fn upsert(
        &mut self,
        job: &str,
        schedule: Schedule,
        catch_up: CatchUp,
        last_fire: Option<UnixMillis>,
        now: UnixMillis,
    ) {
        let missed = match (catch_up, last_fire) {
            (CatchUp::Once, Some(last)) => schedule.last_fire_between(last, now),
            _ => None,
        };
        let entry = match missed {
            Some(at) => Entry {
                next: Some(at),
                catch_up: true,
                schedule,
            },
            None => Entry {
                next: schedule.next_after(now),
                catch_up: false,
                schedule,
            },
        };
        self.entries.insert(job.to_string(), entry);
    }

    /// Forget a job (its file was removed or it lost its schedule).
    pub fn remove(&mut self, job: &str) {
        self.entries.remove(job);
    }

    pub fn contains(&self, job: &str) -> bool {
        self.entries.contains_key(job)
    }

    /// The next fire of a job, for `dredge jobs`.
    pub fn next_fire(&self, job: &str) -> Option<UnixMillis> {
        self.entries.get(job).and_then(|e| e.next)
    }

    /// Every fire due at `now`, each job at most once (fires missed while the caller
    /// was busy collapse into one), and advance those jobs to their next fire.
    pub fn take_due(&mut self, now: UnixMillis) -> Vec<Fire> {
        let mut due = Vec::new();
        for (job, entry) in &mut self.entries {
            let Some(at) = entry.next.filter(|at| *at <= now) else {
                continue;
            };
            due.push(Fire {
                job: job.clone(),
                at,
                catch_up: entry.catch_up,
            });
            entry.next = entry.schedule.next_after(now);
            entry.catch_up = false;
        }
        due
    }

    /// When the earliest job fires next; sleep until then (or until jobs change).
    pub fn next_wakeup(&self) -> Option<UnixMillis> {
        self.entries.values().filter_map(|e| e.next).min()
    }
}

#[cfg(test)]
mod tests;
