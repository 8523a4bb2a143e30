//! The status socket's protocol, shared by the daemon's server, the CLI client and the
//! tests' fake server: JSON-RPC 2.0, one JSON object per line each way. The wire format
//! is the contract of README "Commands and the status socket".
//!
//! Every method is one variant of [`Request`] (its wire name is the variant's serde
//! name, written nowhere else), holding its own params type, and each params type names
//! the type of its answer ([`Method::Answer`]). [`Api`] is what the daemon implements,
//! one handler per method; [`Request::answer`] is the one place a request meets its
//! handler. So the server, the client and the fake server cannot disagree on a method's
//! name, params or answer, and adding a method is one variant and one handler
//! (ARCHITECTURE.md, "How to add an RPC method").

mod request;

pub use request::*;

use serde::{Deserialize, Serialize};

/// Lines longer than this get a JSON-RPC error instead of being parsed.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// JSON-RPC error codes used by the daemon.
pub mod code {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL: i64 = -32603;
    /// The job or run named does not exist.
    pub const NOT_FOUND: i64 = -32004;
    /// The request is valid but cannot be done now (e.g. a run of the job is active).
    pub const CONFLICT: i64 = -32009;
    /// The peer is not root, the daemon's user, or in the control group (or, for a
    /// method that changes something, it is only in the status group).
    pub const PERMISSION_DENIED: i64 = -32003;
    /// Every connection slot is busy answering; try again.
    pub const BUSY: i64 = -32005;
}

/// An error the API answers with; `message` is shown to the user as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: i64,
    pub message: String,
}

impl ApiError {
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            code: code::NOT_FOUND,
            message: message.into(),
        }
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError {
            code: code::CONFLICT,
            message: message.into(),
        }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError {
            code: code::INTERNAL,
            message: message.into(),
        }
    }
}

/// `status`: daemon health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusInfo {
    pub version: String,
    pub pid: u32,
    pub uptime_secs: u64,
    pub state_dir: String,
    pub jobs_dir: String,
    /// Items by state over all unfinished runs.
    pub queue: ItemCounts,
    pub runs_active: usize,
    pub jobs: usize,
    pub accounts: Vec<AccountStatus>,
    /// Job files that were rejected, with file:line:col and why.
    pub invalid_job_files: Vec<InvalidJobFile>,
    /// What is legal but probably a mistake or unsafe: a secret file every user may
    /// read, a schedule firing every second. `PATH: key: why`.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Set while the state or output storage cannot be written (nothing is leased
    /// meanwhile; the daemon resumes by itself once writes succeed).
    #[serde(default)]
    pub storage: Option<StorageStatus>,
}

/// A storage fault, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageStatus {
    /// `disk_full`, `read_only` or `io_error`.
    pub state: String,
    /// What failed, with the operating system's words.
    pub detail: String,
    /// RFC 3339: since when.
    pub since: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountStatus {
    pub name: String,
    pub vendor: String,
    /// `ok`, `snoozed` (vendor asked us to wait), `auth_failed` (credentials rejected)
    /// or `account_suspended` (the vendor suspended the account).
    pub state: String,
    /// Why, when not `ok` (never a secret).
    pub detail: Option<String>,
    /// RFC 3339, when `snoozed`.
    pub until: Option<String>,
    pub in_flight: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidJobFile {
    pub path: String,
    /// `PATH:LINE:COL: message`.
    pub error: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemCounts {
    pub ready: u64,
    pub leased: u64,
    pub snoozed: u64,
    pub staged: u64,
    pub done: u64,
    pub dead: u64,
}

/// `jobs.list` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobInfo {
    pub name: String,
    pub vendor: String,
    pub account: String,
    pub schedule: Option<String>,
    /// RFC 3339.
    pub next_fire: Option<String>,
    pub last_run: Option<String>,
    /// `idle`, `running`, `paused` or `disabled`.
    pub state: String,
    pub file: String,
}

/// `runs.list` / `run.get` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub id: String,
    pub job: String,
    /// `running`, `succeeded`, `failed` or `cancelled`.
    pub state: String,
    pub items: ItemCounts,
    /// Lines written to the run's file.
    pub records: u64,
    /// Path of the run's file (`.jsonl.partial` while running).
    pub output: String,
    /// RFC 3339.
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Why dredge itself stopped the run (its output file was removed, its recovery
    /// failed), when it did.
    #[serde(default)]
    pub reason: Option<String>,
}

/// `dead.list` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadItemInfo {
    pub run: String,
    pub job: String,
    /// What failed: the URL, query, task or page URL.
    pub what: String,
    /// The last error text.
    pub error: String,
    pub attempts: u32,
}

/// `job.run` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStarted {
    pub run: String,
}

/// Result of commands that change something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub message: String,
}

/// `metrics` result: Prometheus text exposition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricsText {
    pub text: String,
}
