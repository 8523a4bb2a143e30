//! The client commands (`status`, `jobs`, `runs`, `run`, `pause`, `resume`, `cancel`,
//! `dead`, `retry`, `reload`; README "Commands and the status socket"): one socket call
//! each, printed as a table by default or as the answer's JSON with `--json`.

mod render;
mod table;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::CliError;
use crate::cli::ClientArgs;
use crate::client::Client;
use crate::config::{DEFAULT_CONFIG_PATH, DEFAULT_SOCKET};
use crate::protocol::{
    DeadList, JobPause, JobResume, JobRun, JobsList, Method, Metrics, Reload, Request, RunCancel,
    RunGet, RunRetry, RunsList, Status,
};

pub(super) fn run(request: Request, args: &ClientArgs) -> anyhow::Result<ExitCode> {
    let socket = socket_path(args)?;
    let text = execute(&request, &socket, args.json, Utc::now())?;
    print(&text);
    Ok(ExitCode::SUCCESS)
}

/// Calls the daemon and renders the answer.
pub(super) fn execute(
    request: &Request,
    socket: &Path,
    json: bool,
    now: DateTime<Utc>,
) -> Result<String, CliError> {
    let mut client = Client::connect(socket)?;
    let answer = client.ask(request)?;
    if json {
        // The daemon's answer as is, so fields added later reach scripts too.
        return pretty(&answer);
    }
    render_answer(request, answer, now)
}

fn pretty(answer: &Value) -> Result<String, CliError> {
    serde_json::to_string_pretty(answer)
        .map(|s| s + "\n")
        .map_err(|e| CliError::Failed(format!("cannot print the answer: {e}")))
}

/// The human view of an answer; whatever vendor text it holds is stripped of control
/// characters, so an answer cannot drive the terminal.
fn render_answer(request: &Request, answer: Value, now: DateTime<Utc>) -> Result<String, CliError> {
    Ok(table::printable(&match request {
        Request::Status(_) => render::status(&typed::<Status>(answer)?, now),
        Request::JobsList(_) => render::jobs(&typed::<JobsList>(answer)?, now),
        Request::RunsList(params) => {
            let runs = typed::<RunsList>(answer)?;
            render::runs(&runs, now) + &render::older_runs(params, &runs)
        }
        Request::DeadList(_) => render::dead(&typed::<DeadList>(answer)?),
        Request::JobRun(_) => format!("started run {}\n", typed::<JobRun>(answer)?.run),
        Request::RunGet(_) => render::runs(&[typed::<RunGet>(answer)?], now),
        Request::Metrics(_) => typed::<Metrics>(answer)?.text,
        Request::JobPause(_) => line(typed::<JobPause>(answer)?.message),
        Request::JobResume(_) => line(typed::<JobResume>(answer)?.message),
        Request::RunCancel(_) => line(typed::<RunCancel>(answer)?.message),
        Request::RunRetry(_) => line(typed::<RunRetry>(answer)?.message),
        Request::Reload(_) => line(typed::<Reload>(answer)?.message),
        // A method without a view of its own yet: its answer as JSON.
        #[allow(unreachable_patterns)]
        _ => pretty(&answer)?,
    }))
}

fn line(message: String) -> String {
    message + "\n"
}

/// The answer as method `M` types it.
fn typed<M: Method>(answer: Value) -> Result<M::Answer, CliError> {
    serde_json::from_value(answer).map_err(|e| {
        CliError::Failed(format!(
            "the daemon's answer has an unexpected shape ({e}); is it the same dredge version? `--json` shows it raw"
        ))
    })
}

/// `--socket`, else the `--config` file's `socket`, else the default config's if
/// that file exists and is readable, else `DEFAULT_SOCKET`.
pub(super) fn socket_path(args: &ClientArgs) -> Result<PathBuf, CliError> {
    if let Some(socket) = &args.socket {
        return Ok(socket.clone());
    }
    if let Some(config) = &args.config {
        return socket_from_config(config);
    }
    let default = Path::new(DEFAULT_CONFIG_PATH);
    Ok(socket_from_config(default).unwrap_or_else(|_| PathBuf::from(DEFAULT_SOCKET)))
}

/// Only the `socket` key: a client user may not be able to read the secrets the
/// full config load would resolve, and needs nothing else from the file.
fn socket_from_config(path: &Path) -> Result<PathBuf, CliError> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Failed(format!("cannot read the config {shown}: {e}")))?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| CliError::Failed(format!("{shown}: not valid TOML: {}", e.message())))?;
    let socket = match table.get("socket") {
        None => return Ok(PathBuf::from(DEFAULT_SOCKET)),
        Some(toml::Value::String(s)) => PathBuf::from(s),
        Some(_) => {
            return Err(CliError::Failed(format!(
                "{shown}: `socket` must be a string"
            )));
        }
    };
    // Relative to the config file, as the daemon reads it.
    let base = path.parent().unwrap_or(Path::new("."));
    Ok(base.join(socket))
}

/// Prints to stdout; a closed pipe (`dredge runs | head`) is not an error.
fn print(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

#[cfg(test)]
mod tests;
