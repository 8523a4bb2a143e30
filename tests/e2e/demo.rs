//! `dredge demo` end to end: the real binary, within a bound; it must exit 0, name all
//! four vendors in its summary, kill and restart its daemon, and find every job's output
//! exactly once.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::BIN;

const LIMIT: Duration = Duration::from_secs(120);
const VENDORS: [&str; 5] = ["zyte", "autoextract", "octoparse", "wds", "oxylabs"];

/// Run `dredge demo` with its temp dir inside `tmp`; (success, stdout, stderr).
fn run_demo(tmp: &std::path::Path) -> (bool, String, String) {
    let mut child = Command::new(BIN)
        .arg("demo")
        .env("TMPDIR", tmp)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn dredge demo");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for dredge demo") {
            break status;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "dredge demo did not finish within {LIMIT:?}:\n{}",
                stdout.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (
        status.success(),
        stdout.join().unwrap_or_default(),
        stderr.join().unwrap_or_default(),
    )
}

#[test]
fn the_demo_runs_every_vendor_through_a_sigkill_and_finds_each_output_exactly_once() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (ok, out, err) = run_demo(tmp.path());
    assert!(ok, "dredge demo failed:\nstdout:\n{out}\nstderr:\n{err}");

    let summary = out
        .split_once("\nJOB ")
        .map(|(_, table)| table)
        .unwrap_or_else(|| panic!("no summary table:\n{out}"));
    for vendor in VENDORS {
        assert!(
            summary.contains(vendor),
            "the summary does not name {vendor}:\n{out}"
        );
    }
    assert!(
        out.contains("SIGKILL the daemon"),
        "the daemon was not killed midway:\n{out}"
    );
    assert!(
        out.contains("daemon back"),
        "the daemon was not restarted:\n{out}"
    );

    // Every job that ran has its output path and its check; the others say why not.
    let ran = summary.matches("\n  output: ").count();
    let unavailable = summary.matches("not available in this build").count();
    assert_eq!(
        ran + unavailable,
        VENDORS.len(),
        "every job either ran or is unavailable:\n{out}"
    );
    assert!(
        ran >= 4,
        "zyte, autoextract, octoparse and wds run in every build:\n{out}"
    );
    assert_eq!(summary.matches("exactly once: ok").count(), ran, "{out}");
    assert!(!summary.contains("FAILED"), "{out}");
}
