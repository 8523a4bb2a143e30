//! The Zyte API simulator's configuration, as read from a scenario file (`[zyte]`,
//! `[zyte.faults]`) or set at run time.

use serde::Deserialize;

/// Behaviour of the Zyte API simulator (`[zyte]` in a scenario).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// API keys accepted as the Basic user name (password empty). Default `["test-key"]`.
    pub api_keys: Vec<String>,
    /// Keys whose account is suspended (spending limit): 403 `/auth/account-suspended`.
    pub suspended_keys: Vec<String>,
    /// URLs containing this text are pages the target answers 404: a billed 200 with
    /// `statusCode: 404`. Default `/missing`; empty turns the rule off.
    pub missing_marker: String,
    /// Hosts (or parent domains) answered 451 `/download/domain-forbidden`.
    pub forbidden_domains: Vec<String>,
    /// Successful answers are pretty-printed: legal JSON over many lines (a client
    /// must still write one record per line).
    pub pretty: bool,
    /// Fault injection; can be changed at run time with [`super::Sim::set_faults`].
    pub faults: Faults,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            api_keys: vec!["test-key".into()],
            suspended_keys: Vec::new(),
            missing_marker: "/missing".into(),
            forbidden_domains: Vec::new(),
            pretty: false,
            faults: Faults::default(),
        }
    }
}

/// Fault injection. Rates are shares in 0..=1 rolled with the seeded dice; delays are
/// the `Retry-After` seconds announced (decimals allowed so tests stay short; the
/// live service sends whole seconds).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Share of requests answered 429 `/limits/over-domain-limit`; the host then stays
    /// limited (every request for it answered the same) for `domain_limit_seconds`.
    pub domain_limit_rate: f64,
    pub domain_limit_seconds: f64,
    /// Share of requests answered 429 `/limits/over-user-limit`; the key then stays
    /// limited for `user_limit_seconds`.
    pub user_limit_rate: f64,
    /// The next K requests answer 429 `/limits/over-user-limit` (then the rates apply).
    pub user_limit_next: u32,
    pub user_limit_seconds: f64,
    /// Share of requests answered 503 `/limits/over-global-limit` (with `Retry-After:
    /// user_limit_seconds`).
    pub global_limit_rate: f64,
    /// Share of requests answered 520 `/download/temporary-error` with `Retry-After:
    /// download_retry_after`; that URL is not to be asked again before then.
    pub temporary_error_rate: f64,
    /// Share of requests answered 521 `/download/internal-error` (same `Retry-After`).
    pub internal_error_rate: f64,
    /// The `Retry-After` of 520/521 answers. Default 60, as recorded live.
    pub download_retry_after: f64,
    /// Share of requests answered 500 `/server/internal`.
    pub server_error_rate: f64,
    /// Every key is suspended: 403 `/auth/account-suspended`.
    pub suspended: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            domain_limit_rate: 0.0,
            domain_limit_seconds: 1.0,
            user_limit_rate: 0.0,
            user_limit_next: 0,
            user_limit_seconds: 1.0,
            global_limit_rate: 0.0,
            temporary_error_rate: 0.0,
            internal_error_rate: 0.0,
            download_retry_after: 60.0,
            server_error_rate: 0.0,
            suspended: false,
        }
    }
}
