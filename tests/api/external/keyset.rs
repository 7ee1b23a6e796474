//! The JWKS cache against a real HTTP JWKS endpoint: a rotated key is found by one
//! refetch; a flood of unknown `kid`s costs at most one fetch per interval; while the
//! issuer is down the held keys keep working and an unknown `kid` is 503 SERVER_001
//! with `Retry-After`; `/health` and `/metrics` report it.

use client_sdk::types::ErrorCode;
use jsonwebtoken::Algorithm;
use reqwest::StatusCode;

use super::issuer::{claims, JwksServer, TestKey};
use super::{health, spawn_trusting, until_status};
use crate::helpers::*;
use crate::sdk_helpers::*;

both_backends! {
    /// The issuer rotates: a token under a new `kid` triggers a refetch that finds it;
    /// tokens of the old key (still published) keep working.
    async fn a_rotated_key_is_found_by_a_refetch(backend: Backend) {
        let (old, new) = (TestKey::generate(Algorithm::EdDSA), TestKey::generate(Algorithm::EdDSA));
        let jwks = JwksServer::start(&[&old]).await;
        let app = spawn_trusting(backend, &jwks, &[("EXTERNAL_JWKS_REFETCH_SECONDS", "1")]).await;
        let before = me_ok(&app, &old.sign(&claims("erin", 600))).await;
        assert_eq!(jwks.fetches(), 1, "the start-up fetch serves the known kid");
        jwks.publish(&[&old, &new]);
        let (body, _) = until_status(&app, &new.sign(&claims("erin", 600)), 200).await;
        assert_eq!(body["id"], before.id.to_string(), "the same subject, the same user");
        me_ok(&app, &old.sign(&claims("erin", 600))).await;
        assert!(jwks.fetches() <= 12, "at most one refetch a second: {}", jwks.fetches());
    }

    /// A flood of made-up `kid`s: every one is AUTH_006, and the JWKS is fetched at
    /// most once per `EXTERNAL_JWKS_REFETCH_SECONDS`.
    async fn unknown_kids_cannot_hammer_the_issuer(backend: Backend) {
        let (ed, stranger) = (TestKey::generate(Algorithm::EdDSA), TestKey::generate(Algorithm::EdDSA));
        let jwks = JwksServer::start(&[&ed]).await;
        let app = spawn_trusting(backend, &jwks, &[("EXTERNAL_JWKS_REFETCH_SECONDS", "3600")]).await;
        assert_eq!(jwks.fetches(), 1);
        for i in 0..20 {
            let token = stranger.sign_with_kid(&claims("frank", 600), &format!("made-up-{i}"));
            me_refused(&app, &token, ErrorCode::Auth006).await;
        }
        assert_eq!(jwks.fetches(), 2, "one refetch for the whole flood");
        me_ok(&app, &ed.sign(&claims("frank", 600))).await;
    }

    /// The issuer goes down: held keys keep verifying; an unknown `kid` is 503
    /// SERVER_001 with `Retry-After`, not a 401; back up, the new key is found.
    async fn held_keys_outlive_the_issuer(backend: Backend) {
        let (ed, new) = (TestKey::generate(Algorithm::EdDSA), TestKey::generate(Algorithm::EdDSA));
        let jwks = JwksServer::start(&[&ed]).await;
        let app = spawn_trusting(backend, &jwks, &[("EXTERNAL_JWKS_REFETCH_SECONDS", "1")]).await;
        jwks.set_up(false);
        jwks.publish(&[&ed, &new]);
        let (body, headers) = until_status(&app, &new.sign(&claims("gina", 600)), 503).await;
        assert_eq!(body["error_code"], "SERVER_001", "{body}");
        let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "Retry-After {retry}");
        me_ok(&app, &ed.sign(&claims("gina", 600))).await;
        let h = health(&app).await;
        assert_eq!(h["status"], "healthy", "an unreachable issuer never makes the service unready: {h}");
        jwks.set_up(true);
        until_status(&app, &new.sign(&claims("gina", 600)), 200).await;
    }

    /// An issuer unreachable from the start: nothing verifies (503, never 401), and
    /// `/health` reports `identity_provider: false` while staying ready.
    async fn an_unreachable_issuer_is_503(backend: Backend) {
        let ed = TestKey::generate(Algorithm::EdDSA);
        let jwks = JwksServer::start(&[&ed]).await;
        jwks.set_up(false);
        let mut vars: Vec<(&str, String)> = super::issuer::jwks_vars(&jwks);
        vars.push(("EXTERNAL_JWKS_REFETCH_SECONDS", "1".into()));
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let app = TestApp::spawn_with(backend, &vars).await;
        let (body, _) = until_status(&app, &ed.sign(&claims("hal", 600)), 503).await;
        assert_eq!(body["error_code"], "SERVER_001");
        let h = health(&app).await;
        assert_eq!(h["checks"]["identity_provider"], false, "{h}");
        assert_eq!(h["identity_provider_keys"]["fetched"], false, "{h}");
        assert_eq!(h["status"], "healthy", "{h}");
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
    }

    /// `/health` reports the held key set; `/metrics` counts verifications by outcome
    /// and JWKS fetches.
    async fn health_and_metrics_report_the_issuer(backend: Backend) {
        let (ed, es) = (TestKey::generate(Algorithm::EdDSA), TestKey::generate(Algorithm::ES256));
        let jwks = JwksServer::start(&[&ed, &es]).await;
        let app = spawn_trusting(backend, &jwks, &[]).await;
        let h = health(&app).await;
        assert_eq!(h["checks"]["identity_provider"], true, "{h}");
        assert_eq!(h["identity_provider_keys"]["keys"], 2, "{h}");
        assert!(h["identity_provider_keys"]["age_seconds"].as_i64().unwrap() < 60, "{h}");
        me_ok(&app, &ed.sign(&claims("ivy", 600))).await;
        me_ok(&app, &es.sign(&claims("ivy", 600))).await;
        me_refused(&app, &ed.sign(&claims("ivy", -600)), ErrorCode::Auth002).await;
        let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        for line in [
            "external_token_verifications_total{outcome=\"valid\"} 2",
            "external_token_verifications_total{outcome=\"expired\"} 1",
            "external_jwks_fetches_total{outcome=\"success\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
        let plain = TestApp::spawn(backend).await;
        let h = health(&plain).await;
        assert!(h["checks"].get("identity_provider").is_none(), "only with an issuer: {h}");
        assert_eq!(resp_status(&plain).await, StatusCode::OK);
    }
}

async fn resp_status(app: &TestApp) -> StatusCode {
    app.client
        .get(app.url("/health"))
        .send()
        .await
        .unwrap()
        .status()
}
