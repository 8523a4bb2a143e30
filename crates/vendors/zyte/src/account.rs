//! `[accounts.NAME]` with `vendor = "zyte"`: the keys a Zyte API account takes, their
//! defaults, and the API key it needs. Field docs are the user reference.

use std::time::Duration;

use dredge_core::account::{
    self, AccountSection, Credential, LimitKeys, MaxConcurrency, MaxResponseBytes, SecretReader,
    Timeout,
};
use dredge_core::job::values::Rate;
use dredge_core::secret::SecretText;
use dredge_core::{Limits, Secret};
use serde::Deserialize;

/// Where Zyte API is.
pub const DEFAULT_BASE_URL: &str = "https://api.zyte.com";
/// Zyte API gives up on a request after 200 s; the official client waits 320 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(320);
/// Zyte API gives up on a request after 200 s; waiting less would give up (and maybe
/// pay) for answers still coming. The account's `timeout` is raised to this: the lanes'
/// leases last as long as the timeout, so a shorter one would let an item be leased
/// again while its request runs.
pub const MIN_TIMEOUT: Duration = Duration::from_secs(230);

/// A Zyte API account as written in the config file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZyteAccountConfig {
    /// API root (default `https://api.zyte.com`); dredge appends `/v1/extract`.
    pub base_url: Option<String>,
    /// Required: `api_key`, `api_key_env` or `api_key_file`.
    pub api_key: Option<SecretText>,
    pub api_key_env: Option<String>,
    pub api_key_file: Option<String>,
    /// Governor quota (requests per second; fractions allowed).
    pub requests_per_second: Option<Rate>,
    /// Calls in flight at once (default 4).
    pub max_concurrency: Option<MaxConcurrency>,
    /// Per-request timeout (default 320s; never less than 230s is waited).
    pub timeout: Option<Timeout>,
    /// Larger answers are refused (a counted retry); default 64 MiB.
    pub max_response_bytes: Option<MaxResponseBytes>,
}

/// A resolved Zyte API account.
#[derive(Debug, Clone, PartialEq)]
pub struct ZyteAccount {
    pub base_url: String,
    pub api_key: Secret,
    pub limits: Limits,
}

impl AccountSection for ZyteAccountConfig {
    type Account = ZyteAccount;

    fn resolve(self, secrets: &mut SecretReader) -> Result<ZyteAccount, String> {
        let api_key = secrets.required(
            "api_key",
            Credential::new(self.api_key, self.api_key_env, self.api_key_file),
            "needs an API key (api_key, api_key_env or api_key_file)",
        )?;
        Ok(ZyteAccount {
            base_url: account::base_url(self.base_url, DEFAULT_BASE_URL)?,
            api_key,
            limits: LimitKeys {
                requests_per_second: self.requests_per_second,
                max_concurrency: self.max_concurrency,
                timeout: self.timeout,
                max_response_bytes: self.max_response_bytes,
            }
            .resolve(DEFAULT_TIMEOUT)
            .with_timeout_at_least(MIN_TIMEOUT),
        })
    }
}

#[cfg(test)]
mod tests {
    use dredge_core::account::Secrets;
    use serde_json::json;

    use super::*;

    fn resolve(section: serde_json::Value) -> Result<ZyteAccount, String> {
        let raw: ZyteAccountConfig = serde_json::from_value(section).map_err(|e| e.to_string())?;
        raw.resolve(&mut SecretReader::new(Secrets::Read))
    }

    #[test]
    fn defaults_are_zyte_apis_url_and_a_320_s_timeout() {
        let a = resolve(json!({ "api_key": "k" })).unwrap();
        assert_eq!(a.base_url, "https://api.zyte.com");
        assert_eq!(a.limits.timeout, Duration::from_secs(320));
        assert_eq!(a.limits.max_concurrency, 4);
        assert_eq!(a.api_key.expose(), "k");
    }

    #[test]
    fn a_shorter_timeout_is_raised_to_the_vendors_own_limit() {
        let a = resolve(json!({ "api_key": "k", "timeout": "10s" })).unwrap();
        assert_eq!(a.limits.timeout, MIN_TIMEOUT, "leases last as long as this");
        let a = resolve(json!({ "api_key": "k", "timeout": "900s" })).unwrap();
        assert_eq!(a.limits.timeout, Duration::from_secs(900));
    }

    #[test]
    fn an_api_key_is_required_and_other_vendors_keys_are_refused() {
        let e = resolve(json!({})).unwrap_err();
        assert!(
            e.contains("needs an API key (api_key, api_key_env or api_key_file)"),
            "{e}"
        );
        let e = resolve(json!({ "api_key": "k", "tenant": "t" })).unwrap_err();
        assert!(e.contains("unknown field `tenant`"), "{e}");
    }
}
