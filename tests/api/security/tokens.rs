//! `iss` and `aud` are required claims once `JWT_ISSUER` / `JWT_AUDIENCE` are set.
//!
//! A token signed with the right key but without a configured claim is "malformed"
//! (AUTH_005, like a wrong `iss`/`aud` or a missing `sub`): its signature is fine, so it
//! is not AUTH_006.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;
use crate::sdk_helpers::*;

const ISSUER: &str = "https://auth.example.test";
const AUDIENCE: &str = "todo-api-test";

/// The claims of a token, unverified (the test only re-signs them).
fn payload(token: &str) -> Value {
    jsonwebtoken::dangerous::insecure_decode_claims::<Value>(token).expect("a JWT")
}

fn without(claims: &Value, name: &str) -> Value {
    let mut c = claims.clone();
    c.as_object_mut()
        .expect("claims are an object")
        .remove(name);
    c
}

both_backends! {
    async fn configured_iss_and_aud_are_required(backend: Backend) {
        let vars = [("JWT_ISSUER", ISSUER), ("JWT_AUDIENCE", AUDIENCE)];
        let app = TestApp::spawn_with(backend, &vars).await;
        let (_, tokens) = sdk_user(&app).await;
        let (access, refresh) = (payload(&tokens.access_token), payload(&tokens.refresh_token));
        assert_eq!((&access["iss"], &access["aud"]), (&ISSUER.into(), &AUDIENCE.into()));
        // The same claims, signed again: accepted (the session is live).
        assert_eq!(app.me(&sign_valid(&access)).await.status(), StatusCode::OK);

        for claim in ["iss", "aud"] {
            let resp = app.me(&sign_valid(&without(&access, claim))).await;
            let body = assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_005").await;
            assert!(body["details"].as_object().is_some_and(|d| d.is_empty()), "{body}");
            let resp = app.refresh(&sign_valid(&without(&refresh, claim))).await;
            assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_005").await;
        }
        // Nothing was rotated by the refused refreshes: the real refresh token still works.
        raw_tokens(app.refresh(&tokens.refresh_token).await).await;
        assert_eq!(app.me(&tokens.access_token).await.status(), StatusCode::OK);
    }
}
