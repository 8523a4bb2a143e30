//! The CLI side of the status socket: connect, send one JSON-RPC request per line,
//! read the matching answer. Blocking I/O; each command makes one call.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::commands::CliError;
use crate::protocol::{ApiError, Method, Request};

/// How long to wait for an answer before telling the user the daemon is stuck.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) struct Client {
    path: PathBuf,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next_id: u64,
}

/// One request line: the JSON-RPC envelope around the typed request.
#[derive(Serialize)]
struct Envelope<'a> {
    jsonrpc: &'static str,
    id: u64,
    #[serde(flatten)]
    request: &'a Request,
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
    pub(crate) fn connect(path: &Path) -> Result<Client, CliError> {
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

    /// Calls the method whose params are `params`; the answer has that method's type.
    pub(crate) fn call<M: Method>(&mut self, params: M) -> Result<M::Answer, CliError> {
        let request: Request = params.into();
        let answer = self.ask(&request)?;
        serde_json::from_value(answer)
            .map_err(|e| self.broken(&format!("unexpected answer to {}: {e}", request.method())))
    }

    /// Sends `request` and returns its answer as the daemon sent it.
    pub(crate) fn ask(&mut self, request: &Request) -> Result<Value, CliError> {
        let id = self.next_id;
        self.next_id += 1;
        let envelope = Envelope {
            jsonrpc: "2.0",
            id,
            request,
        };
        let line = serde_json::to_string(&envelope).map_err(|e| {
            CliError::Failed(format!(
                "cannot encode the request {}: {e}",
                request.method()
            ))
        })?;
        self.send(line)?;
        let response = self.receive()?;
        if let Some(error) = response.error {
            return Err(CliError::Failed(error.message));
        }
        if response.id != id {
            return Err(self.broken(&format!(
                "answer carries id {} instead of {id}",
                response.id
            )));
        }
        Ok(response.result.unwrap_or(Value::Null))
    }

    fn send(&mut self, mut line: String) -> Result<(), CliError> {
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
