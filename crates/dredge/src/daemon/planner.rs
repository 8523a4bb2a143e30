//! Plans the rest of big runs: `inputs::CHUNK_INPUTS` inputs per queue batch, read from
//! the run's input copy, planned with the run's own job spec, committed with the moved
//! cursor (`Queue::plan_more`).
//!
//! Why a task of its own: a run of a million inputs takes its time to plan, and
//! nothing that takes long may run on the async threads or hold what the socket and
//! the lanes need. Each chunk is one blocking call; between chunks the queue's write
//! lock is free, other lanes lease and commit, and the run's first items are already
//! running. Several planning runs take turns, a chunk each.

use std::sync::Arc;
use std::time::Duration;

use dredge_queue::{PlanCursor, RunId};

use super::failpoint;
use super::health::is_storage_error;
use super::inputs::{self, CHUNK_INPUTS};
use super::recovery;
use super::state::Shared;
use super::writer::WriterMsg;

/// Plans while any run has inputs left; sleeps until a run with a cursor starts.
pub async fn run(shared: Arc<Shared>) {
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

/// Plans the run's next chunk. False when it cannot go on now.
fn plan_chunk(shared: &Shared, run: &RunId, cursor: PlanCursor) -> bool {
    let dir = inputs::dir_of(&shared.config().state_dir);
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
    let (values, offset) =
        match inputs::read_chunk(&dir, &cursor.input, cursor.offset, CHUNK_INPUTS) {
            Ok(chunk) => chunk,
            Err(e) => {
                return stop(
                    shared,
                    run,
                    &cursor,
                    &format!("cannot plan the rest of its inputs: {e}"),
                );
            }
        };
    let items = if values.is_empty() {
        Vec::new()
    } else {
        match executor.plan(&spec, &values) {
            Ok(items) => items,
            Err(e) => return stop(shared, run, &cursor, &e.to_string()),
        }
    };
    let planned = cursor.planned + values.len() as u64;
    let next = (!values.is_empty() && planned < cursor.total).then(|| PlanCursor {
        offset,
        planned,
        ..cursor.clone()
    });
    let last = next.is_none();
    let planned_more = shared.queue.plan_more(run, items, next);
    if planned_more.is_ok() {
        failpoint::crash_if(failpoint::AFTER_PLAN_CHUNK);
    }
    match planned_more {
        Ok(true) if !last => {}
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
    use dredge_core::job::{FileRules, InputList, parse_job};
    use dredge_queue::{NewRun, RunState};

    use super::*;
    use crate::config::DaemonConfig;
    use crate::daemon::{control, snapshot, test_support::writer_in};

    /// A Zyte API run (one item per URL) of `urls` created with its first `first` URLs
    /// planned, the rest left to the planner.
    fn planned_run(shared: &Arc<Shared>, dir: &Path, urls: usize, first: usize) -> (RunId, String) {
        let text = format!(
            "state_dir = \"state\"\njobs_dir = \"jobs\"\nsocket = \"state/s.sock\"\n\n\
             [accounts.a]\nvendor = \"zyte\"\napi_key = \"k\"\nbase_url = \"http://127.0.0.1:9\"\n"
        );
        let config = DaemonConfig::parse(&dir.join("dredge.toml"), &text).unwrap();
        control::apply_config(shared, config);
        let job = "account = \"a\"\nvendor = \"zyte\"\n[zyte]\nextract = \"product\"\nurls = [\"https://a.com/\"]\n";
        let spec = parse_job(Path::new("jobs/z.toml"), job, None, &FileRules::default()).unwrap();
        let all: Vec<String> = (0..urls).map(|i| format!("https://s{i}.com/p")).collect();
        let copies = inputs::dir_of(&shared.config().state_dir);
        let copy = inputs::copy(&InputList::Inline(all), &FileRules::default(), &copies).unwrap();
        let (values, offset) = inputs::read_chunk(&copies, &copy.name, 0, first).unwrap();
        let executor = shared.lane("a").unwrap().executor().unwrap();
        let run = NewRun {
            job: "z".into(),
            lane: "a".into(),
            spec_snapshot: snapshot::encode(&spec).unwrap(),
            started_at: UnixMillis::now(),
            deadline: None,
            max_attempts: 3,
        };
        let cursor = PlanCursor {
            input: copy.name.clone(),
            offset,
            planned: values.len() as u64,
            total: copy.total,
        };
        let items = executor.plan(&spec, &values).unwrap();
        let id = shared
            .queue
            .create_planned_run(run, items, None, Some(cursor))
            .unwrap();
        (id, copy.name)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn chunks_plan_every_input_once_then_the_copy_goes() {
        let dir = tempfile::tempdir().unwrap();
        let (shared, _writer) = writer_in(dir.path());
        let (run, copy) = planned_run(&shared, dir.path(), 2 * CHUNK_INPUTS + 7, 5);
        let mut rounds = 0;
        while let Some((_, cursor)) = shared.queue.planning_runs().unwrap().pop() {
            plan_chunk(&shared, &run, cursor);
            rounds += 1;
        }
        assert_eq!(rounds, 3, "two full chunks and the rest");
        let info = shared.queue.run(&run).unwrap().unwrap();
        // Every item, whatever the lane (whose vendor is unreachable) did with it.
        let c = info.counts;
        let items = c.ready + c.leased + c.snoozed + c.staged + c.done + c.dead;
        assert_eq!(items, 2 * CHUNK_INPUTS as u64 + 7);
        assert_eq!(info.planning, None);
        let copies = inputs::dir_of(&shared.config().state_dir);
        assert!(
            !copies.join(copy).exists(),
            "the copy is removed once planned"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_run_whose_input_copy_is_gone_fails_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let (shared, _writer) = writer_in(dir.path());
        let (run, copy) = planned_run(&shared, dir.path(), 30, 10);
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
