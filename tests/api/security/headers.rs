//! Response headers of the security rules, and plain HTTP behind a trusted proxy.
//!
//! - every response: `X-Content-Type-Options: nosniff`;
//! - every `/api/v1/auth/*` response: `Cache-Control: no-store` (RFC 6749 §5.1);
//! - `/docs`, `/redoc`: `Content-Security-Policy: frame-ancestors 'none'` and
//!   `X-Frame-Options: DENY`;
//! - production: `Strict-Transport-Security: max-age=31536000` on every response;
//! - production, a trusted proxy saying `X-Forwarded-Proto: http`: 308 to the same URL
//!   on https, except `/health`, `/health/live` and `/metrics`.

use reqwest::{Method, Response, StatusCode};
use serde_json::json;

use crate::helpers::*;

fn header(resp: &Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().expect("an ASCII header").to_owned())
}

/// One request of each kind the service answers: (what, method, path, JSON body, status).
fn variety(email: &str) -> Vec<(&'static str, Method, String, Option<serde_json::Value>, u16)> {
    let creds = json!({"email": email, "password": STRONG_PASSWORD});
    vec![
        (
            "register",
            Method::POST,
            "/api/v1/auth/register".into(),
            Some(creds.clone()),
            201,
        ),
        (
            "login",
            Method::POST,
            "/api/v1/auth/login".into(),
            Some(creds),
            200,
        ),
        (
            "bad login",
            Method::POST,
            "/api/v1/auth/login".into(),
            Some(json!({"email": email})),
            422,
        ),
        (
            "me without token",
            Method::GET,
            "/api/v1/auth/me".into(),
            None,
            401,
        ),
        (
            "auth 405",
            Method::DELETE,
            "/api/v1/auth/register".into(),
            None,
            405,
        ),
        (
            "auth 404",
            Method::GET,
            "/api/v1/auth/nope".into(),
            None,
            404,
        ),
        (
            "todos without token",
            Method::GET,
            "/api/v1/todos".into(),
            None,
            401,
        ),
        ("unknown route", Method::GET, "/nope".into(), None, 404),
        ("liveness", Method::GET, "/health/live".into(), None, 200),
        ("readiness", Method::GET, "/health".into(), None, 200),
        ("metrics", Method::GET, "/metrics".into(), None, 200),
        ("spec", Method::GET, "/openapi.json".into(), None, 200),
        ("spec yaml", Method::HEAD, "/openapi.yaml".into(), None, 200),
        ("docs", Method::GET, "/docs".into(), None, 200),
        ("redoc", Method::GET, "/redoc".into(), None, 200),
    ]
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> Response {
    let mut req = app.client.request(method, app.url(path));
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.expect("request sent")
}

both_backends! {
    async fn security_headers_on_every_response(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for (what, method, path, body, status) in variety(&unique_email()) {
            let resp = send(&app, method, &path, body).await;
            assert_eq!(resp.status().as_u16(), status, "{what}");
            assert_eq!(header(&resp, "x-content-type-options").as_deref(), Some("nosniff"), "{what}");
            let no_store = header(&resp, "cache-control").as_deref() == Some("no-store");
            assert_eq!(no_store, path.starts_with("/api/v1/auth/"), "{what}: Cache-Control");
            let docs = path == "/docs" || path == "/redoc";
            let csp = header(&resp, "content-security-policy");
            assert_eq!(csp.as_deref() == Some("frame-ancestors 'none'"), docs, "{what}: CSP {csp:?}");
            let frames = header(&resp, "x-frame-options");
            assert_eq!(frames.as_deref() == Some("DENY"), docs, "{what}: X-Frame-Options {frames:?}");
            assert_eq!(header(&resp, "strict-transport-security"), None, "{what}: no HSTS in development");
        }
        // Errors of the HTTP layer too: a body over the limit on an auth route.
        let resp = app.client.post(app.auth_url("/login")).header("content-type", "application/json")
            .body(vec![b' '; (1 << 20) + 1]).send().await.unwrap();
        assert_eq!(header(&resp, "x-content-type-options").as_deref(), Some("nosniff"));
        assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"));
        assert_error(resp, StatusCode::PAYLOAD_TOO_LARGE, "REQUEST_001").await;
    }

    async fn hsts_in_production(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("APP_ENV", "production"), ("MAIL_ENABLED", "false")]).await;
        for (what, method, path, body, status) in variety(&unique_email()) {
            let resp = send(&app, method, &path, body).await;
            assert_eq!(resp.status().as_u16(), status, "{what}");
            let hsts = header(&resp, "strict-transport-security");
            assert_eq!(hsts.as_deref(), Some("max-age=31536000"), "{what}");
            assert_eq!(header(&resp, "x-content-type-options").as_deref(), Some("nosniff"), "{what}");
        }
    }

    /// Production behind a trusted proxy: what the proxy received over plain HTTP is
    /// redirected to https (308 keeps the method and body), before anything is done.
    async fn plain_http_behind_a_trusted_proxy_is_redirected(backend: Backend) {
        let vars = [
            ("APP_ENV", "production"),
            ("MAIL_ENABLED", "false"),
            ("TRUSTED_PROXIES", "127.0.0.1"),
        ];
        let app = TestApp::spawn_with(backend, &vars).await;
        let creds = json!({"email": unique_email(), "password": STRONG_PASSWORD});
        let forwarded = |proto: &str, method: Method, path: &str| {
            app.client.request(method, app.url(path))
                .header("x-forwarded-proto", proto)
                .header("host", "api.example.test:8080")
                .header("x-request-id", "plain-http-1")
        };
        for proto in ["http", "HTTP", "https, http"] {
            let resp = forwarded(proto, Method::POST, "/api/v1/auth/register").json(&creds).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::PERMANENT_REDIRECT, "{proto}");
            assert_eq!(header(&resp, "location").as_deref(), Some("https://api.example.test/api/v1/auth/register"));
            assert_eq!(header(&resp, "x-request-id").as_deref(), Some("plain-http-1"));
            assert_eq!(header(&resp, "strict-transport-security").as_deref(), Some("max-age=31536000"));
            assert_eq!(header(&resp, "x-content-type-options").as_deref(), Some("nosniff"));
        }
        let resp = forwarded("http", Method::GET, "/api/v1/todos?limit=5&q=a%20b").send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(header(&resp, "location").as_deref(), Some("https://api.example.test/api/v1/todos?limit=5&q=a%20b"));
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0, "nothing was registered over plain HTTP");

        // Probes over plain HTTP are answered.
        for path in ["/health", "/health/live", "/metrics"] {
            let resp = forwarded("http", Method::GET, path).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK, "{path}");
        }
        // What the proxy received over TLS is served.
        let resp = forwarded("https", Method::POST, "/api/v1/auth/register").json(&creds).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);

        // Without a usable Host there is nowhere to redirect to.
        let head = "GET /api/v1/todos HTTP/1.1\r\nX-Forwarded-Proto: http\r\nX-Request-ID: no-host\r\n\r\n";
        let resp = raw_exchange(app.port, head, b"", std::time::Duration::from_secs(20)).await;
        assert_raw_error(&resp, 422, "VALIDATION_004");
        assert_eq!(resp.body["details"]["field"], "host");
    }

    /// The header is believed only from a trusted proxy, and only production redirects.
    async fn forwarded_proto_is_ignored_unless_trusted_and_in_production(backend: Backend) {
        let setups: [&[(&str, &str)]; 2] = [
            &[("APP_ENV", "production"), ("MAIL_ENABLED", "false"), ("TRUSTED_PROXIES", "10.0.0.0/8")],
            &[("APP_ENV", "development"), ("TRUSTED_PROXIES", "127.0.0.1")],
        ];
        for vars in setups {
            let app = TestApp::spawn_with(backend, vars).await;
            let creds = json!({"email": unique_email(), "password": STRONG_PASSWORD});
            let resp = app.client.post(app.auth_url("/register")).header("x-forwarded-proto", "http")
                .json(&creds).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::CREATED, "{vars:?}");
        }
    }
}
