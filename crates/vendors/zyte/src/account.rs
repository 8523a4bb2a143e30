//! `[accounts.NAME]` with `vendor = "zyte"`: the keys a Zyte API account takes, their
//! defaults, and the API key it needs (the section itself is core's API-key one).

use std::time::Duration;

use dredge_core::account::{ApiKeyAccount, ApiKeyAccountConfig, ApiKeyVendor};

/// Where Zyte API is.
pub const DEFAULT_BASE_URL: &str = "https://api.zyte.com";
/// Zyte API gives up on a request after 200 s; the official client waits 320 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(320);
/// Zyte API gives up on a request after 200 s; waiting less would give up (and maybe
/// pay) for answers still coming. The account's `timeout` is raised to this: the lanes'
/// leases last as long as the timeout, so a shorter one would let an item be leased
/// again while its request runs.
pub const MIN_TIMEOUT: Duration = Duration::from_secs(230);

/// Zyte's defaults, for core's API-key account section.
#[derive(Debug)]
pub struct ZyteDefaults;

impl ApiKeyVendor for ZyteDefaults {
    const DEFAULT_BASE_URL: &'static str = DEFAULT_BASE_URL;
    const DEFAULT_TIMEOUT: Duration = DEFAULT_TIMEOUT;
    const MIN_TIMEOUT: Duration = MIN_TIMEOUT;
}

/// A Zyte API account as written in the config file: an API key and the limits.
pub type ZyteAccountConfig = ApiKeyAccountConfig<ZyteDefaults>;
/// A resolved Zyte API account.
pub type ZyteAccount = ApiKeyAccount;

#[cfg(test)]
mod tests {
    use dredge_core::account::{AccountSection, SecretReader, Secrets};
    use serde_json::json;

    use super::*;

    fn resolve(section: serde_json::Value) -> Result<ZyteAccount, String> {
        let raw: ZyteAccountConfig = serde_json::from_value(section).map_err(|e| e.to_string())?;
        raw.resolve(&mut SecretReader::new(Secrets::Read))
    }

    #[test]
    fn defaults_are_zyte_apis_url_and_a_320_s_timeout() {
        let a = resolve(json!({ "api_key": "k" })).unwrap();
        assert_eq!(a.base_url, "https://api.zyte.com");
        assert_eq!(a.limits.timeout, Duration::from_secs(320));
        assert_eq!(a.limits.max_concurrency, 4);
        assert_eq!(a.api_key.expose(), "k");
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
        let e = resolve(json!({})).unwrap_err();
        assert!(
            e.contains("needs an API key (api_key, api_key_env or api_key_file)"),
            "{e}"
        );
        let e = resolve(json!({ "api_key": "k", "tenant": "t" })).unwrap_err();
        assert!(e.contains("unknown field `tenant`"), "{e}");
    }
}
