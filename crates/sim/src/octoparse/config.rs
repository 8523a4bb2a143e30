//! The Octoparse simulator's configuration: data knobs and fault injection, as read
//! from a scenario file (`[octoparse]`, `[octoparse.faults]`) or set at run time.

use serde::Deserialize;

/// Behaviour of the Octoparse simulator (`[octoparse]` in a scenario).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Accounts that can log in. Default: `test-user` / `test-pass`.
    pub accounts: Vec<Account>,
    /// Lifetime of access tokens in seconds. Default 86399, as the real service.
    pub expires_in: u64,
    /// Number of task groups. Default 2.
    pub task_groups: u32,
    /// Tasks per group. Default 2.
    pub tasks_per_group: u32,
    /// Rows per task. Default 250.
    pub rows_per_task: u32,
    /// OpenAPI requests allowed per second before 429. Default 20.
    pub openapi_requests_per_second: u32,
    /// Answers are pretty-printed (legal JSON over many lines), and every row carries a
    /// `Notes` value of several lines: what a client must still write one record per
    /// line.
    pub pretty: bool,
    /// Fault injection; can be changed at run time with [`Sim::set_faults`].
    pub faults: Faults,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            accounts: vec![Account {
                username: "test-user".into(),
                password: "test-pass".into(),
            }],
            expires_in: 86_399,
            task_groups: 2,
            tasks_per_group: 2,
            rows_per_task: 250,
            openapi_requests_per_second: 20,
            pretty: false,
            faults: Faults::default(),
        }
    }
}

/// A user name and password accepted by `/token`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    pub username: String,
    pub password: String,
}

/// Fault injection for data requests (token requests are never faulted). Rates are
/// shares in 0..=1 rolled with the seeded dice.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Every N-th authorised request finds its token invalid (legacy: HTTP 200 with
    /// `error: unauthorized`; OpenAPI: 401). 0 = never.
    pub token_invalid_every: u32,
    /// Share of requests answered HTTP 200 with `error: server_error` (legacy) or 500
    /// (OpenAPI, which has no 200 errors).
    pub server_error_rate: f64,
    /// Share of requests answered HTTP 500 with a `server_error` body.
    pub server_error_http_rate: f64,
    /// Share of requests answered 429 `quota_exceeded`.
    pub quota_exceeded_rate: f64,
    /// The next K data requests answer 429 `quota_exceeded`.
    pub quota_exceeded_next: u32,
    /// Share of answers delayed by `slow_ms`.
    pub slow_rate: f64,
    /// Delay of slow answers in milliseconds.
    pub slow_ms: u64,
}
