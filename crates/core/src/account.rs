//! What every vendor account (`[accounts.NAME]` in the daemon config, README
//! "Configuration") shares: the limits every request honours, how a credential may be
//! given (inline, `*_env`, `*_file`) and read, the check of a `base_url`, and the one
//! error of building an executor. Each vendor crate owns its own account section (its
//! keys, defaults and required credentials) built from these pieces; the daemon parses
//! `vendor` first and then the section as that vendor's type.

mod api_key;
mod credential;

use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::http::DEFAULT_MAX_RESPONSE_BYTES;
use crate::job::values::{Bounded, DurationIn, Rate};

pub use api_key::{ApiKeyAccount, ApiKeyAccountConfig, ApiKeyClient, ApiKeyDefaults, ApiKeyVendor};
pub use credential::{Credential, Login, SecretReader, Secrets, secret_file, world_readable};

/// `max_concurrency` as written: calls in flight at once.
pub type MaxConcurrency = Bounded<1, 1024>;
/// `timeout` as written: per request, one second to one day.
pub type Timeout = DurationIn<1, 86_400>;
/// `max_response_bytes` as written: larger answers are refused (a counted retry).
pub type MaxResponseBytes = Bounded<1024, { 16 << 30 }>;

/// Calls in flight at once when the account sets none.
pub const DEFAULT_MAX_CONCURRENCY: usize = 4;
/// The per-request timeout when neither the account nor its vendor sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The limits of an account, as every vendor's section spells them (each section has
/// the four keys as its own fields, so that its `deny_unknown_fields` and the toml spans
/// of its values stay exact; serde's `flatten` would lose both). [`account_section!`]
/// writes them into a section, once for every vendor.
#[derive(Debug, Clone, Copy, Default)]
pub struct LimitKeys {
    pub requests_per_second: Option<Rate>,
    pub max_concurrency: Option<MaxConcurrency>,
    pub timeout: Option<Timeout>,
    pub max_response_bytes: Option<MaxResponseBytes>,
}

impl LimitKeys {
    /// The limits with defaults applied; `default_timeout` is the vendor's.
    pub fn resolve(self, default_timeout: Duration) -> Limits {
        Limits {
            requests_per_second: self.requests_per_second.map(|r| r.0),
            max_concurrency: self
                .max_concurrency
                .map_or(DEFAULT_MAX_CONCURRENCY, |c| c.get() as usize),
            timeout: self.timeout.map_or(default_timeout, |t| t.0.0),
            max_response_bytes: self
                .max_response_bytes
                .map_or(DEFAULT_MAX_RESPONSE_BYTES, |b| b.get() as u64),
        }
    }
}

/// What every request of an account shares: its quota, calls in flight, timeout and
/// body cap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Governor quota (requests per second); `None`: unlimited.
    pub requests_per_second: Option<f64>,
    pub max_concurrency: usize,
    pub timeout: Duration,
    /// Vendor answers larger than this are refused.
    pub max_response_bytes: u64,
}

impl Limits {
    /// These limits with the timeout raised to `floor`: for a vendor whose own limit
    /// on one request is longer than a user may configure. The lanes lease an item for
    /// as long as the timeout, so the timeout must be the one the client really uses.
    pub fn with_timeout_at_least(mut self, floor: Duration) -> Self {
        self.timeout = self.timeout.max(floor);
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        LimitKeys::default().resolve(DEFAULT_TIMEOUT)
    }
}

/// Declares a vendor's `[accounts.NAME]` section as written: the vendor's own keys, then
/// the four limit keys every account takes (`requests_per_second`, `max_concurrency`,
/// `timeout`, `max_response_bytes`), with `#[serde(deny_unknown_fields)]` and a
/// `limit_keys()` that gathers the four. The limit keys are spelled here once rather
/// than in every vendor's section; the section stays a plain struct, so toml's spans and
/// the unknown-key check are exact. The calling crate depends on `serde`.
///
/// A credential among the vendor's keys is one line, `secret KEY, KEY_env, KEY_file;`
/// (keys keep the order written, which serde's unknown-key message lists): it declares
/// the three ways of giving it and a method `KEY()` that takes them out as a
/// [`Credential`](crate::account::Credential) for the [`SecretReader`]. `login;` is
/// `username` and the `password` secret, with a method `login()` that reads both.
///
/// ```ignore
/// dredge_core::account_section! {
///     /// An Example account as written in the config file.
///     pub struct ExampleAccountConfig {
///         /// API root (default `https://api.example.com`).
///         pub base_url: Option<String>,
///         secret token, token_env, token_file;
///     }
/// }
/// ```
#[macro_export]
macro_rules! account_section {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$field_meta:meta])* pub $field:ident : $ty:ty, )*
            login;
            $( $(#[$after_meta:meta])* pub $after:ident : $after_ty:ty, )*
        }
    ) => {
        $crate::account_section! {
            $(#[$meta])*
            pub struct $name {
                $( $(#[$field_meta])* pub $field: $ty, )*
                /// Required, with a password (`password`, `password_env` or `password_file`).
                pub username: Option<String>,
                secret password, password_env, password_file;
                $( $(#[$after_meta])* pub $after: $after_ty, )*
            }
        }

        impl $name {
            /// The username and password, both required, taken out of the section.
            pub fn login(
                &mut self,
                secrets: &mut $crate::account::SecretReader,
            ) -> Result<$crate::account::Login, String> {
                let password = self.password();
                secrets.login(self.username.take(), password)
            }
        }
    };
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$field_meta:meta])* pub $field:ident : $ty:ty, )*
            $( secret $secret:ident, $secret_env:ident, $secret_file:ident;
            $( $(#[$after_meta:meta])* pub $after:ident : $after_ty:ty, )* )?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, ::serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $( $(#[$field_meta])* pub $field: $ty, )*
            $(
                /// The credential inline (trimmed; never shown by `Debug`).
                pub $secret: Option<$crate::secret::SecretText>,
                /// The environment variable holding the credential.
                pub $secret_env: Option<String>,
                /// The file holding the credential (e.g. a systemd credential).
                pub $secret_file: Option<String>,
                $( $(#[$after_meta])* pub $after: $after_ty, )*
            )?
            /// Governor quota (requests per second; fractions allowed).
            pub requests_per_second: Option<$crate::job::values::Rate>,
            /// Calls in flight at once (default 4).
            pub max_concurrency: Option<$crate::account::MaxConcurrency>,
            /// Per-request timeout (default: the vendor's, 60s unless it says otherwise).
            pub timeout: Option<$crate::account::Timeout>,
            /// Larger answers are refused (a counted retry); default 64 MiB.
            pub max_response_bytes: Option<$crate::account::MaxResponseBytes>,
        }

        impl $name {
            /// The section's four limit keys, for [`LimitKeys::resolve`]($crate::account::LimitKeys::resolve).
            pub fn limit_keys(&self) -> $crate::account::LimitKeys {
                $crate::account::LimitKeys {
                    requests_per_second: self.requests_per_second,
                    max_concurrency: self.max_concurrency,
                    timeout: self.timeout,
                    max_response_bytes: self.max_response_bytes,
                }
            }

            $(
                /// The credential's three keys, taken out of the section.
                pub fn $secret(&mut self) -> $crate::account::Credential {
                    $crate::account::Credential::new(
                        self.$secret.take(),
                        self.$secret_env.take(),
                        self.$secret_file.take(),
                    )
                }
            )?
        }
    };
}

/// One vendor's `[accounts.NAME]` section as written (without `vendor`, which chose
/// it). Implemented by each vendor crate's `*AccountConfig`, which declares its keys
/// with `#[serde(deny_unknown_fields)]`: a key of another vendor is refused like a typo.
pub trait AccountSection: DeserializeOwned {
    /// The resolved account the vendor's executor is built from.
    type Account;

    /// Apply defaults, check the rules that span keys, read the credentials. The error
    /// is a sentence about the section; the caller adds where it is.
    fn resolve(self, secrets: &mut SecretReader) -> Result<Self::Account, String>;
}

/// `base_url` if given (an http or https URL, without a trailing `/`), else the
/// vendor's default.
pub fn base_url(given: Option<String>, default: &str) -> Result<String, String> {
    match given {
        None => Ok(default.to_string()),
        Some(u) => match url::Url::parse(&u) {
            Ok(p) if matches!(p.scheme(), "http" | "https") => {
                Ok(u.trim_end_matches('/').to_string())
            }
            _ => Err(format!("base_url {u:?} is not an http:// or https:// URL")),
        },
    }
}

/// Why an executor could not be built for a resolved account (every rule of the
/// account itself was checked when it resolved).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::resolve_account;

    // The macro declares `pub` items, as in a vendor crate; here they are the test's.
    #[allow(unreachable_pub, dead_code)]
    mod example {
        crate::account_section! {
            /// A section with a credential between its own keys.
            pub struct ExampleAccountConfig {
                pub base_url: Option<String>,
                secret token, token_env, token_file;
                pub mode: Option<String>,
            }
        }
    }
    use example::ExampleAccountConfig;

    impl AccountSection for ExampleAccountConfig {
        type Account = (Option<String>, Limits);

        fn resolve(mut self, secrets: &mut SecretReader) -> Result<Self::Account, String> {
            let token = secrets.optional("token", self.token())?;
            let limits = self.limit_keys().resolve(DEFAULT_TIMEOUT);
            Ok((token.map(|t| t.expose().to_string()), limits))
        }
    }

    #[test]
    fn a_sections_credential_comes_out_of_its_keys_which_stay_in_the_order_written() {
        let (token, limits) =
            resolve_account::<ExampleAccountConfig>(json!({ "token": " t\n", "timeout": "5s" }))
                .unwrap();
        assert_eq!(token.as_deref(), Some("t"));
        assert_eq!(limits.timeout, Duration::from_secs(5));
        let e = resolve_account::<ExampleAccountConfig>(json!({ "token": "t", "token_env": "T" }))
            .unwrap_err();
        assert!(
            e.contains("give only one of token, token_env and token_file"),
            "{e}"
        );
        let e = resolve_account::<ExampleAccountConfig>(json!({ "flavor": "x" })).unwrap_err();
        assert!(
            e.contains("unknown field `flavor`, expected one of `base_url`, `token`, `token_env`, `token_file`, `mode`, `requests_per_second`"),
            "{e}"
        );
    }

    #[test]
    fn limits_default_to_four_calls_no_quota_and_a_64_mib_cap() {
        let l = LimitKeys::default().resolve(Duration::from_secs(7));
        assert_eq!(l.max_concurrency, 4);
        assert_eq!(l.requests_per_second, None);
        assert_eq!(l.timeout, Duration::from_secs(7));
        assert_eq!(l.max_response_bytes, 64 << 20);
    }

    #[test]
    fn a_base_url_must_be_http_and_loses_its_trailing_slash() {
        assert_eq!(base_url(None, "https://x.test").unwrap(), "https://x.test");
        assert_eq!(
            base_url(Some("http://127.0.0.1:9/".into()), "https://x.test").unwrap(),
            "http://127.0.0.1:9"
        );
        let e = base_url(Some("ftp://x".into()), "https://x.test").unwrap_err();
        assert!(e.contains("not an http:// or https:// URL"), "{e}");
    }
}
