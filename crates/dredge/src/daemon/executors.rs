//! Building each account's executor: the one place that knows every vendor crate.

use std::sync::Arc;

use dredge_core::{Account, Executor, Vendor};

/// The executor for `account`, or why this build cannot serve its vendor.
pub fn build(account: &Account) -> Result<Arc<dyn Executor>, String> {
    match account.vendor {
        Vendor::Autoextract => dredge_autoextract::AutoextractExecutor::new(account)
            .map(|e| Arc::new(e) as Arc<dyn Executor>)
            .map_err(|e| e.to_string()),
        Vendor::Octoparse => dredge_octoparse::OctoparseExecutor::new(account)
            .map(|e| Arc::new(e) as Arc<dyn Executor>)
            .map_err(|e| e.to_string()),
        Vendor::Wds => dredge_wds::WdsExecutor::new(account)
            .map(|e| Arc::new(e) as Arc<dyn Executor>)
            .map_err(|e| e.to_string()),
        other => Err(format!("the {other} executor is not available in this build yet")),
    }
}
