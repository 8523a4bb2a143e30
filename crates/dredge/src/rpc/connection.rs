//! One client connection: check the peer, then answer its lines in order.

use std::sync::Arc;

use serde_json::Value;
use tokio::io::{AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use super::dispatch;
use super::lines::{Line, LineReader};
use super::peer::Policy;
use crate::protocol::{Api, MAX_LINE_BYTES, code};

/// Chunk size for reading requests; lines longer than this span several reads.
const READ_CHUNK: usize = 64 * 1024;

pub async fn handle(stream: UnixStream, api: Arc<dyn Api>, policy: Arc<Policy>) {
    let refusal = policy.admit(&stream).err();
    let (read, mut write) = stream.into_split();
    if let Some(message) = refusal {
        tracing::warn!("{message}");
        let answer = dispatch::error(Value::Null, code::PERMISSION_DENIED, message);
        // The peer is being turned away; whether it reads the reason is its business.
        let _ = write_line(&mut write, &answer).await;
        return;
    }
    let mut lines = LineReader::new(BufReader::with_capacity(READ_CHUNK, read), MAX_LINE_BYTES);
    loop {
        let line = match lines.next_line().await {
            Ok(Some(line)) => line,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!("status socket read failed: {e}");
                return;
            }
        };
        let answer = match line {
            Line::TooLong => Some(dispatch::too_long()),
            Line::Text(text) => dispatch::answer(&api, &text).await,
        };
        if let Some(answer) = answer
            && let Err(e) = write_line(&mut write, &answer).await
        {
            tracing::debug!("status socket write failed: {e}");
            return;
        }
    }
}

async fn write_line<W: AsyncWrite + Unpin>(write: &mut W, value: &Value) -> std::io::Result<()> {
    let mut bytes = value.to_string().into_bytes();
    bytes.push(b'\n');
    write.write_all(&bytes).await?;
    write.flush().await
}
