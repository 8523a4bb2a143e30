use std::path::PathBuf;

use super::*;
use crate::rpc::fake::{FakeApi, Served};

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

#[test]
fn requests_carry_the_method_and_params_of_spec_section_6() {
    assert_eq!(Request::Runs(None).params(), Value::Null);
    assert_eq!(
        Request::Dead(Some("j".into())).params(),
        json!({"job": "j"})
    );
    assert_eq!(Request::Cancel("r".into()).params(), json!({"run": "r"}));
    assert_eq!(Request::Pause("j".into()).method(), "job.pause");
    assert_eq!(Request::Retry("r".into()).method(), "run.retry");
}

#[test]
fn a_missing_socket_is_daemon_not_running_with_the_spec_message() {
    let err = execute(
        &Request::Status,
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
    let out = execute_off_runtime(Request::Status, served.path.clone(), false)
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
        Request::Runs(Some("weather".into())),
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
    let run = execute_off_runtime(Request::Run("weather".into()), path.clone(), false).await;
    assert_eq!(run.expect("run"), "started run run-of-weather\n");
    let retry = execute_off_runtime(Request::Retry("r1".into()), path.clone(), false).await;
    assert_eq!(retry.expect("retry"), "requeued dead items of r1\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_error_is_a_failure_with_its_message() {
    let served = Served::start(FakeApi::default()).await;
    let err = execute_off_runtime(
        Request::Cancel("missing".into()),
        served.path.clone(),
        false,
    )
    .await
    .expect_err("not found");
    assert!(matches!(err, CliError::Failed(_)));
    assert_eq!(err.to_string(), "no job or run named \"missing\"");
}
