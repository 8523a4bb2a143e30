//! The demo's daemon: the real `dredge daemon` as a child process (this same binary),
//! started, SIGKILLed, restarted and stopped with SIGTERM, as an operator or systemd
//! would. Every wait is bounded and says what it waited for when it gives up.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::scenario::Layout;
use crate::client::Client;
use crate::protocol::{Status, StatusInfo};

/// How long a starting daemon has to answer on its socket.
const START_LIMIT: Duration = Duration::from_secs(30);
/// How long a daemon has to exit after SIGTERM (it drains in-flight calls ≤ 30 s).
const STOP_LIMIT: Duration = Duration::from_secs(40);

/// A fresh directory for the demo under the system's temp dir; kept afterwards so
/// the outputs can be looked at.
pub(super) fn make_dir() -> anyhow::Result<Layout> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S");
    let root = std::env::temp_dir().join(format!("dredge-demo-{stamp}-{}", std::process::id()));
    std::fs::create_dir(&root).with_context(|| format!("cannot create {}", root.display()))?;
    Ok(Layout { root })
}

pub(super) struct Daemon {
    layout: Layout,
    exe: PathBuf,
    child: Option<Child>,
}

impl Daemon {
    /// Start `dredge daemon --config …` and wait until its socket answers.
    pub(super) fn start(layout: &Layout) -> anyhow::Result<Daemon> {
        let exe =
            std::env::current_exe().context("cannot find the dredge binary to run the daemon")?;
        let mut daemon = Daemon {
            layout: layout.clone(),
            exe,
            child: None,
        };
        daemon.spawn()?;
        Ok(daemon)
    }

    pub(super) fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.layout.log())
            .with_context(|| format!("cannot open {}", self.layout.log().display()))?;
        let child = Command::new(&self.exe)
            .arg("daemon")
            .arg("--config")
            .arg(self.layout.config())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("cannot start dredge daemon")?;
        self.child = Some(child);
        self.wait_for_socket()
    }

    fn wait_for_socket(&mut self) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            if self.status().is_ok() {
                return Ok(());
            }
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                bail!("the daemon exited at start ({status}); {}", self.log_hint());
            }
            if start.elapsed() > START_LIMIT {
                bail!(
                    "the daemon did not answer on its socket within {} s; {}",
                    START_LIMIT.as_secs(),
                    self.log_hint()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub(super) fn client(&self) -> anyhow::Result<Client> {
        Ok(Client::connect(&self.layout.socket())?)
    }

    pub(super) fn status(&self) -> anyhow::Result<StatusInfo> {
        Ok(self.client()?.call(Status {})?)
    }

    /// SIGKILL (no chance to clean up), then start it again on the same state.
    pub(super) fn kill_and_restart(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().context("cannot SIGKILL the daemon")?;
            child.wait().context("cannot reap the killed daemon")?;
        }
        self.spawn()
    }

    /// SIGTERM and wait for the daemon's exit status.
    pub(super) fn terminate(&mut self) -> anyhow::Result<ExitStatus> {
        let mut child = self.child.take().context("the daemon is not running")?;
        // std has no way to send SIGTERM, and this crate forbids `unsafe`: use kill(1).
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .context("cannot run kill(1) to send SIGTERM to the daemon")?;
        if !sent.success() {
            bail!("kill -TERM {} failed ({sent})", child.id());
        }
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().context("cannot wait for the daemon")? {
                return Ok(status);
            }
            if start.elapsed() > STOP_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "the daemon did not stop within {} s of SIGTERM; {}",
                    STOP_LIMIT.as_secs(),
                    self.log_hint()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub(super) fn log_hint(&self) -> String {
        format!("see its log at {}", self.layout.log().display())
    }
}

impl Drop for Daemon {
    /// An error on the way must not leave a daemon running behind the demo.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
