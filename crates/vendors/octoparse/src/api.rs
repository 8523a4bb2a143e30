//! One authorised call: take the account's token, send, read the answer, and on an
//! expired token refresh it once for everyone (single flight) and ask for the item to
//! be executed again at once (`Outcome::Reauth`, not an attempt).

use crate::account::OctoparseFlavor;
use dredge_core::token::{TokenCache, TokenError};
use dredge_core::{Outcome, VendorClient};
use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde_json::Value;

use crate::answer::{self, Problem};
use crate::auth::Credentials;

/// A request to make: method, path, query and an optional JSON body.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub method: Method,
    pub path: &'static str,
    pub query: Vec<(&'static str, String)>,
    pub json: Option<Value>,
}

impl Call {
    pub(crate) fn get(path: &'static str, query: Vec<(&'static str, String)>) -> Self {
        Call {
            method: Method::GET,
            path,
            query,
            json: None,
        }
    }

    pub(crate) fn post(
        path: &'static str,
        query: Vec<(&'static str, String)>,
        json: Option<Value>,
    ) -> Self {
        Call {
            method: Method::POST,
            path,
            query,
            json,
        }
    }
}

/// The account's client, token and flavor.
#[derive(Debug)]
pub(crate) struct Api {
    pub client: VendorClient,
    pub flavor: OctoparseFlavor,
    pub credentials: Credentials,
    pub tokens: TokenCache,
}

impl Api {
    /// Make `call` and return the answer's `data`, or the item's outcome.
    pub(crate) async fn call(&self, call: Call) -> Result<Value, Outcome> {
        let lease = self
            .tokens
            .lease(&self.credentials)
            .await
            .map_err(TokenError::into_outcome)?;
        let mut request = self
            .client
            .http()
            .request(call.method, self.client.url(call.path))
            .query(&call.query)
            .header(ACCEPT, "application/json")
            .header(
                AUTHORIZATION,
                format!("bearer {}", lease.access_token().expose()),
            );
        if let Some(body) = &call.json {
            request = request.json(body);
        }
        let answer = self.client.send(request).await.map_err(Outcome::Retry)?;
        match answer::read(self.flavor, &answer) {
            Ok(data) => {
                self.tokens.confirm(&lease);
                Ok(data)
            }
            Err(Problem::Unauthorized) => {
                tracing::debug!(path = call.path, "access token rejected; refreshing");
                Err(
                    match self.tokens.rejected(&self.credentials, &lease).await {
                        Ok(()) => Outcome::Reauth,
                        Err(e) => e.into_outcome(),
                    },
                )
            }
            Err(Problem::Outcome(outcome)) => {
                // The token got past the vendor's check; the error is about something else.
                self.tokens.confirm(&lease);
                Err(outcome)
            }
        }
    }
}
