//! `dredge`: the daemon and its command-line client. `main` only parses arguments,
//! hands off, and reports the error chain with the exit codes of SPEC §2.

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
mod rpc;

use std::process::ExitCode;

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
