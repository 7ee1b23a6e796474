//! Registration, login, tokens, rotation and revocation (`/api/v1/auth`).
//!
//! Calls go through the generated SDK (`client_sdk`) wherever it can express them; the
//! raw requests left say why.

use client_sdk::types::{self, ErrorCode};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::sdk_helpers::*;

const UNAUTHORIZED: StatusCode = StatusCode::UNAUTHORIZED;

both_backends! {
    async fn register_login_me_refresh_logout(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email();

        // Register: 201, a User with a Location, email stored lower-cased.
        let body = register_body(&email.to_uppercase(), STRONG_PASSWORD)
            .name(Some("Test User".parse().unwrap()));
        let resp = anonymous(&app).register().body(body).send().await;
        let resp = expect_ok(resp, StatusCode::CREATED);
        assert_eq!(header(&resp, "location"), "/api/v1/auth/me");
        let user = resp.into_inner();
        let id = user.id.to_string();
        assert_eq!(user.email.as_str(), email);
        assert_eq!(user.name.as_deref().map(String::as_str), Some("Test User"));
        assert!(user.last_login_at.is_none(), "{user:?}");

        // Login: a TokenPair whose claims match the contract.
        let tokens = sdk_login(&app, &email, STRONG_PASSWORD).await;
        assert_eq!(tokens.expires_in, 3600);
        let (a, r) = (claims(&tokens.access_token), claims(&tokens.refresh_token));
        assert_eq!(
            (a["type"].as_str(), r["type"].as_str()),
            (Some("access"), Some("refresh"))
        );
        assert_eq!(a["sub"], id.as_str());
        assert_eq!(r["sub"], id.as_str());
        assert_eq!(a["email"], email.as_str());
        assert_eq!(a["sid"], r["sid"], "one session for the pair");
        assert_ne!(a["jti"], r["jti"]);
        assert_eq!(
            a["exp"].as_i64().unwrap() - a["iat"].as_i64().unwrap(),
            3600
        );
        assert_eq!(
            r["exp"].as_i64().unwrap() - r["iat"].as_i64().unwrap(),
            7 * 24 * 3600
        );

        // Me: the same user, now with last_login_at.
        let me = me_ok(&app, &tokens.access_token).await;
        assert_eq!(me.id, user.id);
        assert_eq!(me.email.as_str(), email);
        assert_eq!((me.created_at, me.updated_at), (user.created_at, user.updated_at));
        assert!(me.last_login_at.is_some(), "{me:?}");
        assert!(app.stored_last_login_at(&email).await.is_some());
        // Raw: the wire text of the timestamps (RFC 3339 in UTC, `Z`), which the SDK's
        // typed DateTime hides (it reads any offset).
        let wire: Value = app.me(&tokens.access_token).await.json().await.unwrap();
        for ts in ["created_at", "updated_at", "last_login_at"] {
            let t = wire[ts]
                .as_str()
                .unwrap_or_else(|| panic!("{ts} in {wire}"));
            assert!(t.ends_with('Z'), "{ts} = {t}");
            chrono::DateTime::parse_from_rfc3339(t).unwrap();
        }

        // Refresh: a new pair in the same session; the new access token works.
        let rotated = sdk_refresh(&app, &tokens.refresh_token).await;
        assert_ne!(rotated.refresh_token, tokens.refresh_token);
        assert_ne!(rotated.access_token, tokens.access_token);
        let (a2, r2) = (claims(&rotated.access_token), claims(&rotated.refresh_token));
        assert_eq!(a2["sid"], a["sid"]);
        assert_eq!(r2["sid"], r["sid"]);
        assert_ne!(r2["jti"], r["jti"]);
        me_ok(&app, &rotated.access_token).await;

        // Logout: 200 {message}; the access token and the session's refresh token die.
        // Raw: a logout without any body (the SDK always sends a JSON object).
        let resp = app.logout(&rotated.access_token, None).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        me_refused(&app, &rotated.access_token, ErrorCode::Auth004).await;
        refresh_refused(&app, &rotated.refresh_token, ErrorCode::Auth004).await;
        // Logging out twice is refused too: the token is revoked.
        let again = bearer(&app, &rotated.access_token).logout().send().await;
        expect_error(again, UNAUTHORIZED, ErrorCode::Auth004);
    }

    async fn refresh_reuse_revokes_the_session_family(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, first) = sdk_user(&app).await;
        let other_session = sdk_login(&app, &email, STRONG_PASSWORD).await;

        let second = sdk_refresh(&app, &first.refresh_token).await;
        // Replaying the rotated token: refused, and the whole family goes with it.
        refresh_refused(&app, &first.refresh_token, ErrorCode::Auth004).await;
        refresh_refused(&app, &second.refresh_token, ErrorCode::Auth004).await;
        me_refused(&app, &second.access_token, ErrorCode::Auth004).await;
        me_refused(&app, &first.access_token, ErrorCode::Auth004).await;

        // Another login of the same user is another family: untouched.
        me_ok(&app, &other_session.access_token).await;
        let renewed = sdk_refresh(&app, &other_session.refresh_token).await;
        me_ok(&app, &renewed.access_token).await;
        let revoked = app
            .count("SELECT COUNT(*) FROM sessions WHERE revoked_at IS NOT NULL")
            .await;
        assert_eq!(revoked, 1, "exactly the replayed session is revoked");
    }

    async fn logout_revokes_only_its_session(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, a) = sdk_user(&app).await;
        let b = sdk_login(&app, &email, STRONG_PASSWORD).await;
        let c = sdk_login(&app, &email, STRONG_PASSWORD).await;
        let logout = |access: &str, refresh_token: Option<String>| {
            let refresh_token = refresh_token.map(|t| t.parse().expect("a token the SDK accepts"));
            let body = types::LogoutRequest::builder().refresh_token(refresh_token);
            let client = bearer(&app, access);
            async move { expect_ok(client.logout().body(body).send().await, StatusCode::OK) }
        };

        // An empty JSON object (a LogoutRequest without a refresh token) is the same as
        // no body.
        logout(&a.access_token, None).await;
        me_refused(&app, &a.access_token, ErrorCode::Auth004).await;
        refresh_refused(&app, &a.refresh_token, ErrorCode::Auth004).await;
        // Other sessions stay valid.
        me_ok(&app, &b.access_token).await;
        me_ok(&app, &c.access_token).await;

        // Logging out of B with C's refresh token in the body revokes C's session too.
        logout(&b.access_token, Some(c.refresh_token.clone())).await;
        me_refused(&app, &b.access_token, ErrorCode::Auth004).await;
        me_refused(&app, &c.access_token, ErrorCode::Auth004).await;
        refresh_refused(&app, &c.refresh_token, ErrorCode::Auth004).await;

        // An invalid refresh token in the body is ignored.
        let d = sdk_login(&app, &email, STRONG_PASSWORD).await;
        logout(&d.access_token, Some("not-a-token".into())).await;
        me_refused(&app, &d.access_token, ErrorCode::Auth004).await;
        assert_eq!(app.count("SELECT COUNT(*) FROM revoked_tokens").await, 3);
    }

    async fn change_password_revokes_every_token(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, a) = sdk_user(&app).await;
        let old = STRONG_PASSWORD;
        let b = sdk_login(&app, &email, old).await;
        let b2 = sdk_refresh(&app, &b.refresh_token).await;
        let new = "Brand-New#Pass42";
        let hash_before = app.stored_password_hash(&email).await;

        // Raw: the check that no tokens come back needs the whole body (the SDK's typed
        // Message drops fields it does not know).
        let resp = app.change_password(&a.access_token, old, new).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        assert!(
            body.get("access_token").is_none() && body.get("refresh_token").is_none(),
            "{body}"
        );
        assert_ne!(app.stored_password_hash(&email).await, hash_before);

        // Every token issued before, even in the same second, is refused.
        for access in [&a.access_token, &b.access_token, &b2.access_token] {
            me_refused(&app, access, ErrorCode::Auth004).await;
        }
        for refresh in [&a.refresh_token, &b2.refresh_token] {
            refresh_refused(&app, refresh, ErrorCode::Auth004).await;
        }
        assert_eq!(
            app.count("SELECT COUNT(*) FROM sessions WHERE revoked_at IS NULL")
                .await,
            0
        );

        // The old password no longer logs in; the new one does.
        let refused = anonymous(&app).login().body(login_body(&email, old)).send().await;
        expect_error(refused, UNAUTHORIZED, ErrorCode::Auth001);
        let fresh = sdk_login(&app, &email, new).await;
        me_ok(&app, &fresh.access_token).await;
    }

    async fn last_login_at_is_set_by_login_and_token(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let anon = anonymous(&app);
        let email = unique_email();
        let registered = anon.register().body(register_body(&email, STRONG_PASSWORD)).send().await;
        expect_ok(registered, StatusCode::CREATED);
        assert_eq!(
            app.stored_last_login_at(&email).await,
            None,
            "not set by registration"
        );

        let before = chrono::Utc::now() - chrono::Duration::seconds(1);
        let tokens = sdk_login(&app, &email, STRONG_PASSWORD).await;
        let first = app
            .stored_last_login_at(&email)
            .await
            .expect("set by login");
        assert!(first >= before, "{first} >= {before}");

        let grant = password_grant(&email, STRONG_PASSWORD);
        expect_tokens(anon.issue_token().body(grant).send().await);
        let second = app
            .stored_last_login_at(&email)
            .await
            .expect("set by the token call");
        assert!(second >= first, "{second} >= {first}");

        let me = me_ok(&app, &tokens.access_token).await;
        assert_eq!(me.last_login_at, Some(second), "/me shows the stored value");
    }

    async fn oauth2_password_grant(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, _) = sdk_user(&app).await;
        let password = STRONG_PASSWORD;

        // Extra fields (scope, client_id) are ignored; the username is case-insensitive.
        // Raw: `client_id` is not a field of the SDK's TokenRequest.
        let upper = email.to_uppercase();
        let resp = app
            .token(&[
                ("grant_type", "password"),
                ("username", &upper),
                ("password", password),
                ("scope", "todos"),
                ("client_id", "swagger"),
            ])
            .await;
        let tokens = expect_tokens(raw_typed(resp).await);
        assert_eq!(tokens.expires_in, 3600, "the lifetime a login gets");
        me_ok(&app, &tokens.access_token).await;

        let anon = anonymous(&app);
        let wrong = password_grant(&email, "Wrong#Pass1");
        let resp = anon.issue_token().body(wrong).send().await;
        expect_error(resp, UNAUTHORIZED, ErrorCode::Auth001);
        // A malformed username is just bad credentials here.
        let nobody = password_grant("nobody", password);
        let resp = anon.issue_token().body(nobody).send().await;
        expect_error(resp, UNAUTHORIZED, ErrorCode::Auth001);
    }

    async fn emails_are_case_insensitive(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let anon = anonymous(&app);
        let email = unique_email();
        let registered = anon.register().body(register_body(&email, STRONG_PASSWORD)).send().await;
        expect_ok(registered, StatusCode::CREATED);
        let padded = format!("  {}  ", email.to_uppercase());
        let again = anon.register().body(register_body(&padded, STRONG_PASSWORD)).send().await;
        expect_field_error(again, StatusCode::CONFLICT, ErrorCode::Validation003, "email");
        let tokens = sdk_login(&app, &email.to_uppercase(), STRONG_PASSWORD).await;
        let me = me_ok(&app, &tokens.access_token).await;
        assert_eq!(me.email.as_str(), email);
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
    }

    /// Raw throughout: the test searches the whole text of each body, which the SDK's
    /// typed values would cut down to the fields they know (a leaked field would vanish).
    async fn passwords_and_hashes_never_leak(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email();
        let password = "Very#Secret-Pw77";

        let resp = app.register(&email, password).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        let register_body = resp.text().await.unwrap();
        let resp = app.login_raw(&email, password).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let login_body = resp.text().await.unwrap();
        let tokens: Value = serde_json::from_str(&login_body).unwrap();
        let access = tokens["access_token"].as_str().unwrap();
        let me_body = app.me(access).await.text().await.unwrap();
        let wrong = app
            .login_raw(&email, "Wrong#Secret-Pw77")
            .await
            .text()
            .await
            .unwrap();
        let weak = app
            .register(&unique_email(), "weakpassword")
            .await
            .text()
            .await
            .unwrap();

        let stored = app.stored_password_hash(&email).await;
        assert!(stored.starts_with("$argon2id$"), "stored hash {stored:?}");
        for body in [&register_body, &login_body, &me_body, &wrong, &weak] {
            assert!(!body.contains(password), "password leaked: {body}");
            assert!(!body.contains("weakpassword"), "password leaked: {body}");
            assert!(!body.contains("$argon2"), "hash leaked: {body}");
            assert!(!body.contains("password_hash"), "hash field leaked: {body}");
        }
        // The tokens do not carry the password either.
        let claims_text = claims(access).to_string();
        assert!(!claims_text.contains(password) && !claims_text.contains("argon2"));
    }

    async fn unknown_body_fields_are_ignored(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email();
        let planted = uuid::Uuid::new_v4().to_string();
        // Raw: fields RegisterRequest does not have.
        let resp = app
            .post_json(
                "/api/v1/auth/register",
                &json!({
                    "email": email, "password": STRONG_PASSWORD,
                    "id": planted, "user_id": planted, "is_active": false,
                    "password_hash": "$argon2id$planted", "last_login_at": "2020-01-01T00:00:00Z",
                }),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        let user: Value = resp.json().await.unwrap();
        assert_ne!(user["id"], planted.as_str());
        assert!(user["last_login_at"].is_null());
        assert!(user["name"].is_null(), "name is optional: {user}");
        assert_ne!(app.stored_password_hash(&email).await, "$argon2id$planted");
        // is_active was not taken from the body: the account logs in.
        sdk_login(&app, &email, STRONG_PASSWORD).await;
    }

    async fn forged_token_with_the_right_secret_is_accepted(backend: Backend) {
        // Control for the forgery tests below: the harness signs exactly like the server.
        let app = TestApp::spawn(backend).await;
        let (email, tokens) = sdk_user(&app).await;
        let c = claims(&tokens.access_token);
        let forged = sign_valid(&make_claims(
            c["sub"].as_str().unwrap(),
            &email,
            c["sid"].as_str().unwrap(),
            "access",
            600,
        ));
        me_ok(&app, &forged).await;
    }

    async fn auth_002_expired_access_token(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, tokens) = sdk_user(&app).await;
        let c = claims(&tokens.access_token);
        let (sub, sid) = (c["sub"].as_str().unwrap(), c["sid"].as_str().unwrap());
        let expired = sign_valid(&make_claims(sub, &email, sid, "access", -3600));
        me_refused(&app, &expired, ErrorCode::Auth002).await;
        let logout = bearer(&app, &expired).logout().send().await;
        expect_error(logout, UNAUTHORIZED, ErrorCode::Auth002);
        // An expired token of the wrong type is a type error first.
        let expired_refresh = sign_valid(&make_claims(sub, &email, sid, "refresh", -3600));
        me_refused(&app, &expired_refresh, ErrorCode::Auth005).await;
        // The session itself was not touched.
        me_ok(&app, &tokens.access_token).await;
    }

    async fn auth_003_expired_refresh_token(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, tokens) = sdk_user(&app).await;
        let c = claims(&tokens.refresh_token);
        let mut expired = c.clone();
        expired["exp"] = json!(chrono::Utc::now().timestamp() - 60);
        expired["iat"] = json!(chrono::Utc::now().timestamp() - 7 * 24 * 3600);
        refresh_refused(&app, &sign_valid(&expired), ErrorCode::Auth003).await;
        let old = make_claims(
            c["sub"].as_str().unwrap(),
            &email,
            c["sid"].as_str().unwrap(),
            "refresh",
            -3600,
        );
        refresh_refused(&app, &sign_valid(&old), ErrorCode::Auth003).await;
        // The real refresh token still rotates.
        sdk_refresh(&app, &tokens.refresh_token).await;
    }

    async fn auth_005_and_006_forged_and_malformed_tokens(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, tokens) = sdk_user(&app).await;
        let c = claims(&tokens.access_token);
        let (sub, sid) = (c["sub"].as_str().unwrap(), c["sid"].as_str().unwrap());
        let access_claims = make_claims(sub, &email, sid, "access", 600);
        let secret = TEST_JWT_SECRET.as_bytes();

        let alg_none = hand_built_token(&json!({"alg": "none", "typ": "JWT"}), &access_claims, "");
        let rs256 = hand_built_token(
            &json!({"alg": "RS256", "typ": "JWT"}),
            &access_claims,
            "c2lnbmF0dXJl",
        );
        let hs512 = sign(&access_claims, jsonwebtoken::Algorithm::HS512, secret);
        let hs384 = sign(&access_claims, jsonwebtoken::Algorithm::HS384, secret);
        let wrong_secret = sign(
            &access_claims,
            jsonwebtoken::Algorithm::HS256,
            b"another-secret-another-secret-another-secret",
        );
        let mut tampered_claims = access_claims.clone();
        tampered_claims["sub"] = json!(uuid::Uuid::new_v4().to_string());
        let valid = sign_valid(&access_claims);
        let tampered = {
            let parts: Vec<&str> = valid.split('.').collect();
            format!(
                "{}.{}.{}",
                parts[0],
                b64url(tampered_claims.to_string().as_bytes()),
                parts[2]
            )
        };

        let (auth_005, auth_006) = (ErrorCode::Auth005, ErrorCode::Auth006);
        let cases: Vec<(&str, String, ErrorCode)> = vec![
            ("alg none", alg_none.clone(), auth_005),
            (
                "alg none with a signature",
                format!("{alg_none}c2ln"),
                auth_005,
            ),
            ("RS256 header", rs256, auth_005),
            ("HS512", hs512, auth_005),
            ("HS384", hs384, auth_005),
            (
                "refresh token as access token",
                tokens.refresh_token.clone(),
                auth_005,
            ),
            ("garbage", "garbage".into(), auth_005),
            ("three garbage parts", "a.b.c".into(), auth_005),
            ("wrong secret", wrong_secret.clone(), auth_006),
            ("tampered payload", tampered, auth_006),
        ];
        for (what, token, code) in &cases {
            let body = as_json(&me_refused(&app, token, *code).await);
            assert!(
                !body.to_string().contains(token.as_str()),
                "{what}: the token is echoed: {body}"
            );
        }

        // Refresh endpoint: an access token, garbage, a wrong signature, a foreign algorithm.
        let refresh_claims = make_claims(sub, &email, sid, "refresh", 600);
        let refresh_cases: Vec<(&str, String, ErrorCode)> = vec![
            (
                "access token as refresh token",
                tokens.access_token.clone(),
                auth_005,
            ),
            ("garbage", "garbage".into(), auth_005),
            (
                "HS512",
                sign(&refresh_claims, jsonwebtoken::Algorithm::HS512, secret),
                auth_005,
            ),
            (
                "alg none",
                hand_built_token(&json!({"alg": "none"}), &refresh_claims, ""),
                auth_005,
            ),
            (
                "wrong secret",
                sign(
                    &refresh_claims,
                    jsonwebtoken::Algorithm::HS256,
                    b"another-secret-another-secret-another",
                ),
                auth_006,
            ),
        ];
        for (what, token, code) in &refresh_cases {
            let body = as_json(&refresh_refused(&app, token, *code).await);
            assert!(!body.to_string().contains(token.as_str()), "{what}: {body}");
        }
        // Raw: an empty refresh token (RefreshRequest requires at least one character).
        assert_error(app.refresh("").await, UNAUTHORIZED, "AUTH_005").await;

        // Missing, empty and non-bearer Authorization headers.
        let me = anonymous(&app).get_me().send().await;
        expect_error(me, UNAUTHORIZED, auth_005);
        me_refused(&app, "", auth_005).await;
        // Raw: Authorization headers other than `Bearer <token>`, which is all the SDK's
        // authenticated client sends.
        let me = app.auth_url("/me");
        let resp = app
            .client
            .get(&me)
            .header("Authorization", "Bearer")
            .send()
            .await
            .unwrap();
        assert_error(resp, UNAUTHORIZED, "AUTH_005").await;
        let resp = app
            .client
            .get(&me)
            .basic_auth(&email, Some(STRONG_PASSWORD))
            .send()
            .await
            .unwrap();
        assert_error(resp, UNAUTHORIZED, "AUTH_005").await;
        // Bearer-protected writes check the token too.
        let change = change_password_body(STRONG_PASSWORD, "Other#Pass123");
        let resp = bearer(&app, &wrong_secret).change_password().body(change).send().await;
        expect_error(resp, UNAUTHORIZED, auth_006);
        expect_error(anonymous(&app).logout().send().await, UNAUTHORIZED, auth_005);

        // None of this harmed the real session.
        me_ok(&app, &tokens.access_token).await;
    }

    async fn auth_007_deleted_user(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (_, tokens) = sdk_user(&app).await;
        let sub = claims(&tokens.access_token)["sub"].as_str().unwrap().to_owned();
        let id = uuid::Uuid::parse_str(&sub).unwrap();
        assert_eq!(app.delete_user(id).await, 1);
        me_refused(&app, &tokens.access_token, ErrorCode::Auth007).await;
        refresh_refused(&app, &tokens.refresh_token, ErrorCode::Auth007).await;
        let logout = bearer(&app, &tokens.access_token).logout().send().await;
        expect_error(logout, UNAUTHORIZED, ErrorCode::Auth007);
        // Sessions went with the user (ON DELETE CASCADE).
        assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 0);
    }

    async fn auth_007_disabled_user(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, tokens) = sdk_user(&app).await;
        let sub = claims(&tokens.access_token)["sub"].as_str().unwrap().to_owned();
        let id = uuid::Uuid::parse_str(&sub).unwrap();
        assert_eq!(app.deactivate_user(id).await, 1);
        me_refused(&app, &tokens.access_token, ErrorCode::Auth007).await;
        refresh_refused(&app, &tokens.refresh_token, ErrorCode::Auth007).await;
        // A disabled account cannot log in, with the same answer as a wrong password.
        let login = anonymous(&app).login().body(login_body(&email, STRONG_PASSWORD)).send().await;
        expect_error(login, UNAUTHORIZED, ErrorCode::Auth001);
    }
}
