//! The daemon's status socket (SPEC §6): JSON-RPC 2.0 over a Unix stream socket,
//! one JSON object per line each way, served from an `Api` implementation.
//!
//! Owns everything between the socket file and the `Api` trait: binding (stale
//! takeover, mode 0660), peer checks (SO_PEERCRED), bounded line reading, the
//! JSON-RPC envelope and error codes. The daemon supplies the `Api`; tests use a
//! fake one. Nothing a peer sends can make this panic, hang other clients, or
//! buffer more than `MAX_LINE_BYTES` per connection.

mod bind;
mod connection;
mod dispatch;
#[cfg(test)]
pub mod fake;
mod lines;
mod peer;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UnixListener;
use tokio::task::JoinSet;

use crate::protocol::Api;

pub use bind::bind;

/// Serves connections until `shutdown` completes, then closes them all and
/// removes the socket file, so a stopped daemon leaves no socket behind.
pub async fn serve(listener: UnixListener, api: Arc<dyn Api>, shutdown: impl Future<Output = ()>) {
    let socket_path = listener
        .local_addr()
        .ok()
        .and_then(|a| a.as_pathname().map(|p| p.to_path_buf()));
    let policy = Arc::new(peer::Policy::new(socket_path.clone()));
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection::handle(stream, Arc::clone(&api), Arc::clone(&policy)));
                }
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
