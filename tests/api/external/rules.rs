//! Every verification rule of external tokens, with keys the tests generate: each key
//! type verifies; a wrong `iss`, `aud` or `alg`, key confusion, an unknown `kid`, an
//! expired token, `nbf`/`iat` in the future, a tampered signature and the service's own
//! key claiming the external `iss` are all refused with the documented code.

use client_sdk::types::ErrorCode;
use jsonwebtoken::Algorithm;
use reqwest::StatusCode;
use serde_json::json;

use super::issuer::{claims, JwksServer, TestKey, ISSUER};
use super::spawn_trusting;
use crate::helpers::*;
use crate::sdk_helpers::*;

/// The Ed25519 key signing, and the code `token` gets from `GET /me`.
async fn refused(app: &TestApp, token: &str, code: ErrorCode) {
    let body = me_refused(app, token, code).await;
    assert!(!body.message.contains(token), "the token is never echoed");
}

both_backends! {
    /// Ed25519, P-256 and RSA keys (RS256 and PS256) each verify their tokens, and
    /// the caller is the subject's user.
    async fn every_key_type_verifies(backend: Backend) {
        let keys: Vec<TestKey> = [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256, Algorithm::PS256]
            .into_iter()
            .map(TestKey::generate)
            .collect();
        let jwks = JwksServer::start(&keys.iter().collect::<Vec<_>>()).await;
        let app = spawn_trusting(backend, &jwks, &[]).await;
        for key in &keys {
            let sub = format!("user-{:?}", key.alg);
            let me = me_ok(&app, &key.sign(&claims(&sub, 600))).await;
            assert_eq!(me.email.as_str(), format!("{sub}@people.example"), "{:?}", key.alg);
            assert!(me.email_verified);
        }
        let n = app.count("SELECT COUNT(*) FROM users WHERE external_issuer IS NOT NULL").await;
        assert_eq!(n, 4, "one user per subject");
    }

    /// `iss`, `aud` and `alg` must be exactly what is configured.
    async fn issuer_audience_and_algorithm_are_enforced(backend: Backend) {
        let (ed, es) = (TestKey::generate(Algorithm::EdDSA), TestKey::generate(Algorithm::ES256));
        let jwks = JwksServer::start(&[&ed, &es]).await;
        let vars = [("EXTERNAL_AUDIENCE", "todo-api"), ("EXTERNAL_ALGORITHMS", "EdDSA")];
        let app = spawn_trusting(backend, &jwks, &vars).await;
        let mut good = claims("alice", 600);
        good["aud"] = json!("todo-api");
        me_ok(&app, &ed.sign(&good)).await;
        // An `aud` list holding the audience is fine too.
        let mut listed = good.clone();
        listed["aud"] = json!(["other", "todo-api"]);
        me_ok(&app, &ed.sign(&listed)).await;
        for (what, change) in [
            ("wrong aud", json!({"aud": "someone-else"})),
            ("no aud", json!({"aud": null})),
            ("wrong iss", json!({"iss": "https://evil.example"})),
            ("iss with a trailing slash", json!({"iss": format!("{ISSUER}/")})),
            ("no sub", json!({"sub": null})),
            ("numeric sub", json!({"sub": 42})),
        ] {
            let mut c = good.clone();
            for (k, v) in change.as_object().unwrap() {
                if v.is_null() { c.as_object_mut().unwrap().remove(k); } else { c[k] = v.clone(); }
            }
            let body = me_refused(&app, &ed.sign(&c), ErrorCode::Auth005).await;
            assert_eq!(body.error_code, ErrorCode::Auth005, "{what}");
        }
        // ES256 is a valid key of the JWKS, but not an allowed algorithm here.
        refused(&app, &es.sign(&good), ErrorCode::Auth005).await;
    }

    /// Key confusion: HS256 "signed" with the JWKS public key (its bytes, or the JWKS
    /// text) under its `kid`, an RSA `alg` naming the Ed25519 key, and `alg: none`.
    async fn key_confusion_is_refused(backend: Backend) {
        let ed = TestKey::generate(Algorithm::EdDSA);
        let rsa = TestKey::generate(Algorithm::RS256);
        let jwks = JwksServer::start(&[&ed]).await;
        let app = spawn_trusting(backend, &jwks, &[]).await;
        let c = claims("mallory", 600);
        for secret in [ed.public_bytes(), ed.jwk.to_string().into_bytes()] {
            let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
            header.kid = Some(ed.kid.clone());
            let forged = jsonwebtoken::encode(&header, &c, &jsonwebtoken::EncodingKey::from_secret(&secret)).unwrap();
            refused(&app, &forged, ErrorCode::Auth005).await;
        }
        // Signed by an RSA key but naming the Ed25519 key's kid.
        refused(&app, &rsa.sign_with_kid(&c, &ed.kid), ErrorCode::Auth005).await;
        let none = format!("{}.{}.", b64url(br#"{"alg":"none","kid":"x"}"#), b64url(c.to_string().as_bytes()));
        refused(&app, &none, ErrorCode::Auth005).await;
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0, "no user was created");
    }

    /// `exp` beyond the skew is AUTH_002, within it still valid; `nbf` and `iat` in the
    /// future beyond the skew are AUTH_005.
    async fn times_are_checked_with_the_skew(backend: Backend) {
        let ed = TestKey::generate(Algorithm::EdDSA);
        let jwks = JwksServer::start(&[&ed]).await;
        let app = spawn_trusting(backend, &jwks, &[("EXTERNAL_CLOCK_SKEW_SECONDS", "30")]).await;
        let now = chrono::Utc::now().timestamp();
        me_refused(&app, &ed.sign(&claims("bob", -60)), ErrorCode::Auth002).await;
        me_ok(&app, &ed.sign(&claims("bob", -10))).await;
        let mut early = claims("bob", 600);
        early["nbf"] = json!(now + 120);
        refused(&app, &ed.sign(&early), ErrorCode::Auth005).await;
        early["nbf"] = json!(now + 10);
        me_ok(&app, &ed.sign(&early)).await;
        let mut future = claims("bob", 600);
        future["iat"] = json!(now + 120);
        refused(&app, &ed.sign(&future), ErrorCode::Auth005).await;
        let mut no_exp = claims("bob", 600);
        no_exp.as_object_mut().unwrap().remove("exp");
        refused(&app, &ed.sign(&no_exp), ErrorCode::Auth005).await;
    }

    /// A tampered payload and a foreign key under a known `kid` are AUTH_006; an
    /// unknown `kid` is AUTH_006 once the JWKS (reachable) does not have it; a token
    /// signed with the service's own key but claiming the external `iss` is verified
    /// only as an external token: refused.
    async fn signatures_and_keys_are_checked(backend: Backend) {
        let (ed, other) = (TestKey::generate(Algorithm::EdDSA), TestKey::generate(Algorithm::EdDSA));
        let jwks = JwksServer::start(&[&ed]).await;
        let app = spawn_trusting(backend, &jwks, &[("EXTERNAL_JWKS_REFETCH_SECONDS", "1")]).await;
        let token = ed.sign(&claims("carol", 600));
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut c = claims("carol", 600);
        c["sub"] = json!("admin");
        parts[1] = b64url(c.to_string().as_bytes());
        refused(&app, &parts.join("."), ErrorCode::Auth006).await;
        refused(&app, &other.sign_with_kid(&claims("carol", 600), &ed.kid), ErrorCode::Auth006).await;
        refused(&app, &other.sign(&claims("carol", 600)), ErrorCode::Auth006).await;
        let mut own = claims("carol", 600);
        own["type"] = json!("access");
        let own = sign(&own, Algorithm::HS256, TEST_JWT_SECRET.as_bytes());
        refused(&app, &own, ErrorCode::Auth005).await;
        // The service's own tokens still verify with its own key.
        let (_, tokens) = sdk_user(&app).await;
        me_ok(&app, &tokens.access_token).await;
        assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE external_issuer IS NOT NULL").await, 0);
    }
}

both_backends! {
    /// Garbage and half tokens claiming the issuer never cause a 5xx.
    async fn malformed_external_tokens_are_auth_005(backend: Backend) {
        let ed = TestKey::generate(Algorithm::EdDSA);
        let jwks = JwksServer::start(&[&ed]).await;
        let app = spawn_trusting(backend, &jwks, &[]).await;
        let payload = b64url(claims("dave", 600).to_string().as_bytes());
        for token in [
            format!("{}.{payload}.", b64url(br#"{"alg":"EdDSA"}"#)),
            format!("{}.{payload}.sig", b64url(br#"{"alg":"EdDSA","kid":7}"#)),
            format!("{}.{payload}.sig", b64url(br#"{"alg":"ES512","kid":"k"}"#)),
            format!("x.{payload}.y"),
        ] {
            let resp = bearer(&app, &token).get_me().send().await;
            let body = expect_error(resp, StatusCode::UNAUTHORIZED, ErrorCode::Auth005);
            assert_eq!(body.error_code, ErrorCode::Auth005, "{token}");
        }
    }
}
