//! Building each account's executor: the one place that knows every vendor crate.

use std::fmt::Display;
use std::sync::Arc;

use dredge_core::Executor;
use dredge_oxylabs::OxylabsExecutor;

use crate::account::Account;

/// An account's executor, plus the typed handle the callback listener needs.
#[derive(Clone)]
pub(crate) struct Built {
    pub executor: Arc<dyn Executor>,
    pub oxylabs: Option<Arc<OxylabsExecutor>>,
}

/// The executor for `account`, or why it cannot be built.
pub(crate) fn build(account: &Account) -> Result<Built, String> {
    match account {
        Account::Autoextract(a) => plain(dredge_autoextract::AutoextractExecutor::new(a)),
        Account::Octoparse(a) => plain(dredge_octoparse::OctoparseExecutor::new(a)),
        Account::Wds(a) => plain(dredge_wds::WdsExecutor::new(a)),
        Account::Zyte(a) => plain(dredge_zyte::ZyteExecutor::new(a)),
        Account::Oxylabs(a) => {
            let executor = Arc::new(OxylabsExecutor::new(a).map_err(|e| e.to_string())?);
            Ok(Built {
                executor: executor.clone(),
                oxylabs: Some(executor),
            })
        }
    }
}

fn plain<E: Executor + 'static>(built: Result<E, impl Display>) -> Result<Built, String> {
    let executor = built.map_err(|e| e.to_string())?;
    Ok(Built {
        executor: Arc::new(executor),
        oxylabs: None,
    })
}
