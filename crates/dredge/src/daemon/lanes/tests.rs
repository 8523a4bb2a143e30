//! What the lane owns, on a real queue in a temp dir: the step's decisions landing in
//! the queue, the writer and the lane's gates.

use std::time::Duration;

use dredge_core::{Snooze, Vendor};
use dredge_queue::{ItemId, ItemState, RunState};

use super::*;
use crate::daemon::executors::Built;
use crate::daemon::test_support::{new_run_of, writer_in};
use crate::daemon::writer::Writer;

/// Answers by label: `panic`, `batch` (fails for good and dies as two parts), `busy`
/// (snoozes domain a.com for a minute), `auth` (credentials rejected), else no records.
struct Scripted;

#[async_trait]
impl Executor for Scripted {
    fn plan(&self, _job: &JobSpec, _inputs: &[String]) -> Result<Vec<NewItem>, PlanError> {
        Ok(Vec::new())
    }

    async fn execute(&self, _job: &JobSpec, item: &ItemContext) -> Outcome {
        match item.label.as_str() {
            "panic" => panic!("boom"),
            "batch" => Outcome::fatal("http404"),
            "busy" => Outcome::Snooze(Snooze {
                delay: Duration::from_secs(60),
                scope: SnoozeScope::Domain("a.com".into()),
                reason: "domain occupied".into(),
            }),
            "auth" => Outcome::AuthFailed {
                message: "bad key".into(),
            },
            _ => Outcome::records(Vec::new()),
        }
    }

    fn split_for_death(&self, item: &ItemContext) -> Vec<NewItem> {
        if item.label != "batch" {
            return Vec::new();
        }
        vec![
            NewItem::ready("batch/1", Vec::new()),
            NewItem::ready("batch/2", Vec::new()),
        ]
    }
}

/// Account `a`'s lane with the scripted executor (its loop is not started: tests lease
/// and step items themselves).
fn lane_of(shared: &Shared) -> Arc<Lane> {
    let built = Built {
        executor: Arc::new(Scripted),
        oxylabs: None,
    };
    let lane = Arc::new(Lane::new("a", Vendor::Autoextract, 1, Some(built)));
    let mut lanes = shared.lanes.lock().unwrap();
    lanes.insert("a".into(), lane.clone());
    lane
}

/// Lease account `a`'s next item, however far a retry put it off, and run its step.
async fn step_next(shared: &Shared, lane: &Arc<Lane>) -> ItemId {
    let later = UnixMillis::now().after(Duration::from_secs(3600));
    let until = later.after(Duration::from_secs(600));
    let item = shared
        .queue
        .lease_next("a", later, until)
        .unwrap()
        .expect("an item to lease");
    let id = item.id;
    execute(shared, lane, item).await;
    id
}

async fn barrier(writer: &Writer) {
    let (done, wait) = tokio::sync::oneshot::channel();
    writer.send(WriterMsg::Barrier(done));
    wait.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_executors_item_is_retried_with_the_panic_text_then_dies() {
    let dir = tempfile::tempdir().unwrap();
    let (shared, _writer) = writer_in(dir.path());
    let lane = lane_of(&shared);
    new_run_of(&shared, vec![NewItem::ready("panic", Vec::new())]);
    let id = step_next(&shared, &lane).await;
    let info = shared.queue.item(id).unwrap().unwrap();
    assert!(matches!(info.state, ItemState::Ready { .. }), "{info:?}");
    assert_eq!(info.attempts, 1, "a panic is a counted attempt");
    let panicked = "vendor: the executor panicked (boom); a bug in dredge";
    assert_eq!(info.last_error.as_deref(), Some(panicked));
    // The run allows 3 attempts: the third panic kills the item.
    step_next(&shared, &lane).await;
    step_next(&shared, &lane).await;
    let dead = shared.queue.dead_items(None).unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(
        dead[0].reason,
        format!("gave up after 3 attempts: {panicked}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_batch_is_listed_as_its_dead_parts() {
    let dir = tempfile::tempdir().unwrap();
    let (shared, writer) = writer_in(dir.path());
    let lane = lane_of(&shared);
    let run = new_run_of(&shared, vec![NewItem::ready("batch", Vec::new())]);
    let id = step_next(&shared, &lane).await;
    barrier(&writer).await;
    let dead = shared.queue.dead_items(None).unwrap();
    let dead: Vec<_> = dead
        .iter()
        .map(|d| (d.label.as_str(), d.reason.as_str()))
        .collect();
    assert_eq!(dead, [("batch/1", "http404"), ("batch/2", "http404")]);
    let parent = shared.queue.item(id).unwrap().unwrap();
    assert_eq!(
        parent.state,
        ItemState::Done,
        "the parent ends with no records"
    );
    let info = shared.queue.run(&run).unwrap().unwrap();
    assert_eq!(info.state, RunState::Failed, "{info:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_snooze_closes_the_lanes_gate_and_defers_the_domains_items() {
    let dir = tempfile::tempdir().unwrap();
    let (shared, _writer) = writer_in(dir.path());
    let lane = lane_of(&shared);
    new_run_of(
        &shared,
        vec![
            NewItem::ready("busy", Vec::new()).with_scope("a.com"),
            NewItem::ready("same-domain", Vec::new()).with_scope("a.com"),
            NewItem::ready("other-domain", Vec::new()).with_scope("b.com"),
        ],
    );
    let now = UnixMillis::now();
    let far = now.after(Duration::from_secs(600));
    let busy = shared.queue.lease_next("a", now, far).unwrap().unwrap();
    assert_eq!(busy.label, "busy");
    let id = busy.id;
    execute(&shared, &lane, busy).await;
    let now = UnixMillis::now();
    let until = lane.scope_closed("a.com", now).expect("a.com is closed");
    assert!(
        until >= now.after(Duration::from_secs(59)),
        "closed for the vendor's minute"
    );
    let info = shared.queue.item(id).unwrap().unwrap();
    assert!(matches!(info.state, ItemState::Snoozed { .. }), "{info:?}");
    assert_eq!(
        (info.attempts, info.polls),
        (0, 1),
        "a snooze is no attempt"
    );
    assert_eq!(info.note.as_deref(), Some("domain occupied"));
    // Only the other domain's item may be leased now.
    let next = shared.queue.lease_next("a", now, far).unwrap().unwrap();
    assert_eq!(next.label, "other-domain");
    assert!(shared.queue.lease_next("a", now, far).unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_credentials_stop_the_lane_and_put_the_item_back_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let (shared, _writer) = writer_in(dir.path());
    let lane = lane_of(&shared);
    new_run_of(&shared, vec![NewItem::ready("auth", Vec::new())]);
    let id = step_next(&shared, &lane).await;
    let stopped = lane.auth_failure().expect("the lane stopped");
    assert_eq!(stopped, (AccountStop::AuthFailed, "bad key".to_string()));
    assert!(blocked_for(&shared, &lane, UnixMillis::now()).is_some());
    let info = shared.queue.item(id).unwrap().unwrap();
    assert!(
        !matches!(
            info.state,
            ItemState::Leased { .. } | ItemState::Dead { .. }
        ),
        "{info:?}"
    );
    assert_eq!((info.attempts, info.polls), (0, 0), "untouched");
    assert_eq!(info.note.as_deref(), Some("auth_failed: bad key"));
}
