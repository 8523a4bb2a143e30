//! `[accounts.NAME]` with `vendor = "zyte"`: a Zyte API account is core's API-key
//! section (an API key and the limits) over Zyte API's defaults, which live here.

use std::time::Duration;

use dredge_core::account::ApiKeyDefaults;

dredge_core::api_key_vendor! {
    /// Zyte API's defaults, for core's API-key account section.
    ZyteDefaults: ZyteAccountConfig, ZyteAccount = ApiKeyDefaults {
        base_url: "https://api.zyte.com",
        // Zyte API gives up on a request after 200 s; the official client waits 320 s.
        timeout: Duration::from_secs(320),
        // Waiting less than Zyte API's own 200 s would give up (and maybe pay) for
        // answers still coming.
        min_timeout: Duration::from_secs(230),
    }
}

#[cfg(test)]
mod tests {
    use dredge_core::testing::api_key_defaults;

    use super::*;

    #[test]
    fn defaults_are_zyte_apis_url_a_320_s_timeout_and_a_230_s_floor() {
        let expected = (
            "https://api.zyte.com".to_string(),
            Duration::from_secs(320),
            Duration::from_secs(230),
        );
        assert_eq!(api_key_defaults::<ZyteDefaults>(), expected);
    }
}
