//! The docs pages, the served spec, the favicon and response compression.
//!
//! Raw: none of these is an operation of the spec, and the SDK's client neither asks for
//! compression nor shows encodings.

use reqwest::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, VARY};
use reqwest::StatusCode;

use crate::helpers::*;

/// `GET path` with `Accept-Encoding: encoding` (none when empty): status, headers, body.
async fn get(
    app: &TestApp,
    path: &str,
    encoding: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = app.client.get(app.url(path));
    if !encoding.is_empty() {
        req = req.header(ACCEPT_ENCODING, encoding);
    }
    let resp = req.send().await.expect("request sent");
    let (status, headers) = (resp.status(), resp.headers().clone());
    (
        status,
        headers,
        resp.bytes().await.expect("body read").to_vec(),
    )
}

both_backends! {
    async fn docs_pages_embed_the_served_document(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let committed: serde_json::Value = serde_yaml::from_str(include_str!("../../openapi.yaml")).unwrap();
        let (status, _, body) = get(&app, "/openapi.json", "").await;
        assert_eq!(status, StatusCode::OK);
        let served: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(served, committed, "/openapi.json is the committed openapi.yaml");
        // As a script embeds it (`</` written `<\/`).
        let document = served.to_string().replace("</", "<\\/");
        for page in ["/docs", "/redoc"] {
            let (status, headers, body) = get(&app, page, "").await;
            assert_eq!(status, StatusCode::OK, "{page}");
            assert!(headers[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"), "{page}");
            let html = String::from_utf8(body).unwrap();
            assert!(html.contains(&document), "{page} embeds another document");
            assert!(html.contains(r#"<link rel="icon" type="image/svg+xml" href="/favicon.ico">"#), "{page}");
        }
        // Swagger UI is the vendored release, cacheable for good (the page asks for it
        // with the version as query).
        let (_, _, page) = get(&app, "/docs", "").await;
        let page = String::from_utf8(page).unwrap();
        for (name, content_type, file) in [
            ("swagger-ui-bundle.js", "text/javascript; charset=utf-8", &include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js")[..]),
            ("swagger-ui.css", "text/css; charset=utf-8", &include_bytes!("../../assets/swagger-ui/swagger-ui.css")[..]),
            ("oauth2-redirect.html", "text/html; charset=utf-8", &include_bytes!("../../assets/swagger-ui/oauth2-redirect.html")[..]),
        ] {
            if name != "oauth2-redirect.html" {
                let v = todo_api::http::docs::SWAGGER_UI_VERSION;
                assert!(page.contains(&format!("\"/docs/{name}?v={v}\"")), "/docs does not load {name}");
            }
            let (status, headers, body) = get(&app, &format!("/docs/{name}"), "").await;
            assert_eq!(status, StatusCode::OK, "{name}");
            assert_eq!(headers[CONTENT_TYPE], content_type, "{name}");
            assert_eq!(headers[CACHE_CONTROL], "public, max-age=31536000, immutable", "{name}");
            assert!(body == file, "/docs/{name} is not the vendored file");
        }
        assert!(page.len() < document.len() + 2_000, "/docs is {} bytes: assets inlined?", page.len());
        let (status, _, _) = get(&app, "/docs/nothing-here.js", "").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, headers, body) = get(&app, "/favicon.ico", "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[CONTENT_TYPE], "image/svg+xml");
        assert!(body.starts_with(b"<svg"));
    }

    async fn large_text_is_compressed_small_json_is_not(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (_, plain_headers, plain) = get(&app, "/docs", "").await;
        assert!(!plain_headers.contains_key(CONTENT_ENCODING), "compressed without being asked");
        for (asked, answered) in [("gzip", "gzip"), ("gzip, deflate, br", "br"), ("br;q=0.1, gzip", "gzip")] {
            for path in ["/docs", "/openapi.json", "/openapi.yaml"] {
                let (status, headers, body) = get(&app, path, asked).await;
                assert_eq!(status, StatusCode::OK, "{path} {asked}");
                assert_eq!(headers[CONTENT_ENCODING], answered, "{path} {asked}");
                assert_eq!(headers[VARY], "accept-encoding", "{path} {asked}");
                if path == "/docs" {
                    assert!(body.len() * 2 < plain.len(), "{asked}: {} of {} bytes", body.len(), plain.len());
                }
            }
        }
        // A long page of todos is compressed by the middleware; a short one is not.
        let (_, raw) = crate::sdk_helpers::user(&app).await;
        let todos = |n: usize| format!("/api/v1/todos?limit={n}");
        for i in 0..10 {
            raw.create(serde_json::json!({"title": format!("todo {i}"), "description": "d".repeat(200)})).await;
        }
        for (path, encoded) in [(todos(10), true), (todos(1), false)] {
            let resp = app.client.get(app.url(&path)).bearer_auth(&raw.token).header(ACCEPT_ENCODING, "gzip").send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK, "{path}");
            assert_eq!(resp.headers().get(CONTENT_ENCODING).is_some(), encoded, "{path}");
            assert_eq!(resp.headers()[VARY], "accept-encoding", "{path}");
            let body = resp.bytes().await.unwrap();
            let plain = app.client.get(app.url(&path)).bearer_auth(&raw.token).send().await.unwrap();
            assert!(!plain.headers().contains_key(CONTENT_ENCODING));
            let plain = plain.bytes().await.unwrap();
            assert_eq!(body.len() * 3 < plain.len(), encoded, "{path}: {} of {} bytes", body.len(), plain.len());
            if !encoded {
                let page: serde_json::Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(page["items"].as_array().unwrap().len(), 1);
            }
        }
        // Small JSON answers go out as they are, saying that they could vary.
        let (status, headers, body) = get(&app, "/health/live", "gzip, br").await;
        assert_eq!(status, StatusCode::OK);
        assert!(!headers.contains_key(CONTENT_ENCODING), "a {}-byte answer compressed", body.len());
        assert_eq!(headers[VARY], "accept-encoding");
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap()["status"], "alive");
        // HEAD says what GET would send (RFC 9110 §9.3.2), without the body.
        let head = app.client.head(app.url("/docs")).header(ACCEPT_ENCODING, "gzip").send().await.unwrap();
        assert_eq!(head.headers()[CONTENT_ENCODING], "gzip");
        assert_eq!(head.headers()[VARY], "accept-encoding");
        assert!(head.bytes().await.unwrap().is_empty());
        // Nothing compressed for a client that refuses both codings.
        let (_, headers, _) = get(&app, "/docs", "br;q=0, gzip;q=0, identity").await;
        assert!(!headers.contains_key(CONTENT_ENCODING));
    }
}
