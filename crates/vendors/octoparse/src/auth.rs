//! Logging in to Octoparse, in both flavors, for `dredge_core::token::TokenCache`.
//!
//! Legacy: `POST /token`, form-encoded (values URL-encoded by the form encoder),
//! `grant_type=password` or `grant_type=refresh_token`; answers
//! `{"access_token","expires_in","refresh_token"}` or OAuth errors with lower-case
//! `error_description`. OpenAPI: `POST /token` with JSON bodies for both grants (as
//! the official sample does); answers under `data` (`expires_in` a number or a string) or
//! `{"error":{"code","message"}}`.

use std::time::Duration;

use crate::account::OctoparseFlavor;
use async_trait::async_trait;
use dredge_core::token::{Authenticator, Grant, GrantError};
use dredge_core::{Answer, Failure, FailureClass, Secret, VendorClient};
use reqwest::header::ACCEPT;
use serde_json::{Value, json};

/// An account's credentials and how to present them.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub client: VendorClient,
    pub flavor: OctoparseFlavor,
    pub username: String,
    pub password: Secret,
}

#[async_trait]
impl Authenticator for Credentials {
    async fn login(&self) -> Result<Grant, GrantError> {
        let request = match self.flavor {
            OctoparseFlavor::Legacy => self.post("/token").form(&[
                ("username", self.username.as_str()),
                ("password", self.password.expose()),
                ("grant_type", "password"),
            ]),
            OctoparseFlavor::Openapi => self.post("/token").json(&json!({
                "username": self.username,
                "password": self.password.expose(),
                "grant_type": "password",
            })),
        };
        self.grant(request).await
    }

    async fn refresh(&self, refresh_token: &Secret) -> Result<Grant, GrantError> {
        let request = match self.flavor {
            OctoparseFlavor::Legacy => self.post("/token").form(&[
                ("refresh_token", refresh_token.expose()),
                ("grant_type", "refresh_token"),
            ]),
            // The official OpenAPI sample refreshes at `/token` too.
            OctoparseFlavor::Openapi => self.post("/token").json(&json!({
                "refresh_token": refresh_token.expose(),
                "grant_type": "refresh_token",
            })),
        };
        self.grant(request).await
    }
}

impl Credentials {
    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .http()
            .post(self.client.url(path))
            .header(ACCEPT, "application/json")
    }

    async fn grant(&self, request: reqwest::RequestBuilder) -> Result<Grant, GrantError> {
        let answer = self
            .client
            .send(request)
            .await
            .map_err(GrantError::Transient)?;
        read_grant(&answer)
    }
}

/// A token answer of either flavor.
pub fn read_grant(answer: &Answer) -> Result<Grant, GrantError> {
    let body: Value = answer.json().unwrap_or(Value::Null);
    // OpenAPI nests the token under `data`; the legacy answer is flat.
    let token = body.get("data").filter(|d| d.is_object()).unwrap_or(&body);
    if let Some(access) = token
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|_| answer.is_success())
    {
        return Ok(Grant {
            access_token: Secret::new(access),
            refresh_token: token
                .get("refresh_token")
                .and_then(Value::as_str)
                .map(Secret::new),
            expires_in: token.get("expires_in").and_then(seconds),
        });
    }
    Err(grant_error(answer, &body))
}

fn grant_error(answer: &Answer, body: &Value) -> GrantError {
    let (code, message) = match body.get("error") {
        Some(Value::String(code)) => (code.clone(), text(body, "error_description")),
        Some(error @ Value::Object(_)) => (text(error, "code"), text(error, "message")),
        _ => (String::new(), String::new()),
    };
    let described = match (code.is_empty(), message.is_empty()) {
        (true, _) => format!("HTTP {} from the token endpoint", answer.status),
        (false, true) => code.clone(),
        (false, false) => format!("{code}: {message}"),
    };
    let transient = |class| {
        GrantError::Transient(Failure {
            class,
            message: described.clone(),
            retry_after: answer.retry_after(),
            budget: None,
        })
    };
    match code.to_ascii_lowercase().as_str() {
        "unsupported_grant_type" | "unsupported.granttype" => GrantError::Bug(described),
        "invalid_grant" | "invalid.grant" => GrantError::Rejected(described),
        _ => match answer.status {
            429 => transient(FailureClass::Throttled),
            500..=599 => transient(FailureClass::Server),
            // A 2xx without a token: the endpoint misbehaved, try again later.
            200..=299 => transient(FailureClass::Vendor),
            _ => GrantError::Rejected(described),
        },
    }
}

fn text(value: &Value, name: &str) -> String {
    value
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// `expires_in` as a number or a numeric string.
fn seconds(value: &Value) -> Option<Duration> {
    let secs = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e9)))
}

#[cfg(test)]
mod tests {

    use super::*;
    use dredge_core::testing::answer;

    #[test]
    fn a_legacy_token_answer_is_read() {
        let body = r#"{"access_token":"ABCD1234","token_type":"bearer","expires_in":86399,"refresh_token":"r"}"#;
        let grant = read_grant(&answer(200, body)).expect("a grant");
        assert_eq!(grant.access_token.expose(), "ABCD1234");
        assert_eq!(grant.expires_in, Some(Duration::from_secs(86_399)));
        assert_eq!(
            grant.refresh_token.map(|r| r.expose().to_string()),
            Some("r".into())
        );
    }

    #[test]
    fn an_openapi_token_answer_with_a_string_lifetime_is_read() {
        let body = r#"{"data":{"access_token":"a","expires_in":"3600","token_type":"Bearer","refresh_token":"r"},"requestId":"x"}"#;
        let grant = read_grant(&answer(200, body)).expect("a grant");
        assert_eq!(grant.expires_in, Some(Duration::from_secs(3600)));
    }

    #[test]
    fn invalid_grant_is_a_rejection_and_unsupported_grant_type_a_bug() {
        let body = r#"{"error":"invalid_grant","error_description":"The user name or password is incorrect."}"#;
        assert!(
            matches!(read_grant(&answer(400, body)), Err(GrantError::Rejected(m)) if m.contains("incorrect"))
        );
        let body = r#"{"error":"unsupported_grant_type"}"#;
        assert!(matches!(
            read_grant(&answer(400, body)),
            Err(GrantError::Bug(_))
        ));
        let body = r#"{"error":{"code":"Invalid.Grant","message":"no"},"requestId":"x"}"#;
        assert!(matches!(
            read_grant(&answer(400, body)),
            Err(GrantError::Rejected(_))
        ));
    }

    #[test]
    fn a_failing_token_endpoint_is_transient() {
        assert!(matches!(
            read_grant(&answer(503, "")),
            Err(GrantError::Transient(_))
        ));
    }
}
