use std::path::PathBuf;

use serde_json::json;

use super::*;
use crate::protocol::{JobPause, PageLimit, RunCancel};
use crate::rpc::fake::{FAKE_RUNS, FakeApi, Served, numbered_run};

fn args(socket: Option<&str>, config: Option<PathBuf>) -> ClientArgs {
    ClientArgs {
        socket: socket.map(PathBuf::from),
        config,
        json: false,
    }
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z")
        .expect("valid")
        .with_timezone(&Utc)
}

/// Runs the blocking client off the runtime that serves the socket.
async fn execute_off_runtime(
    request: Request,
    socket: PathBuf,
    json: bool,
) -> Result<String, CliError> {
    tokio::task::spawn_blocking(move || execute(&request, &socket, json, now()))
        .await
        .expect("client task")
}

#[test]
fn socket_flag_wins_over_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("dredge.toml");
    std::fs::write(&config, "socket = \"/elsewhere.sock\"\n").expect("write");
    let path = socket_path(&args(Some("/given.sock"), Some(config))).expect("resolves");
    assert_eq!(path, PathBuf::from("/given.sock"));
}

#[test]
fn config_socket_is_used_and_relative_paths_follow_the_config_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("dredge.toml");
    // Accounts with unreadable secrets must not matter to a client.
    std::fs::write(
        &config,
        "socket = \"run/d.sock\"\n[accounts.x]\nvendor = \"wds\"\ntoken_file = \"/nonexistent\"\n",
    )
    .expect("write");
    let path = socket_path(&args(None, Some(config))).expect("resolves");
    assert_eq!(path, dir.path().join("run/d.sock"));
}

#[test]
fn a_config_without_socket_means_the_default_socket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("dredge.toml");
    std::fs::write(&config, "state_dir = \"/x\"\n").expect("write");
    let path = socket_path(&args(None, Some(config))).expect("resolves");
    assert_eq!(path, PathBuf::from(DEFAULT_SOCKET));
}

#[test]
fn an_unreadable_given_config_is_an_error_naming_it() {
    let err = socket_path(&args(None, Some(PathBuf::from("/nonexistent/dredge.toml"))))
        .expect_err("missing");
    assert!(
        err.to_string().contains("/nonexistent/dredge.toml"),
        "{err}"
    );
}

/// The wire form of a request: what README "Commands and the status socket" documents.
fn wire(request: impl Into<Request>) -> Value {
    serde_json::to_value(request.into()).expect("encodes")
}

#[test]
fn requests_carry_the_documented_method_and_params() {
    assert_eq!(
        wire(RunsList::default()),
        json!({"method": "runs.list", "params": {}})
    );
    assert_eq!(
        wire(DeadList {
            job: Some("j".into())
        }),
        json!({"method": "dead.list", "params": {"job": "j"}})
    );
    assert_eq!(
        wire(RunCancel { run: "r".into() }),
        json!({"method": "run.cancel", "params": {"run": "r"}})
    );
    assert_eq!(
        wire(JobPause { job: "j".into() }),
        json!({"method": "job.pause", "params": {"job": "j"}})
    );
    assert_eq!(
        Request::from(RunRetry { run: "r".into() }).method(),
        "run.retry"
    );
    assert_eq!(
        wire(RunsList {
            job: None,
            limit: PageLimit::new(5),
            before: Some("r9".into()),
        }),
        json!({"method": "runs.list", "params": {"limit": 5, "before": "r9"}})
    );
}

#[test]
fn a_missing_socket_is_daemon_not_running_with_the_spec_message() {
    let err = execute(
        &Status {}.into(),
        Path::new("/nonexistent/dredge.sock"),
        false,
        now(),
    )
    .expect_err("no daemon");
    assert!(matches!(err, CliError::DaemonNotRunning(_)));
    assert_eq!(
        err.to_string(),
        "dredge daemon is not running: no socket at /nonexistent/dredge.sock"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_prints_a_table_with_invalid_job_files() {
    let served = Served::start(FakeApi::default()).await;
    let out = execute_off_runtime(Status {}.into(), served.path.clone(), false)
        .await
        .expect("status");
    assert!(out.starts_with("dredge test  pid 1  up 5s\n"), "{out}");
    assert!(
        out.ends_with("invalid job files (1):\n  /jobs/bad.toml:1:1: expected `=`\n"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_json_prints_the_answer_as_one_pretty_document() {
    let served = Served::start(FakeApi::default()).await;
    let out = execute_off_runtime(
        RunsList {
            job: Some("weather".into()),
            ..RunsList::default()
        }
        .into(),
        served.path.clone(),
        true,
    )
    .await
    .expect("runs");
    let value: Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(value[0]["job"], json!("weather"));
    assert_eq!(value[0]["items"]["done"], json!(8));
    assert!(out.contains("\n  "), "pretty-printed: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_that_change_something_print_the_daemons_message() {
    let served = Served::start(FakeApi::default()).await;
    let path = served.path.clone();
    let run = execute_off_runtime(
        JobRun {
            job: "weather".into(),
        }
        .into(),
        path.clone(),
        false,
    )
    .await;
    assert_eq!(run.expect("run"), "started run run-of-weather\n");
    let retry =
        execute_off_runtime(RunRetry { run: "r1".into() }.into(), path.clone(), false).await;
    assert_eq!(retry.expect("retry"), "requeued dead items of r1\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_error_is_a_failure_with_its_message() {
    let served = Served::start(FakeApi::default()).await;
    let err = execute_off_runtime(
        RunCancel {
            run: "missing".into(),
        }
        .into(),
        served.path.clone(),
        false,
    )
    .await
    .expect_err("not found");
    assert!(matches!(err, CliError::Failed(_)));
    assert_eq!(err.to_string(), "no job or run named \"missing\"");
}

fn page(limit: u64, before: Option<u32>) -> Request {
    RunsList {
        job: Some("news".into()),
        limit: PageLimit::new(limit),
        before: before.map(|n| numbered_run("news", n).id),
    }
    .into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_page_of_runs_ends_with_the_command_for_older_ones() {
    let served = Served::start(FakeApi::default()).await;
    let out = execute_off_runtime(page(2, None), served.path.clone(), false)
        .await
        .expect("runs");
    let (newest, older) = (numbered_run("news", 5).id, numbered_run("news", 4).id);
    assert!(out.find(&newest) < out.find(&older), "newest first: {out}");
    assert!(!out.contains(&numbered_run("news", 3).id), "{out}");
    assert!(
        out.ends_with(&format!(
            "older runs: dredge runs news --before {older} --limit 2\n"
        )),
        "{out}"
    );
    // Following it shows the next page; the last page, not full, says nothing more.
    let next = execute_off_runtime(page(2, Some(4)), served.path.clone(), false)
        .await
        .expect("runs");
    assert!(next.contains(&numbered_run("news", 3).id), "{next}");
    let last = execute_off_runtime(page(2, Some(2)), served.path.clone(), false)
        .await
        .expect("runs");
    assert!(last.contains(&numbered_run("news", 1).id), "{last}");
    assert!(!last.contains("older runs"), "{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_json_is_the_page_alone() {
    let served = Served::start(FakeApi::default()).await;
    let out = execute_off_runtime(page(u64::from(FAKE_RUNS), None), served.path.clone(), true)
        .await
        .expect("runs");
    let value: Value = serde_json::from_str(&out).expect("one JSON document, no hint line");
    assert_eq!(value.as_array().map(Vec::len), Some(FAKE_RUNS as usize));
}

#[test]
fn dredge_runs_asks_for_twenty_runs_unless_told_and_refuses_a_bad_limit() {
    use clap::Parser;

    use crate::cli::{Cli, Command};
    let parse = |args: &[&str]| Cli::try_parse_from([&["dredge", "runs"], args].concat());
    let Command::Runs {
        limit, job_flag, ..
    } = parse(&["--job", "news"]).expect("valid").command
    else {
        panic!("not runs");
    };
    assert_eq!((limit, job_flag.as_deref()), (20, Some("news")));
    for bad in ["0", "1001", "x"] {
        assert!(parse(&["--limit", bad]).is_err(), "--limit {bad}");
    }
    assert!(parse(&["news", "--job", "other"]).is_err(), "JOB twice");
}
