//! The account section of a vendor that needs an API key and nothing else (AutoExtract,
//! Zyte API): the same keys for each, so one type, generic over the vendor's defaults.
//! A vendor with other keys writes its own section (see the octoparse crate).

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::Deserialize;

use super::{AccountSection, Credential, LimitKeys, MaxConcurrency, MaxResponseBytes};
use super::{SecretReader, Timeout, base_url};
use crate::Limits;
use crate::job::values::Rate;
use crate::secret::{Secret, SecretText};

/// What an API-key vendor's section takes from its vendor: its defaults, beside it in
/// the vendor crate.
pub trait ApiKeyVendor {
    /// Where the API is unless `base_url` says otherwise.
    const DEFAULT_BASE_URL: &'static str;
    /// The per-request timeout unless `timeout` says otherwise.
    const DEFAULT_TIMEOUT: Duration;
    /// The account's `timeout` is raised to this: the vendor's own limit on one
    /// request. The lanes' leases last as long as the timeout, so a shorter one would
    /// let an item be leased again while its request runs.
    const MIN_TIMEOUT: Duration;
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
            base_url: base_url(self.base_url, V::DEFAULT_BASE_URL)?,
            api_key,
            limits: LimitKeys {
                requests_per_second: self.requests_per_second,
                max_concurrency: self.max_concurrency,
                timeout: self.timeout,
                max_response_bytes: self.max_response_bytes,
            }
            .resolve(V::DEFAULT_TIMEOUT)
            .with_timeout_at_least(V::MIN_TIMEOUT),
        })
    }
}
