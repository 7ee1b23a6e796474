//! The error catalog as the auth operations and the HTTP layer reach it: every code
//! with its status, `details.field`, the shared body shape and `X-Request-ID`.
//!
//! Requests the generated SDK (`client_sdk`) can express go through it; the raw ones
//! left send what it cannot (values its types refuse, missing or mistyped fields,
//! malformed bodies, other content types and methods, routes outside the spec).

use std::time::Duration;

use client_sdk::types::ErrorCode;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::sdk_helpers::*;

const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

/// Asserts that the whole typed error body does not contain `secret`.
#[track_caller]
fn assert_not_echoed(body: &client_sdk::types::ErrorBody, secret: &str) {
    let text = as_json(body).to_string();
    assert!(!text.contains(secret), "{secret:?} is echoed: {text}");
}

/// Largest body the service reads (1 MiB).
const MAX_BODY: usize = 1 << 20;

both_backends! {
    async fn validation_001_malformed_email(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let anon = anonymous(&app);
        for email in [
            "not-an-email",
            "a@b",
            "@example.com",
            "a b@example.com",
            "a@example..com",
        ] {
            let resp = anon.register().body(register_body(email, STRONG_PASSWORD)).send().await;
            expect_field_error(resp, UNPROCESSABLE, ErrorCode::Validation001, "email");
        }
        // Raw: 255 characters, over the 254 the SDK's RegisterRequest accepts.
        let too_long = format!("{}@example.com", "a".repeat(243));
        assert_eq!(too_long.len(), 255);
        let resp = app.register(&too_long, STRONG_PASSWORD).await;
        assert_field_error(resp, UNPROCESSABLE, "VALIDATION_001", "email").await;
        let resp = anon.login().body(login_body("not-an-email", STRONG_PASSWORD)).send().await;
        expect_field_error(resp, UNPROCESSABLE, ErrorCode::Validation001, "email");
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
    }

    async fn validation_002_weak_passwords(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let anon = anonymous(&app);
        // Raw: the SDK's RegisterRequest refuses what breaks the schema (lengths outside 8
        // to 128 characters, and the policy's pattern) before sending it.
        let too_long = "Aa1#".repeat(33);
        let weak = ["alllower#1", "ALLUPPER#1", "NoDigits#x", "NoSpecial1a", "Ünïcödé#1x"];
        for password in weak.into_iter().chain(["Sh#1a", too_long.as_str()]) {
            let typed = client_sdk::types::RegisterRequest::try_from(register_body(&unique_email(), password));
            assert!(typed.is_err(), "the SDK accepts {password:?}");
            let resp = app.register(&unique_email(), password).await;
            let body = assert_field_error(resp, UNPROCESSABLE, "VALIDATION_002", "password").await;
            assert!(
                !body.to_string().contains(password),
                "the password is echoed: {body}"
            );
        }
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
        // 128 characters is still allowed.
        let longest = format!("{}Aa1#", "x".repeat(124));
        let resp = anon.register().body(register_body(&unique_email(), &longest)).send().await;
        expect_ok(resp, StatusCode::CREATED);

        // Change-password applies the same policy to the new password.
        let (_, tokens) = sdk_user(&app).await;
        // Raw: the SDK refuses a new password that breaks the schema's pattern.
        assert!(client_sdk::types::ChangePasswordRequest::try_from(change_password_body(STRONG_PASSWORD, "weakpass")).is_err());
        let resp = app.change_password(&tokens.access_token, STRONG_PASSWORD, "weakpass").await;
        assert_field_error(resp, UNPROCESSABLE, "VALIDATION_002", "new_password").await;
        // Nothing was revoked.
        me_ok(&app, &tokens.access_token).await;
    }

    async fn validation_003_email_already_registered(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let anon = anonymous(&app);
        let email = unique_email();
        let resp = anon.register().body(register_body(&email, STRONG_PASSWORD)).send().await;
        expect_ok(resp, StatusCode::CREATED);
        let resp = anon.register().body(register_body(&email, "Another#Pass1")).send().await;
        let code = ErrorCode::Validation003;
        let body = expect_field_error(resp, StatusCode::CONFLICT, code, "email");
        assert_not_echoed(&body, "Another#Pass1");
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
        // The first password still holds.
        sdk_login(&app, &email, STRONG_PASSWORD).await;
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
        // Raw throughout: missing, mistyped and malformed fields the SDK's types cannot hold.
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
        let (_, tokens) = sdk_user(&app).await;
        let password = STRONG_PASSWORD;
        let resp = app
            .client
            .post(app.auth_url("/change-password"))
            .bearer_auth(&tokens.access_token)
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
            .token(&[("username", &email), ("password", password)])
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
        // Raw: 101 characters, over the 100 the SDK's RegisterRequest accepts.
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
        let name = Some("é".repeat(100).parse().unwrap());
        let body = register_body(&unique_email(), STRONG_PASSWORD).name(name);
        let resp = anonymous(&app).register().body(body).send().await;
        let user = expect_ok(resp, StatusCode::CREATED).into_inner();
        assert_eq!(user.name.map(|n| n.chars().count()), Some(100));
    }

    async fn validation_006_unsupported_grant_type(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, _) = sdk_user(&app).await;
        // The SDK types grant_type as the enum [password]; another grant needs a raw form.
        let form = [("grant_type", "client_credentials"), ("username", email.as_str()), ("password", STRONG_PASSWORD)];
        let resp = app.token(&form).await;
        assert_field_error(resp, UNPROCESSABLE, "VALIDATION_006", "grant_type").await;
    }

    async fn validation_007_current_password_incorrect(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, tokens) = sdk_user(&app).await;
        let hash = app.stored_password_hash(&email).await;
        let change = change_password_body("Not#ThePassword1", "Brand-New#Pass42");
        let resp = bearer(&app, &tokens.access_token).change_password().body(change).send().await;
        let code = ErrorCode::Validation007;
        let body = expect_field_error(resp, UNPROCESSABLE, code, "current_password");
        assert_not_echoed(&body, "Not#ThePassword1");
        assert_not_echoed(&body, "Brand-New#Pass42");
        // Nothing changed: same hash, same password, session alive.
        assert_eq!(app.stored_password_hash(&email).await, hash);
        me_ok(&app, &tokens.access_token).await;
        sdk_login(&app, &email, STRONG_PASSWORD).await;
    }

    async fn validation_008_new_password_equals_current(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, tokens) = sdk_user(&app).await;
        let hash = app.stored_password_hash(&email).await;
        let same = change_password_body(STRONG_PASSWORD, STRONG_PASSWORD);
        let resp = bearer(&app, &tokens.access_token).change_password().body(same).send().await;
        expect_field_error(resp, UNPROCESSABLE, ErrorCode::Validation008, "new_password");
        assert_eq!(app.stored_password_hash(&email).await, hash);
        me_ok(&app, &tokens.access_token).await;
    }

    async fn auth_001_same_answer_for_unknown_email_and_wrong_password(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let anon = anonymous(&app);
        let (email, _) = sdk_user(&app).await;
        let (unauthorized, auth_001) = (StatusCode::UNAUTHORIZED, ErrorCode::Auth001);
        let resp = anon.login().body(login_body(&email, "Wrong#Password1")).send().await;
        let wrong = expect_error(resp, unauthorized, auth_001);
        let resp = anon.login().body(login_body(&unique_email(), "Wrong#Password1")).send().await;
        let unknown = expect_error(resp, unauthorized, auth_001);
        assert_eq!(
            wrong.message, unknown.message,
            "no hint whether the email exists"
        );
        assert_eq!(as_json(&wrong.details), as_json(&unknown.details));
        for body in [&wrong, &unknown] {
            assert_not_echoed(body, "Wrong#Password1");
            let text = as_json(body).to_string();
            assert!(!text.to_lowercase().contains("not found"), "{text}");
        }
    }

    async fn rate_limit_001_after_five_auth_requests(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("AUTH_RATE_LIMIT_PER_MINUTE", "5")]).await;
        let anon = anonymous(&app);
        let email = unique_email();
        // Five credential requests of any kind (and outcome) share the client's bucket.
        let resp = anon.register().body(register_body(&email, STRONG_PASSWORD)).send().await;
        expect_ok(resp, StatusCode::CREATED);
        let tokens = sdk_login(&app, &email, STRONG_PASSWORD).await;
        let resp = anon.login().body(login_body(&email, "Wrong#Password1")).send().await;
        expect_error(resp, StatusCode::UNAUTHORIZED, ErrorCode::Auth001);
        let grant = password_grant(&email, STRONG_PASSWORD);
        expect_tokens(anon.issue_token().body(grant).send().await);
        let rotated = sdk_refresh(&app, &tokens.refresh_token).await;

        let (limited, code) = (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimit001);
        let login = anon.login().body(login_body(&email, STRONG_PASSWORD)).send().await;
        let login = expect_error_response(login, limited, code);
        let register = anon.register().body(register_body(&unique_email(), STRONG_PASSWORD));
        let register = expect_error_response(register.send().await, limited, code);
        for resp in [login, register] {
            let retry_after: u64 = header(&resp, "retry-after")
                .parse()
                .expect("Retry-After in whole seconds");
            assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
        }
        assert_eq!(
            app.count("SELECT COUNT(*) FROM users").await,
            1,
            "the limited register did nothing"
        );

        // Other routes are not limited.
        me_ok(&app, &rotated.access_token).await;
        let live = anon.get_liveness().send().await.expect("alive");
        assert_eq!(live.status(), StatusCode::OK);
        let logout = bearer(&app, &rotated.access_token).logout().send().await;
        expect_ok(logout, StatusCode::OK);
    }

    /// Raw: routes outside the spec have no SDK operation.
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

    /// Raw: oversized bodies, framed by hand (the SDK's typed bodies stay small).
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

    /// Raw: padding in a field RegisterRequest does not have, and chunked framing.
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

    /// Raw: content types the SDK does not send.
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

    /// Raw: methods the spec does not declare for these paths.
    async fn request_003_method_not_allowed(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let cases = [
            (reqwest::Method::GET, "/api/v1/auth/login", "POST"),
            (reqwest::Method::PUT, "/api/v1/auth/register", "POST"),
            (reqwest::Method::PUT, "/api/v1/auth/me", "DELETE"),
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

    /// The spec, docs and metrics endpoints take GET (and HEAD) only. Raw: these
    /// endpoints are not operations of the spec.
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
        // An SDK client whose requests all carry `X-Request-ID: id`.
        let with_id = |id: &str| {
            let mut headers = HeaderMap::new();
            let value = HeaderValue::from_bytes(id.as_bytes()).expect("a header value");
            headers.insert("x-request-id", value);
            with_headers(&app, headers)
        };
        let unauthenticated = (StatusCode::UNAUTHORIZED, ErrorCode::Auth005);

        // Well formed: echoed on success and in error bodies.
        let max = "a".repeat(128);
        for id in ["abc-123_XYZ.9", "7", max.as_str()] {
            let client = with_id(id);
            let live = client.get_liveness().send().await.expect("alive");
            assert_eq!(live.status(), StatusCode::OK);
            assert_eq!(header(&live, "x-request-id"), id);
            let me = client.get_me().send().await;
            let resp = expect_error_response(me, unauthenticated.0, unauthenticated.1);
            assert_eq!(header(&resp, "x-request-id"), id);
            assert_eq!(resp.request_id, id);
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
            let me = with_id(id).get_me().send().await;
            let resp = expect_error_response(me, unauthenticated.0, unauthenticated.1);
            let got = header(&resp, "x-request-id");
            assert_ne!(got, id);
            uuid::Uuid::parse_str(&got).unwrap_or_else(|e| panic!("{got:?} replaces {id:?}: {e}"));
            assert_eq!(resp.request_id, got);
        }

        // Absent: a new UUID per request.
        let anon = anonymous(&app);
        let a = header(&anon.get_liveness().send().await.expect("alive"), "x-request-id");
        let b = header(&anon.get_liveness().send().await.expect("alive"), "x-request-id");
        uuid::Uuid::parse_str(&a).unwrap();
        uuid::Uuid::parse_str(&b).unwrap();
        assert_ne!(a, b);
    }
}
