//! The CLI side of the status socket: connect, send one JSON-RPC request per line,
//! read the matching answer. Blocking I/O; each command makes one call.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::commands::CliError;
use crate::protocol::ApiError;

/// How long to wait for an answer before telling the user the daemon is stuck.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Client {
    path: PathBuf,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next_id: u64,
}

#[derive(Debug, Deserialize)]
struct Response {
    #[serde(default)]
    id: Value,
    result: Option<Value>,
    error: Option<ApiError>,
}

impl Client {
    /// A missing socket or one nobody listens on means the daemon is not running.
    pub fn connect(path: &Path) -> Result<Client, CliError> {
        let shown = path.display().to_string();
        let stream = UnixStream::connect(path).map_err(|e| match e.kind() {
            ErrorKind::NotFound | ErrorKind::ConnectionRefused => CliError::DaemonNotRunning(shown.clone()),
            ErrorKind::PermissionDenied => CliError::Failed(format!(
                "cannot connect to {shown}: permission denied; join the daemon's status group (`status_group` in its config, read-only) or the socket's group, or run as the daemon's user"
            )),
            _ => CliError::Failed(format!("cannot connect to {shown}: {e}")),
        })?;
        let failed = |e: std::io::Error| CliError::Failed(format!("cannot use {shown}: {e}"));
        stream
            .set_read_timeout(Some(ANSWER_TIMEOUT))
            .map_err(failed)?;
        let writer = stream.try_clone().map_err(failed)?;
        Ok(Client {
            path: path.to_path_buf(),
            reader: BufReader::new(stream),
            writer,
            next_id: 1,
        })
    }

    /// Calls `method`; params that serialize to `null` (e.g. `()`) are left out.
    pub fn call<T: DeserializeOwned>(
        &mut self,
        method: &str,
        params: impl Serialize,
    ) -> Result<T, CliError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut request = json!({"jsonrpc": "2.0", "id": id, "method": method});
        let params = serde_json::to_value(params)
            .map_err(|e| CliError::Failed(format!("cannot encode params of {method}: {e}")))?;
        if !params.is_null() {
            request["params"] = params;
        }
        self.send(&request)?;
        let response = self.receive()?;
        if let Some(error) = response.error {
            return Err(CliError::Failed(error.message));
        }
        if response.id != json!(id) {
            return Err(self.broken(&format!(
                "answer carries id {} instead of {id}",
                response.id
            )));
        }
        let result = response.result.unwrap_or(Value::Null);
        serde_json::from_value(result)
            .map_err(|e| self.broken(&format!("unexpected answer to {method}: {e}")))
    }

    fn send(&mut self, request: &Value) -> Result<(), CliError> {
        let mut line = request.to_string();
        line.push('\n');
        self.writer
            .write_all(line.as_bytes())
            .map_err(|e| self.broken(&format!("cannot send the request: {e}")))
    }

    fn receive(&mut self) -> Result<Response, CliError> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => return Err(self.broken("the daemon closed the connection without answering")),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(
                    self.broken(&format!("no answer within {} s", ANSWER_TIMEOUT.as_secs()))
                );
            }
            Err(e) => return Err(self.broken(&format!("cannot read the answer: {e}"))),
        }
        serde_json::from_str(&line)
            .map_err(|e| self.broken(&format!("the answer is not JSON-RPC: {e}")))
    }

    fn broken(&self, what: &str) -> CliError {
        CliError::Failed(format!("status socket {}: {what}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_socket_means_the_daemon_is_not_running() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nothing.sock");
        match Client::connect(&path) {
            Err(CliError::DaemonNotRunning(shown)) => assert_eq!(shown, path.display().to_string()),
            Err(e) => panic!("wrong error: {e}"),
            Ok(_) => panic!("connected to nothing"),
        }
    }

    #[test]
    fn a_socket_nobody_listens_on_means_the_daemon_is_not_running() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("stale.sock");
        drop(std::os::unix::net::UnixListener::bind(&path).expect("bind"));
        assert!(matches!(
            Client::connect(&path),
            Err(CliError::DaemonNotRunning(_))
        ));
    }
}
