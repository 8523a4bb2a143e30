//! The request log every simulator keeps, so tests can assert on what a client sent:
//! "no request for domain X during its snooze", "one token request per expiry",
//! "never above the quota".

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// One request as the simulator saw it.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    /// Wall-clock time the request arrived.
    pub at: SystemTime,
    /// Monotonic time since the simulator started (for rate measurements).
    pub since_start: Duration,
    pub method: String,
    /// Path and query, as received.
    pub path: String,
    /// The account the request authenticated as (user name, API key, tenant), if any.
    pub account: Option<String>,
    /// Target domains the request concerned (AutoExtract query domains, Oxylabs targets...).
    pub domains: Vec<String>,
    /// The HTTP status answered.
    pub status: u16,
    /// A short word for what happened: "ok", "domain_occupied", "rate_limited", "fault:5xx"...
    pub outcome: String,
}

/// A shared, append-only log of requests.
#[derive(Debug, Clone)]
pub struct RequestLog {
    started: Instant,
    entries: Arc<Mutex<Vec<LoggedRequest>>>,
}

impl Default for RequestLog {
    fn default() -> Self {
        RequestLog {
            started: Instant::now(),
            entries: Arc::default(),
        }
    }
}

impl RequestLog {
    /// Append one entry; `at` and `since_start` are filled in here.
    pub fn record(
        &self,
        method: &str,
        path: &str,
        account: Option<String>,
        domains: Vec<String>,
        status: u16,
        outcome: impl Into<String>,
    ) {
        let entry = LoggedRequest {
            at: SystemTime::now(),
            since_start: self.started.elapsed(),
            method: method.to_string(),
            path: path.to_string(),
            account,
            domains,
            status,
            outcome: outcome.into(),
        };
        self.entries
            .lock()
            .expect("request log poisoned")
            .push(entry);
    }

    /// A copy of every entry so far, oldest first.
    pub fn entries(&self) -> Vec<LoggedRequest> {
        self.entries.lock().expect("request log poisoned").clone()
    }

    /// How many logged requests `matches` says yes to.
    pub fn count(&self, matches: impl Fn(&LoggedRequest) -> bool) -> usize {
        let entries = self.entries.lock().expect("request log poisoned");
        entries.iter().filter(|e| matches(e)).count()
    }

    /// How many requests have been logged.
    pub fn len(&self) -> usize {
        self.entries.lock().expect("request log poisoned").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
