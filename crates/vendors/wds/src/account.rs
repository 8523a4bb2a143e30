//! `[accounts.NAME]` with `vendor = "wds"`: the keys a WDS account takes, their
//! defaults, and what it needs (its `base_url`: WDS is self-hosted). Field docs are the
//! user reference.

use dredge_core::account::{self, AccountSection, DEFAULT_TIMEOUT, SecretReader};
use dredge_core::{Limits, Secret};
use reqwest::header::HeaderValue;
use serde::{Deserialize, Serialize};

/// The tenant sent when the account names none.
pub const DEFAULT_TENANT: &str = "default";

/// How scrape-multiple is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScrapeVia {
    /// As a JSON body.
    #[default]
    Post,
    /// As query parameters, for proxies that strip bodies.
    Get,
}

dredge_core::account_section! {
    /// A WDS account as written in the config file.
    pub struct WdsAccountConfig {
        /// Required: the server's root, e.g. `http://wds.internal:2807`.
        pub base_url: Option<String>,
        /// Sent as `X-Tenant-Id` (default `default`).
        pub tenant: Option<String>,
        // Optional bearer token: `token`, `token_env` or `token_file`.
        secret token, token_env, token_file;
        /// Send scrape-multiple as a JSON body (`post`, default) or as query parameters
        /// (`get`, for proxies that strip bodies).
        pub scrape_via: Option<ScrapeVia>,
    }
}

/// A resolved WDS account: its tenant and token can be sent as headers.
#[derive(Debug, Clone, PartialEq)]
pub struct WdsAccount {
    pub base_url: String,
    pub tenant: HeaderValue,
    pub token: Option<Secret>,
    pub scrape_via: ScrapeVia,
    pub limits: Limits,
}

impl AccountSection for WdsAccountConfig {
    type Account = WdsAccount;

    fn resolve(mut self, secrets: &mut SecretReader) -> Result<WdsAccount, String> {
        let limits = self.limit_keys().resolve(DEFAULT_TIMEOUT);
        let token = secrets.optional("token", self.token())?;
        let Some(base_url) = self.base_url else {
            return Err(
                "needs base_url: WDS is self-hosted, e.g. \"http://wds.internal:2807\"".into(),
            );
        };
        let tenant = self.tenant.unwrap_or_else(|| DEFAULT_TENANT.into());
        let tenant = HeaderValue::from_str(&tenant).map_err(|_| {
            format!(
                "tenant {tenant:?} cannot be sent as an HTTP header value (control characters?)"
            )
        })?;
        if let Some(token) = &token
            && HeaderValue::from_str(&format!("Bearer {}", token.expose())).is_err()
        {
            // The token itself never appears in the message.
            return Err(
                "token cannot be sent as an HTTP header value (control characters?)".into(),
            );
        }
        Ok(WdsAccount {
            base_url: account::base_url(Some(base_url), "")?,
            tenant,
            token,
            scrape_via: self.scrape_via.unwrap_or_default(),
            limits,
        })
    }
}

#[cfg(test)]
mod tests {
    use dredge_core::testing::resolve_account;
    use serde_json::json;

    use super::*;

    fn resolve(section: serde_json::Value) -> Result<WdsAccount, String> {
        resolve_account::<WdsAccountConfig>(section)
    }

    #[test]
    fn defaults_are_the_default_tenant_no_token_and_post() {
        let a = resolve(json!({ "base_url": "http://wds.internal:2807/" })).unwrap();
        assert_eq!(a.base_url, "http://wds.internal:2807");
        assert_eq!(a.tenant, "default");
        assert_eq!(a.token, None);
        assert_eq!(a.scrape_via, ScrapeVia::Post);
        assert_eq!(a.limits.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn base_url_is_required() {
        let e = resolve(json!({ "tenant": "t" })).unwrap_err();
        assert!(e.contains("needs base_url: WDS is self-hosted"), "{e}");
    }

    #[test]
    fn a_tenant_or_token_that_cannot_be_a_header_is_refused_without_the_token() {
        let e = resolve(json!({ "base_url": "http://w", "tenant": "bad\ntenant" })).unwrap_err();
        assert!(e.contains("tenant \"bad\\ntenant\" cannot be sent"), "{e}");
        let e = resolve(json!({ "base_url": "http://w", "token": "sec\nret" })).unwrap_err();
        assert!(e.contains("token cannot be sent"), "{e}");
        assert!(!e.contains("sec"), "{e}");
    }
}
