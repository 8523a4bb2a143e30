//! Building each account's executor (each vendor's own, `vendors.rs`), and keeping
//! the Oxylabs one typed for the callback listener.

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
    if let Account::Oxylabs(a) = account {
        let executor = Arc::new(OxylabsExecutor::new(a).map_err(|e| e.to_string())?);
        return Ok(Built {
            executor: executor.clone(),
            oxylabs: Some(executor),
        });
    }
    Ok(Built {
        executor: account.executor()?,
        oxylabs: None,
    })
}
