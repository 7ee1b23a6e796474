//! The error catalog as the auth operations and the HTTP layer reach it: every code
//! with its status, `details.field`, the shared body shape and `X-Request-ID`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

/// Largest body the service reads (1 MiB).
const MAX_BODY: usize = 1 << 20;

both_backends! {
    async fn validation_001_malformed_email(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let too_long = format!("{}@example.com", "a".repeat(243));
        assert_eq!(too_long.len(), 255);
        for email in [
            "not-an-email",
            "a@b",
            "@example.com",
            "a b@example.com",
            "a@example..com",
            too_long.as_str(),
        ] {
            let resp = app.register(email, STRONG_PASSWORD).await;
            assert_field_error(
                resp,
                StatusCode::UNPROCESSABLE_ENTITY,
                "VALIDATION_001",
                "email",
            )
            .await;
        }
        let resp = app.login_raw("not-an-email", STRONG_PASSWORD).await;
        assert_field_error(
            resp,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_001",
            "email",
        )
        .await;
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
    }

    async fn validation_002_weak_passwords(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let too_long = "Aa1#".repeat(33);
        for password in [
            "Sh#1a",
            "alllower#1",
            "ALLUPPER#1",
            "NoDigits#x",
            "NoSpecial1a",
            too_long.as_str(),
        ] {
            let resp = app.register(&unique_email(), password).await;
            let body = assert_field_error(
                resp,
                StatusCode::UNPROCESSABLE_ENTITY,
                "VALIDATION_002",
                "password",
            )
            .await;
            assert!(
                !body.to_string().contains(password),
                "the password is echoed: {body}"
            );
        }
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
        // 128 characters is still allowed.
        let longest = format!("{}Aa1#", "x".repeat(124));
        assert_eq!(
            app.register(&unique_email(), &longest).await.status(),
            StatusCode::CREATED
        );

        // Change-password applies the same policy to the new password.
        let (_, password, tokens) = app.register_and_login().await;
        let resp = app
            .change_password(&tokens.access, &password, "weakpass")
            .await;
        assert_field_error(
            resp,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_002",
            "new_password",
        )
        .await;
        assert_eq!(
            app.me(&tokens.access).await.status(),
            StatusCode::OK,
            "nothing was revoked"
        );
    }

    async fn validation_003_email_already_registered(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email();
        assert_eq!(
            app.register(&email, STRONG_PASSWORD).await.status(),
            StatusCode::CREATED
        );
        let resp = app.register(&email, "Another#Pass1").await;
        let body = assert_field_error(resp, StatusCode::CONFLICT, "VALIDATION_003", "email").await;
        assert!(!body.to_string().contains("Another#Pass1"));
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
        // The first password still holds.
        app.login(&email, STRONG_PASSWORD).await;
    }

    async fn validation_004_missing_or_mistyped_fields(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email();
        let cases: Vec<(&str, Value, &str)> = vec![
            ("/api/v1/auth/register", json!({}), "email"),
            ("/api/v1/auth/register", json!({"email": email}), "password"),
            (
                "/api/v1/auth/register",
                json!({"password": STRONG_PASSWORD}),
                "email",
            ),
            (
                "/api/v1/auth/register",
                json!({"email": 42, "password": STRONG_PASSWORD}),
                "email",
            ),
            (
                "/api/v1/auth/register",
                json!({"email": email, "password": true}),
                "password",
            ),
            (
                "/api/v1/auth/register",
                json!({"email": email, "password": STRONG_PASSWORD, "name": 5}),
                "name",
            ),
            (
                "/api/v1/auth/register",
                json!({"email": null, "password": STRONG_PASSWORD}),
                "email",
            ),
            ("/api/v1/auth/register", json!("just a string"), "body"),
            ("/api/v1/auth/login", json!({"email": email}), "password"),
            (
                "/api/v1/auth/login",
                json!({"password": STRONG_PASSWORD}),
                "email",
            ),
            (
                "/api/v1/auth/login",
                json!({"email": ["a@b.co"], "password": STRONG_PASSWORD}),
                "email",
            ),
            ("/api/v1/auth/refresh", json!({}), "refresh_token"),
            (
                "/api/v1/auth/refresh",
                json!({"refresh_token": 7}),
                "refresh_token",
            ),
        ];
        for (path, body, field) in &cases {
            let resp = app.post_json(path, body).await;
            let err = assert_field_error(
                resp,
                StatusCode::UNPROCESSABLE_ENTITY,
                "VALIDATION_004",
                field,
            )
            .await;
            assert!(
                !err.to_string().contains(STRONG_PASSWORD),
                "{path} {body}: {err}"
            );
        }

        // Not JSON at all, or empty, with a JSON content type.
        for raw in ["{\"email\": ", "", "not json", "{\"email\": \"a@b.co\",}"] {
            let resp = app
                .client
                .post(app.auth_url("/login"))
                .header("content-type", "application/json")
                .body(raw)
                .send()
                .await
                .unwrap();
            assert_field_error(
                resp,
                StatusCode::UNPROCESSABLE_ENTITY,
                "VALIDATION_004",
                "body",
            )
            .await;
        }

        // Bearer operations parse their bodies the same way.
        let (_, password, tokens) = app.register_and_login().await;
        let resp = app
            .client
            .post(app.auth_url("/change-password"))
            .bearer_auth(&tokens.access)
            .json(&json!({"current_password": password}))
            .send()
            .await
            .unwrap();
        assert_field_error(
            resp,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_004",
            "new_password",
        )
        .await;

        // The OAuth2 form: missing fields.
        let resp = app
            .token(&[("grant_type", "password"), ("username", &email)])
            .await;
        assert_field_error(
            resp,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_004",
            "password",
        )
        .await;
        let resp = app
            .token(&[("username", &email), ("password", &password)])
            .await;
        assert_field_error(
            resp,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_004",
            "grant_type",
        )
        .await;
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
    }

    /// serde would accept a JSON array as a struct (fields by position); bodies must be objects.
    async fn validation_004_body_must_be_a_json_object(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email();
        for body in [
            json!([email, STRONG_PASSWORD]),
            json!([email, STRONG_PASSWORD, "Name"]),
        ] {
            let resp = app.post_json("/api/v1/auth/register", &body).await;
            assert_field_error(
                resp,
                StatusCode::UNPROCESSABLE_ENTITY,
                "VALIDATION_004",
                "body",
            )
            .await;
        }
        let resp = app
            .post_json("/api/v1/auth/login", &json!([email, STRONG_PASSWORD]))
            .await;
        assert_field_error(
            resp,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_004",
            "body",
        )
        .await;
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
    }

    async fn validation_005_name_too_long(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let resp = app
            .post_json(
                "/api/v1/auth/register",
                &json!({"email": unique_email(), "password": STRONG_PASSWORD, "name": "é".repeat(101)}),
            )
            .await;
        assert_field_error(
            resp,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_005",
            "name",
        )
        .await;
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
        // 100 characters (200 bytes) is fine: lengths count characters.
        let resp = app
            .post_json(
                "/api/v1/auth/register",
                &json!({"email": unique_email(), "password": STRONG_PASSWORD, "name": "é".repeat(100)}),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        let user: Value = resp.json().await.unwrap();
        assert_eq!(user["name"].as_str().map(|n| n.chars().count()), Some(100));
    }

    async fn validation_006_unsupported_grant_type(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, password, _) = app.register_and_login().await;
        let resp = app
            .token(&[
                ("grant_type", "client_credentials"),
                ("username", &email),
                ("password", &password),
            ])
            .await;
        assert_field_error(
            resp,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_006",
            "grant_type",
        )
        .await;
    }

    async fn validation_007_current_password_incorrect(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, password, tokens) = app.register_and_login().await;
        let hash = app.stored_password_hash(&email).await;
        let resp = app
            .change_password(&tokens.access, "Not#ThePassword1", "Brand-New#Pass42")
            .await;
        let body = assert_field_error(
            resp,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_007",
            "current_password",
        )
        .await;
        assert!(
            !body.to_string().contains("Not#ThePassword1")
                && !body.to_string().contains("Brand-New#Pass42")
        );
        // Nothing changed: same hash, same password, session alive.
        assert_eq!(app.stored_password_hash(&email).await, hash);
        assert_eq!(app.me(&tokens.access).await.status(), StatusCode::OK);
        app.login(&email, &password).await;
    }

    async fn validation_008_new_password_equals_current(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, password, tokens) = app.register_and_login().await;
        let hash = app.stored_password_hash(&email).await;
        let resp = app
            .change_password(&tokens.access, &password, &password)
            .await;
        assert_field_error(
            resp,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_008",
            "new_password",
        )
        .await;
        assert_eq!(app.stored_password_hash(&email).await, hash);
        assert_eq!(app.me(&tokens.access).await.status(), StatusCode::OK);
    }

    async fn auth_001_same_answer_for_unknown_email_and_wrong_password(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, _, _) = app.register_and_login().await;
        let wrong = assert_error(
            app.login_raw(&email, "Wrong#Password1").await,
            StatusCode::UNAUTHORIZED,
            "AUTH_001",
        )
        .await;
        let unknown = assert_error(
            app.login_raw(&unique_email(), "Wrong#Password1").await,
            StatusCode::UNAUTHORIZED,
            "AUTH_001",
        )
        .await;
        assert_eq!(
            wrong["message"], unknown["message"],
            "no hint whether the email exists"
        );
        assert_eq!(wrong["details"], unknown["details"]);
        for body in [&wrong, &unknown] {
            assert!(!body.to_string().contains("Wrong#Password1"), "{body}");
            assert!(
                !body.to_string().to_lowercase().contains("not found"),
                "{body}"
            );
        }
    }

    async fn rate_limit_001_after_five_auth_requests(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("AUTH_RATE_LIMIT_PER_MINUTE", "5")]).await;
        let email = unique_email();
        // Five credential requests of any kind (and outcome) share the client's bucket.
        assert_eq!(
            app.register(&email, STRONG_PASSWORD).await.status(),
            StatusCode::CREATED
        );
        let tokens = app.login(&email, STRONG_PASSWORD).await;
        assert_eq!(
            app.login_raw(&email, "Wrong#Password1").await.status(),
            StatusCode::UNAUTHORIZED
        );
        let resp = app
            .token(&[
                ("grant_type", "password"),
                ("username", &email),
                ("password", STRONG_PASSWORD),
            ])
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        let rotated = Tokens::from_response(app.refresh(&tokens.refresh).await).await;

        for resp in [
            app.login_raw(&email, STRONG_PASSWORD).await,
            app.register(&unique_email(), STRONG_PASSWORD).await,
        ] {
            let retry_after: u64 = resp
                .headers()
                .get("retry-after")
                .expect("a Retry-After header")
                .to_str()
                .unwrap()
                .parse()
                .expect("Retry-After in whole seconds");
            assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
            assert_error(resp, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_001").await;
        }
        assert_eq!(
            app.count("SELECT COUNT(*) FROM users").await,
            1,
            "the limited register did nothing"
        );

        // Other routes are not limited.
        assert_eq!(app.me(&rotated.access).await.status(), StatusCode::OK);
        assert_eq!(
            app.client
                .get(app.url("/health/live"))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
        assert_eq!(
            app.logout(&rotated.access, None).await.status(),
            StatusCode::OK
        );
    }

    async fn resource_003_unknown_route(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for path in [
            "/nope",
            "/api/v1/nope",
            "/api/v1/auth/nope",
            "/api/v2/auth/login",
            "/api/v1/auth/me/extra",
        ] {
            let resp = app.client.get(app.url(path)).send().await.unwrap();
            assert_error(resp, StatusCode::NOT_FOUND, "RESOURCE_003").await;
        }
        let resp = app.post_json("/api/v1/auth/nope", &json!({})).await;
        assert_error(resp, StatusCode::NOT_FOUND, "RESOURCE_003").await;
    }

    async fn request_001_body_too_large(backend: Backend) {
        let app = TestApp::spawn(backend).await;

        // A declared Content-Length over the limit is refused before any byte of the
        // body is read: the server answers though the body never comes.
        let head = format!(
            "POST /api/v1/auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nX-Request-ID: too-large-1\r\n\r\n",
            10 * MAX_BODY
        );
        let resp = raw_exchange(app.port, &head, b"{\"email\":", Duration::from_secs(20)).await;
        assert_raw_error(&resp, 413, "REQUEST_001");
        assert_eq!(resp.headers["x-request-id"], "too-large-1");

        // Chunked: refused once the limit is passed, without waiting for the end.
        let head = "POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
                    Transfer-Encoding: chunked\r\n\r\n";
        let mut body = format!("{:x}\r\n", 4 * MAX_BODY).into_bytes();
        body.extend(std::iter::repeat_n(b' ', MAX_BODY + 1));
        let resp = raw_exchange(app.port, head, &body, Duration::from_secs(20)).await;
        assert_raw_error(&resp, 413, "REQUEST_001");

        // With reqwest: 1 MiB + 1 byte, Content-Length set.
        let big = vec![b' '; MAX_BODY + 1];
        let resp = app
            .client
            .post(app.auth_url("/register"))
            .header("content-type", "application/json")
            .body(big)
            .send()
            .await
            .expect("the server answers an oversized body");
        assert_error(resp, StatusCode::PAYLOAD_TOO_LARGE, "REQUEST_001").await;
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
    }

    async fn request_001_limit_is_inclusive(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        // Exactly 1 MiB is read and processed (padding in an ignored field).
        let email = unique_email();
        let skeleton = json!({"email": email, "password": STRONG_PASSWORD, "pad": ""}).to_string();
        let pad = "x".repeat(MAX_BODY - skeleton.len());
        let body = json!({"email": email, "password": STRONG_PASSWORD, "pad": pad}).to_string();
        assert_eq!(body.len(), MAX_BODY);
        let resp = app
            .client
            .post(app.auth_url("/register"))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);

        // The same through chunked transfer encoding, in several chunks.
        let email2 = unique_email();
        let body2 = body.replace(&email, &email2);
        assert_eq!(body2.len(), MAX_BODY);
        let mut chunked = Vec::new();
        for part in body2.as_bytes().chunks(300_000) {
            chunked.extend(format!("{:x}\r\n", part.len()).into_bytes());
            chunked.extend_from_slice(part);
            chunked.extend_from_slice(b"\r\n");
        }
        chunked.extend_from_slice(b"0\r\n\r\n");
        let head = "POST /api/v1/auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
                    Transfer-Encoding: chunked\r\n\r\n";
        let resp = raw_exchange(app.port, head, &chunked, Duration::from_secs(20)).await;
        assert_eq!(resp.status, 201, "{resp:?}");
        assert_eq!(resp.body["email"], email2.as_str());
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 2);
    }

    async fn request_002_unsupported_content_type(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let json_text = json!({"email": unique_email(), "password": STRONG_PASSWORD}).to_string();
        for (path, content_type) in [
            ("/register", "text/plain"),
            ("/login", "text/plain"),
            ("/login", "application/x-www-form-urlencoded"),
            ("/refresh", "application/xml"),
        ] {
            let resp = app
                .client
                .post(app.auth_url(path))
                .header("content-type", content_type)
                .body(json_text.clone())
                .send()
                .await
                .unwrap();
            assert_error(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE, "REQUEST_002").await;
        }
        // The form endpoint does not take JSON.
        let resp = app
            .post_json(
                "/api/v1/auth/token",
                &json!({"grant_type": "password", "username": "a@b.co", "password": "x"}),
            )
            .await;
        assert_error(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE, "REQUEST_002").await;
        // A JSON media type with parameters or a +json suffix is accepted.
        let resp = app
            .client
            .post(app.auth_url("/register"))
            .header("content-type", "application/json; charset=utf-8")
            .body(json_text)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
    }

    async fn request_003_method_not_allowed(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let cases = [
            (reqwest::Method::GET, "/api/v1/auth/login", "POST"),
            (reqwest::Method::PUT, "/api/v1/auth/register", "POST"),
            (reqwest::Method::DELETE, "/api/v1/auth/me", "GET"),
            (reqwest::Method::POST, "/api/v1/auth/me", "GET"),
            (reqwest::Method::POST, "/health/live", "GET"),
        ];
        for (method, path, allowed) in cases {
            let resp = app
                .client
                .request(method.clone(), app.url(path))
                .send()
                .await
                .unwrap();
            let allow = resp
                .headers()
                .get("allow")
                .unwrap_or_else(|| panic!("{method} {path}: 405 without Allow"))
                .to_str()
                .unwrap()
                .to_owned();
            assert!(
                allow.split(',').any(|m| m.trim() == allowed),
                "{method} {path}: Allow {allow:?}"
            );
            assert!(
                !allow.split(',').any(|m| m.trim() == method.as_str()),
                "{method} {path}: Allow {allow:?}"
            );
            assert_error(resp, StatusCode::METHOD_NOT_ALLOWED, "REQUEST_003").await;
        }
    }

    /// The spec, docs and metrics endpoints take GET (and HEAD) only.
    async fn request_003_operations_endpoints_are_get_only(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for path in [
            "/openapi.json",
            "/openapi.yaml",
            "/metrics",
            "/docs",
            "/redoc",
        ] {
            let resp = app.client.get(app.url(path)).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK, "GET {path}");
            for method in [
                reqwest::Method::POST,
                reqwest::Method::DELETE,
                reqwest::Method::PUT,
            ] {
                let resp = app
                    .client
                    .request(method.clone(), app.url(path))
                    .send()
                    .await
                    .unwrap();
                let allow = resp
                    .headers()
                    .get("allow")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                assert_error(resp, StatusCode::METHOD_NOT_ALLOWED, "REQUEST_003").await;
                assert_eq!(allow, "GET, HEAD", "{method} {path}");
            }
        }
    }

    async fn request_id_is_echoed_or_replaced(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let header = |resp: &reqwest::Response| {
            resp.headers()
                .get("x-request-id")
                .expect("X-Request-ID")
                .to_str()
                .unwrap()
                .to_owned()
        };

        // Well formed: echoed on success and in error bodies.
        let max = "a".repeat(128);
        for id in ["abc-123_XYZ.9", "7", max.as_str()] {
            let resp = app
                .client
                .get(app.url("/health/live"))
                .header("x-request-id", id)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            assert_eq!(header(&resp), id);
            let resp = app
                .client
                .get(app.auth_url("/me"))
                .header("x-request-id", id)
                .send()
                .await
                .unwrap();
            assert_eq!(header(&resp), id);
            let body = assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_005").await;
            assert_eq!(body["request_id"], id);
        }

        // Malformed: replaced by a fresh UUID.
        let too_long = "a".repeat(129);
        let very_long = "b".repeat(200);
        for id in [
            too_long.as_str(),
            very_long.as_str(),
            "has spaces in it",
            "semi;colon",
            "slash/id",
            "é",
        ] {
            let resp = app
                .client
                .get(app.auth_url("/me"))
                .header(
                    "x-request-id",
                    reqwest::header::HeaderValue::from_bytes(id.as_bytes()).unwrap(),
                )
                .send()
                .await
                .unwrap();
            let got = header(&resp);
            assert_ne!(got, id);
            uuid::Uuid::parse_str(&got).unwrap_or_else(|e| panic!("{got:?} replaces {id:?}: {e}"));
            let body = assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_005").await;
            assert_eq!(body["request_id"], got.as_str());
        }

        // Absent: a new UUID per request.
        let a = header(
            &app.client
                .get(app.url("/health/live"))
                .send()
                .await
                .unwrap(),
        );
        let b = header(
            &app.client
                .get(app.url("/health/live"))
                .send()
                .await
                .unwrap(),
        );
        uuid::Uuid::parse_str(&a).unwrap();
        uuid::Uuid::parse_str(&b).unwrap();
        assert_ne!(a, b);
    }
}
