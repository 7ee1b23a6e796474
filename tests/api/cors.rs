//! CORS: allowed origins get headers (and preflights a 204); others get none.
//!
//! Raw throughout: CORS is about `Origin` and preflight headers and the `OPTIONS`
//! method, which the SDK does not send.

use reqwest::{Method, StatusCode};

use crate::helpers::*;

both_backends! {
    async fn cors_for_configured_origins(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("CORS_ORIGINS", "https://app.example, https://other.example")]).await;
        let pre = app.client.request(Method::OPTIONS, app.url("/api/v1/todos"))
            .header("Origin", "https://app.example")
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "authorization, content-type")
            .send().await.unwrap();
        assert_eq!(pre.status(), StatusCode::NO_CONTENT);
        assert_eq!(pre.headers()["access-control-allow-origin"], "https://app.example");
        let methods = pre.headers()["access-control-allow-methods"].to_str().unwrap();
        assert!(methods.contains("PATCH") && methods.contains("DELETE"), "{methods}");
        assert!(pre.headers()["access-control-allow-headers"].to_str().unwrap().contains("if-match"));

        let get = app.client.get(app.url("/health/live")).header("Origin", "https://other.example").send().await.unwrap();
        assert_eq!(get.status(), StatusCode::OK);
        assert_eq!(get.headers()["access-control-allow-origin"], "https://other.example");
        assert!(get.headers()["access-control-expose-headers"].to_str().unwrap().contains("etag"));

        let denied = app.client.get(app.url("/health/live")).header("Origin", "https://evil.example").send().await.unwrap();
        assert_eq!(denied.status(), StatusCode::OK, "served, but without CORS headers");
        assert!(denied.headers().get("access-control-allow-origin").is_none());
        let denied_pre = app.client.request(Method::OPTIONS, app.url("/api/v1/todos"))
            .header("Origin", "https://evil.example")
            .header("Access-Control-Request-Method", "POST")
            .send().await.unwrap();
        assert_error(denied_pre, StatusCode::METHOD_NOT_ALLOWED, "REQUEST_003").await;
    }

    /// Browser tracing SDKs send the whole W3C trace context (`traceparent`,
    /// `tracestate`, `baggage`); `CORS_ALLOW_HEADERS` adds more.
    async fn cors_allows_the_trace_context_and_configured_headers(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[
            ("CORS_ORIGINS", "https://app.example"),
            ("CORS_ALLOW_HEADERS", "x-tenant, X-Client-Version"),
        ]).await;
        let pre = app.client.request(Method::OPTIONS, app.url("/api/v1/todos"))
            .header("Origin", "https://app.example")
            .header("Access-Control-Request-Method", "GET")
            .send().await.unwrap();
        assert_eq!(pre.status(), StatusCode::NO_CONTENT);
        let allowed: Vec<String> = pre.headers()["access-control-allow-headers"]
            .to_str().unwrap().split(',').map(|h| h.trim().to_owned()).collect();
        for h in ["traceparent", "tracestate", "baggage", "authorization", "x-tenant", "x-client-version"] {
            assert!(allowed.iter().any(|a| a == h), "{h} missing from {allowed:?}");
        }
    }
}
