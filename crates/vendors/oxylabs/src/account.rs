//! `[accounts.NAME]` with `vendor = "oxylabs"`: the keys an Oxylabs account takes,
//! their defaults, and the credentials it needs. Field docs are the user reference.

use std::time::Duration;

use dredge_core::account::{
    self, AccountSection, Credential, DEFAULT_TIMEOUT as CORE_DEFAULT_TIMEOUT, LimitKeys,
    MaxConcurrency, MaxResponseBytes, SecretReader, Timeout,
};
use dredge_core::job::values::Rate;
use dredge_core::secret::SecretText;
use dredge_core::{Limits, Secret};
use serde::Deserialize;

/// Where the Scraper API is.
pub const DEFAULT_BASE_URL: &str = "https://data.oxylabs.io";
/// Per request, unless the account says otherwise.
pub const DEFAULT_TIMEOUT: Duration = CORE_DEFAULT_TIMEOUT;

/// An Oxylabs account as written in the config file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OxylabsAccountConfig {
    /// API root (default `https://data.oxylabs.io`); dredge appends `/v1/queries...`.
    pub base_url: Option<String>,
    /// Required, with a password.
    pub username: Option<String>,
    /// Required: `password`, `password_env` or `password_file`.
    pub password: Option<SecretText>,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    /// Extra CIDRs allowed to post callbacks, besides Oxylabs' published IPs.
    pub callback_allow: Option<Vec<String>>,
    /// Governor quota (requests per second; fractions allowed).
    pub requests_per_second: Option<Rate>,
    /// Calls in flight at once (default 4).
    pub max_concurrency: Option<MaxConcurrency>,
    /// Per-request timeout (default 60s).
    pub timeout: Option<Timeout>,
    /// Larger answers are refused (a counted retry); default 64 MiB.
    pub max_response_bytes: Option<MaxResponseBytes>,
}

/// A resolved Oxylabs account.
#[derive(Debug, Clone, PartialEq)]
pub struct OxylabsAccount {
    pub base_url: String,
    pub username: String,
    pub password: Secret,
    pub callback_allow: Vec<String>,
    pub limits: Limits,
}

impl AccountSection for OxylabsAccountConfig {
    type Account = OxylabsAccount;

    fn resolve(self, secrets: &mut SecretReader) -> Result<OxylabsAccount, String> {
        let (username, password) = secrets.login(
            self.username,
            Credential::new(self.password, self.password_env, self.password_file),
        )?;
        Ok(OxylabsAccount {
            base_url: account::base_url(self.base_url, DEFAULT_BASE_URL)?,
            username,
            password,
            callback_allow: self.callback_allow.unwrap_or_default(),
            limits: LimitKeys {
                requests_per_second: self.requests_per_second,
                max_concurrency: self.max_concurrency,
                timeout: self.timeout,
                max_response_bytes: self.max_response_bytes,
            }
            .resolve(DEFAULT_TIMEOUT),
        })
    }
}

#[cfg(test)]
mod tests {
    use dredge_core::account::Secrets;
    use serde_json::json;

    use super::*;

    fn resolve(section: serde_json::Value) -> Result<OxylabsAccount, String> {
        let raw: OxylabsAccountConfig =
            serde_json::from_value(section).map_err(|e| e.to_string())?;
        raw.resolve(&mut SecretReader::new(Secrets::Read))
    }

    #[test]
    fn defaults_are_the_scraper_apis_url_and_a_60_s_timeout() {
        let a = resolve(json!({ "username": "u", "password": "p" })).unwrap();
        assert_eq!(a.base_url, "https://data.oxylabs.io");
        assert_eq!(a.limits.timeout, Duration::from_secs(60));
        assert!(a.callback_allow.is_empty());
    }

    #[test]
    fn username_and_password_are_required_and_other_vendors_keys_are_refused() {
        for section in [json!({ "username": "u" }), json!({ "password": "p" })] {
            let e = resolve(section).unwrap_err();
            assert!(e.contains("needs username and a password"), "{e}");
        }
        let e = resolve(json!({ "username": "u", "password": "p", "api_key": "k" })).unwrap_err();
        assert!(e.contains("unknown field `api_key`"), "{e}");
    }
}
