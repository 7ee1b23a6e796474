//! Keep-alive after early answers: a response sent before the request body was read
//! (a 401 on a POST with a body, a 404 with a body, GET /metrics or /health with a
//! body) must leave the connection usable or say `Connection: close`; a keep-alive
//! client must never lose its next request to a connection closed in silence.
//!
//! The service reads every body within the limit (1 MiB) before it answers, so these
//! connections stay usable; a body over the limit is refused unread, with
//! `Connection: close`.

use reqwest::StatusCode;

use super::raw::{get, request, RawConn};
use crate::helpers::*;

/// Too big to be in the server's buffer when it answers without reading the body.
const BODY: usize = 256 * 1024;

/// Requests answered without reading their body, and their status.
const EARLY: &[(&str, &str, u16)] = &[
    ("POST", "/api/v1/auth/logout", 401),
    ("POST", "/api/v1/todos", 401),
    ("POST", "/api/v1/nope", 404),
    ("PUT", "/api/v1/auth/login", 405),
    ("GET", "/metrics", 200),
    ("GET", "/health", 200),
    ("GET", "/health/live", 200),
];

both_backends! {
    /// Raw: the same connection carries an early-answered request, then a normal one,
    /// three times over.
    async fn early_answers_leave_the_connection_usable(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for (method, path, status) in EARLY {
            let mut conn = RawConn::open(app.port).await;
            for round in 0..3 {
                let what = format!("{method} {path} with a {BODY}-byte body, round {round}");
                let reply = conn
                    .exchange(request(method, path, BODY))
                    .await
                    .unwrap_or_else(|| panic!("{what}: no response"));
                assert_eq!(reply.status, *status, "{what}: {reply:?}");
                assert!(!reply.closes(), "{what}: a body within the limit is read: {reply:?}");
                let next = conn.exchange(get("/health/live")).await.unwrap_or_else(|| {
                    panic!("{what}: the connection was closed without `Connection: close`")
                });
                assert_eq!(next.status, 200, "{what}, then GET /health/live: {next:?}");
            }
        }
    }

    /// Raw: a body over the limit is refused unread, and the answer says the
    /// connection closes; it then does.
    async fn oversized_bodies_close_the_connection_announced(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let mut conn = RawConn::open(app.port).await;
        let mut head = request("POST", "/api/v1/auth/register", 0);
        let declared = b"Content-Length: 0";
        let at = head.windows(declared.len()).position(|w| w == declared).unwrap();
        head.splice(at..at + declared.len(), b"Content-Length: 4194304".iter().copied());
        let reply = conn.exchange(head).await.expect("a 413");
        assert_eq!(reply.status, 413, "{reply:?}");
        assert!(reply.closes(), "413 says Connection: close: {reply:?}");
        assert!(conn.ends().await, "the connection closes after the 413");
    }

    /// A pooled reqwest client (one idle connection) alternates early-answered requests
    /// with normal ones; none of them fails.
    async fn a_pooled_client_never_loses_a_request(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(1)
            .build()
            .unwrap();
        for i in 0..20 {
            let resp = client
                .post(app.url("/api/v1/auth/logout"))
                .header("content-type", "application/json")
                .body(vec![b' '; 64 * 1024])
                .send()
                .await
                .unwrap_or_else(|e| panic!("request {i}: {e:?}"));
            assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_005").await;
            let resp = client
                .get(app.url("/health/live"))
                .send()
                .await
                .unwrap_or_else(|e| panic!("request {i}, after an early answer: {e:?}"));
            assert_eq!(resp.status(), StatusCode::OK);
        }
    }
}
