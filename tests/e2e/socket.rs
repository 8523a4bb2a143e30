//! The status socket keeps serving through bad input; clients get the exit codes of
//! README "Commands and the status socket".

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;

use serde_json::Value;

use crate::support::*;

#[test]
fn malformed_lines_get_json_rpc_errors_and_the_connection_keeps_serving() {
    let mut h = Harness::new("");
    h.start();
    let stream = UnixStream::connect(h.socket()).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut ask = |line: &str| -> Value {
        writeln!(writer, "{line}").unwrap();
        let mut answer = String::new();
        reader.read_line(&mut answer).unwrap();
        serde_json::from_str(&answer).unwrap()
    };
    assert_eq!(ask("{not json")["error"]["code"], -32700);
    assert_eq!(ask("[1,2]")["error"]["code"], -32600);
    assert_eq!(
        ask(r#"{"jsonrpc":"2.0","id":3,"method":"no.such"}"#)["error"]["code"],
        -32601
    );
    let ok = ask(r#"{"jsonrpc":"2.0","id":4,"method":"status"}"#);
    assert_eq!(ok["id"], 4);
    assert!(ok["result"]["version"].is_string(), "{ok}");
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":5,"method":"status","params":{{"x":"{}"}}}}"#,
        "a".repeat(2 << 20)
    );
    let over = ask(&big);
    assert!(
        over["error"].is_object(),
        "an oversized line gets an error: {over}"
    );
    assert!(
        try_rpc(&h.socket(), "status", serde_json::json!({})).is_some(),
        "others are still served"
    );
}

#[test]
fn client_commands_exit_3_when_no_daemon_is_running() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("none.sock");
    let out = std::process::Command::new(BIN)
        .args(["status", "--socket"])
        .arg(&socket)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "dredge daemon is not running: no socket at {}",
            socket.display()
        )),
        "{err}"
    );
}

#[test]
fn sigterm_stops_the_daemon_cleanly_and_removes_its_socket() {
    let mut h = Harness::new("");
    h.start();
    let status = h.stop();
    assert!(status.success(), "exit status {status}");
    assert!(!h.socket().exists(), "socket removed on shutdown");
    assert!(h.log().contains("dredge daemon stopped"));
}

#[test]
fn a_stale_socket_file_is_taken_over_after_sigkill() {
    let mut h = Harness::new("");
    h.start();
    h.kill9();
    assert!(h.socket().exists(), "SIGKILL leaves the socket file behind");
    h.start();
    assert!(try_rpc(&h.socket(), "status", serde_json::json!({})).is_some());
}
