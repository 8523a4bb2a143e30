//! `[accounts.NAME]` with `vendor = "oxylabs"`: the keys an Oxylabs account takes,
//! their defaults, and the credentials it needs. Field docs are the user reference.

use dredge_core::Limits;
use dredge_core::account::{self, AccountSection, DEFAULT_TIMEOUT, Login, SecretReader};

/// Where the Scraper API is.
pub const DEFAULT_BASE_URL: &str = "https://data.oxylabs.io";

dredge_core::account_section! {
    /// An Oxylabs account as written in the config file.
    pub struct OxylabsAccountConfig {
        /// API root (default `https://data.oxylabs.io`); dredge appends `/v1/queries...`.
        pub base_url: Option<String>,
        login;
        /// Extra CIDRs allowed to post callbacks, besides Oxylabs' published IPs.
        pub callback_allow: Option<Vec<String>>,
    }
}

/// A resolved Oxylabs account.
#[derive(Debug, Clone, PartialEq)]
pub struct OxylabsAccount {
    pub base_url: String,
    pub login: Login,
    pub callback_allow: Vec<String>,
    pub limits: Limits,
}

impl AccountSection for OxylabsAccountConfig {
    type Account = OxylabsAccount;

    fn resolve(mut self, secrets: &mut SecretReader) -> Result<OxylabsAccount, String> {
        let login = self.login(secrets)?;
        Ok(OxylabsAccount {
            limits: self.limit_keys().resolve(DEFAULT_TIMEOUT),
            base_url: account::base_url(self.base_url, DEFAULT_BASE_URL)?,
            login,
            callback_allow: self.callback_allow.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use dredge_core::testing::resolve_account;
    use serde_json::json;

    use super::*;

    #[test]
    fn an_oxylabs_account_needs_a_login_and_defaults_to_the_scraper_api() {
        let e = resolve_account::<OxylabsAccountConfig>(json!({ "password": "p" })).unwrap_err();
        assert!(e.contains("needs username and a password"), "{e}");
        let a =
            resolve_account::<OxylabsAccountConfig>(json!({ "username": "u", "password": "p" }))
                .unwrap();
        assert_eq!(
            (
                a.base_url.as_str(),
                a.limits.timeout,
                a.callback_allow.len()
            ),
            ("https://data.oxylabs.io", DEFAULT_TIMEOUT, 0)
        );
    }
}
