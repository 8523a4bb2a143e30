//! The daemon's answers read the queue as `runs.list` and `jobs.list` promise.

use super::*;
use crate::daemon::test_support::{load_news_job, new_run, writer_in};
use crate::protocol::PageLimit;

fn ids(runs: &[RunSummary]) -> Vec<String> {
    runs.iter().map(|r| r.id.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_list_pages_through_the_queue_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let (shared, _writer) = writer_in(dir.path());
    let made: Vec<String> = (0..3).map(|_| new_run(&shared, 1).to_string()).collect();
    let api = DaemonApi(shared);
    let page = |before: Option<&String>| RunsList {
        job: Some("news".into()),
        limit: PageLimit::new(2),
        before: before.cloned(),
    };
    let first = api.runs_list(page(None)).await.unwrap();
    assert_eq!(ids(&first), [made[2].clone(), made[1].clone()]);
    let second = api
        .runs_list(page(first.last().map(|r| &r.id)))
        .await
        .unwrap();
    assert_eq!(ids(&second), [made[0].clone()]);
    let other = RunsList {
        job: Some("other".into()),
        ..RunsList::default()
    };
    assert!(api.runs_list(other).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_list_shows_the_newest_run_even_when_no_schedule_started_it() {
    let dir = tempfile::tempdir().unwrap();
    let (shared, _writer) = writer_in(dir.path());
    load_news_job(&shared);
    let api = DaemonApi(shared.clone());
    assert_eq!(api.jobs_list(JobsList {}).await.unwrap()[0].last_run, None);
    // Runs made as `dredge run` makes them: no schedule state records them.
    new_run(&shared, 1);
    let newest = new_run(&shared, 1).to_string();
    let jobs = api.jobs_list(JobsList {}).await.unwrap();
    assert_eq!(jobs[0].last_run.as_deref(), Some(newest.as_str()));
    assert_eq!(jobs[0].state, "running");
}
