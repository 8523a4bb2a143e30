//! Paging (`mode = "all"`), the token (single flight, renewal, rejected credentials),
//! and the answers that end an item or the account, against `dredge-sim` (and one
//! hand-made server for the wrong-method answer the simulator only gives to wrong
//! requests).

mod support;

use std::collections::BTreeSet;

use dredge_core::job::{OctoparseMode, OctoparseTasks};
use dredge_core::{Executor, ItemContext, Outcome, UnixMillis};
use dredge_octoparse::OctoparseFlavor;
use dredge_octoparse::{OctoparseExecutor, Step};
use dredge_sim::octoparse::{Faults, ROW_KEY_FIELD};

use support::*;

fn keys_of_task(sim: &dredge_sim::octoparse::Sim, task: &str) -> BTreeSet<(String, String)> {
    sim.rows(task)
        .expect("a task")
        .iter()
        .map(|r| {
            (
                task.to_string(),
                r[ROW_KEY_FIELD].as_str().expect("key").to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn legacy_all_mode_reads_by_offset_not_by_page_index() {
    let sim = sim(config(1, 2, 250, Faults::default())).await;
    let ids = task_ids(&sim);
    let job = job(OctoparseTasks::Ids(ids.clone()), OctoparseMode::All, 100);
    let report = run(
        executor(&account(&sim, OctoparseFlavor::Legacy, false, PASSWORD)),
        &job,
        4,
    )
    .await;
    assert!(
        report.unfinished.is_empty() && report.dead.is_empty(),
        "{report:?}"
    );
    let expected: BTreeSet<_> = ids.iter().flat_map(|t| keys_of_task(&sim, t)).collect();
    assert_eq!(output_rows(&report), expected);
    let labels: BTreeSet<_> = report.items.iter().map(|i| i.label.clone()).collect();
    for id in &ids {
        for page in 1..=3 {
            assert!(
                labels.contains(&format!("task {id} page {page}")),
                "page {page} of {id}"
            );
        }
    }
    assert_eq!(report.items.len(), 6, "three pages per task, no more");
    assert!(sim.ledger().is_empty(), "a snapshot exports nothing");
    let paths: Vec<String> = sim.log.entries().into_iter().map(|e| e.path).collect();
    assert!(
        paths.iter().all(|p| !p.starts_with("/api/alldata?")),
        "page-index paging shifts while a task extracts: {paths:?}"
    );
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with("/api/allData/getDataOfTaskByOffset?")),
        "{paths:?}"
    );
}

#[tokio::test]
async fn openapi_all_mode_follows_the_opaque_offsets() {
    let sim = sim(config(1, 2, 250, Faults::default())).await;
    let ids = task_ids(&sim);
    let job = job(OctoparseTasks::Ids(ids.clone()), OctoparseMode::All, 100);
    let report = run(
        executor(&account(&sim, OctoparseFlavor::Openapi, false, PASSWORD)),
        &job,
        4,
    )
    .await;
    assert!(
        report.unfinished.is_empty() && report.dead.is_empty(),
        "{report:?}"
    );
    let expected: BTreeSet<_> = ids.iter().flat_map(|t| keys_of_task(&sim, t)).collect();
    assert_eq!(output_rows(&report), expected);
    assert_eq!(report.records.len(), 500);
}

#[tokio::test]
async fn twenty_concurrent_items_share_one_token_request() {
    let sim = sim(config(5, 4, 10, Faults::default())).await;
    let job = job(
        OctoparseTasks::Ids(task_ids(&sim)),
        OctoparseMode::All,
        1000,
    );
    let exec = executor(&account(&sim, OctoparseFlavor::Legacy, false, PASSWORD));
    let report = run(exec.clone(), &job, 20).await;
    assert_eq!(report.records.len(), 200);
    assert_eq!(token_requests(&sim), 1);
    assert_eq!(exec.token_stats().logins, 1);
}

#[tokio::test]
async fn an_unknown_task_is_dead_with_the_vendors_message() {
    let sim = sim(config(1, 1, 10, Faults::default())).await;
    let job = job(
        OctoparseTasks::Ids(vec!["no-such-task".into()]),
        OctoparseMode::Unexported,
        10,
    );
    let report = run(
        executor(&account(&sim, OctoparseFlavor::Legacy, false, PASSWORD)),
        &job,
        1,
    )
    .await;
    assert_eq!(report.dead.len(), 1);
    report.assert_first_dead_says("TaskID is invalid");
    assert_eq!(report.total_attempts(), 0);
}

fn item(step: &Step) -> ItemContext {
    let new = step.item();
    ItemContext {
        label: new.label,
        payload: new.payload,
        attempts: 0,
        polls: 0,
        run_started: UnixMillis::now(),
    }
}

#[tokio::test]
async fn a_size_the_vendor_refuses_is_dead_with_its_message() {
    let sim = sim(config(1, 1, 10, Faults::default())).await;
    let task = task_ids(&sim).remove(0);
    // Job files cannot hold such a size; an item planned by an older dredge could.
    let job = job(
        OctoparseTasks::Ids(vec![task.clone()]),
        OctoparseMode::Unexported,
        1001,
    );
    let exec = OctoparseExecutor::new(&account(&sim, OctoparseFlavor::Legacy, false, PASSWORD))
        .expect("executor");
    let outcome = exec
        .execute(&job, &item(&Step::Drain { task, batch: 1 }))
        .await;
    assert!(
        matches!(&outcome, Outcome::Fatal { message } if message.contains("Size range from 1 to 1000")),
        "{outcome:?}"
    );
    assert!(sim.ledger().is_empty());
}

#[tokio::test]
async fn rejected_credentials_stop_the_account_after_one_token_request() {
    let sim = sim(config(1, 3, 10, Faults::default())).await;
    let job = job(
        OctoparseTasks::Ids(task_ids(&sim)),
        OctoparseMode::Unexported,
        10,
    );
    let exec = executor(&account(
        &sim,
        OctoparseFlavor::Legacy,
        false,
        "wrong-password",
    ));
    let report = run(exec.clone(), &job, 4).await;
    let reason = report.account_stopped.clone().expect("the account stopped");
    assert!(reason.contains("incorrect"), "{reason}");
    assert!(
        !reason.contains("wrong-password"),
        "no secret in the reason"
    );
    // Items still waiting must not log in again, however often they are asked.
    for _ in 0..5 {
        let outcome = exec
            .execute(
                &job,
                &item(&Step::Drain {
                    task: task_ids(&sim)[0].clone(),
                    batch: 1,
                }),
            )
            .await;
        assert!(matches!(outcome, Outcome::AuthFailed { .. }), "{outcome:?}");
    }
    assert_eq!(token_requests(&sim), 1, "one login, no hammering");
    assert!(sim.ledger().is_empty());
}

#[tokio::test]
async fn openapi_rejected_credentials_stop_the_account_too() {
    let sim = sim(config(1, 2, 10, Faults::default())).await;
    let job = job(OctoparseTasks::Ids(task_ids(&sim)), OctoparseMode::All, 10);
    let report = run(
        executor(&account(&sim, OctoparseFlavor::Openapi, false, "nope")),
        &job,
        4,
    )
    .await;
    assert!(report.account_stopped.is_some());
    assert_eq!(token_requests(&sim), 1);
}

mod wrong_method {
    //! A server that issues tokens and answers every data request the way the legacy
    //! API answers a wrong HTTP method.

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    const TOKEN: &str =
        r#"{"access_token":"t","token_type":"bearer","expires_in":86399,"refresh_token":"r"}"#;
    const WRONG: &str = r#"{"message":"Requested Resource Does Not Support HTTP Method 'GET'"}"#;

    /// Serve on 127.0.0.1; returns the base URL.
    pub(crate) async fn serve() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let head = read_head(&mut socket).await;
                    let (status, body) = if head.contains(" /token ") {
                        ("200 OK", TOKEN)
                    } else {
                        ("405 Method Not Allowed", WRONG)
                    };
                    let reply = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(reply.as_bytes()).await;
                });
            }
        });
        format!("http://{addr}")
    }

    /// The request line and headers, and the body skipped by its length.
    async fn read_head(socket: &mut tokio::net::TcpStream) -> String {
        let mut bytes = Vec::new();
        let mut buf = [0u8; 1024];
        while !bytes.windows(4).any(|w| w == b"\r\n\r\n") {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[tokio::test]
async fn the_wrong_method_answer_is_dead_as_a_bug() {
    let base_url = wrong_method::serve().await;
    let sim = sim(config(1, 1, 10, Faults::default())).await;
    let mut account = account(&sim, OctoparseFlavor::Legacy, false, PASSWORD);
    account.base_url = base_url;
    let job = job(
        OctoparseTasks::Ids(vec!["7a1b".into()]),
        OctoparseMode::All,
        10,
    );
    let report = run(executor(&account), &job, 1).await;
    assert_eq!(report.dead.len(), 1, "{report:?}");
    let reason = &report.dead[0].reason;
    assert!(reason.contains("Does Not Support HTTP Method"), "{reason}");
    assert!(reason.contains("bug"), "{reason}");
    assert_eq!(report.total_attempts(), 0, "not retried");
}

#[tokio::test]
async fn a_token_about_to_expire_is_renewed_with_the_refresh_grant() {
    renewed_with_the_refresh_grant(OctoparseFlavor::Legacy, "notexportdata").await;
}

/// The OpenAPI refreshes at `POST /token` with `grant_type=refresh_token`, as the
/// official sample does (the simulator serves no other refresh path).
#[tokio::test]
async fn an_openapi_token_is_renewed_at_the_token_endpoint() {
    renewed_with_the_refresh_grant(OctoparseFlavor::Openapi, "markexported").await;
}

async fn renewed_with_the_refresh_grant(flavor: OctoparseFlavor, ledger_via: &str) {
    let mut config = config(1, 1, 300, Faults::default());
    config.expires_in = 1;
    let sim = sim(config).await;
    let mut account = account(&sim, flavor, false, PASSWORD);
    // 31 requests at 20 per second outlast the one-second token.
    account.limits.requests_per_second = Some(20.0);
    let job = job(
        OctoparseTasks::Ids(task_ids(&sim)),
        OctoparseMode::Unexported,
        10,
    );
    let exec = executor(&account);
    let report = run(exec.clone(), &job, 2).await;
    assert_output_equals_ledger(&sim, &report, 300, ledger_via);
    let stats = exec.token_stats();
    assert_eq!(stats.logins, 1, "the password was used once");
    assert!(
        stats.refreshes >= 1,
        "renewed with the refresh grant: {stats:?}"
    );
    assert_eq!(token_requests(&sim) as u64, stats.logins + stats.refreshes);
}
