//! `dredge`: the daemon and its command-line client. `main` only parses arguments,
//! hands off, and reports the error chain with the exit codes of README "Commands and
//! the status socket".

mod account;
mod cli;
mod client;
mod commands;
mod config;
mod daemon;
#[cfg(test)]
mod fuzz;
mod groups;
mod limits;
mod protocol;
mod queue_config;
mod rpc;
mod vendors;

use std::process::ExitCode;

/// jemalloc, an allocator made for long-running servers. With glibc's malloc the
/// daemon's RSS grew run after run (92 → 350 MiB over ten runs of 100,000 records,
/// BENCHMARKS.md) unless `MALLOC_ARENA_MAX` and `MALLOC_MMAP_THRESHOLD_` were set:
/// records are allocated on the async workers and freed on the writer thread, and
/// glibc's per-thread arenas kept that memory. jemalloc gives freed pages back to the
/// OS after a few seconds (its decay settings are in `.cargo/config.toml`), whoever
/// starts the daemon.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use clap::Parser;

use cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("dredge: {}", commands::describe(&err));
            commands::exit_code_for(&err)
        }
    }
}
