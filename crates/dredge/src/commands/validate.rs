//! `dredge validate [--config CONF] FILE...`: the daemon's own checks, offline.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use dredge_core::job::{AccountIndex, FileRules, load_job_file};

use crate::config::DaemonConfig;

pub fn run(config: Option<&Path>, files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut errors = 0usize;
    let (accounts, rules) = match config {
        Some(path) => match DaemonConfig::load(path) {
            Ok(c) => (Some(c.account_index()), c.files),
            Err(e) => {
                println!("{e}");
                errors += 1;
                (Some(AccountIndex::default()), FileRules::default())
            }
        },
        None => (None, FileRules::default()),
    };
    for file in files {
        if let Err(e) = load_job_file(file, accounts.as_ref(), &rules) {
            println!("{e}");
            errors += 1;
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
