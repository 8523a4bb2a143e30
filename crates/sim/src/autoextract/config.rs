//! The AutoExtract simulator's configuration: data knobs and fault injection, as read
//! from a scenario file (`[autoextract]`, `[autoextract.faults]`) or set at run time.

use serde::Deserialize;

/// Behaviour of the AutoExtract simulator (`[autoextract]` in a scenario).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// API keys accepted as the Basic user name (password empty). Default `["test-key"]`.
    pub api_keys: Vec<String>,
    /// Keys whose account is disabled: 403 `account-disabled` on every request.
    pub disabled_keys: Vec<String>,
    /// Queries whose URL (after the scheme) contains this text answer
    /// `Downloader error: http404`. Default `/missing`; empty turns the rule off.
    pub missing_marker: String,
    /// Queries whose URL (after the scheme) contains this text answer
    /// `Downloader error: No response (network301)` (a redirect). Default `/redirect`;
    /// empty turns the rule off.
    pub redirect_marker: String,
    /// Domains answered `Proxy error: domain_forbidden`.
    pub forbidden_domains: Vec<String>,
    /// Domains answered `Proxy error: nxdomain`.
    pub nxdomain_domains: Vec<String>,
    /// Form of the problem `type` URI: `html` (`…/name.html`), `bare` (`…/name`) or
    /// `alternate` (both, in turn; the default, so clients must strip `.html`).
    pub type_suffix: TypeSuffix,
    /// Add a `userAgent` the user never sent to the echoed `userQuery`, as the real
    /// service does. Default true.
    pub echo_user_agent: bool,
    /// Most queries per request (413 `queries-limit-reached` beyond). Default 100.
    pub max_queries: usize,
    /// Largest request body in bytes (413 beyond). Default 128 KiB.
    pub max_body_bytes: usize,
    /// Fault injection; can be changed at run time with [`Sim::set_faults`].
    pub faults: Faults,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            api_keys: vec!["test-key".into()],
            disabled_keys: Vec::new(),
            missing_marker: "/missing".into(),
            redirect_marker: "/redirect".into(),
            forbidden_domains: Vec::new(),
            nxdomain_domains: Vec::new(),
            type_suffix: TypeSuffix::Alternate,
            echo_user_agent: true,
            max_queries: 100,
            max_body_bytes: 128 * 1024,
            faults: Faults::default(),
        }
    }
}

/// Which form the problem `type` URI takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TypeSuffix {
    Html,
    Bare,
    #[default]
    Alternate,
}

/// Which 429 problem a rate-limit fault answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateLimitKind {
    /// `user-rate-limit-exceeded`.
    #[default]
    User,
    /// `rate-limit-exceeded` (system-wide).
    System,
}

/// Fault injection. Rates are shares in 0..=1 rolled with the seeded dice.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Share of queries answered "Domain X is occupied, please retry in N seconds"; the
    /// domain then stays occupied for N seconds.
    pub occupied_rate: f64,
    /// The N above; decimals allowed. Default 2.
    pub occupied_seconds: f64,
    /// Share of queries answered `query timed out`.
    pub timeout_rate: f64,
    /// Share of queries answered with another retriable downloader/proxy error.
    pub retriable_error_rate: f64,
    /// The first K requests (after start or [`Sim::rate_limit_next`]) answer 429.
    pub rate_limit_next: u32,
    /// Share of requests answered 429.
    pub rate_limit_rate: f64,
    /// Which 429 problem to answer.
    pub rate_limit_kind: RateLimitKind,
    /// `Retry-After` seconds on 429 answers. Default 1.
    pub retry_after_secs: u64,
    /// Share of requests answered 500 with a problem body.
    pub server_error_rate: f64,
    /// Share of requests answered 520 with `Retry-After: 60`.
    pub temporary_error_rate: f64,
    /// Share of requests answered 503 with an empty body and no content type.
    pub empty_body_rate: f64,
    /// Share of answers delayed by `slow_ms`.
    pub slow_rate: f64,
    /// Delay of slow answers in milliseconds. Default 200.
    pub slow_ms: u64,
    /// Share of successful answers cut off mid-body (connection closed).
    pub reset_rate: f64,
    /// Share of requests whose connection is closed before any answer arrives.
    pub disconnect_rate: f64,
    /// Share of successful answers whose JSON body is malformed.
    pub malformed_json_rate: f64,
    /// Every key is disabled: 403 `account-disabled`.
    pub account_disabled: bool,
    /// Every key has reached its account's limit: 403 `limit-reached` ("the account's
    /// limit is reached"). No captured body exists (the service is discontinued), so
    /// this form is a model: clients must match the 403's words loosely.
    pub limit_reached: bool,
    /// The first K successful answers are 1 GiB of JSON whitespace instead, streamed
    /// (never held in memory): a client must refuse them, not buffer them.
    pub huge_answer_next: u32,
    /// Successful answers are pretty-printed: legal JSON over many lines.
    pub pretty: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            occupied_rate: 0.0,
            occupied_seconds: 2.0,
            timeout_rate: 0.0,
            retriable_error_rate: 0.0,
            rate_limit_next: 0,
            rate_limit_rate: 0.0,
            rate_limit_kind: RateLimitKind::User,
            retry_after_secs: 1,
            server_error_rate: 0.0,
            temporary_error_rate: 0.0,
            empty_body_rate: 0.0,
            slow_rate: 0.0,
            slow_ms: 200,
            reset_rate: 0.0,
            disconnect_rate: 0.0,
            malformed_json_rate: 0.0,
            account_disabled: false,
            limit_reached: false,
            huge_answer_next: 0,
            pretty: false,
        }
    }
}
