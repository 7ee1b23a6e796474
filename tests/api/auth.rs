//! Registration, login, tokens, rotation and revocation (`/api/v1/auth`).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

both_backends! {
    async fn register_login_me_refresh_logout(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email();

        // Register: 201, a User with a Location, email stored lower-cased.
        let resp = app.register(&email.to_uppercase(), STRONG_PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        assert_eq!(resp.headers()["location"], "/api/v1/auth/me");
        let user: Value = resp.json().await.unwrap();
        let id = user["id"].as_str().expect("id").to_owned();
        uuid::Uuid::parse_str(&id).expect("id is a UUID");
        assert_eq!(user["email"], email.as_str());
        assert_eq!(user["name"], "Test User");
        assert!(user["last_login_at"].is_null(), "{user}");
        for ts in ["created_at", "updated_at"] {
            let t = user[ts]
                .as_str()
                .unwrap_or_else(|| panic!("{ts} in {user}"));
            assert!(t.ends_with('Z'), "{ts} = {t}");
            chrono::DateTime::parse_from_rfc3339(t).unwrap();
        }

        // Login: a TokenPair whose claims match the contract.
        let tokens = app.login(&email, STRONG_PASSWORD).await;
        assert_eq!(tokens.body["expires_in"], 3600);
        let (a, r) = (claims(&tokens.access), claims(&tokens.refresh));
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
        let resp = app.me(&tokens.access).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let me: Value = resp.json().await.unwrap();
        assert_eq!(me["id"], id.as_str());
        assert_eq!(me["email"], email.as_str());
        assert!(
            me["last_login_at"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z')),
            "{me}"
        );
        assert!(app.stored_last_login_at(&email).await.is_some());

        // Refresh: a new pair in the same session; the new access token works.
        let rotated = Tokens::from_response(app.refresh(&tokens.refresh).await).await;
        assert_ne!(rotated.refresh, tokens.refresh);
        assert_ne!(rotated.access, tokens.access);
        let (a2, r2) = (claims(&rotated.access), claims(&rotated.refresh));
        assert_eq!(a2["sid"], a["sid"]);
        assert_eq!(r2["sid"], r["sid"]);
        assert_ne!(r2["jti"], r["jti"]);
        assert_eq!(app.me(&rotated.access).await.status(), StatusCode::OK);

        // Logout: 200 {message}; the access token and the session's refresh token die.
        let resp = app.logout(&rotated.access, None).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        assert_error(
            app.me(&rotated.access).await,
            StatusCode::UNAUTHORIZED,
            "AUTH_004",
        )
        .await;
        assert_error(
            app.refresh(&rotated.refresh).await,
            StatusCode::UNAUTHORIZED,
            "AUTH_004",
        )
        .await;
        // Logging out twice is refused too: the token is revoked.
        assert_error(
            app.logout(&rotated.access, None).await,
            StatusCode::UNAUTHORIZED,
            "AUTH_004",
        )
        .await;
    }

    async fn refresh_reuse_revokes_the_session_family(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, password, first) = app.register_and_login().await;
        let other_session = app.login(&email, &password).await;

        let second = Tokens::from_response(app.refresh(&first.refresh).await).await;
        // Replaying the rotated token: refused, and the whole family goes with it.
        assert_error(
            app.refresh(&first.refresh).await,
            StatusCode::UNAUTHORIZED,
            "AUTH_004",
        )
        .await;
        assert_error(
            app.refresh(&second.refresh).await,
            StatusCode::UNAUTHORIZED,
            "AUTH_004",
        )
        .await;
        assert_error(
            app.me(&second.access).await,
            StatusCode::UNAUTHORIZED,
            "AUTH_004",
        )
        .await;
        assert_error(
            app.me(&first.access).await,
            StatusCode::UNAUTHORIZED,
            "AUTH_004",
        )
        .await;

        // Another login of the same user is another family: untouched.
        assert_eq!(app.me(&other_session.access).await.status(), StatusCode::OK);
        let renewed = Tokens::from_response(app.refresh(&other_session.refresh).await).await;
        assert_eq!(app.me(&renewed.access).await.status(), StatusCode::OK);
        let revoked = app
            .count("SELECT COUNT(*) FROM sessions WHERE revoked_at IS NOT NULL")
            .await;
        assert_eq!(revoked, 1, "exactly the replayed session is revoked");
    }

    async fn logout_revokes_only_its_session(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, password, a) = app.register_and_login().await;
        let b = app.login(&email, &password).await;
        let c = app.login(&email, &password).await;

        // An empty JSON object is the same as no body.
        let resp = app.logout(&a.access, Some(json!({}))).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_error(
            app.me(&a.access).await,
            StatusCode::UNAUTHORIZED,
            "AUTH_004",
        )
        .await;
        assert_error(
            app.refresh(&a.refresh).await,
            StatusCode::UNAUTHORIZED,
            "AUTH_004",
        )
        .await;
        assert_eq!(
            app.me(&b.access).await.status(),
            StatusCode::OK,
            "other sessions stay valid"
        );
        assert_eq!(app.me(&c.access).await.status(), StatusCode::OK);

        // Logging out of B with C's refresh token in the body revokes C's session too.
        let resp = app
            .logout(&b.access, Some(json!({"refresh_token": c.refresh})))
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_error(
            app.me(&b.access).await,
            StatusCode::UNAUTHORIZED,
            "AUTH_004",
        )
        .await;
        assert_error(
            app.me(&c.access).await,
            StatusCode::UNAUTHORIZED,
            "AUTH_004",
        )
        .await;
        assert_error(
            app.refresh(&c.refresh).await,
            StatusCode::UNAUTHORIZED,
            "AUTH_004",
        )
        .await;

        // An invalid refresh token in the body is ignored.
        let d = app.login(&email, &password).await;
        let resp = app
            .logout(&d.access, Some(json!({"refresh_token": "not-a-token"})))
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_error(
            app.me(&d.access).await,
            StatusCode::UNAUTHORIZED,
            "AUTH_004",
        )
        .await;
        assert_eq!(app.count("SELECT COUNT(*) FROM revoked_tokens").await, 3);
    }

    async fn change_password_revokes_every_token(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, old, a) = app.register_and_login().await;
        let b = app.login(&email, &old).await;
        let b2 = Tokens::from_response(app.refresh(&b.refresh).await).await;
        let new = "Brand-New#Pass42";
        let hash_before = app.stored_password_hash(&email).await;

        let resp = app.change_password(&a.access, &old, new).await;
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
        for access in [&a.access, &b.access, &b2.access] {
            assert_error(app.me(access).await, StatusCode::UNAUTHORIZED, "AUTH_004").await;
        }
        for refresh in [&a.refresh, &b2.refresh] {
            assert_error(
                app.refresh(refresh).await,
                StatusCode::UNAUTHORIZED,
                "AUTH_004",
            )
            .await;
        }
        assert_eq!(
            app.count("SELECT COUNT(*) FROM sessions WHERE revoked_at IS NULL")
                .await,
            0
        );

        // The old password no longer logs in; the new one does.
        assert_error(
            app.login_raw(&email, &old).await,
            StatusCode::UNAUTHORIZED,
            "AUTH_001",
        )
        .await;
        let fresh = app.login(&email, new).await;
        assert_eq!(app.me(&fresh.access).await.status(), StatusCode::OK);
    }

    async fn last_login_at_is_set_by_login_and_token(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email();
        assert_eq!(
            app.register(&email, STRONG_PASSWORD).await.status(),
            StatusCode::CREATED
        );
        assert_eq!(
            app.stored_last_login_at(&email).await,
            None,
            "not set by registration"
        );

        let before = chrono::Utc::now() - chrono::Duration::seconds(1);
        let tokens = app.login(&email, STRONG_PASSWORD).await;
        let first = app
            .stored_last_login_at(&email)
            .await
            .expect("set by login");
        assert!(first >= before, "{first} >= {before}");

        let resp = app
            .token(&[
                ("grant_type", "password"),
                ("username", &email),
                ("password", STRONG_PASSWORD),
            ])
            .await;
        Tokens::from_response(resp).await;
        let second = app
            .stored_last_login_at(&email)
            .await
            .expect("set by the token call");
        assert!(second >= first, "{second} >= {first}");

        let me: Value = app.me(&tokens.access).await.json().await.unwrap();
        let shown =
            chrono::DateTime::parse_from_rfc3339(me["last_login_at"].as_str().unwrap()).unwrap();
        assert_eq!(shown, second, "/me shows the stored value");
    }

    async fn oauth2_password_grant(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, password, _) = app.register_and_login().await;

        // Extra fields (scope, client_id) are ignored; the username is case-insensitive.
        let upper = email.to_uppercase();
        let resp = app
            .token(&[
                ("grant_type", "password"),
                ("username", &upper),
                ("password", &password),
                ("scope", "todos"),
                ("client_id", "swagger"),
            ])
            .await;
        let tokens = Tokens::from_response(resp).await;
        assert_eq!(app.me(&tokens.access).await.status(), StatusCode::OK);

        let resp = app
            .token(&[
                ("grant_type", "password"),
                ("username", &email),
                ("password", "Wrong#Pass1"),
            ])
            .await;
        assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_001").await;
        // A malformed username is just bad credentials here.
        let resp = app
            .token(&[
                ("grant_type", "password"),
                ("username", "nobody"),
                ("password", &password),
            ])
            .await;
        assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_001").await;
    }

    async fn emails_are_case_insensitive(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email();
        assert_eq!(
            app.register(&email, STRONG_PASSWORD).await.status(),
            StatusCode::CREATED
        );
        let resp = app
            .register(&format!("  {}  ", email.to_uppercase()), STRONG_PASSWORD)
            .await;
        assert_field_error(resp, StatusCode::CONFLICT, "VALIDATION_003", "email").await;
        let tokens = app.login(&email.to_uppercase(), STRONG_PASSWORD).await;
        let me: Value = app.me(&tokens.access).await.json().await.unwrap();
        assert_eq!(me["email"], email.as_str());
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
    }

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
        app.login(&email, STRONG_PASSWORD).await;
    }

    async fn forged_token_with_the_right_secret_is_accepted(backend: Backend) {
        // Control for the forgery tests below: the harness signs exactly like the server.
        let app = TestApp::spawn(backend).await;
        let (email, _, tokens) = app.register_and_login().await;
        let c = claims(&tokens.access);
        let forged = sign_valid(&make_claims(
            c["sub"].as_str().unwrap(),
            &email,
            c["sid"].as_str().unwrap(),
            "access",
            600,
        ));
        assert_eq!(app.me(&forged).await.status(), StatusCode::OK);
    }

    async fn auth_002_expired_access_token(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, _, tokens) = app.register_and_login().await;
        let c = claims(&tokens.access);
        let (sub, sid) = (c["sub"].as_str().unwrap(), c["sid"].as_str().unwrap());
        let expired = sign_valid(&make_claims(sub, &email, sid, "access", -3600));
        assert_error(app.me(&expired).await, StatusCode::UNAUTHORIZED, "AUTH_002").await;
        assert_error(
            app.logout(&expired, None).await,
            StatusCode::UNAUTHORIZED,
            "AUTH_002",
        )
        .await;
        // An expired token of the wrong type is a type error first.
        let expired_refresh = sign_valid(&make_claims(sub, &email, sid, "refresh", -3600));
        assert_error(
            app.me(&expired_refresh).await,
            StatusCode::UNAUTHORIZED,
            "AUTH_005",
        )
        .await;
        // The session itself was not touched.
        assert_eq!(app.me(&tokens.access).await.status(), StatusCode::OK);
    }

    async fn auth_003_expired_refresh_token(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, _, tokens) = app.register_and_login().await;
        let c = claims(&tokens.refresh);
        let mut expired = c.clone();
        expired["exp"] = json!(chrono::Utc::now().timestamp() - 60);
        expired["iat"] = json!(chrono::Utc::now().timestamp() - 7 * 24 * 3600);
        let resp = app.refresh(&sign_valid(&expired)).await;
        assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_003").await;
        let old = make_claims(
            c["sub"].as_str().unwrap(),
            &email,
            c["sid"].as_str().unwrap(),
            "refresh",
            -3600,
        );
        assert_error(
            app.refresh(&sign_valid(&old)).await,
            StatusCode::UNAUTHORIZED,
            "AUTH_003",
        )
        .await;
        // The real refresh token still rotates.
        Tokens::from_response(app.refresh(&tokens.refresh).await).await;
    }

    async fn auth_005_and_006_forged_and_malformed_tokens(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, _, tokens) = app.register_and_login().await;
        let c = claims(&tokens.access);
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

        let cases: Vec<(&str, String, &str)> = vec![
            ("alg none", alg_none.clone(), "AUTH_005"),
            (
                "alg none with a signature",
                format!("{alg_none}c2ln"),
                "AUTH_005",
            ),
            ("RS256 header", rs256, "AUTH_005"),
            ("HS512", hs512, "AUTH_005"),
            ("HS384", hs384, "AUTH_005"),
            (
                "refresh token as access token",
                tokens.refresh.clone(),
                "AUTH_005",
            ),
            ("garbage", "garbage".into(), "AUTH_005"),
            ("three garbage parts", "a.b.c".into(), "AUTH_005"),
            ("wrong secret", wrong_secret.clone(), "AUTH_006"),
            ("tampered payload", tampered, "AUTH_006"),
        ];
        for (what, token, code) in &cases {
            let body = assert_error(app.me(token).await, StatusCode::UNAUTHORIZED, code).await;
            assert!(
                !body.to_string().contains(token.as_str()),
                "{what}: the token is echoed: {body}"
            );
        }

        // Refresh endpoint: an access token, garbage, a wrong signature, a foreign algorithm.
        let refresh_claims = make_claims(sub, &email, sid, "refresh", 600);
        let refresh_cases: Vec<(&str, String, &str)> = vec![
            (
                "access token as refresh token",
                tokens.access.clone(),
                "AUTH_005",
            ),
            ("garbage", "garbage".into(), "AUTH_005"),
            ("empty", String::new(), "AUTH_005"),
            (
                "HS512",
                sign(&refresh_claims, jsonwebtoken::Algorithm::HS512, secret),
                "AUTH_005",
            ),
            (
                "alg none",
                hand_built_token(&json!({"alg": "none"}), &refresh_claims, ""),
                "AUTH_005",
            ),
            (
                "wrong secret",
                sign(
                    &refresh_claims,
                    jsonwebtoken::Algorithm::HS256,
                    b"another-secret-another-secret-another",
                ),
                "AUTH_006",
            ),
        ];
        for (what, token, code) in &refresh_cases {
            let body = assert_error(app.refresh(token).await, StatusCode::UNAUTHORIZED, code).await;
            assert!(
                token.is_empty() || !body.to_string().contains(token.as_str()),
                "{what}: {body}"
            );
        }

        // Missing, empty and non-bearer Authorization headers.
        let me = app.auth_url("/me");
        let resp = app.client.get(&me).send().await.unwrap();
        assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_005").await;
        let resp = app
            .client
            .get(&me)
            .header("Authorization", "Bearer ")
            .send()
            .await
            .unwrap();
        assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_005").await;
        let resp = app
            .client
            .get(&me)
            .header("Authorization", "Bearer")
            .send()
            .await
            .unwrap();
        assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_005").await;
        let resp = app
            .client
            .get(&me)
            .basic_auth(&email, Some(STRONG_PASSWORD))
            .send()
            .await
            .unwrap();
        assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_005").await;
        // Bearer-protected writes check the token too.
        let resp = app
            .change_password(&wrong_secret, STRONG_PASSWORD, "Other#Pass123")
            .await;
        assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_006").await;
        let resp = app
            .client
            .post(app.auth_url("/logout"))
            .send()
            .await
            .unwrap();
        assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_005").await;

        // None of this harmed the real session.
        assert_eq!(app.me(&tokens.access).await.status(), StatusCode::OK);
    }

    async fn auth_007_deleted_user(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (_, _, tokens) = app.register_and_login().await;
        let id = uuid::Uuid::parse_str(claims(&tokens.access)["sub"].as_str().unwrap()).unwrap();
        assert_eq!(app.delete_user(id).await, 1);
        assert_error(
            app.me(&tokens.access).await,
            StatusCode::UNAUTHORIZED,
            "AUTH_007",
        )
        .await;
        assert_error(
            app.refresh(&tokens.refresh).await,
            StatusCode::UNAUTHORIZED,
            "AUTH_007",
        )
        .await;
        assert_error(
            app.logout(&tokens.access, None).await,
            StatusCode::UNAUTHORIZED,
            "AUTH_007",
        )
        .await;
        // Sessions went with the user (ON DELETE CASCADE).
        assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 0);
    }

    async fn auth_007_disabled_user(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, password, tokens) = app.register_and_login().await;
        let id = uuid::Uuid::parse_str(claims(&tokens.access)["sub"].as_str().unwrap()).unwrap();
        assert_eq!(app.deactivate_user(id).await, 1);
        assert_error(
            app.me(&tokens.access).await,
            StatusCode::UNAUTHORIZED,
            "AUTH_007",
        )
        .await;
        assert_error(
            app.refresh(&tokens.refresh).await,
            StatusCode::UNAUTHORIZED,
            "AUTH_007",
        )
        .await;
        // A disabled account cannot log in, with the same answer as a wrong password.
        assert_error(
            app.login_raw(&email, &password).await,
            StatusCode::UNAUTHORIZED,
            "AUTH_001",
        )
        .await;
    }
}
