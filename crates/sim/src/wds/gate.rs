//! What every WDS API request passes before it is served: the optional bearer token,
//! the `X-Tenant-Id` header, injected slow answers and 5xx — and the request log entry
//! each answer leaves. Error bodies are plain text, as WDS writes them.

use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::Shared;
use crate::common::auth_token;

// docs/vendors/wds.md §"Tenant and authentication": `X-Tenant-Id`, no API key; the
// bearer token models a server behind an authenticating proxy.
/// The header naming the tenant.
pub(crate) const TENANT_HEADER: &str = "x-tenant-id";

/// The caller of one request.
pub(crate) struct Caller {
    pub tenant: String,
    method: String,
    path: String,
}

// docs/vendors/wds.md §"Answers": error bodies are plain text.
/// A plain-text answer.
pub(crate) fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (status, body.into()).into_response()
}

impl Shared {
    /// Check credentials and roll the request-level faults. `Err` is the answer to send
    /// (already logged).
    pub(crate) async fn admit(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<Caller, Response> {
        let tenant = headers
            .get(TENANT_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string());
        let caller = Caller {
            tenant: tenant.clone().unwrap_or_default(),
            method: method.to_string(),
            path: uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
        };
        let config = self.config();
        if let Some(expected) = &config.bearer_token
            && auth_token(headers, "bearer") != Some(expected.as_str())
        {
            let answer = text(StatusCode::UNAUTHORIZED, "Unauthorized");
            return Err(self.answer(&caller, Vec::new(), "unauthorized", answer));
        }
        let Some(tenant) = tenant.filter(|t| !t.is_empty()) else {
            let answer = text(
                StatusCode::BAD_REQUEST,
                "The X-Tenant-Id header is required",
            );
            return Err(self.answer(&caller, Vec::new(), "no_tenant", answer));
        };
        if !config.tenants.contains(&tenant) {
            let answer = text(StatusCode::FORBIDDEN, format!("Unknown tenant '{tenant}'"));
            return Err(self.answer(&caller, Vec::new(), "unknown_tenant", answer));
        }
        if self.dice.chance(config.slow_rate) {
            tokio::time::sleep(Duration::from_millis(config.slow_ms)).await;
        }
        if self.dice.chance(config.server_error_rate) {
            let answer = if self.dice.below(2) == 0 {
                // docs/vendors/wds.md §"Answers": 5xx, which the CLR retries at once.
                text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            } else {
                text(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
            };
            let outcome = format!("fault:{}", answer.status().as_u16());
            return Err(self.answer(&caller, Vec::new(), &outcome, answer));
        }
        Ok(caller)
    }

    /// Log the answer and hand it back.
    pub(crate) fn answer(
        &self,
        caller: &Caller,
        domains: Vec<String>,
        outcome: &str,
        response: Response,
    ) -> Response {
        let tenant = Some(caller.tenant.clone()).filter(|t| !t.is_empty());
        self.log.record(
            &caller.method,
            &caller.path,
            tenant,
            domains,
            response.status().as_u16(),
            outcome,
        );
        response
    }
}
