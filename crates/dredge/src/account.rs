//! An `[accounts.NAME]` section of the daemon config as its vendor's own type: `vendor`
//! is read first, then the rest of the section is parsed as that vendor crate's
//! `*AccountConfig` straight from the file's toml, so every error keeps its line,
//! column and key (serde's internally tagged enums would buffer the section and lose
//! both the spans and `deny_unknown_fields`' wording). The executor each account gets
//! is `daemon/executors.rs`.

use dredge_autoextract::{AutoextractAccount, AutoextractAccountConfig};
use dredge_core::account::{AccountSection, SecretReader};
use dredge_core::{Limits, Vendor};
use dredge_octoparse::{OctoparseAccount, OctoparseAccountConfig};
use dredge_oxylabs::{OxylabsAccount, OxylabsAccountConfig};
use dredge_wds::{WdsAccount, WdsAccountConfig};
use dredge_zyte::{ZyteAccount, ZyteAccountConfig};
use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeValue, ValueDeserializer};

/// A resolved account: defaults applied, credentials read, rules checked.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Account {
    Octoparse(OctoparseAccount),
    Oxylabs(OxylabsAccount),
    Wds(WdsAccount),
    Autoextract(AutoextractAccount),
    Zyte(ZyteAccount),
}

/// Why a section is not an account.
#[derive(Debug)]
pub(crate) enum AccountError {
    /// It does not parse as its vendor's section (an unknown key, a value out of
    /// range): the file is wrong, as with any other key of the config.
    Parse(toml::de::Error),
    /// It parses, but does not resolve (a missing credential, an unset `*_env`): this
    /// account is broken, the others run.
    Resolve(String),
}

impl Account {
    /// `section` (the account's table, `vendor` taken out) as a `vendor` account.
    pub(crate) fn resolve(
        vendor: Vendor,
        section: Spanned<DeValue<'_>>,
        secrets: &mut SecretReader,
    ) -> Result<Account, AccountError> {
        Ok(match vendor {
            Vendor::Octoparse => {
                Account::Octoparse(typed::<OctoparseAccountConfig>(section, secrets)?)
            }
            Vendor::Oxylabs => Account::Oxylabs(typed::<OxylabsAccountConfig>(section, secrets)?),
            Vendor::Wds => Account::Wds(typed::<WdsAccountConfig>(section, secrets)?),
            Vendor::Autoextract => {
                Account::Autoextract(typed::<AutoextractAccountConfig>(section, secrets)?)
            }
            Vendor::Zyte => Account::Zyte(typed::<ZyteAccountConfig>(section, secrets)?),
        })
    }

    pub(crate) fn vendor(&self) -> Vendor {
        match self {
            Account::Octoparse(_) => Vendor::Octoparse,
            Account::Oxylabs(_) => Vendor::Oxylabs,
            Account::Wds(_) => Vendor::Wds,
            Account::Autoextract(_) => Vendor::Autoextract,
            Account::Zyte(_) => Vendor::Zyte,
        }
    }

    /// What every request of the account shares (quota, calls in flight, timeout).
    pub(crate) fn limits(&self) -> &Limits {
        match self {
            Account::Octoparse(a) => &a.limits,
            Account::Oxylabs(a) => &a.limits,
            Account::Wds(a) => &a.limits,
            Account::Autoextract(a) => &a.limits,
            Account::Zyte(a) => &a.limits,
        }
    }
}

fn typed<S: AccountSection>(
    section: Spanned<DeValue<'_>>,
    secrets: &mut SecretReader,
) -> Result<S::Account, AccountError> {
    let raw = S::deserialize(ValueDeserializer::from(section)).map_err(AccountError::Parse)?;
    raw.resolve(secrets).map_err(AccountError::Resolve)
}

/// serde's "unknown field `K`, expected one of ..." about a `vendor` account, said as
/// what to do; any other message as it was.
pub(crate) fn explain(message: &str, vendor: Vendor) -> String {
    let unknown = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once("`, expected one of "));
    match unknown {
        Some((key, expected)) => format!(
            "`{key}` is not a key of a {vendor} account: remove it, or fix its name (a {vendor} account takes `vendor`, {expected})"
        ),
        None => message.to_string(),
    }
}

/// An account's `vendor`, read first: it says which vendor's type the rest of the
/// section is. The other keys are left for that type.
#[derive(Debug, Deserialize)]
pub(crate) struct AccountHead {
    pub vendor: Vendor,
}
