//! Small things vendor-crate tests build over and over: a job spec with the usual
//! settings, an answer from a status and a body, an account section resolved from JSON.
//! One copy here, so that each vendor's tests say only what is theirs.

use std::time::Duration;

use reqwest::header::HeaderMap;

use serde_json::json;

use crate::account::{AccountSection, ApiKeyAccountConfig, ApiKeyVendor, SecretReader, Secrets};
use crate::http::Answer;
use crate::job::{CatchUp, JobSpec, Overlap, VendorJob};

/// A job named `name` on account `account` doing `work`: enabled, no schedule, 8
/// attempts, a 600 s deadline (change a field with `JobSpec { max_attempts: 2, ..spec }`).
pub fn job_spec(name: &str, account: &str, work: VendorJob) -> JobSpec {
    JobSpec {
        name: name.to_string().try_into().expect("a valid job name"),
        account: account.into(),
        schedule: None,
        catch_up: CatchUp::Once,
        overlap: Overlap::Skip,
        enabled: true,
        max_attempts: 8,
        deadline: Duration::from_secs(600),
        retention: Default::default(),
        work,
    }
}

/// An answer with `status`, no headers, and `body`.
pub fn answer(status: u16, body: &str) -> Answer {
    Answer {
        status,
        headers: HeaderMap::new(),
        body: body.as_bytes().to_vec().into(),
    }
}

/// The account section `C` read from `section` (JSON standing in for the toml table)
/// and resolved, reading secrets; a refused key or value is the error text.
pub fn resolve_account<C: AccountSection>(
    section: serde_json::Value,
) -> Result<C::Account, String> {
    let raw: C = serde_json::from_value(section).map_err(|e| e.to_string())?;
    raw.resolve(&mut SecretReader::new(Secrets::Read))
}

/// What an API-key vendor's account comes to, read back through its section: the base
/// URL and timeout when the account sets neither, and the timeout an account asking for
/// one second gets (the vendor's floor).
pub fn api_key_defaults<V: ApiKeyVendor>() -> (String, Duration, Duration) {
    let plain = resolve_account::<ApiKeyAccountConfig<V>>(json!({ "api_key": "k" }))
        .expect("an API key is all an API-key account needs");
    let short =
        resolve_account::<ApiKeyAccountConfig<V>>(json!({ "api_key": "k", "timeout": "1s" }))
            .expect("one second is a valid timeout");
    (plain.base_url, plain.limits.timeout, short.limits.timeout)
}
