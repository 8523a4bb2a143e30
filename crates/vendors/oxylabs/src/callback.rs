//! The vendor side of Oxylabs callbacks: who may post them ([`Allowlist`], built from
//! `GET /v1/info/callbacker_ips` plus the account's `callback_allow` CIDRs) and the
//! HTTP endpoint that receives them ([`callback_router`]).
//!
//! A callback is only a hint that a job is done: Oxylabs documents no retry, so the
//! poll items keep a slow safety poll and a lost callback merely delays a job. The
//! daemon owns the listener and knows which jobs exist; it plugs in as a
//! [`CallbackSink`]: find the poll item whose dedupe key is
//! [`crate::poll_dedupe_key`]`(id)`, call [`crate::OxylabsExecutor::callback_received`]
//! on its account's executor, and make the item ready now. The router must be served with
//! `into_make_service_with_connect_info::<SocketAddr>()`: the peer address is what the
//! allowlist checks (behind a reverse proxy, allow the proxy's address instead).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use dredge_core::{Secret, VendorClient};

use crate::account::OxylabsAccount;
use ipnet::IpNet;
use serde::Deserialize;

use crate::is_job_id;

/// Why the callback sender list could not be had, or an allowlist not built.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("cannot reach Oxylabs for the callback sender list: {0}")]
    Unreachable(String),
    #[error("Oxylabs refused the callback sender list request: HTTP {status}: {message}")]
    Refused { status: u16, message: String },
    #[error("unreadable callback sender list: {0}")]
    BadAnswer(String),
    #[error("callback_allow entry {0:?} is not an IP address or CIDR (e.g. \"10.0.0.0/8\")")]
    BadCidr(String),
}

/// The networks allowed to post callbacks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    nets: Vec<IpNet>,
}

impl Allowlist {
    /// Oxylabs' sender `ips` plus `extra` CIDRs (or single addresses) from the config.
    pub fn new(ips: &[IpAddr], extra: &[String]) -> Result<Self, CallbackError> {
        let mut nets: Vec<IpNet> = ips
            .iter()
            .map(|ip| IpNet::from(ip.to_canonical()))
            .collect();
        for entry in extra {
            nets.push(parse_net(entry).ok_or_else(|| CallbackError::BadCidr(entry.clone()))?);
        }
        Ok(Allowlist { nets })
    }

    /// Whether a peer may post callbacks (IPv4-mapped IPv6 peers count as IPv4).
    pub fn allows(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.nets.iter().any(|net| net.contains(&peer))
    }

    pub fn len(&self) -> usize {
        self.nets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }
}

fn parse_net(entry: &str) -> Option<IpNet> {
    let entry = entry.trim();
    entry
        .parse::<IpNet>()
        .ok()
        .or_else(|| entry.parse::<IpAddr>().ok().map(IpNet::from))
}

/// Fetch the addresses Oxylabs sends callbacks from (`GET /v1/info/callbacker_ips`)
/// with `account`'s settings. Entries that are not addresses are skipped with a warning.
pub async fn fetch_callbacker_ips(account: &OxylabsAccount) -> Result<Vec<IpAddr>, CallbackError> {
    let client = VendorClient::new(&account.base_url, &account.limits)?;
    fetch_with(&client, &account.login.username, &account.login.password).await
}

/// Fetch the sender list and build the allowlist with the account's `callback_allow`,
/// then swap it in; on failure the old list stays in force. Call at start and hourly.
pub async fn refresh_allowlist(
    account: &OxylabsAccount,
    allow: &RwLock<Allowlist>,
) -> Result<usize, CallbackError> {
    let ips = fetch_callbacker_ips(account).await?;
    let fresh = Allowlist::new(&ips, &account.callback_allow)?;
    let size = fresh.len();
    *allow.write().unwrap_or_else(|e| e.into_inner()) = fresh;
    Ok(size)
}

pub(crate) async fn fetch_with(
    client: &VendorClient,
    username: &str,
    password: &Secret,
) -> Result<Vec<IpAddr>, CallbackError> {
    #[derive(Deserialize)]
    struct Ips {
        ips: Vec<String>,
    }
    let request = client
        .http()
        .get(client.url("/v1/info/callbacker_ips"))
        .basic_auth(username, Some(password.expose()));
    let answer = client
        .send(request)
        .await
        .map_err(|f| CallbackError::Unreachable(f.message))?;
    if !answer.is_success() {
        return Err(CallbackError::Refused {
            status: answer.status,
            message: crate::answer::vendor_message(&answer),
        });
    }
    let list: Ips = answer
        .json()
        .ok_or_else(|| CallbackError::BadAnswer(answer.text(200)))?;
    let mut ips = Vec::with_capacity(list.ips.len());
    for entry in list.ips {
        match entry.trim().parse::<IpAddr>() {
            Ok(ip) => ips.push(ip),
            Err(_) => {
                tracing::warn!(%entry, "skipping a callback sender that is not an IP address")
            }
        }
    }
    Ok(ips)
}

/// Where accepted callbacks go: the daemon's view of which jobs exist.
pub trait CallbackSink: Send + Sync {
    /// Job `job_id` is done. Returns false for a job the daemon does not know and will
    /// not look for, which must change nothing. Called on the request path: keep it
    /// quick (look for a job that may appear soon in the background).
    fn job_done(&self, job_id: &str) -> bool;
}

#[derive(Clone)]
struct Receiver {
    allow: Arc<RwLock<Allowlist>>,
    sink: Arc<dyn CallbackSink>,
    secret: Option<Secret>,
}

/// A callback's job JSON is a few hundred bytes; anything much larger is not one.
pub const MAX_CALLBACK_BODY: usize = 64 * 1024;
/// The whole body must arrive within this once the headers have.
pub const CALLBACK_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The callback endpoint: a POST on any path (the public `callback_url` may sit behind
/// a proxy that rewrites it) with a job JSON from an allowed peer → `sink.job_done(id)`
/// → 200, or 404 for an unknown job; a peer outside the allowlist → 403 and a warning;
/// a body without a usable `id` → 400; any other method → 405.
pub fn callback_router(allow: Arc<RwLock<Allowlist>>, sink: Arc<dyn CallbackSink>) -> Router {
    callback_router_with_secret(allow, sink, None)
}

/// [`callback_router`] that also requires `secret` as one segment of the request's
/// path (`https://proxy.example/oxylabs/SECRET`): behind a reverse proxy every peer
/// address is the proxy's, so the allowlist alone lets anyone through; a request
/// without the secret gets 404, as if nothing listened there. The peer check and the
/// secret check come before any of the body is read, and the body is capped at
/// [`MAX_CALLBACK_BODY`] and must arrive within [`CALLBACK_BODY_TIMEOUT`].
pub fn callback_router_with_secret(
    allow: Arc<RwLock<Allowlist>>,
    sink: Arc<dyn CallbackSink>,
    secret: Option<Secret>,
) -> Router {
    Router::new().fallback(receive).with_state(Receiver {
        allow,
        sink,
        secret,
    })
}

async fn receive(
    State(receiver): State<Receiver>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    if request.method() != Method::POST {
        return reply(StatusCode::METHOD_NOT_ALLOWED, "use POST");
    }
    let ip = peer.ip().to_canonical();
    let allowed = receiver
        .allow
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .allows(ip);
    if !allowed {
        tracing::warn!(peer = %ip, "refused an Oxylabs callback from an address outside the allowlist");
        return reply(StatusCode::FORBIDDEN, "sender not allowed");
    }
    if let Some(secret) = &receiver.secret
        && !path_has_secret(request.uri().path(), secret)
    {
        tracing::warn!(peer = %ip, "refused an Oxylabs callback without the path secret");
        return reply(StatusCode::NOT_FOUND, "not found");
    }
    let body = request.into_body();
    let body = match tokio::time::timeout(
        CALLBACK_BODY_TIMEOUT,
        axum::body::to_bytes(body, MAX_CALLBACK_BODY),
    )
    .await
    {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => return reply(StatusCode::PAYLOAD_TOO_LARGE, "body too large or cut off"),
        Err(_) => return reply(StatusCode::REQUEST_TIMEOUT, "body too slow"),
    };
    let Some(job_id) = job_id_of(&body) else {
        return reply(
            StatusCode::BAD_REQUEST,
            "expected a job JSON with a string id",
        );
    };
    if receiver.sink.job_done(&job_id) {
        tracing::debug!(%job_id, "Oxylabs callback accepted");
        reply(StatusCode::OK, "ok")
    } else {
        tracing::info!(%job_id, "Oxylabs callback for an unknown job ignored");
        reply(StatusCode::NOT_FOUND, "unknown job")
    }
}

/// Whether one segment of `path` is `secret` (compared in constant time, so the
/// answer's timing says nothing about how much of a guess was right).
fn path_has_secret(path: &str, secret: &Secret) -> bool {
    let want = secret.expose().as_bytes();
    path.split('/').fold(false, |found, segment| {
        let got = segment.as_bytes();
        let same =
            got.len() == want.len() && got.iter().zip(want).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0;
        found | same
    })
}

/// The `id` of a callback's job JSON (a string of id characters, never a number).
fn job_id_of(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct CallbackJob {
        id: String,
    }
    let job: CallbackJob = serde_json::from_slice(body).ok()?;
    is_job_id(&job.id).then_some(job.id)
}

fn reply(status: StatusCode, word: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "status": word }))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowlist_takes_vendor_ips_and_extra_cidrs() {
        let ips = ["192.0.2.7".parse().unwrap()];
        let allow = Allowlist::new(&ips, &["10.0.0.0/8".into(), "2001:db8::1".into()]).unwrap();
        assert!(allow.allows("192.0.2.7".parse().unwrap()));
        assert!(allow.allows("::ffff:192.0.2.7".parse().unwrap()));
        assert!(allow.allows("10.200.1.1".parse().unwrap()));
        assert!(allow.allows("2001:db8::1".parse().unwrap()));
        assert!(!allow.allows("192.0.2.8".parse().unwrap()));
        assert!(!allow.allows("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn a_bad_extra_cidr_is_an_error_naming_it() {
        let err = Allowlist::new(&[], &["10.0.0.0/99".into()]).unwrap_err();
        assert!(err.to_string().contains("10.0.0.0/99"));
    }

    #[test]
    fn the_path_secret_must_be_a_whole_segment() {
        let secret = Secret::new("s3cr3t-path");
        assert!(path_has_secret("/oxylabs/s3cr3t-path", &secret));
        assert!(path_has_secret("/s3cr3t-path/cb", &secret));
        assert!(!path_has_secret("/oxylabs/s3cr3t", &secret));
        assert!(!path_has_secret("/oxylabs/s3cr3t-path-x", &secret));
        assert!(!path_has_secret("/", &secret));
    }

    #[test]
    fn a_callback_id_must_be_a_string() {
        assert_eq!(
            job_id_of(br#"{"id":"7173957294344910849","status":"done"}"#).as_deref(),
            Some("7173957294344910849")
        );
        assert_eq!(job_id_of(br#"{"id":7173957294344910849}"#), None);
        assert_eq!(job_id_of(br#"{"id":"../x"}"#), None);
        assert_eq!(job_id_of(b"not json"), None);
    }
}
