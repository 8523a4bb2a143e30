//! One client connection: check the peer, then answer its lines in order — one request
//! in flight per connection (the next line is read only once the answer is written).
//! A line must arrive within `line_timeout` of the connection or of the last answer,
//! and an answer must be taken by the peer within the same time, or the connection is
//! closed: a peer that stops mid-line or stops reading holds nothing for long.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use super::dispatch;
use super::lines::{Line, LineReader};
use super::peer::Policy;
use super::slots::SlotGuard;
use crate::protocol::{Api, MAX_LINE_BYTES, code};

/// Chunk size for reading requests; lines longer than this span several reads.
const READ_CHUNK: usize = 64 * 1024;

pub(super) async fn handle(
    stream: UnixStream,
    api: Arc<dyn Api>,
    policy: Arc<Policy>,
    slot: SlotGuard,
    line_timeout: Duration,
) {
    let admitted = policy.admit(&stream);
    let (read, mut write) = stream.into_split();
    let access = match admitted {
        Ok(access) => access,
        Err(message) => {
            tracing::warn!("{message}");
            let answer = dispatch::error(Value::Null, code::PERMISSION_DENIED, message);
            // The peer is being turned away; whether it reads the reason is its business.
            let _ = tokio::time::timeout(line_timeout, write_line(&mut write, &answer)).await;
            return;
        }
    };
    let mut lines = LineReader::new(BufReader::with_capacity(READ_CHUNK, read), MAX_LINE_BYTES);
    loop {
        slot.idle();
        let next = tokio::select! {
            next = tokio::time::timeout(line_timeout, lines.next_line()) => next,
            () = slot.close.cancelled() => {
                tracing::debug!("status socket: closed an idle connection to make room");
                return;
            }
        };
        let line = match next {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) => return,
            Ok(Err(e)) => {
                tracing::debug!("status socket read failed: {e}");
                return;
            }
            Err(_) => {
                tracing::debug!(
                    "status socket: no complete request line within {line_timeout:?}; closed"
                );
                return;
            }
        };
        slot.busy();
        let answer = match line {
            Line::TooLong => Some(dispatch::too_long()),
            Line::Text(text) => dispatch::answer(&api, &text, access).await,
        };
        if let Some(answer) = answer {
            match tokio::time::timeout(line_timeout, write_line(&mut write, &answer)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::debug!("status socket write failed: {e}");
                    return;
                }
                Err(_) => {
                    tracing::debug!("status socket: the peer does not read its answers; closed");
                    return;
                }
            }
        }
    }
}

/// Turn a connection away when every slot is busy answering.
pub(super) async fn refuse(stream: UnixStream, line_timeout: Duration) {
    let (_, mut write) = stream.into_split();
    let answer = dispatch::error(
        Value::Null,
        code::BUSY,
        "the daemon is answering as many connections as it allows; try again".into(),
    );
    let _ = tokio::time::timeout(line_timeout, write_line(&mut write, &answer)).await;
}

async fn write_line<W: AsyncWrite + Unpin>(write: &mut W, value: &Value) -> std::io::Result<()> {
    let mut bytes = value.to_string().into_bytes();
    bytes.push(b'\n');
    write.write_all(&bytes).await?;
    write.flush().await
}
