//! `[accounts.NAME]` with `vendor = "octoparse"`: the keys an Octoparse account takes,
//! their defaults (the base URL follows the flavor), and the credentials it needs.
//! Field docs are the user reference.

use dredge_core::Limits;
use dredge_core::account::{self, AccountSection, DEFAULT_TIMEOUT, Login, SecretReader};
use serde::{Deserialize, Serialize};

// The current help pages document https; credentials must not cross the network in
// clear text.
/// Where the Data Export API (`flavor = "legacy"`) is.
pub const LEGACY_BASE_URL: &str = "https://dataapi.octoparse.com";
/// Where the OpenAPI (`flavor = "openapi"`) is.
pub const OPENAPI_BASE_URL: &str = "https://openapi.octoparse.com";

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
        login;
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
    pub login: Login,
    pub flavor: OctoparseFlavor,
    pub unexported_ack: bool,
    pub limits: Limits,
}

impl AccountSection for OctoparseAccountConfig {
    type Account = OctoparseAccount;

    fn resolve(mut self, secrets: &mut SecretReader) -> Result<OctoparseAccount, String> {
        let login = self.login(secrets)?;
        let flavor = self.flavor.unwrap_or_default();
        Ok(OctoparseAccount {
            limits: self.limit_keys().resolve(DEFAULT_TIMEOUT),
            base_url: account::base_url(self.base_url, flavor.default_base_url())?,
            login,
            flavor,
            unexported_ack: self.unexported_ack.unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use dredge_core::testing::resolve_account;
    use serde_json::json;

    use super::*;

    #[test]
    fn the_default_base_url_follows_the_flavor() {
        let login = json!({ "username": "u", "password": "p" });
        let legacy = resolve_account::<OctoparseAccountConfig>(login.clone()).unwrap();
        assert_eq!(legacy.base_url, LEGACY_BASE_URL);
        assert_eq!(legacy.flavor, OctoparseFlavor::Legacy);
        assert!(!legacy.unexported_ack);
        assert_eq!(legacy.limits.timeout, DEFAULT_TIMEOUT);
        let mut openapi = login;
        openapi["flavor"] = json!("openapi");
        let openapi = resolve_account::<OctoparseAccountConfig>(openapi).unwrap();
        assert_eq!(openapi.base_url, "https://openapi.octoparse.com");
    }

    #[test]
    fn an_octoparse_account_logs_in_with_a_username_and_password() {
        for half in [
            json!({ "username": "u" }),
            json!({ "password_env": "PATH" }),
        ] {
            let e = resolve_account::<OctoparseAccountConfig>(half).unwrap_err();
            assert!(e.contains("needs username and a password"), "{e}");
        }
    }
}
