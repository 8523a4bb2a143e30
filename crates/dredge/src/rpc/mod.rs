//! The daemon's status socket (README "Commands and the status socket"): JSON-RPC 2.0
//! over a Unix stream socket, one JSON object per line each way, served from an `Api`
//! implementation.
//!
//! Owns everything between the socket file and the `Api` trait: binding (stale
//! takeover, mode 0660, or 0666 when a status group is configured — the peer check
//! decides), peer checks (SO_PEERCRED: control or read-only access), bounded line
//! reading, connection slots and timeouts, the JSON-RPC envelope and error codes.
//! The daemon supplies the `Api`; tests use a fake one. Nothing a peer sends can make
//! this panic, hang other clients, buffer more than `MAX_LINE_BYTES` per connection,
//! or hold a connection slot that another client needs.

mod bind;
mod connection;
mod dispatch;
#[cfg(test)]
pub(crate) mod fake;
mod lines;
mod peer;
mod slots;
#[cfg(test)]
mod tests;

/// What the fuzz tests drive: one line's answer, and line splitting.
#[cfg(test)]
pub(crate) mod fuzz_support {
    use std::sync::Arc;

    use serde_json::Value;

    pub(crate) use super::peer::Access;
    use crate::protocol::Api;

    pub(crate) async fn answer_line(
        api: &Arc<dyn Api>,
        line: &[u8],
        access: Access,
    ) -> Option<Value> {
        super::dispatch::answer(api, line, access).await
    }

    /// The lines of `bytes` read through a buffer of `chunk` bytes; `None` for a line
    /// over `max`.
    pub(crate) async fn read_lines(bytes: &[u8], chunk: usize, max: usize) -> Vec<Option<Vec<u8>>> {
        let reader = tokio::io::BufReader::with_capacity(chunk, bytes);
        let mut lines = super::lines::LineReader::new(reader, max);
        let mut out = Vec::new();
        while let Some(line) = lines.next_line().await.expect("in-memory read") {
            out.push(match line {
                super::lines::Line::Text(t) => Some(t),
                super::lines::Line::TooLong => None,
            });
        }
        out
    }
}

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UnixListener;
use tokio::task::JoinSet;

use crate::protocol::Api;

pub(crate) use bind::bind;
pub(crate) use peer::Groups;

/// How the server admits and bounds its clients.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    pub groups: Groups,
    /// Connections at once; past it the longest-idle one is closed to make room.
    pub max_connections: usize,
    /// A request line must arrive, and an answer be read, within this.
    pub line_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            groups: Groups::default(),
            max_connections: crate::config::DEFAULT_SOCKET_MAX_CONNECTIONS,
            line_timeout: crate::config::DEFAULT_SOCKET_LINE_TIMEOUT,
        }
    }
}

/// Serves connections until `shutdown` completes, then closes them all and
/// removes the socket file, so a stopped daemon leaves no socket behind.
pub(crate) async fn serve(
    listener: UnixListener,
    api: Arc<dyn Api>,
    options: Options,
    shutdown: impl Future<Output = ()>,
) {
    let socket_path = listener
        .local_addr()
        .ok()
        .and_then(|a| a.as_pathname().map(|p| p.to_path_buf()));
    if let (Some(path), Some(_)) = (&socket_path, options.groups.status) {
        // Members of the status group need not be in the socket file's group: every
        // local user may connect, and the peer check decides what each may do.
        use std::os::unix::fs::PermissionsExt;
        if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)) {
            tracing::warn!("cannot open the status socket to the status group: {e}");
        }
    }
    let policy = Arc::new(peer::Policy::new(socket_path.clone(), options.groups));
    let slots = slots::Slots::new(options.max_connections);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => match slots.take() {
                    Some(slot) => {
                        let (api, policy) = (Arc::clone(&api), Arc::clone(&policy));
                        connections.spawn(connection::handle(stream, api, policy, slot, options.line_timeout));
                    }
                    None => {
                        connections.spawn(connection::refuse(stream, options.line_timeout));
                    }
                },
                Err(e) => {
                    // E.g. out of file descriptors: wait a little instead of spinning.
                    tracing::warn!("status socket accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
    if let Some(path) = socket_path {
        let _ = std::fs::remove_file(path);
    }
}
