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
