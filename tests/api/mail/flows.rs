//! Password reset and email verification, each followed through the mail it sends.

use client_sdk::types::{self, ErrorCode};
use reqwest::StatusCode;
use serde_json::json;

use super::sink::SmtpSink;
use super::*;
use crate::sdk_helpers::*;

const ACCEPTED: StatusCode = StatusCode::ACCEPTED;

async fn ask_reset(app: &TestApp, email: &str) -> SdkResult<types::Message> {
    let body = types::PasswordResetRequest::builder().email(email);
    anonymous(app)
        .request_password_reset()
        .body(body)
        .send()
        .await
}

async fn confirm(app: &TestApp, token: &str, password: &str) -> SdkResult<types::Message> {
    let body = types::PasswordResetConfirm::builder()
        .token(token)
        .new_password(password);
    anonymous(app)
        .confirm_password_reset()
        .body(body)
        .send()
        .await
}

async fn verify(app: &TestApp, token: &str) -> SdkResult<types::User> {
    let body = types::VerifyEmailRequest::builder().token(token);
    anonymous(app).verify_email().body(body).send().await
}

/// How many rows `sql` (with one `$1` for the token's hash) counts for `token`.
async fn rows_for_token(app: &TestApp, sql: &str, token: &str) -> i64 {
    let hash = todo_api::auth::onetime::hash(token);
    on_pool!(&app.db, |p| sqlx::query_scalar::<_, i64>(sql)
        .bind(&hash)
        .fetch_one(p)
        .await)
    .expect("count the token's rows")
}

/// Moves the token's expiry into the past.
async fn expire(app: &TestApp, token: &str) {
    let sql = "UPDATE one_time_tokens SET expires_at = $1 WHERE token_hash = $2";
    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    let hash = todo_api::auth::onetime::hash(token);
    let changed = on_pool!(&app.db, |p| sqlx::query(sql)
        .bind(past)
        .bind(&hash)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))
    .expect("expire the token");
    assert_eq!(changed, 1);
}

both_backends! {
    /// A reset request answers the same for every address; the mail's link token sets
    /// a new password once, ends every session, and is refused afterwards (AUTH_008).
    async fn password_reset_through_the_mail(backend: Backend) {
        let sink = SmtpSink::start().await;
        let app = mail_app(backend, &sink, &[]).await;
        let (email, tokens) = sdk_user(&app).await;
        sink.wait_for_to(&email, 0).await; // the verification mail of the registration
        let unknown = unique_email();
        let for_unknown = expect_ok(ask_reset(&app, &unknown).await, ACCEPTED).into_inner();
        let for_known = expect_ok(ask_reset(&app, &email).await, ACCEPTED).into_inner();
        assert_eq!(for_unknown.message, for_known.message, "one answer for every address");

        let mail = sink.wait_for_to(&email, 1).await;
        assert_eq!(mail.header("Subject").as_deref(), Some("Reset your password"));
        assert_eq!(mail.mail_from, "tests@todo.test");
        let token = mail.link_token(APP_URL, "/reset-password");
        assert!(token.len() >= 22, "at least 128 bits: {token}");
        let link = format!("{APP_URL}/reset-password?token={token}");
        assert!(mail.part("text/html").contains(&format!("href=\"{link}\"")));
        let stored = "SELECT COUNT(*) FROM one_time_tokens WHERE token_hash = $1 AND used_at IS NULL";
        assert_eq!(rows_for_token(&app, stored, &token).await, 1, "stored as its hash");
        let no_account = r#"auth_events_total{event="password_reset_request",outcome="no_account"}"#;
        let a = &app;
        eventually("the unknown address is looked up", || async move { metric(a, no_account).await == 1.0 }).await;
        let queued = format!("SELECT COUNT(*) FROM outbox WHERE recipient = '{unknown}'");
        assert_eq!(rows(&app, &queued).await, 0);
        assert!(sink.received().iter().all(|m| !m.is_to(&unknown)), "nothing sent to {unknown}");

        // A weak password is refused and leaves the token usable.
        // Raw: the SDK refuses a new password that breaks the schema's pattern.
        let raw = json!({"token": token, "new_password": "alllowercase"});
        let weak = app.post_json("/api/v1/auth/password-reset/confirm", &raw).await;
        assert_field_error(weak, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_002", "new_password").await;
        expect_ok(confirm(&app, &token, "Battery#Staple7").await, StatusCode::OK);
        me_refused(&app, &tokens.access_token, ErrorCode::Auth004).await;
        refresh_refused(&app, &tokens.refresh_token, ErrorCode::Auth004).await;
        let old = anonymous(&app).login().body(login_body(&email, STRONG_PASSWORD)).send().await;
        expect_error(old, StatusCode::UNAUTHORIZED, ErrorCode::Auth001);
        let fresh = sdk_login(&app, &email, "Battery#Staple7").await;
        assert!(me_ok(&app, &fresh.access_token).await.email_verified, "the mail reached the address");
        let used = "SELECT COUNT(*) FROM one_time_tokens WHERE token_hash = $1 AND used_at IS NOT NULL";
        assert_eq!(rows_for_token(&app, used, &token).await, 1);

        // Used, unknown and expired tokens are AUTH_008.
        expect_error(confirm(&app, &token, "Another#Pass8").await, StatusCode::UNAUTHORIZED, ErrorCode::Auth008);
        expect_error(confirm(&app, "no-such-token", "Another#Pass8").await, StatusCode::UNAUTHORIZED, ErrorCode::Auth008);
        expect_ok(ask_reset(&app, &email).await, ACCEPTED);
        let late = sink.wait_for_to(&email, 2).await.link_token(APP_URL, "/reset-password");
        expire(&app, &late).await;
        expect_error(confirm(&app, &late, "Another#Pass8").await, StatusCode::UNAUTHORIZED, ErrorCode::Auth008);
        sdk_login(&app, &email, "Battery#Staple7").await;
        let sent = "SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL AND body_text = '' AND body_html = ''";
        eventually("every message sent, its bodies cleared", || async move { rows(a, sent).await == 3 }).await;
    }

    /// With verification required, an unverified account cannot log in (AUTHZ_002)
    /// until the registration mail's link is followed; the link works once.
    async fn verification_through_the_mail_unlocks_login(backend: Backend) {
        let sink = SmtpSink::start().await;
        let app = mail_app(backend, &sink, &[("REQUIRE_VERIFIED_EMAIL", "true")]).await;
        let email = unique_email();
        let created = anonymous(&app).register().body(register_body(&email, STRONG_PASSWORD)).send().await;
        assert!(!expect_ok(created, StatusCode::CREATED).into_inner().email_verified);
        let login = || async { anonymous(&app).login().body(login_body(&email, STRONG_PASSWORD)).send().await };
        expect_error(login().await, StatusCode::FORBIDDEN, ErrorCode::Authz002);
        let grant = anonymous(&app).issue_token().body(password_grant(&email, STRONG_PASSWORD)).send().await;
        expect_error(grant, StatusCode::FORBIDDEN, ErrorCode::Authz002);
        let wrong = anonymous(&app).login().body(login_body(&email, "Wrong#Horse9")).send().await;
        expect_error(wrong, StatusCode::UNAUTHORIZED, ErrorCode::Auth001);

        let mail = sink.wait_for_to(&email, 0).await;
        assert_eq!(mail.header("Subject").as_deref(), Some("Verify your email address"));
        let token = mail.link_token(APP_URL, "/verify-email");
        let user = expect_ok(verify(&app, &token).await, StatusCode::OK).into_inner();
        assert!(user.email_verified, "{user:?}");
        assert_eq!(user.email.as_str(), email);
        let tokens = expect_tokens(login().await);
        assert!(me_ok(&app, &tokens.access_token).await.email_verified);
        expect_error(verify(&app, &token).await, StatusCode::UNAUTHORIZED, ErrorCode::Auth008);
        expect_error(verify(&app, "no-such-token").await, StatusCode::UNAUTHORIZED, ErrorCode::Auth008);
    }

    /// Resending sends a new link while the address is unverified, nothing after.
    async fn verification_can_be_resent_until_verified(backend: Backend) {
        let sink = SmtpSink::start().await;
        let app = mail_app(backend, &sink, &[]).await;
        let (email, tokens) = sdk_user(&app).await;
        assert!(!me_ok(&app, &tokens.access_token).await.email_verified);
        let first = sink.wait_for_to(&email, 0).await.link_token(APP_URL, "/verify-email");
        let resend = || async { bearer(&app, &tokens.access_token).resend_verification().send().await };
        expect_ok(resend().await, ACCEPTED);
        let second = sink.wait_for_to(&email, 1).await.link_token(APP_URL, "/verify-email");
        assert_ne!(first, second);
        expect_ok(verify(&app, &second).await, StatusCode::OK);
        assert!(me_ok(&app, &tokens.access_token).await.email_verified);
        expect_ok(resend().await, ACCEPTED);
        let mine = format!("SELECT COUNT(*) FROM outbox WHERE recipient = '{email}'");
        assert_eq!(rows(&app, &mine).await, 2, "nothing queued once verified");
        let verified = format!("SELECT COUNT(*) FROM users WHERE email = '{email}' AND email_verified = TRUE");
        assert_eq!(rows(&app, &verified).await, 1);
    }

    /// Three reset mails an hour per address: the fourth request still answers 202 and
    /// queues nothing. Without SMTP, messages wait in the outbox (readiness says so).
    async fn reset_mail_is_limited_per_address(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, _) = sdk_user(&app).await;
        let mut answers = vec![];
        for _ in 0..4 {
            answers.push(expect_ok(ask_reset(&app, &email).await, ACCEPTED).into_inner().message);
        }
        assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
        let limited = r#"auth_events_total{event="password_reset_request",outcome="limited"}"#;
        assert_eq!(metric(&app, limited).await, 1.0);
        let queued = format!(
            "SELECT COUNT(*) FROM outbox WHERE recipient = '{email}' AND kind = 'password_reset' AND sent_at IS NULL"
        );
        let (a, queued) = (&app, &queued);
        eventually("three reset mails queued", || async move { rows(a, queued).await == 3 }).await;
        let tokens = "SELECT COUNT(*) FROM one_time_tokens WHERE purpose = 'password_reset'";
        assert_eq!(rows(&app, tokens).await, 3);
        let health = anonymous(&app).get_health().send().await.expect("ready").into_inner();
        assert_eq!(health.status, types::HealthStatus::Healthy);
        assert!(!health.checks.mail, "no transport: mail is not being delivered");
        // A malformed address is still an error (it says nothing about accounts).
        let bad = ask_reset(&app, "not-an-email").await;
        expect_field_error(bad, StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::Validation001, "email");
    }
}
