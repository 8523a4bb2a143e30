//! One module per subcommand; this one dispatches and maps errors to exit codes.

mod client;
mod demo;
mod export;
mod migrate;
mod sim;
mod validate;

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::protocol::{
    DeadList, JobPause, JobResume, JobRun, JobsList, PageLimit, Reload, RunCancel, RunRetry,
    RunsList, Status,
};

/// Failures with a specific exit code (README "Commands and the status socket");
/// anything else exits 1.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// Exit 3: the daemon is not running.
    #[error("dredge daemon is not running: no socket at {0}")]
    DaemonNotRunning(String),
    /// Exit 1 with this message (already user-facing).
    #[error("{0}")]
    Failed(String),
}

pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
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
        Command::Migrate { config, check } => migrate::run(&config, check),
        Command::Export { run, path, config } => export::run(&config, &run, path.as_deref()),
        Command::Sim { listen, scenario } => sim::run(listen, scenario.as_deref()),
        Command::Daemon { config } => {
            crate::limits::raise_open_files();
            crate::daemon::run(&config)
        }
        Command::Status(args) => client::run(Status {}.into(), &args),
        Command::Jobs(args) => client::run(JobsList {}.into(), &args),
        Command::Runs {
            job,
            job_flag,
            limit,
            before,
            client: args,
        } => {
            let page = RunsList {
                job: job.or(job_flag),
                limit: PageLimit::new(limit.into()),
                before,
            };
            client::run(page.into(), &args)
        }
        Command::Run { job, client: args } => client::run(JobRun { job }.into(), &args),
        Command::Pause { job, client: args } => client::run(JobPause { job }.into(), &args),
        Command::Resume { job, client: args } => client::run(JobResume { job }.into(), &args),
        Command::Cancel { run, client: args } => client::run(RunCancel { run }.into(), &args),
        Command::Dead { job, client: args } => client::run(DeadList { job }.into(), &args),
        Command::Retry { run, client: args } => client::run(RunRetry { run }.into(), &args),
        Command::Reload(args) => client::run(Reload {}.into(), &args),
        Command::Demo => demo::run(),
    }
}

/// The error chain on one line: what failed and why.
pub(crate) fn describe(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        text.push_str(": ");
        text.push_str(&cause.to_string());
    }
    text
}

pub(crate) fn exit_code_for(err: &anyhow::Error) -> ExitCode {
    match err.downcast_ref::<CliError>() {
        Some(CliError::DaemonNotRunning(_)) => ExitCode::from(3),
        _ => ExitCode::from(1),
    }
}
