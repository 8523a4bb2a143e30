//! `[accounts.NAME]` with `vendor = "zyte"`: a Zyte API account is core's API-key
//! section (an API key and the limits) over Zyte API's defaults, which live here.

use std::time::Duration;

use dredge_core::account::{ApiKeyAccount, ApiKeyAccountConfig, ApiKeyVendor};

/// Zyte API's defaults, for core's API-key account section.
#[derive(Debug)]
pub struct ZyteDefaults;

impl ApiKeyVendor for ZyteDefaults {
    const DEFAULT_BASE_URL: &'static str = "https://api.zyte.com";
    /// Zyte API gives up on a request after 200 s; the official client waits 320 s.
    const DEFAULT_TIMEOUT: Duration = Duration::from_secs(320);
    /// Zyte API gives up on a request after 200 s; waiting less would give up (and maybe
    /// pay) for answers still coming.
    const MIN_TIMEOUT: Duration = Duration::from_secs(230);
}

/// A Zyte API account as written in the config file: an API key and the limits.
pub type ZyteAccountConfig = ApiKeyAccountConfig<ZyteDefaults>;
/// A resolved Zyte API account.
pub type ZyteAccount = ApiKeyAccount;

#[cfg(test)]
mod tests {
    use dredge_core::testing::resolve_account;
    use serde_json::json;

    use super::*;

    #[test]
    fn defaults_are_zyte_apis_url_a_320_s_timeout_and_a_230_s_floor() {
        let a = resolve_account::<ZyteAccountConfig>(json!({ "api_key": "k" })).unwrap();
        assert_eq!(a.base_url, "https://api.zyte.com");
        assert_eq!(a.limits.timeout, Duration::from_secs(320));
        let a = resolve_account::<ZyteAccountConfig>(json!({ "api_key": "k", "timeout": "10s" }));
        assert_eq!(a.unwrap().limits.timeout, Duration::from_secs(230));
    }
}
