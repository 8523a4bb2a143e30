//! `dredge validate [--config CONF] [--no-secrets] FILE...`: the daemon's own checks,
//! offline. It builds what the daemon builds (accounts, their executors and rate gates,
//! schedules), so what validates also starts.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use dredge_core::account::Secrets;
use dredge_core::job::{AccountIndex, FileRules, load_job_file};

use crate::config::DaemonConfig;
use crate::daemon::executors;
use crate::vendors::JOB_SECTIONS;

pub(super) fn run(
    config: Option<&Path>,
    files: &[PathBuf],
    secrets: Secrets,
) -> anyhow::Result<ExitCode> {
    let mut errors = 0usize;
    let (accounts, rules) = match config {
        Some(path) => check_config(path, secrets, &mut errors),
        None => (None, FileRules::default()),
    };
    for file in files {
        match load_job_file(file, accounts.as_ref(), &rules, &JOB_SECTIONS) {
            Ok(spec) => {
                for w in spec.warnings() {
                    println!("{}: warning: {w}", file.display());
                }
            }
            Err(e) => {
                println!("{e}");
                errors += 1;
            }
        }
    }
    if errors == 0 {
        let what = match (config.is_some(), files.len()) {
            (true, 0) => "config is valid".to_string(),
            (_, n) => format!("{n} job file(s) valid"),
        };
        eprintln!("{what}");
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::from(1))
    }
}

/// Report every problem of the config, each account on its own, and return the accounts
/// jobs may name (a broken account still counts, so its jobs are checked for their own
/// errors) — or `None` when the file itself is unusable, so jobs are not all reported
/// as naming unknown accounts.
fn check_config(
    path: &Path,
    secrets: Secrets,
    errors: &mut usize,
) -> (Option<AccountIndex>, FileRules) {
    let config = match DaemonConfig::load_with(path, secrets) {
        Ok(c) => c,
        Err(e) => {
            println!("{e}");
            *errors += 1;
            return (None, FileRules::default());
        }
    };
    for (_, e) in config.broken_accounts.values() {
        println!("{e}");
        *errors += 1;
    }
    for w in &config.warnings {
        println!("{}: warning: {w}", path.display());
    }
    for (name, account) in &config.accounts {
        if let Err(why) = executors::build(account) {
            println!("{}: [accounts.{name}]: {why}", path.display());
            *errors += 1;
        }
    }
    (Some(config.account_index()), config.files)
}
