//! `[accounts.NAME]` with `vendor = "autoextract"`: the keys an AutoExtract account takes, their
//! defaults, and the API key it needs (the section itself is core's API-key one).

use std::time::Duration;

use dredge_core::account::{ApiKeyAccount, ApiKeyAccountConfig, ApiKeyVendor};

/// Where AutoExtract was (discontinued for new users; README "Configuration").
pub const DEFAULT_BASE_URL: &str = "https://autoextract.scrapinghub.com";
/// The service may take up to 600 s per query; the official client waits 660 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(660);
/// The service's own limit for one query; our HTTP timeout must be above it, or we
/// would give up (and likely be billed) on queries that are still being answered.
/// The account's `timeout` is raised to this: the lanes' leases last as long as the
/// timeout, so a shorter one would let an item be leased again while its request runs.
pub const MIN_TIMEOUT: Duration = Duration::from_secs(660);

/// Autoextract's defaults, for core's API-key account section.
#[derive(Debug)]
pub struct AutoextractDefaults;

impl ApiKeyVendor for AutoextractDefaults {
    const DEFAULT_BASE_URL: &'static str = DEFAULT_BASE_URL;
    const DEFAULT_TIMEOUT: Duration = DEFAULT_TIMEOUT;
    const MIN_TIMEOUT: Duration = MIN_TIMEOUT;
}

/// An AutoExtract account as written in the config file: an API key and the limits.
pub type AutoextractAccountConfig = ApiKeyAccountConfig<AutoextractDefaults>;
/// A resolved AutoExtract account.
pub type AutoextractAccount = ApiKeyAccount;

#[cfg(test)]
mod tests {
    use dredge_core::account::{AccountSection, SecretReader, Secrets};
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
