//! An `[accounts.NAME]` section of the daemon config as its vendor's own type: `vendor`
//! is read first, then the rest of the section is parsed as that vendor crate's
//! `*AccountConfig` straight from the file's toml, so every error keeps its line,
//! column and key (serde's internally tagged enums would buffer the section and lose
//! both the spans and `deny_unknown_fields`' wording). Which type each `vendor` is, and
//! the executor each account gets, is `vendors.rs`.

use dredge_core::Vendor;
use dredge_core::account::{AccountSection, SecretReader};
use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeValue, ValueDeserializer};

pub(crate) use crate::vendors::Account;

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

/// The section as vendor `S`'s account (the daemon's list of vendors, `vendors.rs`,
/// picks `S` by `vendor`).
pub(crate) fn typed<S: AccountSection>(
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
