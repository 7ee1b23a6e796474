//! `LOCAL_AUTH=disabled` with the legacy shared-secret issuer (`EXTERNAL_JWT_SECRET`,
//! HS256): the local-account operations answer 403 AUTHZ_003, the issuer's tokens work,
//! and neither the service's own key nor a wrong secret signs a token it accepts.

use client_sdk::types::{self, ErrorCode};
use jsonwebtoken::Algorithm;
use reqwest::StatusCode;
use serde_json::json;

use super::issuer::{claims, ISSUER};
use crate::helpers::*;
use crate::sdk_helpers::*;

/// The secret the issuer shares with the service in these tests.
pub const SHARED_SECRET: &str = "external-shared-secret-0123456789-abcdefghij";

/// The settings of a server with local accounts off and the shared-secret issuer.
pub const LOCAL_OFF: &[(&str, &str)] = &[
    ("LOCAL_AUTH", "disabled"),
    ("EXTERNAL_ISSUER", ISSUER),
    ("EXTERNAL_JWT_SECRET", SHARED_SECRET),
];

both_backends! {
    /// Register, login, token, refresh, change-password and both password-reset
    /// operations are AUTHZ_003; nothing is created.
    async fn local_account_operations_are_authz_003(backend: Backend) {
        let app = TestApp::spawn_with(backend, LOCAL_OFF).await;
        let anon = anonymous(&app);
        let forbidden = StatusCode::FORBIDDEN;
        let code = ErrorCode::Authz003;
        let body = expect_error(anon.register().body(register_body(&unique_email(), STRONG_PASSWORD)).send().await, forbidden, code);
        assert!(body.message.contains("identity provider"), "{}", body.message);
        expect_error(anon.login().body(login_body("a@b.co", STRONG_PASSWORD)).send().await, forbidden, code);
        expect_error(anon.issue_token().body(password_grant("a@b.co", STRONG_PASSWORD)).send().await, forbidden, code);
        expect_error(anon.refresh_token().body(refresh_body("x.y.z")).send().await, forbidden, code);
        let reset = anon.request_password_reset().body(types::PasswordResetRequest::builder().email("a@b.co")).send().await;
        expect_error(reset, forbidden, code);
        let confirm = types::PasswordResetConfirm::builder().token("t").new_password(STRONG_PASSWORD);
        expect_error(anon.confirm_password_reset().body(confirm).send().await, forbidden, code);
        let token = sign(&claims("zoe", 600), Algorithm::HS256, SHARED_SECRET.as_bytes());
        let me = me_ok(&app, &token).await;
        let change = bearer(&app, &token).change_password().body(change_password_body(STRONG_PASSWORD, "Other#Horse9")).send().await;
        expect_error(change, forbidden, code);
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1, "only {}", me.id);
    }

    /// The legacy shared secret: HS256 with it verifies; the service's own key, a wrong
    /// secret, or another algorithm does not.
    async fn the_shared_secret_is_the_only_key(backend: Backend) {
        let app = TestApp::spawn_with(backend, LOCAL_OFF).await;
        let c = claims("yann", 600);
        let client = bearer(&app, &sign(&c, Algorithm::HS256, SHARED_SECRET.as_bytes()));
        create_todo(&client, types::TodoInput::builder().title("legacy")).await;
        me_refused(&app, &sign(&c, Algorithm::HS256, TEST_JWT_SECRET.as_bytes()), ErrorCode::Auth006).await;
        me_refused(&app, &sign(&c, Algorithm::HS256, b"another-secret-0123456789-abcdefghijkl"), ErrorCode::Auth006).await;
        me_refused(&app, &sign(&c, Algorithm::HS384, SHARED_SECRET.as_bytes()), ErrorCode::Auth005).await;
        let mut expired = c.clone();
        expired["exp"] = json!(chrono::Utc::now().timestamp() - 120);
        me_refused(&app, &sign(&expired, Algorithm::HS256, SHARED_SECRET.as_bytes()), ErrorCode::Auth002).await;
        let h: serde_json::Value = app.client.get(app.url("/health")).send().await.unwrap().json().await.unwrap();
        assert_eq!(h["checks"]["identity_provider"], true, "{h}");
        assert!(h.get("identity_provider_keys").is_none(), "no JWKS: {h}");
    }
}
