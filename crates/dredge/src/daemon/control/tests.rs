//! What control owns, on a real queue in a temp dir: a config swap's effect on the
//! lanes, a schedule-less job run once per content, and a fire's overlap rule.

use dredge_core::retry::AccountStop;

use super::*;
use crate::daemon::test_support::{load_news_job_from, new_run, writer_in};

/// The daemon config of `writer_in`'s state directory with these accounts.
fn config_with(shared: &Shared, accounts: &str) -> DaemonConfig {
    let path = shared.config().path.clone();
    let text = format!(
        "state_dir = \"state\"\njobs_dir = \"jobs\"\nsocket = \"state/s.sock\"\n\n{accounts}"
    );
    DaemonConfig::parse(&path, &text).unwrap()
}

fn account(name: &str, requests_per_second: u32) -> String {
    format!(
        "[accounts.{name}]\nvendor = \"autoextract\"\napi_key = \"k\"\n\
         requests_per_second = {requests_per_second}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_swap_starts_new_lanes_restarts_changed_ones_and_empties_removed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (shared, _writer) = writer_in(dir.path());
    let first = [account("a", 1), account("b", 1), account("c", 1)].concat();
    apply_config(&shared, config_with(&shared, &first));
    let lane = |name: &str| shared.lane(name).expect("a lane per account");
    let (a, b, c) = (lane("a"), lane("b"), lane("c"));
    let executor = |lane: &Lane| lane.executor().expect("an executor");
    let (a_before, c_before) = (executor(&a), executor(&c));
    a.stop_auth(AccountStop::AuthFailed, "bad key".into());

    // a changes, b goes, c stays as it was.
    let second = [account("a", 2), account("c", 1)].concat();
    apply_config(&shared, config_with(&shared, &second));
    assert!(Arc::ptr_eq(&a, &lane("a")), "the lane itself stays");
    assert!(!Arc::ptr_eq(&a_before, &executor(&a)), "a fresh executor");
    assert_eq!(a.auth_failure(), None, "a changed account is tried again");
    assert!(Arc::ptr_eq(&c_before, &executor(&c)), "unchanged: kept");
    assert!(b.executor().is_none(), "a removed account's items wait");
    assert!(!shared.config().accounts.contains_key("b"));
    shared.shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_without_a_schedule_runs_once_per_content() {
    let dir = tempfile::tempdir().unwrap();
    let (shared, _writer) = writer_in(dir.path());
    // Account a's lane, with its executor to plan runs, but no loop running them.
    let account = shared.config().accounts["a"].clone();
    let built = executors::build(&account).unwrap();
    let lane = Lane::new("a", account.vendor(), 1, Some(built));
    (shared.lanes.lock().unwrap()).insert("a".into(), Arc::new(lane));
    let text = "vendor = \"autoextract\"\naccount = \"a\"\n[autoextract]\n\
                page_type = \"article\"\nurls = [\"https://a.com/1\"]\n";
    load_news_job_from(&shared, text);
    on_job_updated(&shared, "news").await;
    on_job_updated(&shared, "news").await;
    let runs = shared.queue.runs(Some("news")).unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let queued = shared.queued_fires.lock().unwrap().clone();
    assert!(
        queued.is_empty(),
        "the same content queues nothing: {queued:?}"
    );
    let state = shared.queue.schedule_state("news").unwrap().unwrap();
    assert_eq!(state.content_hash, Some(0), "recorded with the run");
}

/// The job `news` with this `overlap`, and a run of it active.
fn news_running(shared: &Shared, overlap: &str) {
    let text = format!(
        "vendor = \"autoextract\"\noverlap = \"{overlap}\"\n[autoextract]\n\
         page_type = \"article\"\nurls = [\"https://a.com/1\"]\n"
    );
    load_news_job_from(shared, &text);
    new_run(shared, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fire_during_an_active_run_is_skipped_and_remembered_as_fired() {
    let dir = tempfile::tempdir().unwrap();
    let (shared, _writer) = writer_in(dir.path());
    news_running(&shared, "skip");
    let at = UnixMillis(1_700_000_000_000);
    fire_job(&shared, "news", at).await;
    assert_eq!(shared.queue.runs(Some("news")).unwrap().len(), 1);
    assert!(shared.queued_fires.lock().unwrap().is_empty());
    let state = shared.queue.schedule_state("news").unwrap().unwrap();
    assert_eq!(state.last_fire, Some(at), "not caught up after a restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fire_during_an_active_run_of_a_queueing_job_waits_for_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let (shared, _writer) = writer_in(dir.path());
    news_running(&shared, "queue");
    fire_job(&shared, "news", UnixMillis(1_700_000_000_000)).await;
    assert_eq!(shared.queue.runs(Some("news")).unwrap().len(), 1);
    let queued = shared.queued_fires.lock().unwrap().clone();
    assert!(queued.contains("news"), "{queued:?}");
}
