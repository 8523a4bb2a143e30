//! `[accounts.NAME]` with `vendor = "autoextract"`: an AutoExtract account is core's
//! API-key section (an API key and the limits) over AutoExtract's defaults, which live
//! here.

use std::time::Duration;

use dredge_core::account::{ApiKeyAccount, ApiKeyAccountConfig, ApiKeyVendor};

/// AutoExtract's defaults, for core's API-key account section.
#[derive(Debug)]
pub struct AutoextractDefaults;

impl ApiKeyVendor for AutoextractDefaults {
    /// Where AutoExtract was (discontinued for new users; README "Configuration").
    const DEFAULT_BASE_URL: &'static str = "https://autoextract.scrapinghub.com";
    /// The service may take up to 600 s per query; the official client waits 660 s.
    const DEFAULT_TIMEOUT: Duration = Duration::from_secs(660);
    /// The service's own limit for one query; our HTTP timeout must be above it, or we
    /// would give up (and likely be billed) on queries that are still being answered.
    const MIN_TIMEOUT: Duration = Duration::from_secs(660);
}

/// An AutoExtract account as written in the config file: an API key and the limits.
pub type AutoextractAccountConfig = ApiKeyAccountConfig<AutoextractDefaults>;
/// A resolved AutoExtract account.
pub type AutoextractAccount = ApiKeyAccount;

#[cfg(test)]
mod tests {
    use dredge_core::testing::resolve_account;
    use serde_json::json;

    use super::*;

    #[test]
    fn defaults_are_autoextracts_url_and_a_660_s_timeout_which_is_also_the_floor() {
        let a = resolve_account::<AutoextractAccountConfig>(json!({ "api_key": "k" })).unwrap();
        assert_eq!(a.base_url, "https://autoextract.scrapinghub.com");
        assert_eq!(a.limits.timeout, Duration::from_secs(660));
        let a = resolve_account::<AutoextractAccountConfig>(
            json!({ "api_key": "k", "timeout": "10s" }),
        );
        assert_eq!(a.unwrap().limits.timeout, Duration::from_secs(660));
    }
}
