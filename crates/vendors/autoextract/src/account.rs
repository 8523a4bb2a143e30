//! `[accounts.NAME]` with `vendor = "autoextract"`: the keys an AutoExtract account takes, their
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

/// Where AutoExtract was (discontinued for new users; README "Configuration").
pub const DEFAULT_BASE_URL: &str = "https://autoextract.scrapinghub.com";
/// The service may take up to 600 s per query; the official client waits 660 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(660);
/// The service's own limit for one query; our HTTP timeout must be above it, or we
/// would give up (and likely be billed) on queries that are still being answered.
/// The account's `timeout` is raised to this: the lanes' leases last as long as the
/// timeout, so a shorter one would let an item be leased again while its request runs.
pub const MIN_TIMEOUT: Duration = Duration::from_secs(660);

/// An AutoExtract account as written in the config file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoextractAccountConfig {
    /// API root (default `https://autoextract.scrapinghub.com`); dredge appends `/v1/extract`.
    pub base_url: Option<String>,
    /// Required: `api_key`, `api_key_env` or `api_key_file`.
    pub api_key: Option<SecretText>,
    pub api_key_env: Option<String>,
    pub api_key_file: Option<String>,
    /// Governor quota (requests per second; fractions allowed).
    pub requests_per_second: Option<Rate>,
    /// Calls in flight at once (default 4).
    pub max_concurrency: Option<MaxConcurrency>,
    /// Per-request timeout (default 660s, and never less: above the 600 s query limit).
    pub timeout: Option<Timeout>,
    /// Larger answers are refused (a counted retry); default 64 MiB.
    pub max_response_bytes: Option<MaxResponseBytes>,
}

/// A resolved AutoExtract account.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoextractAccount {
    pub base_url: String,
    pub api_key: Secret,
    pub limits: Limits,
}

impl AccountSection for AutoextractAccountConfig {
    type Account = AutoextractAccount;

    fn resolve(self, secrets: &mut SecretReader) -> Result<AutoextractAccount, String> {
        let api_key = secrets.required(
            "api_key",
            Credential::new(self.api_key, self.api_key_env, self.api_key_file),
            "needs an API key (api_key, api_key_env or api_key_file)",
        )?;
        Ok(AutoextractAccount {
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

    fn resolve(section: serde_json::Value) -> Result<AutoextractAccount, String> {
        let raw: AutoextractAccountConfig =
            serde_json::from_value(section).map_err(|e| e.to_string())?;
        raw.resolve(&mut SecretReader::new(Secrets::Read))
    }

    #[test]
    fn defaults_are_autoextracts_url_and_a_660_s_timeout() {
        let a = resolve(json!({ "api_key": "k" })).unwrap();
        assert_eq!(a.base_url, "https://autoextract.scrapinghub.com");
        assert_eq!(a.limits.timeout, Duration::from_secs(660));
        assert_eq!(a.limits.max_response_bytes, 64 << 20);
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
        let e = resolve(json!({ "api_key_env": "A", "api_key": "k" })).unwrap_err();
        assert!(e.contains("give only one of api_key"), "{e}");
        let e = resolve(json!({})).unwrap_err();
        assert!(e.contains("needs an API key"), "{e}");
        let e = resolve(json!({ "api_key": "k", "flavor": "openapi" })).unwrap_err();
        assert!(e.contains("unknown field `flavor`"), "{e}");
    }
}
