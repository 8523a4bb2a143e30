//! Local peers that hold the status socket: it stays usable for `dredge status`.

use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::autoextract_daemon::autoextract_account;
use crate::support::*;

#[test]
fn two_thousand_idle_connections_do_not_starve_dredge_status() {
    // The test itself holds the 2,000 connections.
    rlimit::increase_nofile_limit(8192).expect("raise the test's open files limit");
    let mut h = Harness::new(&autoextract_account("http://127.0.0.1:9"));
    h.soft_nofile = Some(1024); // what systemd gives a service by default
    h.start();
    let idle: Vec<UnixStream> = (0..2000)
        .map(|i| UnixStream::connect(h.socket()).unwrap_or_else(|e| panic!("connection {i}: {e}")))
        .collect();
    let mut status = Command::new(BIN)
        .args(["status", "--socket"])
        .arg(h.socket())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let exit = loop {
        if let Some(exit) = status.try_wait().unwrap() {
            break exit;
        }
        if start.elapsed() > Duration::from_secs(1) {
            let _ = status.kill();
            panic!("dredge status did not answer within 1 s beside 2,000 idle connections");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = status.wait_with_output().unwrap();
    assert!(exit.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("pid"));
    drop(idle);
    assert!(h.stop().success());
}

/// `socket_max_connections` reaches the socket: with 3 allowed, a fourth peer gets its
/// answer and an idle one is closed to make room (the line timeout is raised to an
/// hour, so that only the cap can close it within the wait).
#[test]
fn the_configured_connection_cap_closes_an_idle_peer_to_make_room() {
    let mut h = Harness::new(&format!(
        "socket_max_connections = 3\nsocket_line_timeout = \"1h\"\n{}",
        autoextract_account("http://127.0.0.1:9")
    ));
    h.start();
    let mut idle: Vec<UnixStream> = (0..3)
        .map(|_| UnixStream::connect(h.socket()).unwrap())
        .collect();
    let status = h.call("status", serde_json::json!({}));
    assert!(status["pid"].is_u64(), "{status}");
    // Which one is longest idle by the daemon's clock is the slot table's business
    // (its unit test); here: the cap of 3 made room by closing one of them.
    for stream in &idle {
        stream
            .set_read_timeout(Some(Duration::from_millis(30)))
            .unwrap();
    }
    wait_until(
        "the daemon closes an idle connection",
        Duration::from_secs(9),
        || idle.iter_mut().any(is_closed),
    );
    assert!(h.stop().success());
}

/// Whether the daemon closed `stream` (a read within its timeout says so).
fn is_closed(stream: &mut UnixStream) -> bool {
    use std::io::Read;
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// `socket_line_timeout` reaches the socket: a peer that sends nothing is closed once
/// it passes, well before the default 10 s.
#[test]
fn the_configured_line_timeout_closes_a_silent_peer() {
    let mut h = Harness::new(&format!(
        "socket_line_timeout = \"1s\"\n{}",
        autoextract_account("http://127.0.0.1:9")
    ));
    h.start();
    let mut silent = UnixStream::connect(h.socket()).unwrap();
    wait_closed(&mut silent, Duration::from_secs(8));
    assert!(h.stop().success());
}

/// Wait (at most `limit`) until the daemon closes `stream`.
fn wait_closed(stream: &mut UnixStream, limit: Duration) {
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    wait_until("the daemon closes the connection", limit, || {
        is_closed(stream)
    });
}
