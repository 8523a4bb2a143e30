//! Accounts the daemon cannot run: their config entry does not resolve (a missing
//! `api_key_file`, an unset `*_env` variable). One such account must not stop the
//! others, so the daemon starts (and reloads) with the accounts that are fine; each
//! broken one shows as `broken` in `dredge status` with its reason, is logged once,
//! and is the reason its jobs do not run. A reload that fixes the entry brings the
//! account up like a new one, and its jobs load.

use dredge_core::JobSpec;

use crate::config::DaemonConfig;
use crate::protocol::AccountStatus;

/// The state `dredge status` shows for a broken account.
pub(super) const BROKEN: &str = "broken";

/// Why `spec` cannot run because of its account, if that is so.
pub(super) fn problem_of(config: &DaemonConfig, spec: &JobSpec) -> Option<String> {
    let (_, why) = config.broken_accounts.get(&spec.account)?;
    Some(format!(
        "account {:?} is broken, so this job cannot run: {why}; fix the config, then `dredge reload`",
        spec.account
    ))
}

/// Log each account broken in `new` that was not broken the same way in `old`
/// (`None` at start): once per problem, not at every reload.
pub(super) fn log_broken(old: Option<&DaemonConfig>, new: &DaemonConfig) {
    for (name, (_, why)) in &new.broken_accounts {
        let known = old.and_then(|o| o.broken_accounts.get(name));
        if known.is_some_and(|(_, before)| before == why) {
            continue;
        }
        tracing::error!(account = %name, "account not started, its jobs wait: {why}");
    }
}

/// Add the broken accounts to `accounts` (replacing the entry of a lane that ran
/// under that name before the account broke).
pub(super) fn add_statuses(config: &DaemonConfig, accounts: &mut Vec<AccountStatus>) {
    for (name, (vendor, why)) in &config.broken_accounts {
        let status = AccountStatus {
            name: name.clone(),
            vendor: vendor.key().to_string(),
            state: BROKEN.to_string(),
            detail: Some(why.to_string()),
            until: None,
            in_flight: 0,
        };
        match accounts.iter_mut().find(|a| a.name == *name) {
            Some(lane) => {
                *lane = AccountStatus {
                    in_flight: lane.in_flight,
                    ..status
                }
            }
            None => accounts.push(status),
        }
    }
    accounts.sort_by(|a, b| a.name.cmp(&b.name));
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use dredge_core::account::Secrets;

    use super::*;

    fn config(dir: &Path, key_file: &str) -> DaemonConfig {
        let path = dir.join("dredge.toml");
        let text = format!(
            "[accounts.good]\nvendor = \"autoextract\"\napi_key = \"k\"\n\n[accounts.bad]\nvendor = \"zyte\"\napi_key_file = {key_file:?}\n"
        );
        std::fs::write(&path, text).unwrap();
        DaemonConfig::load_with(&path, Secrets::Read).unwrap()
    }

    #[test]
    fn a_broken_account_shows_as_broken_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("absent-key").display().to_string();
        let c = config(dir.path(), &missing);
        assert!(c.accounts.contains_key("good"));
        let mut statuses = vec![AccountStatus {
            name: "good".into(),
            vendor: "autoextract".into(),
            state: "ok".into(),
            detail: None,
            until: None,
            in_flight: 2,
        }];
        add_statuses(&c, &mut statuses);
        assert_eq!(statuses.len(), 2);
        let bad = &statuses[0];
        assert_eq!((bad.name.as_str(), bad.state.as_str()), ("bad", BROKEN));
        let detail = bad.detail.as_deref().unwrap();
        assert!(detail.contains("[accounts.bad]: api_key_file"), "{detail}");
        assert_eq!(statuses[1].state, "ok");

        // Once fixed, the account loads and nothing is added.
        let key = dir.path().join("key");
        std::fs::write(&key, "s3cr3t\n").unwrap();
        let fixed = config(dir.path(), &key.display().to_string());
        assert!(fixed.broken_accounts.is_empty());
        let mut statuses = Vec::new();
        add_statuses(&fixed, &mut statuses);
        assert!(statuses.is_empty());
    }
}
