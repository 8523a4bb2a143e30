//! The command line (README "Commands and the status socket").

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::protocol::PageLimit;

/// How many runs `dredge runs` shows unless `--limit` says otherwise: a screenful.
pub(crate) const DEFAULT_RUNS_LIMIT: u16 = 20;

/// dredge: collect data from scraping vendors on a schedule, every record exactly once.
#[derive(Debug, Parser)]
#[command(name = "dredge", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the daemon in the foreground (what systemd starts).
    Daemon {
        /// Daemon config file.
        #[arg(long, default_value = crate::config::DEFAULT_CONFIG_PATH)]
        config: PathBuf,
    },
    /// Check job files (and the daemon config) offline; exit 1 on any error.
    Validate {
        /// Daemon config whose accounts the jobs may name.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Check the config without reading `*_env` and `*_file` secrets (they live in
        /// systemd credentials this machine may not have).
        #[arg(long)]
        no_secrets: bool,
        /// Job files to check.
        files: Vec<PathBuf>,
    },
    /// Daemon health: version, uptime, queue depths, accounts, invalid job files.
    Status(ClientArgs),
    /// Job definitions: name, vendor, schedule, next fire, last run, state.
    Jobs(ClientArgs),
    /// Runs with progress, newest first: items by state, records written, output path.
    Runs {
        /// Only this job's runs.
        job: Option<String>,
        /// Only this job's runs (the same as JOB).
        #[arg(long = "job", value_name = "JOB", conflicts_with = "job")]
        job_flag: Option<String>,
        /// Show at most N runs (1..=1000).
        #[arg(long, value_name = "N", default_value_t = DEFAULT_RUNS_LIMIT,
              value_parser = clap::value_parser!(u16).range(1..=i64::from(PageLimit::MAX)))]
        limit: u16,
        /// Show the runs started before RUN (the next page of a full one).
        #[arg(long, value_name = "RUN")]
        before: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Start a run of JOB now.
    Run {
        job: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Stop leasing new items of JOB (in-flight calls finish).
    Pause {
        job: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Resume leasing items of JOB.
    Resume {
        job: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Cancel RUN; its partial output stays as `.partial`.
    Cancel {
        run: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List dead items with their last error.
    Dead {
        /// Only this job's dead items.
        job: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Requeue RUN's dead items.
    Retry {
        run: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Re-read the config and job files now (same as SIGHUP).
    Reload(ClientArgs),
    /// Bring a PostgreSQL queue's schema to this dredge's version (`--check`: only say
    /// where it stands; exit 1 unless it is current).
    Migrate {
        /// Daemon config whose `[queue]` names the database.
        #[arg(long, default_value = crate::config::DEFAULT_CONFIG_PATH)]
        config: PathBuf,
        /// Change nothing: report the schema's version against this binary's.
        #[arg(long)]
        check: bool,
    },
    /// Write a run's file again from a PostgreSQL queue, anywhere (its committed
    /// records so far if it is still running).
    Export {
        /// The run's id (`dredge runs`).
        run: String,
        /// Where to write it; default `RUN.jsonl` in the current directory.
        path: Option<PathBuf>,
        /// Daemon config whose `[queue]` names the database.
        #[arg(long, default_value = crate::config::DEFAULT_CONFIG_PATH)]
        config: PathBuf,
    },
    /// Run every vendor against built-in simulators with faults, and show progress.
    Demo,
    /// Run the four vendor simulators standalone.
    Sim {
        /// Address to listen on; the four simulators use this port and the next three.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// Scenario file (TOML): data sizes and faults per vendor.
        #[arg(long)]
        scenario: Option<PathBuf>,
    },
}

/// Options every client command takes.
#[derive(Debug, Clone, Args)]
pub(crate) struct ClientArgs {
    /// Status socket (default: from the config, else /run/dredge/dredge.sock).
    #[arg(long)]
    pub socket: Option<PathBuf>,
    /// Daemon config to read the socket path from.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}
