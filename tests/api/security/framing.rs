//! Malformed requests.
//!
//! What hyper's HTTP/1 parser refuses never reaches the service: hyper answers by
//! itself, with a bare status, no body, no `X-Request-ID`, `connection: close`, and
//! closes (hyper 1.x has no hook for these answers). These tests pin that behaviour,
//! so that a change of it (a hyper upgrade, another server loop) is noticed; the README's
//! Security section lists the cases. What does reach the service is in the error format:
//! a broken chunked body, invalid UTF-8 in a path parameter.

use super::raw::RawConn;
use crate::helpers::*;
use crate::sdk_helpers::*;

const HOST: &str = "Host: 127.0.0.1\r\n";

/// Requests hyper refuses, and its status.
fn refused_by_the_parser() -> Vec<(&'static str, Vec<u8>, u16)> {
    let post = |headers: &str, body: &str| {
        format!("POST /api/v1/auth/login HTTP/1.1\r\n{HOST}Content-Type: application/json\r\n{headers}\r\n{body}")
            .into_bytes()
    };
    let many: String = (0..101).map(|i| format!("X-H{i}: 1\r\n")).collect();
    vec![
        ("conflicting Content-Length", post("Content-Length: 2\r\nContent-Length: 3\r\n", "{}"), 400),
        ("unparsable Content-Length", post("Content-Length: 2x\r\n", "{}"), 400),
        ("Content-Length beyond u64", post("Content-Length: 99999999999999999999999\r\n", ""), 400),
        ("Transfer-Encoding not ending in chunked", post("Transfer-Encoding: gzip\r\n", "{}"), 400),
        ("Transfer-Encoding: chunked, gzip", post("Transfer-Encoding: chunked, gzip\r\n", "{}"), 400),
        (
            "Transfer-Encoding in HTTP/1.0",
            format!("POST /api/v1/auth/login HTTP/1.0\r\n{HOST}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n").into_bytes(),
            400,
        ),
        ("invalid method token", format!("GE(T /health/live HTTP/1.1\r\n{HOST}\r\n").into_bytes(), 400),
        ("unknown HTTP version", format!("GET /health/live HTTP/1.7\r\n{HOST}\r\n").into_bytes(), 400),
        ("raw non-ASCII byte in the URI", b"GET /health/live?q=\xff HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_vec(), 400),
        ("space in a header name", format!("GET /health/live HTTP/1.1\r\n{HOST}X Bad: 1\r\n\r\n").into_bytes(), 400),
        ("control byte in a header value", format!("GET /health/live HTTP/1.1\r\n{HOST}X-A: \u{1}\r\n\r\n").into_bytes(), 400),
        ("obsolete line folding", format!("GET /health/live HTTP/1.1\r\n{HOST}X-A: a\r\n b\r\n\r\n").into_bytes(), 400),
        ("header section of 408 KiB", oversized_head(), 431),
        ("more than 100 headers", format!("GET /health/live HTTP/1.1\r\n{HOST}{many}\r\n").into_bytes(), 431),
        (
            "URI over 65,534 bytes",
            format!("GET /health/live?{} HTTP/1.1\r\n{HOST}\r\n", "a".repeat(70_000)).into_bytes(),
            414,
        ),
    ]
}

/// hyper's read buffer limit (`8192 + 4096 * 100` bytes), which bounds the header section.
const MAX_HEAD: usize = 8192 + 4096 * 100;

/// An unfinished header section of exactly [`MAX_HEAD`] bytes: hyper reads all of it
/// before it refuses, so no unread byte turns its close into a reset that could
/// destroy the answer before the test reads it.
fn oversized_head() -> Vec<u8> {
    let mut head = format!("GET /health/live HTTP/1.1\r\n{HOST}X-Big: ").into_bytes();
    head.resize(MAX_HEAD, b'a');
    head
}

both_backends! {
    /// Pinned: hyper's own answers, outside the error format.
    async fn the_http_parser_refuses_malformed_requests_by_itself(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for (what, request, status) in refused_by_the_parser() {
            let mut conn = RawConn::open(app.port).await;
            let reply = conn.exchange(request).await.unwrap_or_else(|| panic!("{what}: no answer"));
            assert_eq!(reply.status, status, "{what}: {reply:?}");
            assert!(reply.body.is_empty(), "{what}: {reply:?}");
            assert_eq!(reply.header("content-length"), Some("0"), "{what}: {reply:?}");
            assert_eq!(reply.header("x-request-id"), None, "{what}: {reply:?}");
            assert!(reply.closes(), "{what}: {reply:?}");
            assert!(conn.ends().await, "{what}: the connection is closed");
        }
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
    }

    /// A chunked body that breaks its framing is unreadable, not too large: 422
    /// VALIDATION_004 on `body`, in the format, and the connection closes (its framing
    /// is lost).
    async fn a_broken_chunked_body_is_in_the_error_format(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let bodies: [&[u8]; 3] = [b"zz\r\n{}\r\n0\r\n\r\n", b"2\r\n{}XX0\r\n\r\n", b"2\r\n{}\r\n-1\r\n\r\n"];
        for body in bodies {
            let mut request = format!(
                "POST /api/v1/auth/register HTTP/1.1\r\n{HOST}Content-Type: application/json\r\n\
                 Transfer-Encoding: chunked\r\nX-Request-ID: broken-chunks\r\n\r\n"
            )
            .into_bytes();
            request.extend_from_slice(body);
            let mut conn = RawConn::open(app.port).await;
            let reply = conn.exchange(request).await.expect("an answer");
            let what = String::from_utf8_lossy(body);
            assert_eq!(reply.status, 422, "{what}: {reply:?}");
            let json = reply.json();
            assert_eq!(json["error_code"], "VALIDATION_004", "{what}: {json}");
            assert_eq!(json["details"]["field"], "body", "{what}: {json}");
            assert_eq!(json["request_id"], "broken-chunks", "{what}: {json}");
            assert_eq!(reply.header("x-request-id"), Some("broken-chunks"));
            assert!(reply.closes(), "{what}: {reply:?}");
            assert!(conn.ends().await, "{what}: the connection is closed");
        }
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
    }

    /// A path parameter that is not UTF-8 once percent-decoded names the parameter.
    async fn invalid_utf8_in_a_path_parameter_names_it(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (_, tokens) = sdk_user(&app).await;
        let cases = [
            (reqwest::Method::GET, "/api/v1/todos/%FF"),
            (reqwest::Method::PATCH, "/api/v1/todos/%C3%28/complete"),
            (reqwest::Method::DELETE, "/api/v1/tags/a%E2%82"),
        ];
        for (method, path) in cases {
            let resp = app.client.request(method, app.url(path)).bearer_auth(&tokens.access_token).send().await.unwrap();
            assert_field_error(resp, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_009", "id").await;
        }
        // No route has such a literal segment: still 404.
        let resp = app.client.get(app.url("/api/v1/%FF")).send().await.unwrap();
        assert_error(resp, reqwest::StatusCode::NOT_FOUND, "RESOURCE_003").await;
    }
}
