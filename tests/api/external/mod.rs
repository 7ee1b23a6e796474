//! Sign-in by an external issuer: tokens of keys the tests generate, served by a real
//! HTTP JWKS endpoint ([`issuer`]), against every verification rule ([`rules`]), the
//! JWKS cache ([`keyset`]), the users they make ([`users`]), local accounts switched
//! off and the legacy shared secret ([`local_off`]); and a real Better Auth server
//! ([`better_auth`]).

mod better_auth;
pub mod issuer;
mod keyset;
mod local_off;
mod rules;
mod users;

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::*;
use issuer::JwksServer;

/// A server trusting the test issuer at `jwks`, with `extra` settings.
pub async fn spawn_trusting(
    backend: Backend,
    jwks: &JwksServer,
    extra: &[(&str, &str)],
) -> TestApp {
    let mut vars: Vec<(&str, String)> = issuer::jwks_vars(jwks);
    vars.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::spawn_with(backend, &vars).await;
    wait_for_keys(&app).await;
    app
}

/// Polls `/health` until the start-up JWKS fetch is done (at most 10 s).
pub async fn wait_for_keys(app: &TestApp) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let health = health(app).await;
        if health["identity_provider_keys"]["fetched"] == true {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the JWKS was not fetched within 10 s: {health}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// `GET /me` with `token` until it answers `status` (at most 10 s; the refetch
/// interval of these servers is 1 s). Returns the answer's body.
pub async fn until_status(
    app: &TestApp,
    token: &str,
    status: u16,
) -> (Value, reqwest::header::HeaderMap) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // Raw: the 503's Retry-After header is asserted, which the SDK's error hides.
        let resp = app
            .client
            .get(app.auth_url("/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let (got, headers) = (resp.status().as_u16(), resp.headers().clone());
        let body: Value = resp.json().await.unwrap();
        if got == status {
            return (body, headers);
        }
        assert!(got < 500 || got == 503, "never a 500: {body}");
        assert!(
            Instant::now() < deadline,
            "no {status} within 10 s; last: {got} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `GET /health`'s body.
pub async fn health(app: &TestApp) -> Value {
    app.client
        .get(app.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
