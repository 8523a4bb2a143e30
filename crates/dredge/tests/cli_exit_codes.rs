//! Exit codes and messages of the real binary that scripts rely on (README "Commands
//! and the status socket"),
//! checked without a daemon.

use std::process::{Command, Output};

fn dredge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dredge"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run dredge")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn status_without_a_daemon_exits_3_saying_no_socket_at_path() {
    let out = dredge(&["status", "--socket", "/nonexistent/dredge.sock"]);
    assert_eq!(out.status.code(), Some(3), "stderr: {}", text(&out.stderr));
    assert!(
        text(&out.stderr)
            .contains("dredge daemon is not running: no socket at /nonexistent/dredge.sock"),
        "stderr: {}",
        text(&out.stderr)
    );
}

#[test]
fn every_client_command_without_a_daemon_exits_3() {
    for args in [
        &["jobs"][..],
        &["runs"],
        &["runs", "weather"],
        &["run", "weather"],
        &["pause", "weather"],
        &["resume", "weather"],
        &["cancel", "r1"],
        &["dead"],
        &["retry", "r1"],
        &["reload"],
    ] {
        let mut all = args.to_vec();
        all.extend(["--json", "--socket", "/nonexistent/dredge.sock"]);
        let out = dredge(&all);
        assert_eq!(
            out.status.code(),
            Some(3),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn an_unknown_subcommand_exits_2() {
    let out = dredge(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", text(&out.stderr));
}

#[test]
fn validate_prints_path_line_col_for_a_bad_job_file_and_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, "[autoextract]\nurls = [\n").expect("write");
    let shown = path.display().to_string();
    let out = dredge(&["validate", &shown]);
    assert_eq!(out.status.code(), Some(1), "stdout: {}", text(&out.stdout));
    let stdout = text(&out.stdout);
    let rest = stdout
        .strip_prefix(&format!("{shown}:"))
        .unwrap_or_else(|| panic!("no PATH: prefix in {stdout:?}"));
    let mut fields = rest.splitn(3, ':');
    let line = fields.next().unwrap_or_default();
    let col = fields.next().unwrap_or_default();
    assert!(line.parse::<u32>().is_ok(), "LINE in {stdout:?}");
    assert!(col.parse::<u32>().is_ok(), "COL in {stdout:?}");
}
