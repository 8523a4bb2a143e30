//! `[accounts.NAME]` with `vendor = "autoextract"`: an AutoExtract account is core's
//! API-key section (an API key and the limits) over AutoExtract's defaults, which live
//! here.

use std::time::Duration;

use dredge_core::account::ApiKeyDefaults;

dredge_core::api_key_vendor! {
    /// AutoExtract's defaults, for core's API-key account section.
    AutoextractDefaults: AutoextractAccountConfig, AutoextractAccount = ApiKeyDefaults {
        // Where AutoExtract was (discontinued for new users; README "Configuration").
        base_url: "https://autoextract.scrapinghub.com",
        // The service may take up to 600 s per query; the official client waits 660 s.
        timeout: Duration::from_secs(660),
        // The service's own limit for one query; our HTTP timeout must be above it, or
        // we would give up (and likely be billed) on queries that are still answered.
        min_timeout: Duration::from_secs(660),
    }
}

#[cfg(test)]
mod tests {
    use dredge_core::testing::api_key_defaults;

    use super::*;

    #[test]
    fn defaults_are_autoextracts_url_and_a_660_s_timeout_which_is_also_the_floor() {
        let (url, timeout, floor) = api_key_defaults::<AutoextractDefaults>();
        assert_eq!(url, "https://autoextract.scrapinghub.com");
        assert_eq!([timeout, floor], [Duration::from_secs(660); 2]);
    }
}
