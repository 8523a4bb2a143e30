//! `[accounts.NAME]` with `vendor = "oxylabs"`: the keys an Oxylabs account takes,
//! their defaults, and the credentials it needs. Field docs are the user reference.

use std::time::Duration;

use dredge_core::account::{
    self, AccountSection, Credential, DEFAULT_TIMEOUT as CORE_DEFAULT_TIMEOUT, SecretReader,
};
use dredge_core::secret::SecretText;
use dredge_core::{Limits, Secret};

/// Where the Scraper API is.
pub const DEFAULT_BASE_URL: &str = "https://data.oxylabs.io";
/// Per request, unless the account says otherwise.
pub const DEFAULT_TIMEOUT: Duration = CORE_DEFAULT_TIMEOUT;

dredge_core::account_section! {
    /// An Oxylabs account as written in the config file.
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
    }
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
        let limits = self.limit_keys().resolve(DEFAULT_TIMEOUT);
        let (username, password) = secrets.login(
            self.username,
            Credential::new(self.password, self.password_env, self.password_file),
        )?;
        Ok(OxylabsAccount {
            base_url: account::base_url(self.base_url, DEFAULT_BASE_URL)?,
            username,
            password,
            callback_allow: self.callback_allow.unwrap_or_default(),
            limits,
        })
    }
}

#[cfg(test)]
mod tests {
    use dredge_core::testing::resolve_account;
    use serde_json::json;

    use super::*;

    fn resolve(section: serde_json::Value) -> Result<OxylabsAccount, String> {
        resolve_account::<OxylabsAccountConfig>(section)
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
