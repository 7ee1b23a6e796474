//! One-time tokens for the mail operations, taken from the outbox (the contract
//! server has no SMTP, so messages wait there with their bodies).

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use super::super::call::Call;
use super::World;

/// How long a reset mail may take to be queued (it is issued after the 202).
const QUEUE_WAIT: Duration = Duration::from_secs(30);

impl World<'_> {
    /// The token of the newest `kind` message to `email`'s link `path`, once queued.
    async fn outbox_token(&self, email: &str, kind: &str, path: &str) -> String {
        let sql = "SELECT body_text FROM outbox WHERE recipient = $1 AND kind = $2 \
                   ORDER BY created_at DESC, id DESC";
        let deadline = tokio::time::Instant::now() + QUEUE_WAIT;
        loop {
            let body: Option<String> = on_pool!(&self.app.db, |p| sqlx::query_scalar(sql)
                .bind(email)
                .bind(kind)
                .fetch_optional(p)
                .await)
            .expect("read the outbox");
            if let Some(text) = body {
                let start = text.find(&format!("{path}?token=")).expect("a link") + path.len() + 7;
                return text[start..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {kind} mail to {email}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A usable password-reset token of a new user.
    pub(super) async fn reset_token(&self) -> String {
        let p = self.fresh_user().await;
        let call = Call::new(
            "request_password_reset",
            Method::POST,
            "/api/v1/auth/password-reset".into(),
        )
        .json(json!({ "email": p.email }));
        let out = self.send(call).await;
        assert_eq!(out.status, 202, "request a reset: {}", out.body);
        self.outbox_token(&p.email, "password_reset", "/reset-password")
            .await
    }

    /// A usable verification token of a new user (queued by its registration).
    pub(super) async fn verify_token(&self) -> String {
        let p = self.fresh_user().await;
        self.outbox_token(&p.email, "verify_email", "/verify-email")
            .await
    }

    /// A reset token already used once.
    pub(super) async fn used_reset_token(&self) -> String {
        let token = self.reset_token().await;
        let call = Call::new(
            "confirm_password_reset",
            Method::POST,
            "/api/v1/auth/password-reset/confirm".into(),
        )
        .json(json!({"token": token, "new_password": "Used#Token9pass"}));
        let out = self.send(call).await;
        assert_eq!(out.status, 200, "use a reset token: {}", out.body);
        token
    }

    /// A verification token already used once.
    pub(super) async fn used_verify_token(&self) -> String {
        let token = self.verify_token().await;
        let call = Call::new(
            "verify_email",
            Method::POST,
            "/api/v1/auth/verify-email".into(),
        )
        .json(json!({ "token": token }));
        let out = self.send(call).await;
        assert_eq!(out.status, 200, "use a verification token: {}", out.body);
        token
    }

    /// Registers a new user without logging in: its email and password.
    async fn fresh_user_unverified(&self) -> (String, String) {
        let email = format!("contract-{}@example.com", self.unique());
        let call = Call::new("register", Method::POST, "/api/v1/auth/register".into())
            .json(json!({"email": email, "password": crate::helpers::STRONG_PASSWORD}));
        let out = self.send(call).await;
        assert_eq!(out.status, 201, "register: {}", out.body);
        (email, crate::helpers::STRONG_PASSWORD.to_owned())
    }

    /// With verification required: a registered, unverified user's valid login and
    /// token requests are AUTHZ_002.
    pub async fn unverified_logins(&self) {
        let p = self.fresh_user_unverified().await;
        let login = Call::new("login", Method::POST, "/api/v1/auth/login".into())
            .json(json!({"email": p.0, "password": p.1}));
        let mut grant = Call::new("issue_token", Method::POST, "/api/v1/auth/token".into());
        grant.body = super::super::input::Body::Form(vec![
            ("grant_type".into(), "password".into()),
            ("username".into(), p.0.clone()),
            ("password".into(), p.1.clone()),
        ]);
        for call in [login, grant] {
            let out = self.send_call(&call).await;
            if (out.status, out.code.as_deref()) != (403, Some("AUTHZ_002")) {
                let what = format!(
                    "unverified: expected 403 AUTHZ_002, got {} {:?}",
                    out.status, out.code
                );
                self.violation(call.op, what, &call, &out.body.to_string());
            }
        }
    }
}
