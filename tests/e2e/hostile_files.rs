//! Job files other people write: a FIFO, a device, an input file outside the jobs
//! directory. Each is one clear error; nothing blocks, and nothing outside the jobs
//! directory is ever read into an answer or the log.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::autoextract_daemon::autoextract_account;
use crate::support::*;

fn mkfifo(path: &std::path::Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

/// The error `status` shows for the job file named `name`.
fn invalid_file_error(h: &Harness, name: &str) -> String {
    let status = h.call("status", json!({}));
    let invalid = status["invalid_job_files"].as_array().unwrap();
    invalid
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with(name))
        .map(|f| f["error"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("{name} not reported: {invalid:?}"))
}

#[test]
fn a_fifo_and_a_link_to_dev_zero_as_job_files_are_reported_and_never_block() {
    let mut h = Harness::new(&autoextract_account("http://127.0.0.1:9"));
    mkfifo(&h.path("jobs/x.toml"));
    std::os::unix::fs::symlink("/dev/zero", h.path("jobs/zero.toml")).unwrap();
    h.start();
    let fifo = invalid_file_error(&h, "x.toml");
    assert!(fifo.contains("FIFO"), "{fifo}");
    let zero = invalid_file_error(&h, "zero.toml");
    assert!(zero.contains("character device"), "{zero}");
    // A reload reads them again, and still answers.
    h.call("reload", json!({}));
    assert!(invalid_file_error(&h, "x.toml").contains("FIFO"));
    assert!(h.stop().success(), "SIGTERM still stops the daemon");
}

#[test]
fn validate_refuses_a_fifo_and_a_device_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("x.toml");
    mkfifo(&fifo);
    let zero = dir.path().join("zero.toml");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let mut child = Command::new(BIN)
        .arg("validate")
        .args([&fifo, &zero])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("dredge validate hung on a FIFO or /dev/zero");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(
        text.contains("x.toml:1:1: cannot read the job file: it is a FIFO"),
        "{text}"
    );
    assert!(
        text.contains("zero.toml:1:1: cannot read the job file: it is a character device"),
        "{text}"
    );
}

const SECRET: &str = "aws_secret_access_key=AKIA-NEVER-SHOWN";

#[test]
fn an_input_file_outside_the_jobs_directory_is_refused_and_never_read() {
    let mut h = Harness::new(&autoextract_account("http://127.0.0.1:9"));
    // A credential file beside the jobs directory, and three ways of naming it.
    let secret = h.path("credentials");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    std::os::unix::fs::symlink(&secret, h.path("jobs/leak.txt")).unwrap();
    let job = |file: &str| {
        format!(
            "vendor = \"autoextract\"\n[autoextract]\npage_type = \"product\"\nurls_file = \"{file}\"\n"
        )
    };
    h.write_job("absolute.toml", &job(&secret.display().to_string()));
    h.write_job("dotdot.toml", &job("../credentials"));
    h.write_job("symlink.toml", &job("leak.txt"));
    h.start();
    for (name, why) in [
        ("absolute.toml", "is outside"),
        ("dotdot.toml", "contains \"..\""),
        ("symlink.toml", "is outside"),
    ] {
        let e = invalid_file_error(&h, name);
        assert!(e.contains(&format!("{name}:4:13: urls_file: ")), "{e}");
        assert!(e.contains(why), "{name}: {e}");
    }
    for method in ["status", "runs.list", "dead.list", "jobs.list"] {
        let answer = h.call(method, json!({})).to_string();
        assert!(
            !answer.contains("AKIA"),
            "{method} leaks the file: {answer}"
        );
    }
    assert!(h.runs("absolute").is_empty(), "no run of a refused job");
    let log = h.log();
    assert!(log.contains("symlink.toml:4:13"), "the log reports it");
    assert!(!log.contains("AKIA"), "the log leaks the file");
}
