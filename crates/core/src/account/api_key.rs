//! The account section of a vendor that needs an API key and nothing else (AutoExtract,
//! Zyte API): the same keys for each, so one type, generic over the vendor's defaults.
//! A vendor with other keys writes its own section (see the octoparse crate).

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::Deserialize;

use super::{AccountSection, Credential, LimitKeys, MaxConcurrency, MaxResponseBytes};
use super::{SecretReader, SetupError, Timeout, base_url};
use crate::Limits;
use crate::http::{Answer, VendorClient};
use crate::job::values::Rate;
use crate::outcome::Failure;
use crate::secret::{Secret, SecretText};

/// What an API-key vendor's section takes from its vendor: its defaults, beside it in
/// the vendor crate (declared with [`api_key_vendor!`](crate::api_key_vendor)).
pub trait ApiKeyVendor {
    const DEFAULTS: ApiKeyDefaults;
}

/// An API-key vendor's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiKeyDefaults {
    /// Where the API is unless `base_url` says otherwise.
    pub base_url: &'static str,
    /// The per-request timeout unless `timeout` says otherwise.
    pub timeout: Duration,
    /// The account's `timeout` is raised to this: the vendor's own limit on one
    /// request. The lanes' leases last as long as the timeout, so a shorter one would
    /// let an item be leased again while its request runs.
    pub min_timeout: Duration,
}

/// Declares an API-key vendor: the marker type holding its [`ApiKeyDefaults`], and its
/// account section and resolved account as names of core's types over it.
///
/// ```ignore
/// dredge_core::api_key_vendor! {
///     /// Example's defaults.
///     ExampleDefaults: ExampleAccountConfig, ExampleAccount = ApiKeyDefaults {
///         base_url: "https://api.example.com",
///         timeout: Duration::from_secs(60),
///         min_timeout: Duration::from_secs(30),
///     }
/// }
/// ```
#[macro_export]
macro_rules! api_key_vendor {
    (
        $(#[$meta:meta])*
        $defaults:ident : $config:ident, $account:ident = $values:expr
    ) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub struct $defaults;

        impl $crate::account::ApiKeyVendor for $defaults {
            const DEFAULTS: $crate::account::ApiKeyDefaults = $values;
        }

        /// The vendor's `[accounts.NAME]` as written: an API key and the limits.
        pub type $config = $crate::account::ApiKeyAccountConfig<$defaults>;
        /// A resolved account of the vendor.
        pub type $account = $crate::account::ApiKeyAccount;
    };
}

/// An API-key account as written in the config file. Field docs are the user reference.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
pub struct ApiKeyAccountConfig<V> {
    /// API root (default: the vendor's); dredge appends the documented paths.
    pub base_url: Option<String>,
    /// Required: `api_key`, `api_key_env` or `api_key_file`.
    pub api_key: Option<SecretText>,
    pub api_key_env: Option<String>,
    pub api_key_file: Option<String>,
    /// Governor quota (requests per second; fractions allowed).
    pub requests_per_second: Option<Rate>,
    /// Calls in flight at once (default 4).
    pub max_concurrency: Option<MaxConcurrency>,
    /// Per-request timeout (default and floor: the vendor's).
    pub timeout: Option<Timeout>,
    /// Larger answers are refused (a counted retry); default 64 MiB.
    pub max_response_bytes: Option<MaxResponseBytes>,
    #[serde(skip)]
    vendor: PhantomData<V>,
}

impl<V> fmt::Debug for ApiKeyAccountConfig<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key itself is `SecretText`, whose Debug never shows it.
        f.debug_struct("ApiKeyAccountConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key)
            .field("api_key_env", &self.api_key_env)
            .field("api_key_file", &self.api_key_file)
            .finish_non_exhaustive()
    }
}

/// A resolved API-key account.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyAccount {
    pub base_url: String,
    pub api_key: Secret,
    pub limits: Limits,
}

impl<V: ApiKeyVendor> AccountSection for ApiKeyAccountConfig<V> {
    type Account = ApiKeyAccount;

    fn resolve(self, secrets: &mut SecretReader) -> Result<ApiKeyAccount, String> {
        let api_key = secrets.required(
            "api_key",
            Credential::new(self.api_key, self.api_key_env, self.api_key_file),
            "needs an API key (api_key, api_key_env or api_key_file)",
        )?;
        Ok(ApiKeyAccount {
            base_url: base_url(self.base_url, V::DEFAULTS.base_url)?,
            api_key,
            limits: LimitKeys {
                requests_per_second: self.requests_per_second,
                max_concurrency: self.max_concurrency,
                timeout: self.timeout,
                max_response_bytes: self.max_response_bytes,
            }
            .resolve(V::DEFAULTS.timeout)
            .with_timeout_at_least(V::DEFAULTS.min_timeout),
        })
    }
}

/// An API-key account's HTTP client: every request carries the key as the basic-auth
/// user with an empty password, which is how AutoExtract and Zyte API authenticate.
#[derive(Debug, Clone)]
pub struct ApiKeyClient {
    client: VendorClient,
    api_key: Secret,
}

impl ApiKeyClient {
    /// The client of `account`: its base URL, and its limits on every request.
    pub fn new(account: &ApiKeyAccount) -> Result<Self, SetupError> {
        let client = VendorClient::new(&account.base_url, &account.limits)?;
        Ok(Self::with_client(client, account.api_key.clone()))
    }

    /// Over a client built elsewhere (tests, shared gates).
    pub fn with_client(client: VendorClient, api_key: Secret) -> Self {
        ApiKeyClient { client, api_key }
    }

    /// A POST to `path` (starting with `/`) below the base URL, with the key.
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .http()
            .post(self.client.url(path))
            .basic_auth(self.api_key.expose(), Some(""))
    }

    /// Sends `request` through the account's gate: [`VendorClient::send`].
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<Answer, Failure> {
        self.client.send(request).await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::resolve_account;

    /// A vendor whose own limit (the floor) is above its default timeout, so that both
    /// rules show.
    struct Example;

    impl ApiKeyVendor for Example {
        const DEFAULTS: ApiKeyDefaults = ApiKeyDefaults {
            base_url: "https://api.example.test",
            timeout: Duration::from_secs(300),
            min_timeout: Duration::from_secs(200),
        };
    }

    fn resolve(section: serde_json::Value) -> Result<ApiKeyAccount, String> {
        resolve_account::<ApiKeyAccountConfig<Example>>(section)
    }

    #[test]
    fn defaults_are_the_vendors() {
        let a = resolve(json!({ "api_key": "k" })).unwrap();
        assert_eq!(a.base_url, "https://api.example.test");
        assert_eq!(a.limits.timeout, Duration::from_secs(300));
        assert_eq!(a.limits.max_concurrency, 4);
        assert_eq!(a.limits.max_response_bytes, 64 << 20);
        assert_eq!(a.api_key.expose(), "k");
    }

    #[test]
    fn a_shorter_timeout_is_raised_to_the_vendors_own_limit() {
        let a = resolve(json!({ "api_key": "k", "timeout": "10s" })).unwrap();
        assert_eq!(
            a.limits.timeout,
            Example::DEFAULTS.min_timeout,
            "leases last as long as this"
        );
        let a = resolve(json!({ "api_key": "k", "timeout": "900s" })).unwrap();
        assert_eq!(a.limits.timeout, Duration::from_secs(900));
    }

    #[test]
    fn an_api_key_is_required_and_other_vendors_keys_are_refused() {
        let e = resolve(json!({ "api_key_env": "A", "api_key": "k" })).unwrap_err();
        assert!(e.contains("give only one of api_key"), "{e}");
        let e = resolve(json!({})).unwrap_err();
        assert!(
            e.contains("needs an API key (api_key, api_key_env or api_key_file)"),
            "{e}"
        );
        for key in ["flavor", "tenant"] {
            let e = resolve(json!({ "api_key": "k", key: "x" })).unwrap_err();
            assert!(e.contains(&format!("unknown field `{key}`")), "{e}");
        }
    }
}
