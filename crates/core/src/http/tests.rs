//! Vendor answers that would exhaust memory: refused as a counted retry, read no
//! further than the cap.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

const GIB: u64 = 1 << 30;

/// Serves one answer of `GIB` zero bytes, streamed (never held in memory), with or
/// without a `Content-Length`; returns the address and how many body bytes the peer
/// took before it hung up.
async fn one_gib_server(with_length: bool) -> (String, tokio::task::JoinHandle<u64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = vec![0u8; 4096];
        let _ = stream.read(&mut request).await;
        let length = if with_length {
            format!("Content-Length: {GIB}\r\n")
        } else {
            String::new()
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{length}Connection: close\r\n\r\n"
        );
        if stream.write_all(head.as_bytes()).await.is_err() {
            return 0;
        }
        let chunk = vec![b' '; 64 * 1024];
        let mut sent = 0u64;
        while sent < GIB {
            if stream.write_all(&chunk).await.is_err() {
                break;
            }
            sent += chunk.len() as u64;
        }
        sent
    });
    (addr, task)
}

async fn fetch(base: &str) -> Result<Answer, Failure> {
    let client = VendorClient::with_gate(base, Duration::from_secs(60), RateGate::unlimited())
        .unwrap()
        .max_body(DEFAULT_MAX_RESPONSE_BYTES);
    client.send(client.http().get(client.url("/huge"))).await
}

#[tokio::test]
async fn a_one_gib_streamed_answer_is_refused_after_the_cap_as_a_counted_retry() {
    let (base, server) = one_gib_server(false).await;
    let failure = fetch(&base).await.expect_err("refused");
    assert_eq!(failure.class, FailureClass::Server, "{failure:?}");
    assert!(
        failure.message.contains("larger than 67108864 bytes"),
        "{failure:?}"
    );
    let sent = tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .expect("the server sees the hang-up")
        .unwrap();
    // Kernel socket buffers hold a few MiB more than what was read.
    assert!(
        sent < DEFAULT_MAX_RESPONSE_BYTES + (32 << 20),
        "read far past the cap: {sent} bytes"
    );
}

#[tokio::test]
async fn an_answer_announced_larger_than_the_cap_is_refused_unread() {
    let (base, server) = one_gib_server(true).await;
    let failure = fetch(&base).await.expect_err("refused");
    assert!(failure.message.contains("larger than"), "{failure:?}");
    let sent = tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .expect("the server sees the hang-up")
        .unwrap();
    assert!(sent < 32 << 20, "the body was read: {sent} bytes");
}

#[tokio::test]
async fn an_answer_under_the_cap_is_read_whole() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = vec![0u8; 4096];
        let _ = stream.read(&mut request).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            .await;
    });
    let answer = fetch(&base).await.expect("read");
    assert_eq!(&answer.body[..], b"{}");
}

#[test]
fn a_problem_is_worded_status_kind_title_and_detail_or_else_the_body() {
    let answer = crate::testing::answer(451, "<html>refused</html>");
    let m = |kind, title, detail| answer.problem_message(kind, title, detail);
    assert_eq!(
        m(Some("/download/x"), Some("Title"), Some("detail")),
        "HTTP 451 /download/x: Title (detail)"
    );
    assert_eq!(m(None, Some("Title"), None), "HTTP 451: Title");
    assert_eq!(m(Some("k"), None, Some("detail")), "HTTP 451 k: detail");
    assert_eq!(m(Some("k"), None, None), "HTTP 451 k");
    assert_eq!(m(None, None, None), "HTTP 451: <html>refused</html>");
}
