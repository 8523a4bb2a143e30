//! Optional Prometheus endpoint (`metrics_listen`): `GET /metrics`, the same text the
//! socket's `metrics` method returns.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::api::DaemonApi;
use crate::protocol::{Api, Metrics};

pub(super) async fn serve(addr: SocketAddr, api: Arc<DaemonApi>) {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(%addr, error = %e, "cannot listen for metrics; continuing without");
            return;
        }
    };
    tracing::info!(%addr, "serving Prometheus metrics at /metrics");
    let shutdown = api.0.shutdown.clone();
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let api = api.clone();
            async move {
                match api.metrics(Metrics {}).await {
                    Ok(m) => (
                        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        m.text,
                    )
                        .into_response(),
                    Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.message).into_response(),
                }
            }
        }),
    );
    super::http_listen::serve(listener, app, shutdown).await;
}
