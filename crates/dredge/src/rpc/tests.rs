//! The server over a real socket with a fake `Api`.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Barrier;

use super::bind;
use super::bind::BindError;
use super::fake::{FakeApi, Served};
use crate::protocol::{MAX_LINE_BYTES, code};

const WAIT: Duration = Duration::from_secs(10);

struct Conn {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Conn {
    async fn open(served: &Served) -> Conn {
        let stream = UnixStream::connect(&served.path).await.expect("connect");
        let (read, writer) = stream.into_split();
        Conn {
            reader: BufReader::new(read),
            writer,
        }
    }

    async fn send(&mut self, text: &str) {
        self.writer.write_all(text.as_bytes()).await.expect("send");
    }

    async fn recv(&mut self) -> Value {
        let mut line = String::new();
        let n = tokio::time::timeout(WAIT, self.reader.read_line(&mut line))
            .await
            .expect("an answer within 10 s")
            .expect("read");
        assert!(n > 0, "connection closed without an answer");
        serde_json::from_str(&line).expect("answer is JSON")
    }

    async fn ask(&mut self, request: Value) -> Value {
        self.send(&format!("{request}\n")).await;
        self.recv().await
    }
}

fn error_code(answer: &Value) -> i64 {
    answer["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("not an error: {answer}"))
}

fn status_request(id: i64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "status"})
}

#[tokio::test]
async fn requests_on_one_connection_are_answered_in_order_with_their_ids() {
    let served = Served::start(FakeApi::default()).await;
    let mut conn = Conn::open(&served).await;
    // All three in one write: the server must not answer out of order.
    conn.send(concat!(
        r#"{"jsonrpc":"2.0","id":1,"method":"status"}"#,
        "\n",
        r#"{"jsonrpc":"2.0","id":"two","method":"runs.list","params":{"job":"weather"}}"#,
        "\n",
        r#"{"jsonrpc":"2.0","id":3,"method":"job.run","params":{"job":"weather"}}"#,
        "\n",
    ))
    .await;
    let first = conn.recv().await;
    assert_eq!(first["id"], json!(1));
    assert_eq!(first["result"]["version"], json!("test"));
    let second = conn.recv().await;
    assert_eq!(second["id"], json!("two"));
    assert_eq!(second["result"][0]["job"], json!("weather"));
    let third = conn.recv().await;
    assert_eq!(
        third,
        json!({"jsonrpc": "2.0", "id": 3, "result": {"run": "run-of-weather"}})
    );
    served.stop().await;
}

#[tokio::test]
async fn malformed_json_gets_a_parse_error_and_the_connection_keeps_working() {
    let served = Served::start(FakeApi::default()).await;
    let mut conn = Conn::open(&served).await;
    conn.send("{\"jsonrpc\": \"2.0\", \"id\": 1, \"meth\n")
        .await;
    let answer = conn.recv().await;
    assert_eq!(error_code(&answer), code::PARSE_ERROR);
    assert_eq!(answer["id"], Value::Null);
    let answer = conn.ask(status_request(2)).await;
    assert_eq!(answer["id"], json!(2));
    assert!(answer["result"].is_object(), "{answer}");
}

#[tokio::test]
async fn valid_json_that_is_not_a_request_gets_invalid_request() {
    let served = Served::start(FakeApi::default()).await;
    let mut conn = Conn::open(&served).await;
    for bad in [
        json!([status_request(1)]),
        json!("status"),
        json!({"jsonrpc": "2.0", "id": 5}),
        json!({"id": 6, "method": "status"}),
        json!({"jsonrpc": "2.0", "id": 7, "method": "status", "params": 3}),
    ] {
        let answer = conn.ask(bad.clone()).await;
        assert_eq!(error_code(&answer), code::INVALID_REQUEST, "for {bad}");
    }
    assert!(conn.ask(status_request(8)).await["result"].is_object());
}

#[tokio::test]
async fn an_unknown_method_gets_method_not_found() {
    let served = Served::start(FakeApi::default()).await;
    let mut conn = Conn::open(&served).await;
    let answer = conn
        .ask(json!({"jsonrpc": "2.0", "id": 1, "method": "jobs.delete"}))
        .await;
    assert_eq!(error_code(&answer), code::METHOD_NOT_FOUND);
    assert_eq!(answer["id"], json!(1));
}

#[tokio::test]
async fn bad_params_get_invalid_params_naming_the_problem() {
    let served = Served::start(FakeApi::default()).await;
    let mut conn = Conn::open(&served).await;
    let cases = [
        (json!({}), "`job`"),
        (json!({"job": 5}), "string"),
        (json!({"job": "x", "extra": 1}), "`extra`"),
        (json!(["x"]), "object"),
    ];
    for (params, named) in cases {
        let answer = conn
            .ask(json!({"jsonrpc": "2.0", "id": 1, "method": "job.run", "params": params}))
            .await;
        assert_eq!(error_code(&answer), code::INVALID_PARAMS, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(named), "{message:?} should name {named}");
    }
    let answer = conn
        .ask(json!({"jsonrpc": "2.0", "id": 2, "method": "status", "params": {"job": "x"}}))
        .await;
    assert_eq!(error_code(&answer), code::INVALID_PARAMS);
}

#[tokio::test]
async fn api_errors_reach_the_client_with_their_code_and_message() {
    let served = Served::start(FakeApi::default()).await;
    let mut conn = Conn::open(&served).await;
    let answer = conn
        .ask(json!({"jsonrpc": "2.0", "id": 1, "method": "run.cancel", "params": {"run": "missing"}}))
        .await;
    assert_eq!(error_code(&answer), code::NOT_FOUND);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("missing")
    );
}

#[tokio::test]
async fn a_panicking_api_call_gets_an_internal_error_and_the_connection_survives() {
    let served = Served::start(FakeApi::default()).await;
    let mut conn = Conn::open(&served).await;
    let answer = conn
        .ask(json!({"jsonrpc": "2.0", "id": 1, "method": "job.pause", "params": {"job": "boom"}}))
        .await;
    assert_eq!(error_code(&answer), code::INTERNAL);
    assert_eq!(conn.ask(status_request(2)).await["id"], json!(2));
}

#[tokio::test]
async fn notifications_and_blank_lines_get_no_answer() {
    let served = Served::start(FakeApi::default()).await;
    let mut conn = Conn::open(&served).await;
    conn.send("{\"jsonrpc\":\"2.0\",\"method\":\"reload\"}\n\n   \n")
        .await;
    conn.send("{\"jsonrpc\":\"2.0\",\"method\":\"no.such.method\"}\n")
        .await;
    let answer = conn.ask(status_request(9)).await;
    assert_eq!(
        answer["id"],
        json!(9),
        "the first answer must be to the request"
    );
}

#[tokio::test]
async fn an_oversized_line_gets_an_error_and_the_daemon_keeps_serving() {
    let served = Served::start(FakeApi::default()).await;
    let mut conn = Conn::open(&served).await;
    let mut huge = vec![b'x'; MAX_LINE_BYTES + 1];
    huge.push(b'\n');
    // Written from another task: the server answers while we are still sending.
    let mut writer = conn.writer;
    let sender = tokio::spawn(async move {
        writer.write_all(&huge).await.expect("send the huge line");
        writer
            .write_all(format!("{}\n", status_request(2)).as_bytes())
            .await
            .expect("send the next request");
        writer
    });
    let mut line = String::new();
    tokio::time::timeout(WAIT, conn.reader.read_line(&mut line))
        .await
        .expect("an answer within 10 s")
        .expect("read");
    let answer: Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(error_code(&answer), code::INVALID_REQUEST);
    assert_eq!(answer["id"], Value::Null);
    line.clear();
    tokio::time::timeout(WAIT, conn.reader.read_line(&mut line))
        .await
        .expect("an answer within 10 s")
        .expect("read");
    let answer: Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(answer["id"], json!(2), "same connection still answers");
    sender.await.expect("sender");
    let mut other = Conn::open(&served).await;
    assert_eq!(other.ask(status_request(3)).await["id"], json!(3));
}

#[tokio::test]
async fn a_client_that_disconnects_mid_line_does_not_disturb_others() {
    let served = Served::start(FakeApi::default()).await;
    let mut quitter = Conn::open(&served).await;
    quitter.send("{\"jsonrpc\":\"2.0\",\"id\":1,\"meth").await;
    drop(quitter);
    let mut conn = Conn::open(&served).await;
    assert_eq!(conn.ask(status_request(1)).await["id"], json!(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_clients_are_served_at_once() {
    // `status` answers only once all twenty calls are waiting in it together.
    let barrier = Arc::new(Barrier::new(20));
    let served = Served::start(FakeApi {
        status_barrier: Some(barrier),
    })
    .await;
    let mut clients = tokio::task::JoinSet::new();
    for n in 0..20 {
        let mut conn = Conn::open(&served).await;
        clients.spawn(async move { (n, conn.ask(status_request(n)).await) });
    }
    let mut answered = 0;
    while let Some(joined) = clients.join_next().await {
        let (n, answer) = joined.expect("client task");
        assert_eq!(answer["id"], json!(n));
        assert!(answer["result"].is_object(), "{answer}");
        answered += 1;
    }
    assert_eq!(answered, 20);
}

#[tokio::test]
async fn a_stale_socket_file_is_taken_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dredge.sock");
    drop(std::os::unix::net::UnixListener::bind(&path).expect("bind"));
    assert!(path.exists(), "the dead listener leaves its file");
    let listener = bind(&path, None).expect("stale socket is taken over");
    let (connected, accepted) = tokio::join!(UnixStream::connect(&path), listener.accept());
    connected.expect("connect to the new socket");
    accepted.expect("accept");
}

#[tokio::test]
async fn a_live_socket_is_not_taken_over() {
    let served = Served::start(FakeApi::default()).await;
    match bind(&served.path, None) {
        Err(e @ BindError::AlreadyServing(_)) => {
            assert_eq!(
                e.to_string(),
                format!(
                    "another dredge daemon is already serving {}",
                    served.path.display()
                )
            );
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("took over a live socket"),
    }
    let mut conn = Conn::open(&served).await;
    assert_eq!(
        conn.ask(status_request(1)).await["id"],
        json!(1),
        "the first daemon still serves"
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_socket_is_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dredge.sock");
    std::fs::write(&path, "precious").expect("write");
    assert!(matches!(bind(&path, None), Err(BindError::NotASocket(_))));
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "precious");
}

#[tokio::test]
async fn the_socket_file_has_mode_0660_and_its_directory_is_created() {
    let served = Served::start(FakeApi::default()).await;
    let mode = std::fs::metadata(&served.path)
        .expect("socket exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o660);
}

#[tokio::test]
async fn stopping_closes_the_server_and_removes_the_socket_file() {
    let served = Served::start(FakeApi::default()).await;
    let path = served.path.clone();
    served.stop().await;
    assert!(!path.exists());
}

/// Set for the child process of the refused-peer test: the socket to try.
const PEER_CHILD_SOCKET: &str = "DREDGE_TEST_PEER_CHILD_SOCKET";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_is_not_root_the_daemon_user_or_in_the_group_is_refused() {
    if !std::fs::read_to_string("/proc/self/status").is_ok_and(|s| s.contains("\nUid:\t0\t")) {
        eprintln!("skipped: only root can start a peer as another user");
        return;
    }
    let served = Served::start(FakeApi::default()).await;
    // Open the path to everyone so that only the credential check stands in the way.
    let open = |path: &std::path::Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    let run_dir = served.path.parent().expect("socket has a directory");
    open(run_dir.parent().expect("temp dir"), 0o755);
    open(run_dir, 0o755);
    open(&served.path, 0o666);
    let socket = served.path.clone();
    let child = tokio::task::spawn_blocking(move || {
        use std::os::unix::process::CommandExt;
        std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "rpc::tests::peer_child",
                "--ignored",
                "--nocapture",
            ])
            .env(PEER_CHILD_SOCKET, socket)
            .uid(65534)
            .gid(65534)
            .output()
            .expect("start the child as nobody")
    })
    .await
    .expect("child task");
    let stdout = String::from_utf8_lossy(&child.stdout);
    let answer = stdout
        .lines()
        .find_map(|l| l.strip_prefix("ANSWER "))
        .unwrap_or_else(|| panic!("child printed no answer: {stdout}"));
    let answer: Value = serde_json::from_str(answer).expect("JSON");
    assert_eq!(error_code(&answer), code::PERMISSION_DENIED, "{answer}");
    assert!(
        stdout.contains("CLOSED"),
        "the connection is closed after the refusal: {stdout}"
    );
}

/// The refused peer, run as `nobody` by the test above; does nothing otherwise.
#[test]
#[ignore = "helper process of the refused-peer test"]
fn peer_child() {
    use std::io::{BufRead, Write};
    let Some(path) = std::env::var_os(PEER_CHILD_SOCKET) else {
        return;
    };
    let stream = std::os::unix::net::UnixStream::connect(path).expect("connect as nobody");
    stream.set_read_timeout(Some(WAIT)).expect("read timeout");
    let mut reader = std::io::BufReader::new(&stream);
    let mut line = String::new();
    reader.read_line(&mut line).expect("read the refusal");
    println!("ANSWER {}", line.trim_end());
    // Whatever we send now, nothing more comes back.
    let _ = (&stream).write_all(format!("{}\n", status_request(1)).as_bytes());
    line.clear();
    // End of stream, or a reset when our request reached the daemon before it closed
    // (Linux resets a unix socket closed with unread data). A timeout means still open.
    match reader.read_line(&mut line) {
        Ok(0) => println!("CLOSED"),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => println!("CLOSED"),
        other => println!("OPEN {other:?} {line}"),
    }
}

#[tokio::test]
async fn a_client_that_never_finishes_its_line_is_closed_after_the_line_timeout() {
    let options = super::Options {
        line_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let served = Served::start_with(FakeApi::default(), options).await;
    let mut conn = Conn::open(&served).await;
    conn.send("{\"jsonrpc\":\"2.0\",").await;
    let mut rest = String::new();
    let n = tokio::time::timeout(WAIT, conn.reader.read_line(&mut rest))
        .await
        .expect("closed within 10 s")
        .expect("read");
    assert_eq!(n, 0, "the server closes the connection: {rest:?}");
    served.stop().await;
}

#[tokio::test]
async fn idle_connections_past_the_cap_make_room_for_a_new_client() {
    let options = super::Options {
        max_connections: 8,
        // Longer than the test waits: only making room can close a connection.
        line_timeout: Duration::from_secs(600),
        ..Default::default()
    };
    let served = Served::start_with(FakeApi::default(), options).await;
    let mut idle = Vec::new();
    for _ in 0..50 {
        idle.push(UnixStream::connect(&served.path).await.expect("connect"));
    }
    let mut conn = Conn::open(&served).await;
    let answer = conn
        .ask(json!({"jsonrpc": "2.0", "id": 1, "method": "status"}))
        .await;
    assert!(answer["result"].is_object(), "{answer}");
    // The oldest idle connection was closed to make room (it reads end of stream).
    let mut oldest = BufReader::new(idle.swap_remove(0));
    let mut rest = String::new();
    let n = tokio::time::timeout(WAIT, oldest.read_line(&mut rest))
        .await
        .expect("closed within 10 s")
        .expect("read");
    assert_eq!(n, 0, "{rest:?}");
    served.stop().await;
}

#[tokio::test]
async fn the_status_group_may_read_but_not_change_anything() {
    use super::peer::Access;
    let api: Arc<dyn crate::protocol::Api> = Arc::new(FakeApi::default());
    let ask = |method: &str| {
        let line = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": {"job": "news"}});
        line.to_string().into_bytes()
    };
    let denied = super::dispatch::answer(&api, &ask("job.run"), Access::ReadOnly)
        .await
        .unwrap();
    assert_eq!(error_code(&denied), code::PERMISSION_DENIED, "{denied}");
    let allowed = super::dispatch::answer(&api, &ask("job.run"), Access::Control)
        .await
        .unwrap();
    assert!(allowed.get("error").is_none(), "{allowed}");
    let status = json!({"jsonrpc": "2.0", "id": 1, "method": "status"}).to_string();
    let read = super::dispatch::answer(&api, status.as_bytes(), Access::ReadOnly)
        .await
        .unwrap();
    assert!(read["result"].is_object(), "{read}");
}

/// The ids of a `runs.list` answer, in order.
fn run_ids(answer: &Value) -> Vec<String> {
    answer["result"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list of runs: {answer}"))
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect()
}

fn runs_list(id: i64, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "runs.list", "params": params})
}

#[tokio::test]
async fn runs_list_pages_newest_first_with_limit_and_before() {
    let served = Served::start(FakeApi::default()).await;
    let mut conn = Conn::open(&served).await;
    let run = |n: u32| super::fake::numbered_run("news", n).id;
    let first = conn
        .ask(runs_list(1, json!({"job": "news", "limit": 2})))
        .await;
    assert_eq!(run_ids(&first), [run(5), run(4)]);
    let second = conn
        .ask(runs_list(
            2,
            json!({"job": "news", "limit": 2, "before": run(4)}),
        ))
        .await;
    assert_eq!(run_ids(&second), [run(3), run(2)]);
    let last = conn
        .ask(runs_list(3, json!({"limit": 2, "before": run(2)})))
        .await;
    assert_eq!(run_ids(&last).len(), 1, "{last}");
    // The old form, `{"job": ...}` or no params at all, still answers.
    let all = conn
        .ask(json!({"jsonrpc": "2.0", "id": 4, "method": "runs.list"}))
        .await;
    assert_eq!(run_ids(&all).len(), super::fake::FAKE_RUNS as usize);
}

#[tokio::test]
async fn runs_list_refuses_a_limit_out_of_range_naming_it() {
    let served = Served::start(FakeApi::default()).await;
    let mut conn = Conn::open(&served).await;
    for (params, named) in [
        (json!({"limit": 0}), "`limit`"),
        (json!({"limit": 1001}), "`limit`"),
        (json!({"limit": "all"}), "`limit`"),
        (json!({"before": 7}), "string"),
        (json!({"page": 2}), "`page`"),
    ] {
        let answer = conn.ask(runs_list(1, params.clone())).await;
        assert_eq!(
            error_code(&answer),
            code::INVALID_PARAMS,
            "{params}: {answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(named), "{message:?} should name {named}");
    }
}
