//! Delivery: mail waits in the outbox while the SMTP server is down and goes out when it
//! is back; `.eml` files without SMTP; what `/health` and `/metrics` say meanwhile.

use client_sdk::types::{self, ErrorCode};
use reqwest::StatusCode;

use super::message::Received;
use super::sink::SmtpSink;
use super::*;
use crate::sdk_helpers::*;

/// Messages of the outbox neither sent nor given up, with at least one failed attempt.
const KEPT_AFTER_A_FAILURE: &str = "SELECT COUNT(*) FROM outbox WHERE attempts >= 1 \
     AND last_error IS NOT NULL AND sent_at IS NULL AND failed_at IS NULL";

both_backends! {
    /// SMTP down while a reset is requested: 202 all the same, the message is kept
    /// (readiness stays 200 and says mail is not delivering), and it is delivered, once,
    /// when the server is back; its link still works.
    async fn mail_waits_while_smtp_is_down(backend: Backend) {
        let sink = SmtpSink::start().await;
        sink.set_available(false);
        let app = mail_app(backend, &sink, &[]).await;
        let (email, _) = sdk_user(&app).await;
        let body = types::PasswordResetRequest::builder().email(email.as_str());
        let asked = anonymous(&app).request_password_reset().body(body).send().await;
        expect_ok(asked, StatusCode::ACCEPTED);
        let a = &app;
        eventually("both messages failed once and are kept", || async move {
            rows(a, KEPT_AFTER_A_FAILURE).await == 2
        })
        .await;
        let health = anonymous(&app).get_health().send().await.expect("ready").into_inner();
        assert_eq!(health.status, types::HealthStatus::Healthy, "SMTP never fails readiness");
        assert!(!health.checks.mail && health.checks.database, "{health:?}");
        assert!(metric(&app, r#"mail_deliveries_total{outcome="retry"}"#).await >= 1.0);
        eventually("the outbox depth is reported", || async move {
            metric(a, "mail_outbox_depth").await == 2.0
        })
        .await;
        assert!(sink.received().is_empty());

        sink.set_available(true);
        let got = sink.wait_for(2).await;
        let reset: Vec<&Received> = got
            .iter()
            .filter(|m| m.header("Subject").as_deref() == Some("Reset your password"))
            .collect();
        assert_eq!(reset.len(), 1, "{got:?}");
        let token = reset[0].link_token(APP_URL, "/reset-password");
        let confirm = types::PasswordResetConfirm::builder().token(token.as_str()).new_password("Battery#Staple7");
        expect_ok(anonymous(&app).confirm_password_reset().body(confirm).send().await, StatusCode::OK);
        let sent = "SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL AND last_error IS NULL";
        eventually("both marked sent", || async move { rows(a, sent).await == 2 }).await;
        eventually("readiness sees mail delivered again", || async move {
            let h = anonymous(a).get_health().send().await;
            h.is_ok_and(|h| h.into_inner().checks.mail)
        })
        .await;
        assert_eq!(metric(&app, r#"mail_deliveries_total{outcome="sent"}"#).await, 2.0);
        assert_eq!(metric(&app, r#"mail_deliveries_total{outcome="failed"}"#).await, 0.0);
        assert_eq!(sink.received().len(), 2, "each message once");
        let old = anonymous(&app).login().body(login_body(&email, STRONG_PASSWORD)).send().await;
        expect_error(old, StatusCode::UNAUTHORIZED, ErrorCode::Auth001);
    }
}

/// Development without SMTP: with `MAIL_OUTBOX_DIR`, each message is an `.eml` file.
#[tokio::test]
async fn mail_outbox_dir_gets_one_eml_file_per_message() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let outbox = dir.path().join("outbox");
    let path = outbox.display().to_string();
    let vars = [("MAIL_OUTBOX_DIR", path.as_str()), ("APP_URL", APP_URL)];
    let app = TestApp::spawn_with(Backend::Sqlite, &vars).await;
    let (email, _) = sdk_user(&app).await;
    let files = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&outbox)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default()
    };
    let files_ref = &files;
    eventually("an .eml file", || async move {
        files_ref()
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "eml"))
    })
    .await;
    let eml = files()
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "eml"))
        .unwrap();
    let data = std::fs::read_to_string(&eml).expect("read the .eml file");
    let message = Received {
        mail_from: String::new(),
        rcpt_to: vec![email.clone()],
        data,
    };
    assert!(
        message.header("To").is_some_and(|t| t.contains(&email)),
        "{message:?}"
    );
    let token = message.link_token(APP_URL, "/verify-email");
    let verified = anonymous(&app)
        .verify_email()
        .body(types::VerifyEmailRequest::builder().token(token.as_str()))
        .send()
        .await;
    assert!(
        expect_ok(verified, StatusCode::OK)
            .into_inner()
            .email_verified
    );
    assert_eq!(files().len(), 1, "no temporary file left: {:?}", files());
}
