//! `[accounts.NAME]` with `vendor = "octoparse"`: the keys an Octoparse account takes,
//! their defaults (the base URL follows the flavor), and the credentials it needs.
//! Field docs are the user reference.

use std::time::Duration;

use dredge_core::account::{
    self, AccountSection, Credential, DEFAULT_TIMEOUT as CORE_DEFAULT_TIMEOUT, SecretReader,
};
use dredge_core::secret::SecretText;
use dredge_core::{Limits, Secret};
use serde::{Deserialize, Serialize};

// The current help pages document https; credentials must not cross the network in
// clear text.
/// Where the Data Export API (`flavor = "legacy"`) is.
pub const LEGACY_BASE_URL: &str = "https://dataapi.octoparse.com";
/// Where the OpenAPI (`flavor = "openapi"`) is.
pub const OPENAPI_BASE_URL: &str = "https://openapi.octoparse.com";
/// Per request, unless the account says otherwise. It is also how long an
/// executor's first acknowledged read waits (README "Retry rules").
pub const DEFAULT_TIMEOUT: Duration = CORE_DEFAULT_TIMEOUT;

/// Which Octoparse API an account speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OctoparseFlavor {
    /// The Data Export API.
    #[default]
    Legacy,
    Openapi,
}

impl OctoparseFlavor {
    pub fn default_base_url(self) -> &'static str {
        match self {
            OctoparseFlavor::Legacy => LEGACY_BASE_URL,
            OctoparseFlavor::Openapi => OPENAPI_BASE_URL,
        }
    }
}

dredge_core::account_section! {
    /// An Octoparse account as written in the config file.
    pub struct OctoparseAccountConfig {
        /// API root (default: the flavor's).
        pub base_url: Option<String>,
        /// Required, with a password.
        pub username: Option<String>,
        /// Required: `password`, `password_env` or `password_file`.
        pub password: Option<SecretText>,
        pub password_env: Option<String>,
        pub password_file: Option<String>,
        /// `legacy` (Data Export API, default) or `openapi`.
        pub flavor: Option<OctoparseFlavor>,
        /// Use the acknowledged unexported-data endpoints.
        pub unexported_ack: Option<bool>,
    }
}

/// A resolved Octoparse account.
#[derive(Debug, Clone, PartialEq)]
pub struct OctoparseAccount {
    pub base_url: String,
    pub username: String,
    pub password: Secret,
    pub flavor: OctoparseFlavor,
    pub unexported_ack: bool,
    pub limits: Limits,
}

impl AccountSection for OctoparseAccountConfig {
    type Account = OctoparseAccount;

    fn resolve(self, secrets: &mut SecretReader) -> Result<OctoparseAccount, String> {
        let limits = self.limit_keys().resolve(DEFAULT_TIMEOUT);
        let (username, password) = secrets.login(
            self.username,
            Credential::new(self.password, self.password_env, self.password_file),
        )?;
        let flavor = self.flavor.unwrap_or_default();
        Ok(OctoparseAccount {
            base_url: account::base_url(self.base_url, flavor.default_base_url())?,
            username,
            password,
            flavor,
            unexported_ack: self.unexported_ack.unwrap_or(false),
            limits,
        })
    }
}

#[cfg(test)]
mod tests {
    use dredge_core::testing::resolve_account;
    use serde_json::json;

    use super::*;

    fn resolve(section: serde_json::Value) -> Result<OctoparseAccount, String> {
        resolve_account::<OctoparseAccountConfig>(section)
    }

    #[test]
    fn the_default_base_url_follows_the_flavor() {
        let a = resolve(json!({ "username": "u", "password": "p" })).unwrap();
        assert_eq!(a.base_url, "https://dataapi.octoparse.com");
        assert_eq!(a.flavor, OctoparseFlavor::Legacy);
        assert!(!a.unexported_ack);
        assert_eq!(a.limits.timeout, Duration::from_secs(60));
        let a = resolve(json!({ "username": "u", "password": "p", "flavor": "openapi" })).unwrap();
        assert_eq!(a.base_url, "https://openapi.octoparse.com");
    }

    #[test]
    fn username_and_password_are_required_and_other_vendors_keys_are_refused() {
        let e = resolve(json!({ "username": "u" })).unwrap_err();
        assert!(e.contains("needs username and a password"), "{e}");
        let e =
            resolve(json!({ "username": "u", "password": "p", "scrape_via": "get" })).unwrap_err();
        assert!(e.contains("unknown field `scrape_via`"), "{e}");
    }
}
