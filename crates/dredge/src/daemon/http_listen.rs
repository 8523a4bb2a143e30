//! Serving an axum router on TCP (Oxylabs callbacks, metrics) with the limits
//! `axum::serve` lacks: a peer must send its request headers within 10 s (a client
//! that opens connections and trickles bytes holds nothing for long), and at most
//! 256 connections are served at once (past that a new one is closed at once).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Time for a request's headers to arrive (also the most a kept-alive connection
/// waits for its next request).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once.
const MAX_CONNECTIONS: usize = 256;
/// After shutdown, how long a request in progress may take to finish.
const DRAIN: Duration = Duration::from_secs(5);

/// Serves `app` until `shutdown`; handlers may extract `ConnectInfo<SocketAddr>`.
pub(super) async fn serve(listener: TcpListener, app: Router, shutdown: CancellationToken) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // E.g. out of file descriptors: wait a little instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::debug!(%peer, "too many HTTP connections: closed a new one");
            continue;
        };
        let app = app.clone().layer(axum::Extension(ConnectInfo(peer)));
        tokio::spawn(connection(stream, app, shutdown.clone(), slot));
    }
}

async fn connection(
    stream: tokio::net::TcpStream,
    app: Router,
    shutdown: CancellationToken,
    _slot: tokio::sync::OwnedSemaphorePermit,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(DRAIN, conn).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use axum::routing::get;

    use super::*;

    #[tokio::test]
    async fn a_peer_that_never_finishes_its_headers_is_cut_off() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let app = Router::new().route("/", get(|| async { "ok" }));
        tokio::spawn(serve(listener, app, shutdown.clone()));
        let closed = tokio::task::spawn_blocking(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let mut buf = Vec::new();
            // Returns when the server closes the connection (with or without a 408).
            s.read_to_end(&mut buf).is_ok()
        });
        let closed = tokio::time::timeout(Duration::from_secs(30), closed).await;
        assert!(
            matches!(closed, Ok(Ok(true))),
            "the server kept the half-sent request open"
        );
        shutdown.cancel();
    }
}
