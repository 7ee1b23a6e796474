//! Slow and idle clients (shared/API.md, "Slow clients"): request headers must be
//! complete within `HEADER_READ_TIMEOUT_SECONDS`, an idle keep-alive connection closes
//! after `IDLE_TIMEOUT_SECONDS`, a body must be complete within
//! `BODY_READ_TIMEOUT_SECONDS`, connections beyond `MAX_CONNECTIONS` are closed at once,
//! and a body that cannot be used (unknown route, bearer operation without
//! `Authorization`) is not read before the answer.
//!
//! Raw TCP throughout: no HTTP client sends partial headers or a trickled body, or
//! shows when the server closes a connection. Each test shortens only the timeout it
//! checks (1 s); the others keep their defaults (30 s, 60 s), longer than [`BOUND`], so
//! a close within the bound is the timeout under test. Connection handling does not
//! depend on the database: SQLite only.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

/// How long a test waits for a close that a 1 s timeout should cause: reaching it
/// means the server kept the connection open.
const BOUND: Duration = Duration::from_secs(10);

const LIVE: &[u8] = b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connect")
}

/// Reads until the server closes `stream` (EOF or reset) and returns what it sent
/// before; `None` if it is still open after [`BOUND`].
async fn wait_closed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(BOUND, read).await.ok()?;
    Some(seen)
}

/// Sends `request` on `stream` and reads one response: its status, head (lower-case)
/// and body.
async fn exchange(stream: &mut TcpStream, request: &[u8]) -> (u16, String, String) {
    stream.write_all(request).await.expect("send the request");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = async {
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]);
                    return (head, body.into_owned());
                }
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => {
                    panic!("closed mid-response: {:?}", String::from_utf8_lossy(&buf))
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let (head, body) = tokio::time::timeout(BOUND, read)
        .await
        .expect("a response within the bound");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok());
    (status.expect("a status line"), head, body)
}

/// `http_connections_closed_total{reason}` of `app`.
async fn closed_total(app: &TestApp, reason: &str) -> u64 {
    // Raw: `/metrics` is not an operation of the spec.
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("metrics text");
    closed_in(&text, reason)
}

/// `http_connections_closed_total{reason}` in a `/metrics` text.
fn closed_in(text: &str, reason: &str) -> u64 {
    let series = format!("http_connections_closed_total{{reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series))
        .map_or(0, |v| v.trim().parse().expect("a counter value"))
}

#[tokio::test]
async fn partial_request_headers_are_closed_after_the_header_timeout() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("HEADER_READ_TIMEOUT_SECONDS", "1")]).await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .expect("send part of the headers");
    let answered = wait_closed(&mut stream).await;
    assert!(
        answered.is_some(),
        "a connection with headers incomplete after HEADER_READ_TIMEOUT_SECONDS=1 is still open after {BOUND:?}"
    );
    assert_eq!(closed_total(&app, "header_timeout").await, 1);
}

/// Slowloris: one header byte every 100 ms keeps the connection busy, never complete.
#[tokio::test]
async fn trickled_request_headers_are_closed_after_the_header_timeout() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("HEADER_READ_TIMEOUT_SECONDS", "1")]).await;
    let stream = connect(&app).await;
    let (mut rd, mut wr) = stream.into_split();
    let trickle = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        wr.write_all(b"GET /health/live HTTP/1.1\r\n").await.ok()?;
        for byte in b"X-Padding: ".iter().cycle() {
            tick.tick().await;
            wr.write_all(&[*byte]).await.ok()?;
        }
        Some(())
    });
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(BOUND, async {
        while let Ok(n) = rd.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    trickle.abort();
    assert!(
        closed.is_ok(),
        "headers trickled for longer than HEADER_READ_TIMEOUT_SECONDS=1: still open after {BOUND:?}"
    );
    assert_eq!(closed_total(&app, "header_timeout").await, 1);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("IDLE_TIMEOUT_SECONDS", "1")]).await;
    let mut stream = connect(&app).await;
    // Two requests: the connection is kept alive between them.
    for _ in 0..2 {
        let (status, head, _) = exchange(&mut stream, LIVE).await;
        assert_eq!(status, 200, "{head}");
        assert!(!head.contains("connection: close"), "{head}");
    }
    let after = wait_closed(&mut stream).await;
    assert_eq!(
        after.as_deref(),
        Some(&b""[..]),
        "an idle keep-alive connection is closed, without a response, after IDLE_TIMEOUT_SECONDS=1"
    );
    assert_eq!(closed_total(&app, "idle_timeout").await, 1);
}

#[tokio::test]
async fn a_body_not_complete_within_the_body_timeout_gets_its_connection_closed() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("BODY_READ_TIMEOUT_SECONDS", "1")]).await;
    // Declared length (read by the operation), then chunked (read before routing).
    let heads = [
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: 64\r\n\r\n{\"email\":",
        "POST /api/v1/auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\n\r\n9\r\n{\"email\":\r\n",
    ];
    for (i, head) in heads.into_iter().enumerate() {
        let mut stream = connect(&app).await;
        stream.write_all(head.as_bytes()).await.expect("send");
        let answered = wait_closed(&mut stream).await;
        assert!(
            answered.is_some(),
            "{head:?}: a body incomplete after BODY_READ_TIMEOUT_SECONDS=1 keeps the connection \
             open for {BOUND:?}"
        );
        assert_eq!(closed_total(&app, "body_timeout").await, i as u64 + 1);
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
}

#[tokio::test]
async fn connections_beyond_the_cap_are_refused_while_open_ones_keep_working() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("MAX_CONNECTIONS", "3")]).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut stream = connect(&app).await;
        // Served, so accepted (and counted) before the next one connects.
        assert_eq!(exchange(&mut stream, LIVE).await.0, 200);
        open.push(stream);
    }
    let mut extra = connect(&app).await;
    let _ = extra.write_all(LIVE).await;
    let answer = wait_closed(&mut extra).await;
    assert_eq!(
        answer.as_deref(),
        Some(&b""[..]),
        "the connection beyond MAX_CONNECTIONS=3 is closed without an answer"
    );
    // Scraped on an open connection: a new one would be refused.
    let metrics = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    let (_, _, text) = exchange(&mut open[0], metrics).await;
    assert_eq!(closed_in(&text, "over_limit"), 1, "{text}");
    for stream in &mut open {
        assert_eq!(
            exchange(stream, LIVE).await.0,
            200,
            "open connections keep working"
        );
    }
    // Closing one frees its place (once the server has seen the close).
    drop(open.pop());
    let served = tokio::time::timeout(BOUND, async {
        loop {
            let mut stream = connect(&app).await;
            if stream.write_all(LIVE).await.is_ok() {
                let mut buf = [0u8; 12];
                if stream.read_exact(&mut buf).await.is_ok() {
                    return buf;
                }
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("a new connection is served once one has closed");
    assert_eq!(&served, b"HTTP/1.1 200");
}

/// The server answers before the body is complete: it did not wait to buffer it. A
/// body of unknown length is announced with `Connection: close` (shared/API.md).
#[tokio::test]
async fn bodies_that_cannot_be_used_are_not_read_before_the_answer() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let chunked = "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    let cases = [
        (
            format!("POST /api/v1/nowhere HTTP/1.1\r\nHost: x\r\n{chunked}"),
            404,
            "RESOURCE_003",
        ),
        (
            format!("POST /api/v1/todos HTTP/1.1\r\nHost: x\r\n{chunked}"),
            401,
            "AUTH_005",
        ),
    ];
    for (head, status, code) in cases {
        let resp = raw_exchange(app.port, &head, b"5\r\n{\"a\":\r\n", Duration::from_secs(5)).await;
        assert_raw_error(&resp, status, code);
        assert_eq!(
            resp.headers.get("connection").map(String::as_str),
            Some("close"),
            "{head:?}: a body of unknown length, not read: the connection is not reused: {resp:?}"
        );
    }
}

/// A declared body that cannot be used: answered before it is complete, then read into
/// nothing, and the connection serves the next request.
#[tokio::test]
async fn a_declared_body_that_cannot_be_used_leaves_the_connection_usable() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for head in [
        "PUT /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n",
        "POST /api/v1/todos HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: 10\r\n\r\n",
    ] {
        let mut stream = connect(&app).await;
        let first = [head.as_bytes(), b"{\"a\":"].concat();
        let (status, reply, _) = exchange(&mut stream, &first).await;
        assert!([404, 401].contains(&status), "{head:?}: {reply}");
        assert!(!reply.contains("connection: close"), "{head:?}: {reply}");
        stream
            .write_all(b"1234}")
            .await
            .expect("the rest of the body");
        let (status, reply, _) = exchange(&mut stream, LIVE).await;
        assert_eq!(status, 200, "{head:?}, then GET /health/live: {reply}");
    }
}
