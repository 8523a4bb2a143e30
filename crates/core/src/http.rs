//! The HTTP plumbing every vendor crate shares: one client per account with its rate
//! gate, transport failures mapped onto outcomes, `Retry-After` parsing, and bodies
//! read safely (a non-JSON, empty or huge body never panics): every body is capped
//! (`max_response_bytes`, 64 MiB by default) and must keep arriving (no 60 s without
//! data); an oversized or stalled answer is a counted retry, never an out-of-memory.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::account::Limits;
use crate::gate::RateGate;
use crate::outcome::{Failure, FailureClass, Outcome};

/// The body cap when the account sets none: far above any answer these APIs send
/// (an AutoExtract batch of 100 articles is a few MiB), far below the memory it takes
/// to hurt the daemon.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 64 << 20;

/// A body that sends nothing for this long is abandoned (the request's own timeout
/// bounds the whole exchange; this catches a trickle that stops).
const BODY_STALL: Duration = Duration::from_secs(60);

/// An account's HTTP client: connection pool, timeout, rate gate and body cap.
#[derive(Debug, Clone)]
pub struct VendorClient {
    http: reqwest::Client,
    gate: RateGate,
    base_url: String,
    max_body: u64,
}

/// A complete answer: status, headers and the whole body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl VendorClient {
    /// A client for an account at `base_url`, honouring its timeout, quota,
    /// concurrency and body cap.
    pub fn new(base_url: &str, limits: &Limits) -> Result<Self, reqwest::Error> {
        let gate = RateGate::new(limits.requests_per_second, limits.max_concurrency);
        Ok(Self::with_gate(base_url, limits.timeout, gate)?.max_body(limits.max_response_bytes))
    }

    /// The same client with another body cap (bytes).
    pub fn max_body(mut self, bytes: u64) -> Self {
        self.max_body = bytes;
        self
    }

    pub fn with_gate(
        base_url: &str,
        timeout: Duration,
        gate: RateGate,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10).min(timeout))
            .user_agent(concat!("dredge/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(VendorClient {
            http,
            gate,
            base_url: base_url.trim_end_matches('/').to_string(),
            max_body: DEFAULT_MAX_RESPONSE_BYTES,
        })
    }

    /// `base_url` + `path` (path starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// The raw client, for building requests.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Send a request through the account's gate and read the whole answer. Transport
    /// failures come back as a counted-retry `Failure`, never with credentials in the text.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<Answer, Failure> {
        let _permit = self.gate.acquire().await;
        let response = request.send().await.map_err(transport_failure)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = read_body(response, self.max_body).await?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

/// The whole body, refused as soon as it is known to pass `max` bytes (by its
/// `Content-Length`, or while it streams in), or when it stalls.
async fn read_body(mut response: reqwest::Response, max: u64) -> Result<bytes::Bytes, Failure> {
    if let Some(len) = response.content_length()
        && len > max
    {
        return Err(too_large(max));
    }
    let mut body = bytes::BytesMut::new();
    loop {
        let chunk = tokio::time::timeout(BODY_STALL, response.chunk())
            .await
            .map_err(|_| Failure {
                class: FailureClass::Timeout,
                message: format!("the answer stalled: no data for {}s", BODY_STALL.as_secs()),
                retry_after: None,
                budget: None,
            })?
            .map_err(transport_failure)?;
        let Some(chunk) = chunk else {
            return Ok(body.freeze());
        };
        if (body.len() + chunk.len()) as u64 > max {
            return Err(too_large(max));
        }
        body.extend_from_slice(&chunk);
    }
}

fn too_large(max: u64) -> Failure {
    Failure {
        class: FailureClass::Server,
        message: format!(
            "the answer is larger than {max} bytes (max_response_bytes of the account): refused unread"
        ),
        retry_after: None,
        budget: None,
    }
}

impl Answer {
    /// `Retry-After` in seconds (delta form; HTTP dates are rare from these vendors
    /// and treated as absent).
    pub fn retry_after(&self) -> Option<Duration> {
        let v = self.headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
        let secs: f64 = v.parse().ok()?;
        (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
    }

    /// The body as text, lossily decoded, trimmed and cut to `max` characters (for
    /// error messages: the vendor's words, never a megabyte of HTML).
    pub fn text(&self, max: usize) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let trimmed = text.trim();
        match trimmed.char_indices().nth(max) {
            Some((i, _)) => format!("{}…", &trimmed[..i]),
            None => trimmed.to_string(),
        }
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_slice(&self.body).ok()
    }

    /// An RFC 7807 problem answer in words: "HTTP 451 KIND: TITLE (DETAIL)" (either of
    /// title and detail alone; the kind, the problem's `type` or name, left out when
    /// absent). Without kind, title and detail: the body's first 200 characters.
    pub fn problem_message(
        &self,
        kind: Option<&str>,
        title: Option<&str>,
        detail: Option<&str>,
    ) -> String {
        let mut message = format!("HTTP {}", self.status);
        if let Some(kind) = kind {
            message.push(' ');
            message.push_str(kind);
        }
        let words = match (title, detail) {
            (Some(t), Some(d)) => format!("{t} ({d})"),
            (Some(t), None) => t.to_string(),
            (None, Some(d)) => d.to_string(),
            (None, None) if kind.is_none() => self.text(200),
            (None, None) => String::new(),
        };
        if !words.is_empty() {
            message.push_str(": ");
            message.push_str(&words);
        }
        message
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The generic meaning of an HTTP status that a vendor crate has no special rule for:
/// 5xx → counted retry (honouring `Retry-After`), 429 → account snooze when a delay is
/// given else counted retry, other 4xx → dead with the body. `None` for 2xx.
pub fn classify_status(answer: &Answer) -> Option<Outcome> {
    let status = answer.status;
    let message = format!("HTTP {status}: {}", answer.text(300));
    match status {
        200..=299 => None,
        429 => Some(match answer.retry_after() {
            Some(delay) => Outcome::Snooze(crate::outcome::Snooze {
                delay,
                scope: crate::outcome::SnoozeScope::Account,
                reason: message,
            }),
            None => Outcome::retry(FailureClass::Throttled, message),
        }),
        500..=599 => Some(Outcome::Retry(Failure {
            class: FailureClass::Server,
            message,
            retry_after: answer.retry_after(),
            budget: None,
        })),
        _ => Some(Outcome::fatal(message)),
    }
}

fn transport_failure(e: reqwest::Error) -> Failure {
    let class = if e.is_timeout() {
        FailureClass::Timeout
    } else {
        FailureClass::Network
    };
    // reqwest's Display may include the URL; ours never carry credentials (auth goes
    // in headers), but strip the URL anyway to keep messages short and safe.
    let message = e.without_url().to_string();
    Failure {
        class,
        message,
        retry_after: None,
        budget: None,
    }
}

#[cfg(test)]
mod tests;
