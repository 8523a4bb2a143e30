//! One module per subcommand; this one dispatches and maps errors to exit codes.

mod client;
mod demo;
mod sim;
mod validate;

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use client::Request;

/// Failures with a specific exit code (SPEC §2); anything else exits 1.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Exit 3: the daemon is not running.
    #[error("dredge daemon is not running: no socket at {0}")]
    DaemonNotRunning(String),
    /// Exit 1 with this message (already user-facing).
    #[error("{0}")]
    Failed(String),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate {
            config,
            no_secrets,
            files,
        } => {
            let secrets = if no_secrets {
                dredge_core::account::Secrets::Skip
            } else {
                dredge_core::account::Secrets::Read
            };
            validate::run(config.as_deref(), &files, secrets)
        }
        Command::Sim { listen, scenario } => sim::run(listen, scenario.as_deref()),
        Command::Daemon { config } => {
            crate::limits::raise_open_files();
            crate::daemon::run(&config)
        }
        Command::Status(args) => client::run(Request::Status, &args),
        Command::Jobs(args) => client::run(Request::Jobs, &args),
        Command::Runs { job, client: args } => client::run(Request::Runs(job), &args),
        Command::Run { job, client: args } => client::run(Request::Run(job), &args),
        Command::Pause { job, client: args } => client::run(Request::Pause(job), &args),
        Command::Resume { job, client: args } => client::run(Request::Resume(job), &args),
        Command::Cancel { run, client: args } => client::run(Request::Cancel(run), &args),
        Command::Dead { job, client: args } => client::run(Request::Dead(job), &args),
        Command::Retry { run, client: args } => client::run(Request::Retry(run), &args),
        Command::Reload(args) => client::run(Request::Reload, &args),
        Command::Demo => demo::run(),
    }
}

/// The error chain on one line: what failed and why.
pub fn describe(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        text.push_str(": ");
        text.push_str(&cause.to_string());
    }
    text
}

pub fn exit_code_for(err: &anyhow::Error) -> ExitCode {
    match err.downcast_ref::<CliError>() {
        Some(CliError::DaemonNotRunning(_)) => ExitCode::from(3),
        _ => ExitCode::from(1),
    }
}
