//! Plans the rest of big runs: `inputs::CHUNK_INPUTS` inputs at a time, read from the
//! run's input copy and planned with the run's own job spec; their items go to the queue
//! `inputs::ITEMS_PER_BATCH` per batch, each with the moved cursor (`QueueBackend::plan_more`).
//! The rest of a chunk waits in memory (`Shared::plan_cache`); after a restart the
//! chunk is planned again and the items added before are skipped.
//!
//! Why a task of its own: a run of a million inputs takes its time to plan, and
//! nothing that takes long may run on the async threads or hold what the socket and
//! the lanes need. Each chunk is one blocking call; between chunks the queue's write
//! lock is free, other lanes lease and commit, and the run's first items are already
//! running. Several planning runs take turns, a chunk each.

use std::sync::Arc;
use std::time::Duration;

use std::collections::VecDeque;

use dredge_core::{Executor, JobSpec, NewItem};
use dredge_queue::{PlanCursor, RunId};

use super::failpoint;
use super::health::is_storage_error;
use super::inputs::{self, CHUNK_INPUTS, ITEMS_PER_BATCH};
use super::recovery;
use super::state::Shared;
use super::writer::WriterMsg;

/// Plans while any run has inputs left; sleeps until a run with a cursor starts.
pub(super) async fn run(shared: Arc<Shared>) {
    loop {
        let busy = if shared.health.is_faulted() {
            false
        } else {
            let s = shared.clone();
            tokio::task::spawn_blocking(move || round(&s))
                .await
                .unwrap_or(false)
        };
        if busy && !shared.shutdown.is_cancelled() {
            tokio::task::yield_now().await;
            continue;
        }
        tokio::select! {
            _ = shared.plan_wake.notified() => {}
            // A storage fault, or a run whose account is not configured now, is
            // looked at again later.
            _ = tokio::time::sleep(Duration::from_secs(30)) => {}
            _ = shared.shutdown.cancelled() => return,
        }
    }
}

/// One chunk of every planning run. True when some run may have more to plan now.
fn round(shared: &Shared) -> bool {
    let runs = match shared.queue.planning_runs() {
        Ok(runs) => runs,
        Err(e) => {
            tracing::error!(error = %e, "cannot list the runs being planned");
            return false;
        }
    };
    let mut busy = false;
    for (run, cursor) in runs {
        if shared.shutdown.is_cancelled() || shared.health.is_faulted() {
            return false;
        }
        busy |= plan_chunk(shared, &run, cursor);
    }
    busy
}

/// A chunk of a run's inputs, planned, with the items not yet added to the queue.
pub(super) struct PlannedChunk {
    offset: u64,
    next_offset: u64,
    inputs: u64,
    items_done: u64,
    items: VecDeque<NewItem>,
}

impl PlannedChunk {
    /// Reads and plans the chunk at byte `offset` of the copy `input`, skipping its
    /// first `items_done` items (added before a restart; planning is deterministic).
    pub(super) fn plan(
        dir: &std::path::Path,
        input: &str,
        offset: u64,
        items_done: u64,
        spec: &JobSpec,
        executor: &dyn Executor,
    ) -> Result<PlannedChunk, String> {
        let (values, next_offset) = inputs::read_chunk(dir, input, offset, CHUNK_INPUTS)
            .map_err(|e| format!("cannot plan the rest of its inputs: {e}"))?;
        let mut items: VecDeque<NewItem> = if values.is_empty() {
            VecDeque::new()
        } else {
            executor
                .plan(spec, &values)
                .map_err(|e| e.to_string())?
                .into()
        };
        items.drain(..(items_done as usize).min(items.len()));
        Ok(PlannedChunk {
            offset,
            next_offset,
            inputs: values.len() as u64,
            items_done,
            items,
        })
    }

    /// The next batch of items to add, and the cursor once they are added (`None`:
    /// the run is wholly planned).
    pub(super) fn next_batch(&mut self, cursor: &PlanCursor) -> (Vec<NewItem>, Option<PlanCursor>) {
        let take = self.items.len().min(ITEMS_PER_BATCH);
        let batch: Vec<NewItem> = self.items.drain(..take).collect();
        self.items_done += take as u64;
        let next = if !self.items.is_empty() {
            Some(PlanCursor {
                items_done: self.items_done,
                ..cursor.clone()
            })
        } else {
            let planned = cursor.planned + self.inputs;
            (self.inputs > 0 && planned < cursor.total).then(|| PlanCursor {
                offset: self.next_offset,
                planned,
                items_done: 0,
                ..cursor.clone()
            })
        };
        (batch, next)
    }

    fn resumes(&self, cursor: &PlanCursor) -> bool {
        self.offset == cursor.offset && self.items_done == cursor.items_done
    }
}

/// Adds the run's next batch of items. False when it cannot go on now.
fn plan_chunk(shared: &Shared, run: &RunId, cursor: PlanCursor) -> bool {
    let dir = inputs::dir_of(&shared.config().state_dir);
    if shared.queue.cluster().is_some() && !dir.join(&cursor.input).exists() {
        // Several daemons: the run's inputs were copied into the `state_dir` of the
        // daemon that started it, which plans it (again after a restart); the others
        // run its items.
        return false;
    }
    let spec = match shared.spec_of(run) {
        Ok(spec) => spec,
        Err(e) => {
            return stop(
                shared,
                run,
                &cursor,
                &format!("cannot read its job spec: {e}"),
            );
        }
    };
    let Some(executor) = shared.lane(&spec.account).and_then(|l| l.executor()) else {
        // Its items cannot run either; planning resumes once the account is back.
        return false;
    };
    let cached = shared
        .plan_cache
        .lock()
        .expect("plan cache poisoned")
        .remove(run);
    let mut chunk = match cached.filter(|c| c.resumes(&cursor)) {
        Some(chunk) => chunk,
        None => match PlannedChunk::plan(
            &dir,
            &cursor.input,
            cursor.offset,
            cursor.items_done,
            &spec,
            executor.as_ref(),
        ) {
            Ok(chunk) => chunk,
            Err(e) => return stop(shared, run, &cursor, &e),
        },
    };
    let (items, next) = chunk.next_batch(&cursor);
    let last = next.is_none();
    let planned_more = shared.queue.plan_more(run, items, next);
    if planned_more.is_ok() {
        failpoint::crash_if(failpoint::AFTER_PLAN_CHUNK);
    }
    match planned_more {
        Ok(true) if !last => {
            if !chunk.items.is_empty() {
                shared
                    .plan_cache
                    .lock()
                    .expect("plan cache poisoned")
                    .insert(run.clone(), chunk);
            }
        }
        Ok(true) => {
            tracing::info!(run = %run, inputs = cursor.total, "every input of the run is planned");
            finish(shared, run, &cursor);
        }
        Ok(false) => finish(shared, run, &cursor),
        Err(e) => {
            tracing::error!(run = %run, error = %e, "cannot add a planned chunk");
            if is_storage_error(&e) {
                shared.health.report("planning a run", &e);
            }
            return false;
        }
    }
    if let Some(lane) = shared.lane(&spec.account) {
        lane.wake.notify_one();
    }
    !last
}

/// Planning is over (all planned, or the run ended meanwhile): the copy goes, and the
/// writer looks at the run, which may be complete already.
fn finish(shared: &Shared, run: &RunId, cursor: &PlanCursor) {
    shared
        .plan_cache
        .lock()
        .expect("plan cache poisoned")
        .remove(run);
    inputs::remove(&inputs::dir_of(&shared.config().state_dir), &cursor.input);
    shared.writer().send(WriterMsg::Check(run.clone()));
}

/// The run cannot be planned further: it fails with the reason (its items planned so
/// far still run), and planning is over.
fn stop(shared: &Shared, run: &RunId, cursor: &PlanCursor, reason: &str) -> bool {
    recovery::fail_run(shared, run, reason);
    finish(shared, run, cursor);
    false
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use dredge_core::UnixMillis;
    use dredge_core::job::{FileRules, parse_job};
    use dredge_queue::{NewRun, RunState};

    use super::*;
    use crate::config::DaemonConfig;
    use crate::daemon::{control, runs, snapshot, test_support::writer_in};

    /// A Zyte API run (one item per URL) of `urls` URLs, created as `dredge run` does:
    /// its first batch planned, the rest left to the planner.
    /// Account `a` as a Zyte API account whose vendor is unreachable.
    fn planned_run_config(shared: &Arc<Shared>, dir: &Path) {
        let text = "state_dir = \"state\"\njobs_dir = \"jobs\"\nsocket = \"state/s.sock\"\n\n\
             [accounts.a]\nvendor = \"zyte\"\napi_key = \"k\"\nbase_url = \"http://127.0.0.1:9\"\n";
        let config = DaemonConfig::parse(&dir.join("dredge.toml"), text).unwrap();
        control::apply_config(shared, config);
    }

    fn planned_run(shared: &Arc<Shared>, dir: &Path, urls: usize) -> (RunId, String) {
        planned_run_config(shared, dir);
        let list: Vec<String> = (0..urls)
            .map(|i| format!("\"https://s{i}.com/p\""))
            .collect();
        let job = format!(
            "account = \"a\"\nvendor = \"zyte\"\n[zyte]\nextract = \"product\"\nurls = [{}]\n",
            list.join(",")
        );
        let spec = parse_job(
            Path::new("jobs/z.toml"),
            &job,
            None,
            &FileRules::default(),
            &crate::vendors::JOB_SECTIONS,
        )
        .unwrap();
        let executor = shared.lane("a").unwrap().executor().unwrap();
        let planned = runs::plan_first_chunk(shared, &spec, executor.as_ref()).unwrap();
        assert_eq!(planned.items.len(), ITEMS_PER_BATCH);
        let rest = planned.rest.expect("more than one batch");
        let run = NewRun {
            job: "z".into(),
            lane: "a".into(),
            spec_snapshot: snapshot::encode(&spec).unwrap(),
            started_at: UnixMillis::now(),
            deadline: None,
            max_attempts: 3,
        };
        let input = rest.input.clone();
        let id = shared
            .queue
            .create_planned_run(run, planned.items, None, Some(rest))
            .unwrap();
        (id, input)
    }

    /// Every item the run holds, whatever the lane (whose vendor is unreachable) did.
    fn items_of(shared: &Shared, run: &RunId) -> u64 {
        let c = shared.queue.run(run).unwrap().unwrap().counts;
        c.ready + c.leased + c.snoozed + c.staged + c.done + c.dead
    }

    fn plan_to_the_end(shared: &Shared, run: &RunId, forget_between: bool) -> usize {
        let mut rounds = 0;
        while let Some((_, cursor)) = shared.queue.planning_runs().unwrap().pop() {
            assert!(
                rounds < 100,
                "planning never ends: the cursor does not move on"
            );
            if forget_between {
                shared.plan_cache.lock().unwrap().clear();
            }
            plan_chunk(shared, run, cursor);
            rounds += 1;
        }
        rounds
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn chunks_plan_every_input_once_a_batch_at_a_time_then_the_copy_goes() {
        let dir = tempfile::tempdir().unwrap();
        let (shared, _writer) = writer_in(dir.path());
        let (run, copy) = planned_run(&shared, dir.path(), 2 * CHUNK_INPUTS + 7);
        // Chunks of 1,000, 1,000 and 7 inputs: 4 + 4 + 1 batches, the first at creation.
        assert_eq!(plan_to_the_end(&shared, &run, false), 8);
        assert_eq!(items_of(&shared, &run), 2 * CHUNK_INPUTS as u64 + 7);
        assert_eq!(shared.queue.run(&run).unwrap().unwrap().planning, None);
        let copies = inputs::dir_of(&shared.config().state_dir);
        assert!(
            !copies.join(copy).exists(),
            "the copy is removed once planned"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_restart_mid_chunk_plans_it_again_and_skips_the_items_added() {
        let dir = tempfile::tempdir().unwrap();
        let (shared, _writer) = writer_in(dir.path());
        let (run, _) = planned_run(&shared, dir.path(), CHUNK_INPUTS + 300);
        // What a restart leaves: no planned chunk in memory, only the cursor.
        assert_eq!(plan_to_the_end(&shared, &run, true), 5);
        assert_eq!(items_of(&shared, &run), CHUNK_INPUTS as u64 + 300);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_a_shared_queue_only_the_daemon_holding_the_input_copy_plans_the_run() {
        let schema = crate::daemon::test_support::PgSchema::new("planner");
        let (here, there) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (starter, _w1) = schema.writer_as("starter", here.path());
        let (other, _w2) = schema.writer_as("other", there.path());
        let (run, _) = planned_run(&starter, here.path(), CHUNK_INPUTS + 10);
        planned_run_config(&other, there.path());
        let (_, cursor) = other.queue.planning_runs().unwrap().pop().unwrap();
        assert!(!plan_chunk(&other, &run, cursor.clone()));
        let info = other.queue.run(&run).unwrap().unwrap();
        assert_eq!(info.state, RunState::Running, "{:?}", info.reason);
        assert_eq!(other.queue.plan_cursor(&run).unwrap(), Some(cursor));
        plan_to_the_end(&starter, &run, true);
        assert_eq!(items_of(&starter, &run), CHUNK_INPUTS as u64 + 10);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_run_whose_input_copy_is_gone_fails_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let (shared, _writer) = writer_in(dir.path());
        let (run, copy) = planned_run(&shared, dir.path(), CHUNK_INPUTS + 10);
        shared.plan_cache.lock().unwrap().clear();
        std::fs::remove_file(inputs::dir_of(&shared.config().state_dir).join(copy)).unwrap();
        let (_, cursor) = shared.queue.planning_runs().unwrap().pop().unwrap();
        assert!(!plan_chunk(&shared, &run, cursor));
        let info = shared.queue.run(&run).unwrap().unwrap();
        assert_eq!(info.state, RunState::Failed);
        let reason = info.reason.unwrap_or_default();
        assert!(
            reason.contains("cannot plan the rest of its inputs"),
            "{reason}"
        );
        assert!(shared.queue.planning_runs().unwrap().is_empty());
    }
}
