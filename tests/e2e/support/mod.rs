//! Running the real `dredge` binary against in-process simulators: a temp state and
//! jobs directory, a config, start/kill/stop, and a socket client. Every wait is
//! "until a condition, at most N seconds".

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_dredge");

/// Wait until `cond` holds, at most `limit`; panic with `what` otherwise.
pub(crate) fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A daemon's directory: config, jobs, state, log.
pub(crate) struct Harness {
    pub dir: tempfile::TempDir,
    pub child: Option<Child>,
    pub starts: u32,
    /// `RUST_LOG` for the daemon (default `info`, or `$DREDGE_TEST_LOG`).
    pub log_filter: String,
    /// Extra environment for the daemon (e.g. `DREDGE_FAILPOINTS`).
    pub env: Vec<(String, String)>,
    /// Start the daemon with this soft open-files limit (as systemd's default 1024).
    pub soft_nofile: Option<u64>,
}

impl Harness {
    /// A harness whose config has these `[accounts.*]` tables (TOML text).
    pub(crate) fn new(accounts: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("jobs")).unwrap();
        let config = format!(
            "state_dir = \"state\"\njobs_dir = \"jobs\"\nsocket = \"state/dredge.sock\"\n\n{accounts}"
        );
        std::fs::write(dir.path().join("dredge.toml"), config).unwrap();
        Harness {
            dir,
            child: None,
            starts: 0,
            // DREDGE_TEST_LOG=debug to see more of what a failing test's daemon did.
            log_filter: std::env::var("DREDGE_TEST_LOG").unwrap_or_else(|_| "info".into()),
            env: Vec::new(),
            soft_nofile: None,
        }
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub(crate) fn socket(&self) -> PathBuf {
        self.path("state/dredge.sock")
    }

    pub(crate) fn config(&self) -> PathBuf {
        self.path("dredge.toml")
    }

    /// Write a job file atomically (temp name, then rename), as an operator's tool would.
    pub(crate) fn write_job(&self, name: &str, text: &str) {
        let tmp = self.path(&format!("jobs/.{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, self.path(&format!("jobs/{name}"))).unwrap();
    }

    /// Start the daemon and wait until its socket answers.
    pub(crate) fn start(&mut self) {
        assert!(self.child.is_none(), "daemon already running");
        self.starts += 1;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("daemon.log"))
            .unwrap();
        let mut command = match self.soft_nofile {
            None => Command::new(BIN),
            Some(n) => {
                let mut sh = Command::new("sh");
                sh.args(["-c", &format!("ulimit -Sn {n} && exec \"$0\" \"$@\""), BIN]);
                sh
            }
        };
        let child = command
            .args(["daemon", "--config"])
            .arg(self.config())
            .env("RUST_LOG", &self.log_filter)
            .env("NO_COLOR", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn dredge daemon");
        self.child = Some(child);
        let socket = self.socket();
        wait_until("the daemon's socket", Duration::from_secs(30), || {
            self.assert_alive();
            try_rpc(&socket, "status", json!({})).is_some()
        });
    }

    fn assert_alive(&mut self) {
        if let Some(child) = &mut self.child
            && let Ok(Some(status)) = child.try_wait()
        {
            panic!("daemon exited early ({status}); log:\n{}", self.log());
        }
    }

    /// Wait (at most `limit`) for the daemon to exit by itself, e.g. at a failpoint.
    pub(crate) fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("daemon running");
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < limit,
                "the daemon did not exit within {limit:?}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL the daemon and reap it.
    pub(crate) fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM the daemon and wait for its exit status.
    pub(crate) fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("daemon running");
        let pid = child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(40),
                "daemon did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.path("daemon.log")).unwrap_or_default()
    }

    /// One JSON-RPC call; panics on transport errors, returns the whole response.
    pub(crate) fn rpc(&self, method: &str, params: Value) -> Value {
        try_rpc(&self.socket(), method, params)
            .unwrap_or_else(|| panic!("no answer to {method}; log:\n{}", self.log()))
    }

    /// The `result` of a call that must succeed.
    pub(crate) fn call(&self, method: &str, params: Value) -> Value {
        let r = self.rpc(method, params);
        assert!(r.get("error").is_none(), "{method} failed: {r}");
        r["result"].clone()
    }

    /// Run the CLI against this daemon.
    pub(crate) fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .arg("--socket")
            .arg(self.socket())
            .output()
            .unwrap()
    }

    /// Runs of a job, from `runs.list`.
    pub(crate) fn runs(&self, job: &str) -> Vec<Value> {
        self.call("runs.list", json!({ "job": job }))
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Wait until the job has a run that ended; returns it.
    /// On timeout the panic shows the job's runs (and `Drop` the daemon's log).
    pub(crate) fn wait_run_end(&self, job: &str, limit: Duration) -> Value {
        let start = Instant::now();
        loop {
            let runs = self.runs(job);
            if let Some(r) = runs.iter().find(|r| r["state"] != "running") {
                return r.clone();
            }
            assert!(
                start.elapsed() < limit,
                "timed out after {limit:?} waiting for a finished run of {job}; runs: {runs:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            // A failing test shows what its daemon did (the temp dir is about to go).
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
            eprintln!(
                "--- last {} of {} lines of the daemon log ---\n{}",
                tail.len(),
                lines.len(),
                tail.join("\n")
            );
        }
    }
}

/// How much of the daemon's log a failing test prints.
const LOG_TAIL_LINES: usize = 300;

/// A single call over a fresh connection; `None` when nobody answers.
pub(crate) fn try_rpc(socket: &Path, method: &str, params: Value) -> Option<Value> {
    let mut stream = UnixStream::connect(socket).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let req = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    writeln!(stream, "{req}").ok()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    serde_json::from_str(&line).ok()
}

/// Every line of a run's output file, parsed; panics on a torn or invalid line.
pub(crate) fn read_output(path: &Path) -> Vec<Value> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{} ends with a torn line",
        path.display()
    );
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}:{}: not JSON ({e}): {l}", path.display(), i + 1))
        })
        .collect()
}

/// A tokio runtime for the simulators (they live in the test process, so they outlive
/// every daemon restart).
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// An AutoExtract simulator on 127.0.0.1 served by `rt`.
pub(crate) fn autoextract_sim(
    rt: &tokio::runtime::Runtime,
    config: dredge_sim::autoextract::Config,
    seed: u64,
) -> dredge_sim::autoextract::Sim {
    rt.block_on(dredge_sim::autoextract::Sim::start(
        config,
        seed,
        "127.0.0.1",
        0,
    ))
    .expect("start the AutoExtract simulator")
}

/// The default AutoExtract simulator config with these faults.
pub(crate) fn with_faults(
    faults: dredge_sim::autoextract::Faults,
) -> dredge_sim::autoextract::Config {
    dredge_sim::autoextract::Config {
        faults,
        ..Default::default()
    }
}

/// A dead item as `dead.list` shows it.
#[derive(Debug, Clone)]
pub(crate) struct Dead {
    pub what: String,
    pub error: String,
}

/// A job's dead items; every one must carry a reason.
pub(crate) fn dead_items(h: &Harness, job: &str) -> Vec<Dead> {
    let listed = h.call("dead.list", json!({ "job": job }));
    let dead: Vec<Dead> = listed
        .as_array()
        .expect("dead.list answers a list")
        .iter()
        .map(|d| Dead {
            what: d["what"]
                .as_str()
                .expect("dead item names what")
                .to_string(),
            error: d["error"].as_str().unwrap_or_default().to_string(),
        })
        .collect();
    for d in &dead {
        assert!(
            !d.error.trim().is_empty(),
            "{job}: every dead item has a reason: {d:?}"
        );
    }
    dead
}

/// Bounds what may be dead: at most `max` items, each one the injected faults explain
/// (`explained` holds for it). Without this a test passes when every item dies.
pub(crate) fn assert_dead_explained(
    job: &str,
    dead: &[Dead],
    max: usize,
    explained: impl Fn(&Dead) -> bool,
) {
    let unexplained: Vec<&Dead> = dead.iter().filter(|d| !explained(d)).collect();
    assert!(
        unexplained.is_empty(),
        "{job}: {} dead items no injected fault explains, e.g. {:?}",
        unexplained.len(),
        &unexplained[..unexplained.len().min(5)]
    );
    assert!(
        dead.len() <= max,
        "{job}: {} dead items, at most {max} expected, e.g. {:?}",
        dead.len(),
        &dead[..dead.len().min(5)]
    );
}

/// What each dead item names, for exact matching (a dead `…/item/11` must not excuse
/// a missing `…/item/1`).
pub(crate) fn dead_names(dead: &[Dead]) -> std::collections::HashSet<String> {
    dead.iter().map(|d| d.what.clone()).collect()
}
