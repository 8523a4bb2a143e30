//! Every vendor crate, listed once: the account type a `vendor = "..."` section
//! resolves to, the executor each account builds, and the vendor's table in job files.
//! The binary is the one place that knows every vendor crate; adding a vendor is its
//! line in `vendors!` below (ARCHITECTURE.md "How to add a vendor").

use std::sync::{Arc, LazyLock};

use dredge_core::account::SecretReader;
use dredge_core::job::{JobSections, SectionParser};
use dredge_core::{Executor, Limits, Vendor};
use toml::Spanned;
use toml::de::DeValue;

use crate::account::{AccountError, typed};

/// For each vendor: `Variant => crate { section as written, resolved account,
/// executor, job table }`. The `Vendor` variant of the same name is core's.
macro_rules! vendors {
    ($( $variant:ident => $krate:ident {
        $config:ident, $account:ident, $executor:ident, $table:ident $(,)?
    } ),* $(,)?) => {
        /// A resolved account: defaults applied, credentials read, rules checked.
        #[derive(Debug, Clone, PartialEq)]
        pub(crate) enum Account {
            $( $variant($krate::$account), )*
        }

        impl Account {
            /// `section` (the account's table, `vendor` taken out) as a `vendor`
            /// account.
            pub(crate) fn resolve(
                vendor: Vendor,
                section: Spanned<DeValue<'_>>,
                secrets: &mut SecretReader,
            ) -> Result<Account, AccountError> {
                Ok(match vendor {
                    $( Vendor::$variant => Account::$variant(
                        typed::<$krate::$config>(section, secrets)?,
                    ), )*
                })
            }

            pub(crate) fn vendor(&self) -> Vendor {
                match self {
                    $( Account::$variant(_) => Vendor::$variant, )*
                }
            }

            /// What every request of the account shares (quota, calls in flight,
            /// timeout).
            pub(crate) fn limits(&self) -> &Limits {
                match self {
                    $( Account::$variant(a) => &a.limits, )*
                }
            }

            /// The account's executor, or why it cannot be built.
            pub(crate) fn executor(&self) -> Result<Arc<dyn Executor>, String> {
                Ok(match self {
                    $( Account::$variant(a) => Arc::new(
                        $krate::$executor::new(a).map_err(|e| e.to_string())?,
                    ), )*
                })
            }
        }

        /// The vendor tables a job file may hold, in the order an unknown key's error
        /// lists them.
        pub(crate) static JOB_SECTIONS: LazyLock<JobSections> = LazyLock::new(|| {
            JobSections::new(vec![ $( SectionParser::of::<$krate::$table>(), )* ])
        });
    };
}

vendors! {
    Octoparse => dredge_octoparse {
        OctoparseAccountConfig, OctoparseAccount, OctoparseExecutor, RawOctoparse,
    },
    Oxylabs => dredge_oxylabs {
        OxylabsAccountConfig, OxylabsAccount, OxylabsExecutor, RawOxylabs,
    },
    Wds => dredge_wds { WdsAccountConfig, WdsAccount, WdsExecutor, RawWds },
    Autoextract => dredge_autoextract {
        AutoextractAccountConfig, AutoextractAccount, AutoextractExecutor, RawAutoextract,
    },
    Zyte => dredge_zyte { ZyteAccountConfig, ZyteAccount, ZyteExecutor, RawZyte },
}

#[cfg(test)]
mod job_fuzz;
#[cfg(test)]
mod job_tests;
