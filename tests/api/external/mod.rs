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
        let health: serde_json::Value = app
            .client
            .get(app.url("/health"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
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
